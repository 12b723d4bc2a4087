/**
 * Builds a Relais app over a fresh embedded store in a temporary folder, for
 * app.inject() tests. Each call is isolated; close() removes the folder.
 * With RELAIS_TEST_STORE=mongodb the store is MongoDB instead (a fresh
 * database on the server of test/store/mongo-global-setup.ts, dropped on close).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig, type RelaisConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';

export interface TestServer {
  app: FastifyInstance;
  ctx: RelaisContext;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestServer(env: Record<string, string> = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-test-'));
  // AUTH_MODE=none: these tests exercise the FHIR interactions; test/auth covers authentication.
  const mongo = mongoForHttpTests();
  const config: RelaisConfig = loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none', ...mongo?.env, ...env });
  const ctx = buildContext(config);
  await ctx.store.open();
  const app = await buildApp(ctx, { logger: false });
  await app.ready();
  return {
    app,
    ctx,
    dataDir,
    async close() {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
      await mongo?.drop();
    },
  };
}

/** RELAIS_TEST_STORE=mongodb: the environment selecting a fresh MongoDB database, and its removal. */
function mongoForHttpTests(): { env: Record<string, string>; drop(): Promise<void> } | undefined {
  if (process.env.RELAIS_TEST_STORE !== 'mongodb') return undefined;
  const uri = inject('mongoUri');
  if (!uri) throw new Error('RELAIS_TEST_STORE=mongodb, but no MongoDB server is available (see docs/storage.md)');
  const database = `relais_http_${randomBytes(6).toString('hex')}`;
  return {
    env: { MONGODB_URI: uri, MONGODB_DATABASE: database },
    async drop() {
      const client = new MongoClient(uri);
      try {
        await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

export const FHIR_JSON = { 'content-type': 'application/fhir+json' };

/** app.inject() with one signature (its overloads defeat Parameters<>). */
export function injectInto(app: FastifyInstance, options: InjectOptions): Promise<LightMyRequestResponse> {
  return app.inject(options);
}

/**
 * The HTTP and store suites test the R4 interactions on base-structure validation
 * only; the network profiles (enforced by default) have their own tests.
 */
export const STRUCTURE_ONLY: Record<string, string> = { VALIDATION_ENFORCEMENT: 'off' };

/**
 * One test server for a whole test file: started before its first test, closed
 * after its last. `inject` sends a request to it; `server()` gives the rest
 * (ctx, dataDir). Further beforeAll hooks of the file run after the start.
 */
export function useTestServer(env: Record<string, string> = STRUCTURE_ONLY): {
  inject: (options: InjectOptions) => Promise<LightMyRequestResponse>;
  server: () => TestServer;
} {
  let started: TestServer | undefined;
  beforeAll(async () => {
    started = await startTestServer(env);
  });
  afterAll(async () => {
    await started?.close();
  });
  const server = (): TestServer => {
    if (!started) throw new Error('the test server is used before its beforeAll hook ran');
    return started;
  };
  return { inject: (options) => injectInto(server().app, options), server };
}
