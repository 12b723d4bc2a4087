/**
 * What one AuditEvent costs to write through the embedded store (issue 17): the
 * AuditEvents of an audited read (a coordinator's), built, indexed and written
 * the way the audit trail writes them, 32 at a time as concurrent requests do
 * (one group commit), in rounds, printing the process's CPU time per AuditEvent
 * (all threads: the event loop, lmdb-js' commits and fsyncs in libuv's pool) and
 * the event loop's share, round after round as the store grows.
 *
 *   npx tsx scripts/bench-audit-write.ts [--events 10000] [--rounds 4] [--ids ordered|random] [--layout compact|full]
 *
 * `--ids random` gives the AuditEvents version 4 UUIDs (as before issue 17's second pass),
 * `--layout full` writes them with per-parameter copies (writeOnceTypes empty, the earlier layout):
 * the two choices the second pass made, measured against their alternatives in the same process run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAuditEvent } from '../src/audit/audit-event.js';
import { TimeOrderedIds } from '../src/audit/audit-ids.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { EngineContext } from '../src/engine/engine-context.js';
import { serverRecordOperation } from '../src/engine/write-operations.js';
import type { Principal } from '../src/identity/principal.js';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';
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
const store = new EmbeddedStore({ directory: dir, ...(layout === 'full' ? { writeOnceTypes: new Set<string>() } : {}) });
const ctx = buildContext(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' }), store);
await ctx.store.open();
const principal = { kind: 'coordinator', subject: 'bench-coordinator', issuer: 'relais-dev', role: 'coordinator', name: 'Coordinatrice' } as Principal;
const ordered = new TimeOrderedIds();
let n = 0;
const operation = () => {
  const patient = `patient-${n % 1000}`;
  const event = buildAuditEvent({ principal, interaction: 'read', resourceType: 'Patient', id: patient, patients: [patient], outcome: 'success', clientAddress: '127.0.0.1', requestId: randomUUID() }, 'Relais');
  n++;
  // serverRecordOperation reads the engine's facts only (its types, its index extractor).
  return serverRecordOperation(ctx.engine.facts as EngineContext, event, ids === 'ordered' ? ordered.next() : randomUUID());
};

process.stdout.write(`AuditEvents: ids ${ids}, layout ${layout}, ${flags.concurrency} per commit\n`);
for (let round = 0; round <= flags.rounds; round++) {
  const before = cpuMs();
  const started = Date.now();
  const events = round === 0 ? Math.min(2000, flags.events) : flags.events; // round 0: warm-up
  for (let done = 0; done < events; done += flags.concurrency) {
    await Promise.all(Array.from({ length: flags.concurrency }, () => ctx.store.write([operation()])));
  }
  const after = cpuMs();
  const perEvent = (ms: number) => ((ms * 1000) / events).toFixed(0);
  if (round > 0) {
    process.stdout.write(`round ${round}: ${n} AuditEvents stored, ${perEvent(after.all - before.all)} µs CPU per AuditEvent (event loop ${perEvent(after.main - before.main)}), ${Math.round(events / ((Date.now() - started) / 1000))}/s\n`);
  }
}
await ctx.store.close();
rmSync(dir, { recursive: true, force: true });
