/**
 * Runs one export job to its manifest, as the caller who kicked it off: every
 * read is a listing of that caller's (EngineSession.listing), so the access
 * guard restricts it to what the caller may read and audits it with the
 * patients it returned — one listing, one AuditEvent, per part (the files
 * written until BULK_EXPORT_FILE_MAX_RESOURCES, across types).
 *
 * Consistency: each type is scanned as of the job's transactionTime
 * (ResourceStore.scan, `asOf`): every resource once, in the version it had
 * then, whatever is written meanwhile; `_since` keeps those changed after it,
 * and its deletions since then go to the `deleted` files, judged on what they
 * deleted (IG: "Resources that appear in the 'deleted' section ... SHALL NOT
 * appear in the 'output' section": a resource is read once, as one or the other).
 *
 * Memory: resources are read one at a time from the scan and written to the
 * file with backpressure (FileSink.write), so what is in flight is a few
 * resources and a write buffer, whatever the size of the export or of its
 * attachments.
 *
 * Resumable: after each part the job records its files and the last id
 * written; a worker that takes the job over (crash, restart, another instance)
 * continues after that id, rewriting the files that were in progress.
 */
import type { Bundle, OperationOutcome, Resource } from 'fhir/r4';
import type { EngineSession } from '../engine/engine-session.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import { FhirError } from '../errors.js';
import type { FileSink, BulkStorage } from './bulk-storage.js';
import type { BulkSettings } from './bulk-settings.js';
import type { ExportJob, JobFile } from './export-job.js';
import { exportFilter } from './export-filters.js';
import { JobLost, type JobLease } from './job-lease.js';
import { restoreCaller } from './job-owner.js';

export interface RunnerDeps {
  engine: FhirEngine;
  storage: BulkStorage;
  settings: BulkSettings;
  clock?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

const sleeper = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A file of the manifest being written: opened on its first line. */
class PartFile {
  private sink: FileSink | undefined;
  count = 0;
  bytes = 0;

  constructor(
    private readonly storage: BulkStorage,
    private readonly jobId: string,
    readonly type: string,
    readonly name: string,
  ) {}

  async write(line: string): Promise<void> {
    this.sink ??= await this.storage.createFile(this.jobId, this.name);
    await this.sink.write(line);
    this.count++;
    this.bytes += line.length;
  }

  async finish(): Promise<JobFile | undefined> {
    if (!this.sink) return undefined;
    const bytes = await this.sink.finish();
    return { type: this.type, name: this.name, count: this.count, bytes };
  }

  async abort(): Promise<void> {
    await this.sink?.abort();
  }
}

/** The audit query of one part: what the caller asked, the job and the part (base64 in the AuditEvent). */
function auditQuery(job: ExportJob, types: readonly string[], part: number): string {
  const params: Array<[string, string]> = [['_type', types.join(',')]];
  if (job.since) params.push(['_since', job.since]);
  for (const type of types) for (const criteria of job.typeFilters[type] ?? []) params.push(['_typeFilter', `${type}?${new URLSearchParams(criteria).toString()}`]);
  if (job.groupId) params.push(['group', job.groupId]);
  params.push(['bulk-export', job.id], ['part', String(part)]);
  return new URLSearchParams(params).toString();
}

function deletionBundle(resourceType: string, id: string, lastUpdated: string): Bundle {
  return { resourceType: 'Bundle', type: 'transaction', meta: { lastUpdated }, entry: [{ request: { method: 'DELETE', url: `${resourceType}/${id}` } }] };
}

export async function runExport(lease: JobLease, deps: RunnerDeps): Promise<void> {
  const { engine, storage, settings } = deps;
  const clock = deps.clock ?? (() => new Date());
  const sleep = deps.sleep ?? sleeper;
  const job = () => lease.job;
  const session = engine.as(restoreCaller(job().caller, job().id));

  // Waits in short steps, so a shutdown or a cancellation is not held up by the settle delay.
  const settleUntil = Date.parse(job().transactionTime) + settings.settleMs;
  while (clock().getTime() < settleUntil && !lease.lost) await sleep(Math.min(100, settleUntil - clock().getTime()));
  if (lease.lost) throw new JobLost(lease.lost);

  if (job().estimated === undefined && job().written === 0) {
    const estimated = await estimate(lease, deps);
    if (estimated !== undefined) await lease.update((j) => ({ ...j, estimated }));
  }

  while (job().cursor.typeIndex < job().types.length) {
    // A type the caller may no longer search (the policy changed since the kick-off) is reported, not exported.
    const remaining = job().types.slice(job().cursor.typeIndex);
    const allowed = await session.maySearch(remaining);
    if (!allowed[0]) {
      await skipType(lease, `${remaining[0]} was not exported: the caller may no longer search it`);
      continue;
    }
    const listed = remaining.slice(0, allowed.indexOf(false) === -1 ? remaining.length : allowed.indexOf(false));
    try {
      await exportPart(lease, deps, session, listed);
    } catch (error) {
      // A criterion that no longer compiles (terminology changed since the kick-off): reported in the
      // error file; the other types are still exported (IG: partial success).
      if (!(error instanceof FhirError) || error.status >= 500) throw error;
      await skipType(lease, `${job().types[job().cursor.typeIndex]} was not exported: ${error.message}`);
    }
    if (lease.lost) throw new JobLost(lease.lost);
  }

  const error = await errorFile(storage, job());
  const done = clock();
  await lease.update((j) => ({
    ...j,
    status: 'completed',
    error: error ? [error] : [],
    completedAt: done.toISOString(),
    expiresAt: new Date(done.getTime() + settings.retentionMs).toISOString(),
  }));
}

function skipType(lease: JobLease, failure: string): Promise<unknown> {
  return lease.update((j) => ({ ...j, failures: [...(j.failures ?? []), failure], cursor: { typeIndex: j.cursor.typeIndex + 1 } }));
}

/**
 * One part of the export: one listing of the caller's (one AuditEvent naming
 * the patients it covered) that writes the next files — from where the job
 * stands, type after type of `types`, until BULK_EXPORT_FILE_MAX_RESOURCES (or
 * the byte limit) — then records them and where it stopped, in one write.
 * Each type's resources go to a file of their own (IG: one type per file), its
 * deletions (a `_since` export) to a `deleted` file.
 */
async function exportPart(lease: JobLease, deps: RunnerDeps, session: EngineSession, types: string[]): Promise<void> {
  const { storage, settings, engine } = deps;
  const job = lease.job;
  const part = (job.cursor.part ?? 0) + 1;
  const finished: { output: JobFile[]; deleted: JobFile[] } = { output: [], deleted: [] };
  const open: PartFile[] = [];
  // A resumed job's files are named after the attempt too: a worker that lost the job without noticing yet
  // (stalled past its lease) can never overwrite, or remove, a file its successor wrote and recorded.
  const attempt = job.attempts > 1 ? `-r${job.attempts}` : '';
  const fileName = (prefix: string, type: string, files: JobFile[]) => `${prefix}${type}-${files.filter((f) => f.name.startsWith(`${prefix}${type}-`)).length + 1}${attempt}.ndjson`;
  let cursor: ExportJob['cursor'] = { typeIndex: job.types.length };
  let resources = 0;
  let bytes = 0;
  try {
    await session.listing(types, auditQuery(job, types, part), async (reader) => {
      for (let index = job.cursor.typeIndex; index < job.cursor.typeIndex + types.length; index++) {
        const type = job.types[index];
        const output = new PartFile(storage, job.id, type, fileName('', type, job.output));
        const deleted = new PartFile(storage, job.id, 'Bundle', fileName('deleted-', type, job.deleted));
        open.push(output, deleted);
        const elements = job.elements ? [...(job.elements['*'] ?? []), ...(job.elements[type] ?? [])] : [];
        const after = index === job.cursor.typeIndex ? job.cursor.after : undefined;
        const filter = await exportFilter(reader, job, type);
        const scan = reader.scan({ resourceType: type, filter, asOf: job.transactionTime, ...(after !== undefined ? { after } : {}), includeDeleted: job.since !== undefined });
        let full = false;
        for await (const version of scan) {
          if (lease.lost) throw new JobLost(lease.lost);
          const line = version.deleted
            ? JSON.stringify(deletionBundle(version.resourceType, version.id, version.lastUpdated))
            : JSON.stringify(elements.length > 0 ? engine.shape(version.resource as Resource, undefined, elements) : version.resource);
          await (version.deleted ? deleted : output).write(`${line}\n`);
          resources++;
          bytes += line.length + 1;
          if (resources >= settings.fileMaxResources || bytes >= settings.fileMaxBytes) {
            cursor = { typeIndex: index, after: version.id };
            full = true;
            break;
          }
        }
        for (const [file, list] of [[output, finished.output], [deleted, finished.deleted]] as const) {
          const done = await file.finish();
          if (done) list.push(done);
        }
        if (full) return;
      }
    });
  } catch (error) {
    for (const file of open) await file.abort().catch(() => undefined);
    throw error;
  }
  await lease.update((j) => ({
    ...j,
    output: [...j.output, ...finished.output],
    deleted: [...j.deleted, ...finished.deleted],
    written: j.written + resources,
    cursor: { ...cursor, part },
  }));
}

/**
 * How many resources the export will hold, for X-Progress: the current
 * matches of each type, counted in one listing of the caller's (only what it
 * may see). An estimate: the export reads each type as of transactionTime.
 * Undefined when a type can no longer be listed (the export reports it).
 */
async function estimate(lease: JobLease, deps: RunnerDeps): Promise<number | undefined> {
  const job = lease.job;
  const session = deps.engine.as(restoreCaller(job.caller, job.id));
  if (job.types.length === 0) return 0;
  try {
    return await session.listing(job.types, `${auditQuery(job, job.types, 0)}&_summary=count`, async (reader) => {
      let total = 0;
      for (const type of job.types) {
        const filter = await exportFilter(reader, job, type);
        total += (await reader.search({ resourceTypes: [type], filter, offset: 0, count: 0, withTotal: true })).total ?? 0;
      }
      return total;
    });
  } catch (error) {
    if (!(error instanceof FhirError) || error.status >= 500) throw error;
    return undefined;
  }
}

/** The error file: the notices of the kick-off (lenient handling) and the types that failed, as OperationOutcomes. */
async function errorFile(storage: BulkStorage, job: ExportJob): Promise<JobFile | undefined> {
  const problems = job.failures ?? [];
  const lines = [
    ...job.notices.map((text): OperationOutcome => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: text }] })),
    ...problems.map((text): OperationOutcome => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: text }] })),
  ];
  if (lines.length === 0) return undefined;
  const sink = await storage.createFile(job.id, 'errors.ndjson');
  for (const line of lines) await sink.write(`${JSON.stringify(line)}\n`);
  const bytes = await sink.finish();
  return { type: 'OperationOutcome', name: 'errors.ndjson', count: lines.length, bytes };
}
