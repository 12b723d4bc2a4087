/**
 * The floor under an AuditEvent's store write (issue 17): what LMDB alone, through lmdb-js, costs for
 * the puts one read's AuditEvent makes — 12 search keys shaped like those of a coordinator's read
 * (the store's layout and key policy: address, agent ×2, altid, date ×2, entity, outcome, patient ×3,
 * site) and 5 records of the sizes the store writes (version, entries, head, two history logs) — in
 * batches of `--batch` AuditEvents a commit (a group commit of concurrent requests), with the
 * environment opened as the store opens it (lmdb-layout.ts). No JSON, no compression, no index
 * entries, no checks: only the keys' encoding, lmdb-js' instruction queue, its write thread's
 * B-tree inserts and the durable commit. Prints the process's CPU per AuditEvent (all threads) and
 * the share of the threads other than the event loop (lmdb-js' writer, the collector).
 *
 *   npx tsx scripts/bench-audit-puts.ts [--events 8000] [--rounds 4] [--batch 16] [--patients 1000] [--site random|ordered]
 *
 * `--patients 1`: every AuditEvent names the same patient (its entity and patient keys then append,
 * as the time-ordered keys do); `--site ordered`: request ids that increase (the `site` key appends)
 * instead of random UUIDs (what the HTTP server generates): what each key landing on a random
 * B-tree page costs the write thread.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asBinary } from 'lmdb';
import { TimeOrderedIds } from '../src/audit/audit-ids.js';
import { openLayout } from '../src/store/embedded/lmdb-layout.js';
import { parseFlags } from './network-dataset.js';

const argv = process.argv.slice(2);
const siteAt = argv.indexOf('--site');
const site = siteAt >= 0 ? argv.splice(siteAt, 2)[1] : 'random';
if (site !== 'random' && site !== 'ordered') throw new Error('--site: random or ordered');
const flags = parseFlags(argv, { events: 8000, rounds: 4, batch: 16, patients: 1000 });

/** CPU ms of this process's threads, the event loop's apart (from /proc: all threads, libuv's pool included). */
function cpuMs(): { all: number; main: number } {
  let all = 0;
  let main = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${task}/stat`, 'utf8').split(') ')[1].split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * 10;
      all += ms;
      if (task === String(process.pid)) main = ms;
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return { all, main };
}

const dir = mkdtempSync(join(tmpdir(), 'relais-bench-audit-puts-'));
const layout = openLayout(dir);
const ids = new TimeOrderedIds();
const siteIds = new TimeOrderedIds();
const version = Buffer.alloc(254, 2); // a read's AuditEvent body as stored: LZ4 with the dictionary (stored-value-codec.ts)
const entries = Buffer.alloc(349, 2);
let n = 0;
let seq = 0;

function writeOne(): void {
  const id = ids.next();
  const patient = `Patient/p${Math.floor(Math.random() * flags.patients)}`;
  const requestId = site === 'ordered' ? siteIds.next() : randomUUID();
  const recorded = new Date().toISOString();
  const keys: Array<Array<string | number>> = [
    ['AuditEvent', 'address', 'v', '127 0 0 1', id],
    ['AuditEvent', 'agent', 'c', 'coordinator-dev', id],
    ['AuditEvent', 'agent', 'sc', 'https://dev', 'coordinator-dev', id],
    ['AuditEvent', 'altid', 'c', 'coordinator-dev', id],
    ['AuditEvent', 'date', 'lo', recorded, id],
    ['AuditEvent', 'date', 'hi', recorded, id],
    ['AuditEvent', 'entity', 'r', patient, id],
    ['AuditEvent', 'outcome', 'c', '0', id],
    ['AuditEvent', 'patient', 'c', 'coordinator-dev', id],
    ['AuditEvent', 'patient', 'sc', 'https://dev', 'coordinator-dev', id],
    ['AuditEvent', 'patient', 'r', patient, id],
    ['AuditEvent', 'site', 'c', requestId, id],
  ];
  for (const key of keys) void layout.keys.put(key, null);
  void layout.versions.put(['AuditEvent', id, 1], asBinary(version) as never);
  void layout.entries.put(['AuditEvent', id, 1], asBinary(entries) as never);
  void layout.heads.put(['AuditEvent', id], { v: 1, lu: recorded, c: true });
  seq++;
  void layout.log.put([recorded, seq], ['AuditEvent', id, 1]);
  void layout.typeLog.put(['AuditEvent', recorded, seq], [id, 1]);
  n++;
}

process.stdout.write(`${flags.batch} AuditEvents a commit, ${flags.patients} patients, site ids ${site}\n`);
for (let round = 0; round <= flags.rounds; round++) {
  const before = cpuMs();
  const started = Date.now();
  for (let done = 0; done < flags.events; done += flags.batch) {
    await layout.env.batch(() => {
      for (let i = 0; i < flags.batch; i++) writeOne();
    });
  }
  const after = cpuMs();
  const per = (ms: number) => ((ms * 1000) / flags.events).toFixed(0);
  // Round 0 warms up.
  if (round > 0) process.stdout.write(`round ${round}: ${n} AuditEvents, ${per(after.all - before.all)} µs CPU each (other threads ${per(after.all - after.main - (before.all - before.main))}), ${Math.round(flags.events / ((Date.now() - started) / 1000))}/s\n`);
}
await layout.env.close();
rmSync(dir, { recursive: true, force: true });
