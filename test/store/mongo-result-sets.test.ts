/**
 * Stored result sets (paging snapshots) of the MongoDB store, on the server of
 * test/store/mongo-global-setup.ts: the shared contract with a chunk size of 3
 * (so every set spans several chunk documents) and two store instances on one
 * database (two processes), then what is particular to the `searchsets`
 * collection: chunk documents, expiry index, cleanup of expired documents, a
 * set too large for one 16 MB document.
 */
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';
import type { ResultSetLimits } from '../../src/store/resource-store.js';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from './mongo-test-database.js';
import { describeResultSetContract, type ResultSetHarness } from './result-sets-contract.js';

function harness(): ResultSetHarness {
  const stores: MongoStore[] = [];
  const databases = new Set<string>();
  let database = '';
  const openOn = async (name: string, limits: ResultSetLimits) => {
    const store = mongoStore(name, { resultSets: { ...limits, chunkSize: 3 } });
    await store.open();
    stores.push(store);
    databases.add(name);
    return store;
  };
  return {
    create: (limits) => openOn((database = freshDatabaseName()), limits),
    sibling: (limits) => openOn(database, limits),
    async dispose() {
      for (const store of stores.splice(0)) await store.close();
      if (databases.size > 0) await dropDatabases(databases);
      databases.clear();
    },
  };
}

describe.skipIf(!mongoUri)('MongoDB store', () => {
  describeResultSetContract('mongodb', harness, true);

  describe('the searchsets collection', () => {
    const databases: string[] = [];
    let now = 1_700_000_000_000;
    const open = async (chunkSize: number) => {
      const database = freshDatabaseName();
      databases.push(database);
      const store = mongoStore(database, { resultSets: { idleMs: 1000, maxSets: 100, clock: () => now, chunkSize } });
      await store.open();
      const client = new MongoClient(mongoUri);
      return { store, client, collection: client.db(database).collection<{ _id: string; refs?: string[] }>('searchsets') };
    };
    afterAll(async () => {
      await dropDatabases(databases);
    });
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ resourceType: i % 2 ? 'Observation' : 'Patient', id: `id-${i}` }));
    const cursor = (n: number) => `c${String(n).padStart(21, '0')}`;

    it('keeps a set as a head and chunk documents of at most chunkSize refs; a missing chunk makes the set expired', async () => {
      const { store, client, collection } = await open(3);
      try {
        await store.saveResultSet(cursor(1), 'o', refs(17));
        const docs = await collection.find({}).toArray();
        expect(docs.map((d) => d._id).sort()).toEqual([cursor(1), ...[0, 1, 2, 3, 4, 5].map((n) => `${cursor(1)}:${n}`)].sort());
        expect(docs.find((d) => d._id === cursor(1))).toMatchObject({ owner: 'o', total: 17, chunkSize: 3 });
        expect(docs.find((d) => d._id === `${cursor(1)}:5`)?.refs).toEqual(['Observation/id-15', 'Patient/id-16']);
        // A page on chunks 1 and 2 only; then chunk 2 disappears (as a TTL monitor removes documents one by one).
        expect((await store.loadResultSet(cursor(1), 'o', 4, 4))?.refs.map((r) => r.id)).toEqual(['id-4', 'id-5', 'id-6', 'id-7']);
        await collection.deleteOne({ _id: `${cursor(1)}:2` });
        expect(await store.loadResultSet(cursor(1), 'o', 0, 3)).toBeDefined();
        expect(await store.loadResultSet(cursor(1), 'o', 4, 4)).toBeUndefined();
      } finally {
        await client.close();
        await store.close();
      }
    });

    it('has an expiry index on expiresAt (TTL where the server accepts one) and removes expired sets at a later save', async () => {
      const { store, client, collection } = await open(3);
      try {
        const indexes = await collection.indexes();
        const expiry = indexes.find((i) => JSON.stringify(i.key) === '{"expiresAt":1}');
        expect(expiry).toBeDefined();
        expect(store.resultSets.ttlIndex).toBe(expiry?.expireAfterSeconds === 0);
        const start = now;
        await store.saveResultSet(cursor(2), 'o', refs(10));
        await store.saveResultSet(cursor(3), 'o', refs(10));
        expect(await collection.countDocuments()).toBe(10);
        now = start + 5000; // both idle for longer than 1 s: expired
        await store.saveResultSet(cursor(4), 'o', refs(2));
        expect((await collection.find({}).toArray()).map((d) => d._id).sort()).toEqual([cursor(4), `${cursor(4)}:0`]);
      } finally {
        now = 1_700_000_000_000;
        await client.close();
        await store.close();
      }
    });

    it('stores a set far beyond one 16 MB document (500,000 refs) and serves a page from its middle', async () => {
      const { store, client, collection } = await open(10_000);
      try {
        const big = Array.from({ length: 500_000 }, (_, i) => ({ resourceType: 'Observation', id: `obs-${String(i).padStart(8, '0')}-${'x'.repeat(24)}` }));
        await store.saveResultSet(cursor(5), 'o', big);
        expect(await collection.countDocuments()).toBe(51);
        const page = await store.loadResultSet(cursor(5), 'o', 249_995, 10);
        expect(page).toEqual({ total: 500_000, refs: big.slice(249_995, 250_005) });
      } finally {
        await client.close();
        await store.close();
      }
    }, 120_000);
  });
});
