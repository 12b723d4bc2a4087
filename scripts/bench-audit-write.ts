/**
 * What one AuditEvent costs to write through the embedded store (issue 17): the
 * AuditEvents of an audited read (a coordinator's), built, indexed (by the audit
 * trail's indexer, audit-index.ts) and written the way the audit trail writes them, 32 at a time as concurrent requests do
 * (one group commit), in rounds, printing the process's CPU time per AuditEvent
 * (all threads: the event loop, lmdb-js' commits and fsyncs in libuv's pool) and
 * the event loop's share, round after round as the store grows.
 *
 *   npx tsx scripts/bench-audit-write.ts [--events 10000] [--rounds 4] [--ids ordered|random] [--layout compact|full] [--keys policy|all] [--queries]
 *
 * `--ids random` gives the AuditEvents version 4 UUIDs (as before issue 17's second pass),
 * `--layout full` writes them with per-parameter copies (writeOnceTypes empty, the earlier layout),
 * `--keys all` writes search keys for every parameter (no key policy, as before lmdb-layout.ts'
 * UNKEYED_PARAMETERS): the choices the passes made, measured against their alternatives in the
 * same process run. Each round also prints data.mdb's growth per AuditEvent. One AuditEvent in
 * 100 records a denied read (outcome 4); `--queries` then runs an auditor's searches over the
 * whole trail and prints their time, CPU and the event loop's longest delay meanwhile.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAuditEvent } from '../src/audit/audit-event.js';
import { TimeOrderedIds } from '../src/audit/audit-ids.js';
import { AuditEventIndexer } from '../src/audit/audit-index.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { EngineContext } from '../src/engine/engine-context.js';
import { serverRecordOperation } from '../src/engine/write-operations.js';
import type { Principal } from '../src/identity/principal.js';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';
import type { Layout } from '../src/store/embedded/lmdb-layout.js';
import { parseFlags } from './network-dataset.js';

const argv = process.argv.slice(2);
const choice = (name: string, values: string[]) => {
  const at = argv.indexOf(name);
  const value = at >= 0 ? argv.splice(at, 2)[1] : values[0];
  if (!values.includes(value)) throw new Error(`${name}: one of ${values.join(', ')}`);
  return value;
};
const ids = choice('--ids', ['ordered', 'random']);
const layout = choice('--layout', ['compact', 'full']);
const keys = choice('--keys', ['policy', 'all']);
const queries = argv.includes('--queries');
if (queries) argv.splice(argv.indexOf('--queries'), 1);
const flags = parseFlags(argv, { events: 10_000, rounds: 4, concurrency: 32 });

/** CPU milliseconds of this process (all threads) and of its main thread, from /proc. */
function cpuMs(): { all: number; main: number } {
  const read = (path: string) => {
    const fields = readFileSync(path, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  return { all: read('/proc/self/stat'), main: read(`/proc/self/task/${process.pid}/stat`) };
}

const dir = mkdtempSync(join(tmpdir(), 'relais-bench-audit-'));
const store = new EmbeddedStore({ directory: dir, ...(layout === 'full' ? { writeOnceTypes: new Set<string>() } : {}), ...(keys === 'all' ? { unkeyedParameters: new Map() } : {}) });
const fileBytes = () => statSync(join(dir, 'store', 'data.mdb')).size;
const ctx = buildContext(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }), store);
await ctx.store.open();
const principal = { kind: 'coordinator', subject: 'bench-coordinator', issuer: 'relais-dev', role: 'coordinator', name: 'Coordinatrice' } as Principal;
const ordered = new TimeOrderedIds();
const facts = ctx.engine.facts as EngineContext;
const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
let n = 0;
const operation = () => {
  const patient = `patient-${n % 1000}`;
  const outcome = n % 100 === 99 ? 'denied' : 'success';
  const event = buildAuditEvent({ principal, interaction: 'read', resourceType: 'Patient', id: patient, patients: [patient], outcome, clientAddress: '127.0.0.1', requestId: randomUUID() }, 'Relais');
  n++;
  // serverRecordOperation reads the engine's facts only (its types); the entries are the audit trail's (audit-index.ts).
  return serverRecordOperation(ctx.engine.facts as EngineContext, event, ids === 'ordered' ? ordered.next() : randomUUID(), (stored) => indexer.entries(stored));
};

process.stdout.write(`AuditEvents: ids ${ids}, layout ${layout}, keys ${keys}, ${flags.concurrency} per commit\n`);
for (let round = 0; round <= flags.rounds; round++) {
  const before = cpuMs();
  const bytesBefore = fileBytes();
  const started = Date.now();
  const events = round === 0 ? Math.min(2000, flags.events) : flags.events; // round 0: warm-up
  for (let done = 0; done < events; done += flags.concurrency) {
    await Promise.all(Array.from({ length: flags.concurrency }, () => ctx.store.write([operation()])));
  }
  const after = cpuMs();
  const perEvent = (ms: number) => ((ms * 1000) / events).toFixed(0);
  if (round > 0) {
    const bytes = Math.round((fileBytes() - bytesBefore) / events);
    process.stdout.write(`round ${round}: ${n} AuditEvents stored, ${perEvent(after.all - before.all)} µs CPU per AuditEvent (event loop ${perEvent(after.main - before.main)}), ${Math.round(events / ((Date.now() - started) / 1000))}/s, data.mdb +${bytes} bytes per AuditEvent\n`);
  }
}
process.stdout.write(`data.mdb: ${fileBytes()} bytes for ${n} AuditEvents, ${Math.round(fileBytes() / n)} each\n`);
{
  // The pages each B-tree holds (free pages and the file's growth steps left out): what the trail itself takes.
  const opened = (store as unknown as { layout: Layout }).layout;
  const trees = { heads: opened.heads, versions: opened.versions, entries: opened.entries, keys: opened.keys, log: opened.log, typeLog: opened.typeLog };
  let total = 0;
  const parts: string[] = [];
  for (const [name, db] of Object.entries(trees)) {
    const stats = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
    const bytes = (stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages) * stats.pageSize;
    total += bytes;
    parts.push(`${name} ${Math.round(bytes / n)}`);
  }
  process.stdout.write(`B-tree pages: ${Math.round(total / n)} bytes per AuditEvent (${parts.join(', ')})\n`);
}
if (queries) {
  const session = ctx.engine.asServer('bench: an auditor reading the trail');
  for (const query of ['outcome=4', 'outcome=4&_total=accurate', 'outcome=0', 'action=R&_count=50', 'patient=Patient/patient-7&outcome=4', 'outcome:not=0&_count=50']) {
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    const before = cpuMs();
    const started = process.hrtime.bigint();
    const bundle = await session.search('AuditEvent', [...new URLSearchParams(query).entries()]);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const after = cpuMs();
    delay.disable();
    process.stdout.write(`${query}: ${bundle.entry?.length ?? 0} on the first page${bundle.total !== undefined ? ` (total ${bundle.total})` : ''}, ${ms.toFixed(0)} ms, CPU ${after.all - before.all} ms, longest event-loop delay ${(delay.max / 1e6).toFixed(0)} ms\n`);
  }
}
await ctx.store.close();
rmSync(dir, { recursive: true, force: true });
