/**
 * Loads FHIR data into the store: NDJSON files (one resource per line, as a
 * bulk export writes them) and JSON files (a resource, or a Bundle:
 * transaction and batch Bundles run as such, collections are unpacked), from
 * files or folders, optionally gzipped. Every resource is validated like any
 * write; what is refused is listed at the end with the reason. It can be run
 * again after an interruption (or on the same files) without creating
 * duplicates (see src/bulk/resource-import.ts).
 *
 *   npm run import -- export/ fixtures/directory-touraine.json
 *   npm run import -- --concurrency 32 --report rejected.ndjson data.ndjson.gz
 *
 * Same environment as the server (DATA_DIR or MONGODB_URI, VALIDATION_ENFORCEMENT...).
 * With the embedded store, stop the server first (it holds DATA_DIR's lock).
 * Exit code: 0 when everything was imported, 1 when lines were rejected, 2 on bad usage.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runImport, type ImportStats } from '../src/bulk/import-run.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: 'string', default: '16' },
    report: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const paths = positionals.filter((p) => p !== '--');
if (paths.length === 0) {
  process.stderr.write('usage: npm run import -- [--concurrency N] [--report rejected.ndjson] <files or folders>\n');
  process.exit(2);
}

const number = (n: number) => n.toLocaleString('en');
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h}:${String(m).padStart(2, '0')}` : m}:${String(s % 60).padStart(2, '0')}`;
}

/** The progress line: resources done, rate, ETA (from the bytes read), rejections so far. */
function progressLine(stats: ImportStats): string {
  const done = stats.created + stats.updated + stats.unchanged + stats.rejected;
  const elapsed = (Date.now() - stats.startedAt) / 1000;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const fraction = stats.totalBytes > 0 ? stats.bytesRead / stats.totalBytes : 0;
  const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : Number.POSITIVE_INFINITY;
  return `${number(done)} resources (${number(stats.created)} new, ${number(stats.updated)} updated, ${number(stats.unchanged)} unchanged, ${number(stats.rejected)} rejected) · ${number(Math.round(rate))}/s · ${Math.floor(fraction * 100)}% · ETA ${duration(eta)}`;
}

const config = loadConfig();
const ctx = buildContext(config);
try {
  await ctx.store.open();
} catch (error) {
  process.stderr.write(`import: cannot open the store: ${(error as Error).message}${config.MONGODB_URI ? '' : ' (stop the server using this DATA_DIR first)'}\n`);
  process.exit(2);
}

const interactive = process.stderr.isTTY && !values.quiet;
let lastDraw = Date.now();
const draw = (stats: ImportStats, force = false) => {
  const now = Date.now();
  if (!force && now - lastDraw < (interactive ? 200 : 5000)) return;
  lastDraw = now;
  if (values.quiet) return;
  process.stderr.write(interactive ? `\r\x1b[2K${progressLine(stats)}` : `${progressLine(stats)}\n`);
};

let exitCode = 0;
try {
  const { stats, rejections } = await runImport(ctx.engine.asServer(`import of ${paths.join(', ')}`), paths, {
    concurrency: Math.max(1, Number(values.concurrency) || 16),
    onProgress: (s) => draw(s),
  });
  draw(stats, true);
  if (interactive) process.stderr.write('\n');
  const seconds = (Date.now() - stats.startedAt) / 1000;
  const done = stats.created + stats.updated + stats.unchanged + stats.rejected;
  process.stdout.write(
    `imported ${number(stats.files)} file(s) in ${duration(seconds)}: ${number(stats.created)} created, ${number(stats.updated)} updated, ${number(stats.unchanged)} unchanged, ${number(stats.rejected)} rejected (${number(Math.round(done / Math.max(seconds, 0.001)))} resources/s)\n`,
  );
  if (rejections.length > 0) {
    exitCode = 1;
    process.stdout.write(`\nrejected:\n`);
    for (const r of rejections.slice(0, 50)) process.stdout.write(`  ${r.source}: ${r.reason}\n`);
    if (rejections.length > 50) process.stdout.write(`  … and ${number(rejections.length - 50)} more${values.report ? '' : ' (--report <file> lists them all)'}\n`);
    if (values.report) {
      writeFileSync(values.report, rejections.map((r) => JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: r.reason, location: [r.source] }] })).join('\n') + '\n');
      process.stdout.write(`every rejection, as OperationOutcomes: ${values.report}\n`);
    }
  }
} catch (error) {
  process.stderr.write(`\nimport: stopped: ${(error as Error).message}; what was imported stays, run the same command again to continue\n`);
  exitCode = 2;
} finally {
  await ctx.store.close();
}
process.exit(exitCode);
