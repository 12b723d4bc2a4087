/**
 * `relais import <files or folders>`: loads FHIR data into the store: NDJSON
 * files (one resource per line, as a bulk export writes them) and JSON files
 * (a resource, or a Bundle: transaction and batch Bundles run as such,
 * collections are unpacked), from files or folders, optionally gzipped
 * (src/bulk/import-run.ts). Every resource is validated like any write; what is
 * refused is listed at the end with the reason. It can be run again after an
 * interruption (or on the same files) without creating duplicates
 * (src/bulk/resource-import.ts).
 *
 *   relais import export/ fixtures/directory-touraine.json
 *   relais import --concurrency 32 --report rejected.ndjson data.ndjson.gz
 *   npm run import -- export/                # from a clone, same command
 *
 * Same environment as the server (DATA_DIR or MONGODB_URI, VALIDATION_ENFORCEMENT...).
 * With the embedded store, stop the server first (it holds DATA_DIR's lock).
 * Exit code: 0 when everything was imported, 1 when lines were rejected, 2 on
 * bad usage or configuration, when the store cannot be opened, or when the run
 * stopped on a failure that is not the data's (what was written stays: run the
 * same command again to continue).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runImport, type ImportStats } from '../bulk/import-run.js';
import { commandContext, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';
import { count, duration, progressWriter } from './progress.js';

/** The run stopped on a failure that is not the data's (the store went away): rerun to continue. Distinct from 1, rejected lines. */
const EXIT_STOPPED = 2;
const USAGE = 'usage: relais import [--concurrency N] [--report rejected.ndjson] [--quiet] <files or folders>\n';
/** Rejections printed in the summary; --report writes them all. */
const LISTED_REJECTIONS = 50;

/** The progress line: resources done, rate, ETA (from the bytes read), rejections so far. */
function progressLine(stats: ImportStats): string {
  const done = stats.created + stats.updated + stats.unchanged + stats.rejected;
  const elapsed = (Date.now() - stats.startedAt) / 1000;
  const rate = elapsed > 0 ? done / elapsed : 0;
  const fraction = stats.totalBytes > 0 ? stats.bytesRead / stats.totalBytes : 0;
  const eta = fraction > 0 ? (elapsed / fraction) * (1 - fraction) : Number.POSITIVE_INFINITY;
  return `${count(done)} resources (${count(stats.created)} new, ${count(stats.updated)} updated, ${count(stats.unchanged)} unchanged, ${count(stats.rejected)} rejected) · ${count(Math.round(rate))}/s · ${Math.floor(fraction * 100)}% · ETA ${duration(eta)}`;
}

export const importCommand: CliCommand = {
  summary: 'load NDJSON files and Bundles into the store (validated; rejected lines listed with their reason)',
  async run(args, env) {
    let values: { concurrency?: string; report?: string; quiet?: boolean; help?: boolean };
    let paths: string[];
    try {
      const parsed = parseArgs({
        args,
        allowPositionals: true,
        options: { concurrency: { type: 'string', default: '16' }, report: { type: 'string' }, quiet: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
      });
      values = parsed.values;
      paths = parsed.positionals.filter((p) => p !== '--');
    } catch (error) {
      process.stderr.write(`import: ${(error as Error).message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
    if (paths.length === 0) {
      process.stderr.write(USAGE);
      return EXIT_USAGE;
    }
    const ctx = commandContext('import', env);
    if (typeof ctx === 'number') return ctx;
    try {
      await ctx.store.open();
    } catch (error) {
      process.stderr.write(`import: cannot open the store: ${(error as Error).message}${ctx.config.MONGODB_URI ? '' : ' (stop the server using this DATA_DIR first)'}\n`);
      return EXIT_USAGE;
    }

    const progress = progressWriter(values.quiet === true);
    try {
      const { stats, rejections } = await runImport(ctx.engine.asServer(`import of ${paths.join(', ')}`), paths, {
        concurrency: Math.max(1, Number(values.concurrency) || 16),
        onProgress: (s) => progress.draw(() => progressLine(s)),
      });
      progress.done(() => progressLine(stats));
      const seconds = (Date.now() - stats.startedAt) / 1000;
      const done = stats.created + stats.updated + stats.unchanged + stats.rejected;
      process.stdout.write(
        `imported ${count(stats.files)} file(s) in ${duration(seconds)}: ${count(stats.created)} created, ${count(stats.updated)} updated, ${count(stats.unchanged)} unchanged, ${count(stats.rejected)} rejected (${count(Math.round(done / Math.max(seconds, 0.001)))} resources/s)\n`,
      );
      if (rejections.length === 0) return EXIT_OK;
      process.stdout.write(`\nrejected:\n`);
      for (const r of rejections.slice(0, LISTED_REJECTIONS)) process.stdout.write(`  ${r.source}: ${r.reason}\n`);
      if (rejections.length > LISTED_REJECTIONS) {
        process.stdout.write(`  … and ${count(rejections.length - LISTED_REJECTIONS)} more${values.report ? '' : ' (--report <file> lists them all)'}\n`);
      }
      if (values.report) {
        writeFileSync(
          values.report,
          rejections.map((r) => JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: r.reason, location: [r.source] }] })).join('\n') + '\n',
        );
        process.stdout.write(`every rejection, as OperationOutcomes: ${values.report}\n`);
      }
      return EXIT_FAILED;
    } catch (error) {
      progress.stop();
      process.stderr.write(`\nimport: stopped: ${(error as Error).message}; what was imported stays, run the same command again to continue\n`);
      return EXIT_STOPPED;
    } finally {
      await ctx.store.close();
    }
  },
};
