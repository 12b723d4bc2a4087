/**
 * Paging cursors over HTTP on MongoDB (test/search/paging-cursors-suite.ts):
 * two Relais apps, each with its own MongoStore (its own connection pool, as
 * two processes behind a load balancer have), on one database of the test
 * server; the stores chunk result sets by 4 refs, so pages span chunk documents.
 */
import { describe, it } from 'vitest';
import { MongoStore } from '../../src/store/mongo/mongo-store.js';
import { dropDatabases, freshDatabaseName, mongoUri } from '../store/mongo-test-database.js';
import { describePagingCursors } from './paging-cursors-suite.js';

if (mongoUri) {
  describePagingCursors('mongodb, two instances', () => {
    const database = freshDatabaseName();
    const stores: MongoStore[] = [];
    return {
      env: { MONGODB_URI: mongoUri, MONGODB_DATABASE: database },
      stores(limits) {
        const open = () => new MongoStore({ uri: mongoUri, database, serverSelectionTimeoutMS: 5000, resultSets: { ...limits, chunkSize: 4 } });
        stores.push(open(), open());
        return [stores[0], stores[1]];
      },
      async dispose() {
        for (const store of stores) await store.close();
        await dropDatabases([database]);
      },
    };
  });
} else {
  describe.skip('paging cursors on MongoDB (no server)', () => {
    it('needs a MongoDB server', () => {});
  });
}
