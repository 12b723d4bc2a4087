/**
 * Vitest global setup for the MongoDB tests: provides `mongoUri` to them.
 * - MONGODB_URI set: used as is (each test works in its own database).
 * - otherwise the test server is started (scripts/test-mongo-server.mjs:
 *   mongo-java-server on a free loopback port) when the run includes a MongoDB
 *   test file, and stopped at the end;
 * - if neither is possible the MongoDB tests are skipped with ONE visible line,
 *   unless RELAIS_REQUIRE_MONGO=1 (set by .ci/run), which makes it a failure.
 */
import { readdirSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** '' when the MongoDB tests must skip. */
    mongoUri: string;
  }
}

/** Whether the command line's file filters (substring matches, as vitest applies them) select a MongoDB test file. */
function runIncludesMongoTests(): boolean {
  if (process.env.RELAIS_TEST_STORE === 'mongodb') return true; // the HTTP suites on MongoDB (test/helpers/test-server.ts)
  const files = [
    ...readdirSync('test/store').filter((f) => /^mongo-.*\.test\.ts$/.test(f)).map((f) => `test/store/${f}`),
    ...readdirSync('test/search').filter((f) => /-mongo\.test\.ts$/.test(f)).map((f) => `test/search/${f}`),
    ...readdirSync('test/subscriptions').filter((f) => /-mongo\.test\.ts$/.test(f)).map((f) => `test/subscriptions/${f}`),
    ...readdirSync('test/bulk').filter((f) => /-mongo\.test\.ts$/.test(f)).map((f) => `test/bulk/${f}`),
    ...readdirSync('test/coordination').filter((f) => /-mongo\.test\.ts$/.test(f)).map((f) => `test/coordination/${f}`),
  ];
  const runIndex = process.argv.findIndex((arg) => arg === 'run' || arg === 'watch' || arg === 'related');
  const filters = (runIndex >= 0 ? process.argv.slice(runIndex + 1) : []).filter((arg) => !arg.startsWith('-'));
  return filters.length === 0 || filters.some((filter) => files.some((file) => file.includes(filter.replace(/^\.\//, ''))));
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env.MONGODB_URI) {
    project.provide('mongoUri', process.env.MONGODB_URI);
    return undefined;
  }
  project.provide('mongoUri', '');
  if (!runIncludesMongoTests()) return undefined;
  try {
    const { startTestMongo } = await import('../../scripts/test-mongo-server.mjs');
    const server = await startTestMongo();
    project.provide('mongoUri', server.uri);
    return () => server.stop();
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    if (process.env.RELAIS_REQUIRE_MONGO === '1') {
      throw new Error(`MongoDB tests required (RELAIS_REQUIRE_MONGO=1) but no server: ${reason}`);
    }
    process.stdout.write(`\n⚠ MongoDB store tests SKIPPED: ${reason} (set MONGODB_URI, or install Java 17 + Maven for the test server)\n\n`);
    return undefined;
  }
}
