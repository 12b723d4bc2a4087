/**
 * The paging (test/search/paging.test.ts) and injection/HTTP
 * (test/search/injection-and-http.test.ts) tests again, on the MongoDB store:
 * RELAIS_TEST_STORE=mongodb makes startTestServer() use a fresh database on the
 * server of test/store/mongo-global-setup.ts. Skipped with that setup's one
 * visible line when no server is available (a failure under RELAIS_REQUIRE_MONGO=1).
 * Each test file runs in a process of its own, so the variable stays here.
 */
import { describe, it } from 'vitest';
import { mongoUri } from '../store/mongo-test-database.js';

if (mongoUri) {
  process.env.RELAIS_TEST_STORE = 'mongodb';
  await import('./paging.test.js');
  await import('./injection-and-http.test.js');
} else {
  describe.skip('paging and injection on MongoDB (no server)', () => {
    it('needs a MongoDB server', () => {});
  });
}
