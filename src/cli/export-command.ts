/**
 * `relais export --out <folder>`: exports the store to NDJSON files in a
 * folder, the format `relais import` reads back and a Bulk Data $export writes
 * (one type per file; with --since, deletions as transaction Bundles in
 * deleted-*.ndjson), with a manifest.json like the one $export answers. It runs
 * the same export code as $export (src/bulk/export-runner.ts), as the server
 * itself (an administrator's copy: every type, nothing filtered), each type
 * read as of the start of the run.
 *
 *   relais export --out backup/
 *   relais export --out sync/ --type Patient,Observation --since 2026-01-01T00:00:00Z
 *   npm run export -- --out backup/          # from a clone, same command
 *
 * Same environment as the server (DATA_DIR or MONGODB_URI). With the embedded
 * store, stop the server first (it holds DATA_DIR's lock).
 * Exit code: 0 done, 1 the export failed (the folder keeps no partial file),
 * 2 bad usage or configuration, or the store cannot be opened.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bulkSettingsFromConfig } from '../bulk/bulk-settings.js';
import { DirectoryBulkStorage } from '../bulk/directory-bulk-storage.js';
import type { ExportJob } from '../bulk/export-job.js';
import { runExport } from '../bulk/export-runner.js';
import { JobLease } from '../bulk/job-lease.js';
import { commandContext, EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';
import { count, progressWriter } from './progress.js';

const USAGE = 'usage: relais export --out <folder> [--type Patient,Observation] [--since <instant>] [--quiet]\n';

/** The job the export runs as: a system-level export by the server, of these types, started now. */
function cliJob(request: string, types: string[], since: Date | undefined): ExportJob {
  const now = new Date().toISOString();
  return {
    id: randomBytes(16).toString('hex'),
    owner: 'export-cli',
    caller: { kind: 'server', reason: 'relais export' },
    level: 'system',
    request,
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
}

export const exportCommand: CliCommand = {
  summary: 'write the store to NDJSON files and a manifest.json (what `relais import` reads back)',
  async run(args, env) {
    let values: { out?: string; type?: string; since?: string; quiet?: boolean; help?: boolean };
    try {
      values = parseArgs({ args: args.filter((a) => a !== '--'), options: { out: { type: 'string' }, type: { type: 'string' }, since: { type: 'string' }, quiet: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }).values;
    } catch (error) {
      process.stderr.write(`export: ${(error as Error).message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (values.help) {
      process.stdout.write(USAGE);
      return EXIT_OK;
    }
    if (!values.out) {
      process.stderr.write(USAGE);
      return EXIT_USAGE;
    }
    const ctx = commandContext('export', env);
    if (typeof ctx === 'number') return ctx;
    const { definitions } = ctx.engine.facts;
    const types = values.type ? values.type.split(',').map((t) => t.trim()).filter(Boolean) : [...definitions.resourceTypes];
    const unknown = types.find((type) => !definitions.isResourceType(type));
    if (unknown !== undefined) {
      process.stderr.write(`export: '${unknown}' is not an R4 resource type\n`);
      return EXIT_USAGE;
    }
    const since = values.since ? new Date(values.since) : undefined;
    if (since && Number.isNaN(since.getTime())) {
      process.stderr.write(`export: --since '${values.since}' is not an instant\n`);
      return EXIT_USAGE;
    }
    try {
      await ctx.store.open();
    } catch (error) {
      process.stderr.write(`export: cannot open the store: ${(error as Error).message}${ctx.config.MONGODB_URI ? '' : ' (stop the server using this DATA_DIR first)'}\n`);
      return EXIT_USAGE;
    }

    const out = resolve(values.out);
    mkdirSync(out, { recursive: true });
    // The job's files are written in a work folder inside the target and moved once complete.
    const work = join(out, `.export-${randomBytes(4).toString('hex')}`);
    const storage = new DirectoryBulkStorage(work);
    await storage.open();
    const job = cliJob(`relais export --out ${values.out}${values.type ? ` --type ${values.type}` : ''}${values.since ? ` --since ${values.since}` : ''}`, types, since);
    await storage.insertJob(job);
    const settings = bulkSettingsFromConfig(ctx.config, { settleMs: 0, fileMaxResources: ctx.config.BULK_EXPORT_FILE_MAX_RESOURCES });
    const lease = new JobLease(job, storage, 'export-cli', settings.leaseMs);
    const started = Date.now();
    const progress = progressWriter(values.quiet === true);
    const line = () => {
      const current = lease.job;
      const rate = Math.round(current.written / Math.max(0.001, (Date.now() - started) / 1000));
      return `${count(current.written)} resources written · ${count(rate)}/s · type ${Math.min(current.cursor.typeIndex + 1, types.length)}/${types.length}`;
    };
    const ticker = setInterval(() => progress.draw(line), 250);
    try {
      await runExport(lease, { engine: ctx.engine, storage, settings });
      clearInterval(ticker);
      const done = lease.job;
      const files = join(work, 'files', done.id);
      for (const name of readdirSync(files)) renameSync(join(files, name), join(out, name));
      const list = (entries: ExportJob['output']) => entries.map((f) => ({ type: f.type, url: f.name, count: f.count }));
      writeFileSync(
        join(out, 'manifest.json'),
        `${JSON.stringify({ transactionTime: done.transactionTime, request: done.request, requiresAccessToken: false, output: list(done.output), ...(done.since ? { deleted: list(done.deleted) } : {}), error: list(done.error) }, null, 2)}\n`,
      );
      progress.done(line);
      const seconds = (Date.now() - started) / 1000;
      process.stdout.write(
        `exported ${count(done.written)} resources in ${done.output.length + done.deleted.length} file(s) to ${out} in ${seconds.toFixed(1)} s (${count(Math.round(done.written / Math.max(seconds, 0.001)))} resources/s), as of ${done.transactionTime}\n`,
      );
      return EXIT_OK;
    } catch (error) {
      clearInterval(ticker);
      progress.stop();
      process.stderr.write(`\nexport: failed: ${(error as Error).message}\n`);
      return EXIT_FAILED;
    } finally {
      lease.close();
      await storage.close();
      rmSync(work, { recursive: true, force: true });
      await ctx.store.close();
    }
  },
};
