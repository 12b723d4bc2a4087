/**
 * The store contract against MongoDB: the server of MONGODB_URI, or the test
 * server the global setup started (mongo-java-server: no transactions, so the
 * suite checks the clean refusal of multi-operation writes there). Two store
 * instances (two connection pools, as two processes have) share a database in
 * the concurrency tests.
 */
import { MongoClient } from 'mongodb';
import { describe } from 'vitest';
import { probeDeployment } from '../../src/store/mongo/deployment.js';
import type { MongoStore } from '../../src/store/mongo/mongo-store.js';
import type { ResourceStore } from '../../src/store/resource-store.js';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from './mongo-test-database.js';
import { describeStoreContract, type StoreHarness } from './store-contract.js';

function harness(transactions: 'auto' | 'off'): () => StoreHarness {
  return () => {
    const stores = new Map<ResourceStore, string>();
    const databases = new Set<string>();
    const openOn = async (database: string) => {
      const store: MongoStore = mongoStore(database, { transactions, changeCountedTypes: ['Consent', 'CareTeam'] });
      await store.open();
      stores.set(store, database);
      databases.add(database);
      return store;
    };
    return {
      create: () => openOn(freshDatabaseName()),
      async restart(store) {
        await store.close();
        return openOn(stores.get(store)!);
      },
      sibling: (store) => openOn(stores.get(store)!),
      async dispose() {
        for (const store of stores.keys()) await store.close();
        stores.clear();
        if (databases.size > 0) await dropDatabases(databases);
        databases.clear();
      },
    };
  };
}

/** Whether the server has transactions (then the suite also runs with them turned off). */
async function hasTransactions(): Promise<boolean> {
  if (!mongoUri) return false;
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    return (await probeDeployment(client.db('admin'))).transactions;
  } finally {
    await client.close();
  }
}
const transactions = await hasTransactions();

describe.skipIf(!mongoUri)('MongoDB store', () => {
  describeStoreContract(transactions ? 'mongodb (transactions)' : 'mongodb (no transactions)', harness('auto'));
});

// On a deployment with transactions, also prove the path used where they are missing.
describe.skipIf(!transactions)('MongoDB store, transactions turned off', () => {
  describeStoreContract('mongodb (transactions off)', harness('off'));
});
