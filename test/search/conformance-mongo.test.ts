/**
 * The search conformance suite on the MongoDB store: the server of MONGODB_URI
 * or the test server of test/store/mongo-global-setup.ts (skipped with one
 * visible line when neither is available, a failure under RELAIS_REQUIRE_MONGO=1).
 * Each run gets a database of its own, dropped afterwards.
 */
import { describe } from 'vitest';
import { dropDatabases, freshDatabaseName, mongoStore, mongoUri } from '../store/mongo-test-database.js';
import { searchConformanceSuite } from './search-conformance-suite.js';

describe.skipIf(!mongoUri)('MongoDB store', () => {
  searchConformanceSuite('mongodb store', async () => {
    const database = freshDatabaseName();
    return { store: mongoStore(database), dispose: () => dropDatabases([database]) };
  });
});
