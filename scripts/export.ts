/**
 * Exports the store to NDJSON files in a folder, the format `npm run import`
 * reads back and a Bulk Data $export writes (one type per file; with --since,
 * deletions as transaction Bundles in deleted-*.ndjson), with a manifest.json
 * like the one $export answers. It runs the same export code as $export, as
 * the server itself (an administrator's copy: every type, nothing filtered),
 * each type read as of the start of the run.
 *
 *   npm run export -- --out backup/
 *   npm run export -- --out sync/ --type Patient,Observation --since 2026-01-01T00:00:00Z
 *
 * Same environment as the server (DATA_DIR or MONGODB_URI). With the embedded
 * store, stop the server first (it holds DATA_DIR's lock).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bulkSettingsFromConfig } from '../src/bulk/bulk-settings.js';
import { DirectoryBulkStorage } from '../src/bulk/directory-bulk-storage.js';
import type { ExportJob } from '../src/bulk/export-job.js';
import { runExport } from '../src/bulk/export-runner.js';
import { JobLease } from '../src/bulk/job-lease.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    type: { type: 'string' },
    since: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
if (!values.out) {
  process.stderr.write('usage: npm run export -- --out <folder> [--type Patient,Observation] [--since <instant>]\n');
  process.exit(2);
}
const out = resolve(values.out);
const config = loadConfig();
const ctx = buildContext(config);
const { definitions } = ctx.engine.facts;
const types = values.type ? values.type.split(',').map((t) => t.trim()).filter(Boolean) : [...definitions.resourceTypes];
for (const type of types) {
  if (!definitions.isResourceType(type)) {
    process.stderr.write(`export: '${type}' is not an R4 resource type\n`);
    process.exit(2);
  }
}
const since = values.since ? new Date(values.since) : undefined;
if (since && Number.isNaN(since.getTime())) {
  process.stderr.write(`export: --since '${values.since}' is not an instant\n`);
  process.exit(2);
}
try {
  await ctx.store.open();
} catch (error) {
  process.stderr.write(`export: cannot open the store: ${(error as Error).message}${config.MONGODB_URI ? '' : ' (stop the server using this DATA_DIR first)'}\n`);
  process.exit(2);
}

mkdirSync(out, { recursive: true });
const work = join(out, `.export-${randomBytes(4).toString('hex')}`);
const storage = new DirectoryBulkStorage(work);
await storage.open();
const now = new Date().toISOString();
const job: ExportJob = {
  id: randomBytes(16).toString('hex'),
  owner: 'export-cli',
  caller: { kind: 'server', reason: 'npm run export' },
  level: 'system',
  request: `npm run export -- --out ${values.out}${values.type ? ` --type ${values.type}` : ''}${values.since ? ` --since ${values.since}` : ''}`,
  transactionTime: now,
  ...(since ? { since: since.toISOString() } : {}),
  types,
  typeFilters: {},
  notices: [],
  status: 'running',
  cursor: { typeIndex: 0 },
  output: [],
  deleted: [],
  error: [],
  written: 0,
  attempts: 1,
  revision: 0,
  createdAt: now,
  updatedAt: now,
};
await storage.insertJob(job);
const settings = bulkSettingsFromConfig(config, { settleMs: 0, fileMaxResources: config.BULK_EXPORT_FILE_MAX_RESOURCES });
const lease = new JobLease(job, storage, 'export-cli', settings.leaseMs);
const started = Date.now();
const interactive = process.stderr.isTTY && !values.quiet;
const progress = setInterval(() => {
  if (values.quiet) return;
  const current = lease.job;
  const rate = Math.round(current.written / Math.max(0.001, (Date.now() - started) / 1000));
  const line = `${current.written.toLocaleString('en')} resources written · ${rate.toLocaleString('en')}/s · type ${Math.min(current.cursor.typeIndex + 1, types.length)}/${types.length}`;
  process.stderr.write(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
}, interactive ? 250 : 5000);
let exitCode = 0;
try {
  await runExport(lease, { engine: ctx.engine, storage, settings });
  const done = lease.job;
  const files = join(work, 'files', done.id);
  for (const name of readdirSync(files)) renameSync(join(files, name), join(out, name));
  const list = (entries: ExportJob['output']) => entries.map((f) => ({ type: f.type, url: f.name, count: f.count }));
  writeFileSync(
    join(out, 'manifest.json'),
    `${JSON.stringify({ transactionTime: done.transactionTime, request: done.request, requiresAccessToken: false, output: list(done.output), ...(done.since ? { deleted: list(done.deleted) } : {}), error: list(done.error) }, null, 2)}\n`,
  );
  clearInterval(progress);
  if (interactive) process.stderr.write('\n');
  const seconds = (Date.now() - started) / 1000;
  process.stdout.write(`exported ${done.written.toLocaleString('en')} resources in ${done.output.length + done.deleted.length} file(s) to ${out} in ${seconds.toFixed(1)} s (${Math.round(done.written / Math.max(seconds, 0.001)).toLocaleString('en')} resources/s), as of ${done.transactionTime}\n`);
} catch (error) {
  clearInterval(progress);
  process.stderr.write(`\nexport: failed: ${(error as Error).message}\n`);
  exitCode = 1;
} finally {
  lease.close();
  await storage.close();
  rmSync(work, { recursive: true, force: true });
  await ctx.store.close();
}
process.exit(exitCode);
