/**
 * The bulk storage contract on MongoDB (jobs collection + GridFS), skipped
 * when no MongoDB test server is available (mandatory in CI).
 */
import { describe } from 'vitest';
import type { BulkStorage } from '../../src/bulk/bulk-storage.js';
import { MongoBulkStorage } from '../../src/bulk/mongo-bulk-storage.js';
import { dropDatabases, freshDatabaseName, mongoUri } from '../store/mongo-test-database.js';
import { describeBulkStorageContract } from './bulk-storage-contract.js';

describe.skipIf(!mongoUri)('MongoDB', () => {
  describeBulkStorageContract('mongodb (GridFS)', () => {
    const opened: Array<{ storage: BulkStorage; database: string }> = [];
    const openOn = async (database: string) => {
      const storage = new MongoBulkStorage({ uri: mongoUri, database, serverSelectionTimeoutMS: 5000 });
      await storage.open();
      opened.push({ storage, database });
      return storage;
    };
    return {
      create: () => openOn(freshDatabaseName()),
      reopen: (storage) => openOn(opened.find((o) => o.storage === storage)!.database),
      async dispose() {
        const databases = new Set(opened.map((o) => o.database));
        for (const { storage } of opened.splice(0)) await storage.close();
        if (databases.size > 0) await dropDatabases(databases);
      },
    };
  });
});
