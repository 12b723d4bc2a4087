/**
 * Paging snapshots (stored result sets) at the size of a broad search: in the
 * embedded store (LMDB, off the heap) the time to save one, to load one page
 * from its middle, and the heap it retains; on MongoDB the time to save it
 * (chunk documents of 10,000 refs) and to load one page from its middle.
 *
 *   node --expose-gc --import tsx scripts/bench-result-sets.ts [--refs 1000000] [--mongo]
 *
 * --mongo: MONGODB_URI if set, else the test server (scripts/test-mongo-server.mjs).
 * The heap figure needs --expose-gc (otherwise it is left out).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';
import { MongoStore } from '../src/store/mongo/mongo-store.js';
import type { MatchRef } from '../src/store/resource-store.js';
import { startTestMongo } from './test-mongo-server.mjs';

const { values } = parseArgs({ options: { refs: { type: 'string', default: '1000000' }, mongo: { type: 'boolean', default: false } } });
const N = Number(values.refs);
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const types = ['Observation', 'Patient', 'Encounter'];
const versions: MatchRef[] = Array.from({ length: N }, (_, i) => ({ resourceType: types[i % 3], id: `${(i * 2654435761) >>> 0}-${i}` }));

{
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-rs-'));
  const store = new EmbeddedStore({ directory: dir, resultSets: { idleMs: 60_000, maxSets: 10 } });
  try {
    await store.open();
    const before = heap();
    let t = performance.now();
    await store.saveResultSet('benchcursor', 'o', versions);
    const saveMs = performance.now() - t;
    const retained = heap() - before;
    const loads: number[] = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      await store.loadResultSet('benchcursor', 'o', Math.floor(N / 2) + i * 20, 20);
      loads.push(performance.now() - t);
    }
    loads.sort((a, b) => a - b);
    console.log(`embedded (LMDB), ${N} refs: save ${saveMs.toFixed(0)} ms, page load p50 ${loads[10].toFixed(2)} ms, heap retained ${gc ? mb(retained) : 'n/a (run with --expose-gc)'}`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (values.mongo) {
  const server = process.env.MONGODB_URI ? undefined : await startTestMongo();
  const uri = process.env.MONGODB_URI ?? server!.uri;
  const database = `relais_bench_${Date.now()}`;
  const store = new MongoStore({ uri, database, resultSets: { idleMs: 60_000, maxSets: 10 } });
  try {
    await store.open();
    const cursor = 'benchcursor00000000000';
    let t = performance.now();
    await store.saveResultSet(cursor, 'o', versions);
    const saveMs = performance.now() - t;
    const loads: number[] = [];
    for (let i = 0; i < 20; i++) {
      t = performance.now();
      await store.loadResultSet(cursor, 'o', Math.floor(N / 2) + i * 20, 20);
      loads.push(performance.now() - t);
    }
    loads.sort((a, b) => a - b);
    console.log(`mongodb (${store.deployment?.version ?? '?'}), ${N} refs: save ${saveMs.toFixed(0)} ms (${Math.ceil(N / 10_000)} chunks), page load p50 ${loads[10].toFixed(1)} ms`);
    await store.dropAll();
  } finally {
    await store.close();
    await server?.stop();
  }
}
