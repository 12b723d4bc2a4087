/**
 * What compressing a stored AuditEvent costs, the two ways the embedded store has done it
 * (issue 17, src/store/embedded/stored-value-codec.ts), in one process, back to back:
 *
 * - `lmdb-js`: the version record encoded as JSON and compressed by lmdb-js (`compression`
 *   option, LZ4 with its default dictionary, values over 1 KiB), as the store wrote bodies
 *   until 2026-12-07: lmdb-js queues each value's compression as an asynchronous work item;
 * - `codec`: the record packed by stored-value-codec.ts (LZ4 with the store's dictionary,
 *   synchronously, on the event loop) and written as bytes.
 *
 * Each writes the same AuditEvents of a coordinator's read, 32 to an lmdb-js batch (one group
 * commit, as concurrent requests share one), and prints the CPU per AuditEvent of the whole
 * process (all threads: event loop, lmdb-js' write thread, libuv's pool) and, on Node.js ≥ 23.9
 * (process.threadCpuUsage), of the event loop; then the bytes data.mdb grew by per AuditEvent.
 *
 *   npx tsx scripts/bench-value-compression.ts [--events 20000] [--rounds 4]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asBinary, open, type Database, type RootDatabase } from 'lmdb';
import { buildAuditEvent } from '../src/audit/audit-event.js';
import { TimeOrderedIds } from '../src/audit/audit-ids.js';
import { withClientMeta } from '../src/engine/resource-checks.js';
import type { Principal } from '../src/identity/principal.js';
import { packJson } from '../src/store/embedded/stored-value-codec.js';
import { withVersionMeta } from '../src/store/version-meta.js';
import { parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { events: 20_000, rounds: 4 });
const BATCH = 32;

const coordinator: Principal = { kind: 'coordinator', subject: 'coord-1', issuer: 'https://idp.example', role: 'coordinator', name: 'Claire Coordinatrice', scopes: { entries: [] } as unknown as Principal['scopes'] };
const ids = new TimeOrderedIds();

/** A read's AuditEvent as the store writes its version record. */
function versionRecord(): { lu: string; r: unknown } {
  const lastUpdated = new Date().toISOString();
  const patient = crypto.randomUUID();
  const event = withClientMeta(buildAuditEvent({ principal: coordinator, interaction: 'read', resourceType: 'Patient', id: patient, versionId: '1', patients: [patient], outcome: 'success', clientAddress: '127.0.0.1', requestId: `req-${ids.next()}` }, 'Relais'), ids.next());
  return { lu: lastUpdated, r: withVersionMeta(event, event.id!, 1, lastUpdated) };
}

const threadCpu = (process as unknown as { threadCpuUsage?: (previous?: NodeJS.CpuUsage) => NodeJS.CpuUsage }).threadCpuUsage;
const micros = (usage: NodeJS.CpuUsage) => usage.user + usage.system;

interface Way {
  name: string;
  folder: string;
  env: RootDatabase;
  db: Database;
  encode(record: unknown): Buffer;
  written: number;
}

function way(name: 'lmdb-js' | 'codec'): Way {
  const folder = mkdtempSync(join(tmpdir(), `relais-bench-compression-${name}-`));
  const env = open({ path: folder, overlappingSync: false, eventTurnBatching: false, noReadAhead: true, mapSize: 2 ** 36, maxDbs: 2 } as never);
  if (name === 'lmdb-js') {
    const db = env.openDB({ name: 'versions', encoding: 'json', compression: { threshold: 1024 } });
    const encoder = (db as unknown as { encoder: { encode(value: unknown): Buffer } }).encoder;
    return { name, folder, env, db, encode: (record) => Buffer.from(encoder.encode(record)), written: 0 };
  }
  const db = env.openDB({ name: 'versions', encoding: 'binary' });
  return { name, folder, env, db, encode: (record) => packJson(JSON.stringify(record), true), written: 0 };
}

/** Writes `count` AuditEvents; returns µs per AuditEvent: [all threads, event loop (or NaN)]. */
async function round(w: Way, count: number): Promise<[number, number]> {
  const records = Array.from({ length: count }, versionRecord);
  const start = process.cpuUsage();
  const loopStart = threadCpu?.call(process);
  for (let i = 0; i < count; i += BATCH) {
    const writes = records.slice(i, i + BATCH).map((record) => [['AuditEvent', `ae-${w.written++}`, 1], asBinary(w.encode(record))] as const);
    await w.env.batch(() => {
      for (const [key, value] of writes) void w.db.put(key as never, value as never);
    });
  }
  const all = micros(process.cpuUsage(start)) / count;
  const loop = loopStart && threadCpu ? micros(threadCpu.call(process, loopStart)) / count : Number.NaN;
  return [all, loop];
}

const ways = [way('lmdb-js'), way('codec')];
try {
  for (const w of ways) await round(w, 2_000); // warm-up: JIT, file growth
  const totals = new Map(ways.map((w) => [w.name, { all: 0, loop: 0 }]));
  for (let r = 1; r <= flags.rounds; r++) {
    const line: string[] = [];
    // Alternating which goes first, so that neither always runs on a warmer machine.
    for (const w of r % 2 ? ways : [...ways].reverse()) {
      const [all, loop] = await round(w, flags.events);
      const total = totals.get(w.name)!;
      total.all += all / flags.rounds;
      total.loop += loop / flags.rounds;
      line.push(`${w.name} ${all.toFixed(1)} µs CPU (event loop ${Number.isNaN(loop) ? 'n/a' : loop.toFixed(1)})`);
    }
    console.log(`round ${r}: ${line.join(', ')}`);
  }
  const [lmdbJs, codec] = ways.map((w) => totals.get(w.name)!);
  for (const w of ways) {
    const t = totals.get(w.name)!;
    const bytes = statSync(join(w.folder, 'data.mdb')).size / w.written;
    console.log(`${w.name.padEnd(8)} ${t.all.toFixed(1)} µs CPU per AuditEvent (event loop ${Number.isNaN(t.loop) ? 'n/a' : t.loop.toFixed(1)}), data.mdb ${bytes.toFixed(0)} bytes per AuditEvent`);
  }
  console.log(`codec / lmdb-js: CPU ${(codec.all / lmdbJs.all).toFixed(2)}${Number.isNaN(codec.loop) ? '' : `, event loop ${(codec.loop / lmdbJs.loop).toFixed(2)}`}`);
} finally {
  for (const w of ways) {
    await w.env.close();
    rmSync(w.folder, { recursive: true, force: true });
  }
}
