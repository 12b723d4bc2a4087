/**
 * At start the MongoDB store replaces search indexes an older plan left
 * (same name, other keys — createIndexes would refuse them) and drops those
 * no longer planned, leaving every other index alone.
 */
import { MongoClient } from 'mongodb';
import { afterAll, describe, expect, it } from 'vitest';
import { resourceIndexes } from '../../src/store/mongo/index-plan.js';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from './mongo-test-database.js';

const databases: string[] = [];
afterAll(async () => {
  if (databases.length > 0) await dropDatabases(databases);
});

describe.skipIf(!mongoUri)('MongoDB index plan at start', () => {
  it('replaces an index of an older plan and drops an unplanned idx_ index, keeping the others', async () => {
    const database = freshDatabaseName();
    databases.push(database);
    const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 5000 });
    try {
      const resources = client.db(database).collection('resources');
      await resources.createIndex({ type: 1, 'idx.identifier.s': 1, 'idx.identifier.c': 1 }, { name: 'idx_identifier' });
      await resources.createIndex({ type: 1, 'idx.retired.v': 1 }, { name: 'idx_retired' });
      await resources.createIndex({ 'resource.meta.source': 1 }, { name: 'operator_source' });
      const store = mongoStore(database);
      await store.open();
      await store.close();
      const indexes = new Map((await resources.indexes()).map((i) => [i.name, JSON.stringify(i.key)]));
      expect(indexes.get('idx_identifier')).toBe(JSON.stringify({ type: 1, 'idx.identifier.c': 1, 'idx.identifier.s': 1 }));
      expect(indexes.has('idx_retired')).toBe(false);
      expect(indexes.has('operator_source')).toBe(true);
      for (const planned of resourceIndexes()) expect(indexes.get(planned.name!)).toBe(JSON.stringify(planned.key));
    } finally {
      await client.close();
    }
  });
});
