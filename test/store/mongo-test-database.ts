/**
 * MongoDB stores for tests: each in a database of its own on the server the
 * global setup provides (dropped afterwards), so test files never see each
 * other's data even on a shared MONGODB_URI.
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { inject } from 'vitest';
import { MongoStore, type MongoStoreOptions } from '../../src/store/mongo/mongo-store.js';

/** The server's URI, or '' when the MongoDB tests are skipped (see mongo-global-setup.ts). */
export const mongoUri: string = inject('mongoUri');

export function freshDatabaseName(): string {
  return `relais_test_${randomBytes(6).toString('hex')}`;
}

/** The URI of `database` on the test server (for spawned Relais processes). */
export function uriWithDatabase(database: string): string {
  const url = new URL(mongoUri);
  url.pathname = `/${database}`;
  return url.toString();
}

export function mongoStore(database: string, options: Partial<MongoStoreOptions> = {}): MongoStore {
  return new MongoStore({ uri: mongoUri, database, serverSelectionTimeoutMS: 5000, ...options });
}

export async function dropDatabases(names: Iterable<string>): Promise<void> {
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 5000 });
  try {
    for (const name of names) await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
}
