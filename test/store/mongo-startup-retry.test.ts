/**
 * A MongoDB that is not there yet when Relais starts (a deployment whose
 * database comes up later, a connection dropped at start-up): the process
 * keeps its port, answers /readyz 503 with the attempts and the kind of the
 * last failure, retries with backoff, and serves once MongoDB answers.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startTestMongo, type TestMongoServer } from '../../scripts/test-mongo-server.mjs';
import { freshDataDir } from '../helpers/spawned-server.js';

const uri = inject('mongoUri');
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

async function readyz(origin: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${origin}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!uri)('start-up with MongoDB unreachable', () => {
  it('reports not-ready with its attempts on /readyz, retries, and serves once MongoDB is up', async () => {
    const mongoPort = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: resolve(import.meta.dirname, '../..'),
      env: {
        PATH: process.env.PATH ?? '',
        PORT: '0',
        DATA_DIR: freshDataDir(),
        AUTH_MODE: 'none',
        VALIDATION_ENFORCEMENT: 'off',
        MONGODB_URI: `mongodb://127.0.0.1:${mongoPort}/relais_startup_retry?directConnection=true`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    });

    // The port is taken at once, before the store: /readyz answers while MongoDB cannot be reached.
    const origin = await until('the port', async () => /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(log)?.[1], 60_000);
    const failing = await until('a failed attempt', async () => {
      const report = await readyz(origin);
      return report.body.attempts !== undefined ? report : undefined;
    }, 60_000);
    expect(failing.status).toBe(503);
    expect(failing.body).toMatchObject({ status: 'not-ready', phase: 'opening-store', store: 'mongodb', lastFailure: 'MongoServerSelectionError' });
    expect(log).toContain('the store cannot be reached yet; retrying');
    // A FHIR request meanwhile: a 503 OperationOutcome with Retry-After (after a short wait), never a 5xx crash.
    const early = await fetch(`${origin}/fhir/Patient`);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await early.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    expect(child.exitCode).toBeNull();

    // MongoDB comes up: the next attempt opens the store and the server becomes ready.
    const mongo: TestMongoServer = await startTestMongo({ port: mongoPort });
    cleanups.push(() => mongo.stop());
    await until('ready', async () => ((await readyz(origin)).status === 200 ? true : undefined), 90_000);
    const created = await fetch(`${origin}/fhir/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Tardif' }] }) });
    expect(created.status).toBe(201);
  }, 240_000);
});
