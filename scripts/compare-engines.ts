/**
 * LMDB (lmdb-js) against SQLite (better-sqlite3) on the embedded store's
 * workload, to choose its engine (docs/storage.md, "Why LMDB rather than SQLite"): the same generated
 * network (scripts/network-dataset.ts), the same writes per resource (body,
 * index entries, current head, history log, ordered index keys from
 * src/store/embedded/index-keys.ts), durable commits grouped the same way
 * (whatever is waiting when a commit ends goes into the next), a fixed number
 * of writers in flight as a server has. Measured: load rate, longest
 * event-loop stall while loading, size on disk, point reads, index range reads.
 *
 *   npm install --no-save better-sqlite3@12.11.1   # not a dependency of Relais (see docs/storage.md)
 *   npx tsx scripts/compare-engines.ts [--patients 2000] [--unit 1] [--inflight 16]
 */
import { createRequire } from 'node:module';
import { lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Resource } from 'fhir/r4';
import { open } from 'lmdb';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { IndexExtractor } from '../src/search/index-extractor.js';
import { SearchParameterRegistry } from '../src/search/search-parameters.js';
import { indexKeysOf, type IndexKey } from '../src/store/embedded/index-keys.js';
import type { IndexEntries } from '../src/store/resource-store.js';
import { generateNetwork, parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 2000, unit: 1, inflight: 16, reads: 20000 });

interface Item {
  type: string;
  id: string;
  body: Resource;
  index: IndexEntries;
  keys: IndexKey[];
}

interface Engine {
  name: string;
  /** Writes the units durably; resolves when all are committed. */
  writeUnit(items: Item[], lastUpdated: string, seq: number): Promise<void>;
  readBody(type: string, id: string): unknown;
  countKeys(start: IndexKey, end: IndexKey): number;
  close(): Promise<void>;
}

function diskUsage(path: string): number {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.blocks * 512;
  return readdirSync(path).reduce((sum, name) => sum + diskUsage(join(path, name)), 0);
}

function lmdbEngine(dir: string): Engine {
  const env = open({ path: dir, overlappingSync: false, eventTurnBatching: false, useRecords: false, maxDbs: 8 } as never);
  const heads = env.openDB({ name: 'heads' });
  const versions = env.openDB({ name: 'versions', compression: { threshold: 1024 } });
  const entries = env.openDB({ name: 'entries' });
  const keys = env.openDB({ name: 'keys' });
  const log = env.openDB({ name: 'log' });
  return {
    name: 'LMDB (lmdb-js 3, async batched commits on its write thread)',
    writeUnit(items, lastUpdated, seq) {
      return env.batch(() => {
        for (const [n, item] of items.entries()) {
          // Inside env.batch() each put's promise is the batch's: awaited once, below.
          void versions.put([item.type, item.id, 1], { lu: lastUpdated, r: item.body });
          void entries.put([item.type, item.id, 1], item.index);
          void heads.put([item.type, item.id], { v: 1, lu: lastUpdated });
          void log.put([lastUpdated, seq + n], [item.type, item.id, 1]);
          for (const key of item.keys) void keys.put(key, null);
        }
      }) as unknown as Promise<void>;
    },
    readBody: (type, id) => versions.get([type, id, 1]),
    countKeys: (start, end) => keys.getKeysCount({ start, end }),
    close: () => env.close(),
  };
}

interface SqliteDatabase {
  pragma(text: string): unknown;
  exec(sql: string): void;
  prepare(sql: string): { run(...args: unknown[]): unknown; get(...args: unknown[]): unknown };
  transaction(fn: () => void): () => void;
  close(): void;
}

function sqliteEngine(dir: string, Database: new (path: string) => SqliteDatabase): Engine {
  const db = new Database(join(dir, 'store.db'));
  // WAL + synchronous=FULL: each commit fsyncs the WAL (durable), as LMDB's commit fsyncs.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(`
    CREATE TABLE heads (type TEXT, id TEXT, v INTEGER, lu TEXT, PRIMARY KEY (type, id)) WITHOUT ROWID;
    CREATE TABLE versions (type TEXT, id TEXT, v INTEGER, lu TEXT, body TEXT, PRIMARY KEY (type, id, v)) WITHOUT ROWID;
    CREATE TABLE entries (type TEXT, id TEXT, v INTEGER, idx TEXT, PRIMARY KEY (type, id, v)) WITHOUT ROWID;
    CREATE TABLE log (lu TEXT, seq INTEGER, type TEXT, id TEXT, v INTEGER, PRIMARY KEY (lu, seq)) WITHOUT ROWID;
    CREATE TABLE keys (k BLOB PRIMARY KEY) WITHOUT ROWID;`);
  const putVersion = db.prepare('INSERT INTO versions VALUES (?, ?, 1, ?, ?)');
  const putEntries = db.prepare('INSERT INTO entries VALUES (?, ?, 1, ?)');
  const putHead = db.prepare('INSERT OR REPLACE INTO heads VALUES (?, ?, 1, ?)');
  const putLog = db.prepare('INSERT INTO log VALUES (?, ?, ?, ?, 1)');
  const putKey = db.prepare('INSERT OR IGNORE INTO keys VALUES (?)');
  const getBody = db.prepare('SELECT body FROM versions WHERE type = ? AND id = ? AND v = 1');
  const countKeys = db.prepare('SELECT count(*) AS n FROM keys WHERE k >= ? AND k < ?');
  // The same ordered key encoding as LMDB's, so range reads are the same ranges.
  const { keyValueToBuffer } = createRequire(import.meta.url)('lmdb') as { keyValueToBuffer: (key: unknown) => Buffer };
  // Group commit: everything queued while the previous commit ran goes into the next transaction.
  let queue: Array<{ items: Item[]; lastUpdated: string; seq: number; done: () => void }> = [];
  let scheduled = false;
  const flush = db.transaction(() => {
    for (const { items, lastUpdated, seq } of queue) {
      for (const [n, item] of items.entries()) {
        putVersion.run(item.type, item.id, lastUpdated, JSON.stringify(item.body));
        putEntries.run(item.type, item.id, JSON.stringify(item.index));
        putHead.run(item.type, item.id, lastUpdated);
        putLog.run(lastUpdated, seq + n, item.type, item.id);
        for (const key of item.keys) putKey.run(keyValueToBuffer(key));
      }
    }
  });
  return {
    name: 'SQLite (better-sqlite3 12, WAL, synchronous=FULL, commits on the event loop)',
    writeUnit(items, lastUpdated, seq) {
      return new Promise((resolve) => {
        queue.push({ items, lastUpdated, seq, done: resolve });
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const batch = queue;
          flush();
          queue = [];
          for (const unit of batch) unit.done();
        });
      });
    },
    readBody: (type, id) => JSON.parse((getBody.get(type, id) as { body: string }).body),
    countKeys: (start, end) => (countKeys.get(keyValueToBuffer(start), keyValueToBuffer(end)) as { n: number }).n,
    close: async () => db.close(),
  };
}

async function measure(engine: Engine, dir: string, items: Item[]): Promise<Record<string, string | number>> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  await sleep(50);
  const started = performance.now();
  let next = 0;
  let seq = 0;
  await Promise.all(
    Array.from({ length: flags.inflight }, async () => {
      while (next < items.length) {
        const unit = items.slice(next, next + flags.unit);
        next += flags.unit;
        const at = seq;
        seq += unit.length;
        await engine.writeUnit(unit, new Date().toISOString(), at);
      }
    }),
  );
  const loadSeconds = (performance.now() - started) / 1000;
  histogram.disable();
  const readStart = performance.now();
  for (let i = 0; i < flags.reads; i++) {
    const item = items[(i * 7919) % items.length];
    engine.readBody(item.type, item.id);
  }
  const readMicros = ((performance.now() - readStart) * 1000) / flags.reads;
  const rangeStart = performance.now();
  const systolic = engine.countKeys(['Observation', 'code', 'sc', 'http://loinc.org', '8480-6'], ['Observation', 'code', 'sc', 'http://loinc.org', '8480-6', '\u{10ffff}']);
  const high = engine.countKeys(['Observation', 'value-quantity', 'n', 175], ['Observation', 'value-quantity', 'n', '\u{10ffff}']);
  const rangeMs = performance.now() - rangeStart;
  return {
    engine: engine.name,
    'resources/s': Math.round(items.length / loadSeconds),
    'longest stall ms': Math.round(histogram.max / 1e6),
    'on disk MiB': Math.round(diskUsage(dir) / 1024 / 1024),
    'point read µs': Number(readMicros.toFixed(1)),
    'two range counts ms': Number(rangeMs.toFixed(1)),
    'counted keys': `${systolic} + ${high}`,
  };
}

async function main(): Promise<void> {
  const definitions = loadDefinitions();
  const extractor = new IndexExtractor(new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes));
  const items: Item[] = [];
  for (const resource of generateNetwork({ patients: flags.patients, observationsPerPatient: 6, encountersPerPatient: 2, seed: 42 }, { patientIds: [], nirs: [], rpps: [], families: [] })) {
    const index = extractor.extract(resource as Resource);
    items.push({ type: resource.resourceType, id: resource.id!, body: resource as Resource, index, keys: indexKeysOf(resource.resourceType, resource.id!, index) });
  }
  let Database: (new (path: string) => SqliteDatabase) | undefined;
  try {
    Database = createRequire(import.meta.url)('better-sqlite3') as new (path: string) => SqliteDatabase;
  } catch {
    console.log('better-sqlite3 is not installed: npm install --no-save better-sqlite3@12.11.1 (LMDB only below)');
  }
  const rows: Array<Record<string, string | number>> = [];
  for (const make of [(dir: string) => lmdbEngine(dir), ...(Database ? [(dir: string) => sqliteEngine(dir, Database!)] : [])]) {
    const dir = mkdtempSync(join(tmpdir(), 'relais-engines-'));
    const engine = make(dir);
    try {
      rows.push(await measure(engine, dir, items));
    } finally {
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`${items.length} resources (${flags.patients} patients), units of ${flags.unit} resource(s), ${flags.inflight} writers in flight, ${flags.reads} point reads`);
  console.table(rows);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
