/**
 * A small measurement of the two stores with the same script and the same data:
 * writes/s (creates), reads/s (read by id) and searches/s (a token search on
 * identifier), each with a fixed number of requests in flight, as a server
 * under load has. Index entries come from the real IndexExtractor.
 *
 *   npx tsx scripts/bench-store.ts [--resources 2000] [--concurrency 16] [--stores embedded]
 *
 * The embedded store also reports its writes per commit (each commit is one fsync): its group commit.
 *
 * MongoDB: MONGODB_URI if set, else the test server (scripts/test-mongo-server.mjs).
 * Short by default (a few seconds per store): this is a sanity figure, not a benchmark suite.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Patient } from 'fhir/r4';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { IndexExtractor } from '../src/search/index-extractor.js';
import { SearchParameterRegistry } from '../src/search/search-parameters.js';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';
import { MongoStore } from '../src/store/mongo/mongo-store.js';
import type { ResourceStore, WriteOperation } from '../src/store/resource-store.js';
import { startTestMongo } from './test-mongo-server.mjs';

const { values } = parseArgs({
  options: { resources: { type: 'string', default: '2000' }, concurrency: { type: 'string', default: '16' }, stores: { type: 'string', default: 'embedded,mongodb' } },
});
const COUNT = Number(values.resources);
const CONCURRENCY = Number(values.concurrency);
const NIR = 'urn:oid:1.2.250.1.213.1.4.8';

function patients(): Patient[] {
  return Array.from({ length: COUNT }, (_, i) => ({
    resourceType: 'Patient',
    id: `bench-${i}`,
    identifier: [{ system: NIR, value: String(1800175000000 + i) }],
    name: [{ family: `Famille${i % 97}`, given: [`Prenom${i % 13}`] }],
    gender: i % 2 ? 'female' : 'male',
    birthDate: `19${String(30 + (i % 70)).padStart(2, '0')}-0${1 + (i % 9)}-1${i % 10}`,
    address: [{ city: 'Rennes', postalCode: '35000' }],
  }));
}

/** Runs `task(i)` for i in [0, n) with `CONCURRENCY` in flight; returns operations per second. */
async function rate(n: number, task: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await task(next++);
    }),
  );
  return n / ((performance.now() - started) / 1000);
}

async function measure(name: string, store: ResourceStore, ops: WriteOperation[]): Promise<Record<string, string | number>> {
  await store.open();
  try {
    const counted = store as ResourceStore & { commitCounts?: () => { commits: number; units: number } };
    const before = counted.commitCounts?.();
    const writes = await rate(ops.length, (i) => store.write([ops[i]]));
    const after = counted.commitCounts?.();
    const reads = await rate(ops.length, (i) => store.readCurrent('Patient', `bench-${(i * 7919) % COUNT}`));
    const searches = await rate(Math.min(ops.length, 1000), (i) =>
      store.search({
        resourceTypes: ['Patient'],
        filter: { 'idx.identifier': { $elemMatch: { s: NIR, c: String(1800175000000 + ((i * 31) % COUNT)) } } },
        offset: 0,
        count: 20,
        withTotal: false,
      }),
    );
    const perCommit = before && after ? ((after.units - before.units) / Math.max(1, after.commits - before.commits)).toFixed(1) : 'n/a';
    return { store: name, 'writes/s': Math.round(writes), 'writes per commit': perCommit, 'reads/s': Math.round(reads), 'searches/s': Math.round(searches) };
  } finally {
    await store.close();
  }
}

async function main(): Promise<void> {
  const definitions = loadDefinitions();
  const extractor = new IndexExtractor(new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes));
  const ops: WriteOperation[] = patients().map((resource) => ({
    kind: 'put',
    resourceType: 'Patient',
    id: resource.id!,
    resource,
    index: extractor.extract(resource),
    expect: 'absent',
  }));
  const results: Array<Record<string, string | number>> = [];

  const stores = values.stores.split(',');
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-'));
  try {
    if (stores.includes('embedded')) results.push(await measure('embedded (LMDB, group commit)', new EmbeddedStore({ directory: dir }), ops));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!stores.includes('mongodb')) {
    process.stdout.write(`${COUNT} Patients, ${CONCURRENCY} requests in flight\n`);
    console.table(results);
    return;
  }

  const server = process.env.MONGODB_URI ? undefined : await startTestMongo();
  const uri = process.env.MONGODB_URI ?? server!.uri;
  const database = `relais_bench_${randomBytes(4).toString('hex')}`;
  const mongo = new MongoStore({ uri, database });
  try {
    results.push(await measure(`mongodb (${process.env.MONGODB_URI ? 'MONGODB_URI' : 'test server: mongo-java-server, memory'})`, mongo, ops));
    const { MongoClient } = await import('mongodb');
    const client = new MongoClient(uri);
    await client.db(database).dropDatabase();
    await client.close();
  } finally {
    await server?.stop();
  }
  process.stdout.write(`${COUNT} Patients, ${CONCURRENCY} requests in flight\n`);
  console.table(results);
}

main().catch((error) => {
  process.stderr.write(`bench-store: ${(error as Error).stack}\n`);
  process.exit(1);
});
