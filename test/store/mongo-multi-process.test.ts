/**
 * Several Relais processes on one MongoDB: the real deployment shape (behind a
 * load balancer). Two server processes are spawned with the same MONGODB_URI;
 * only the database can keep them consistent.
 * - 50 identical conditional creates split between them → exactly one resource;
 * - concurrent If-Match updates across them → exactly one winner;
 * - a fresh process reads back what another wrote, with its full history.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropDatabases, freshDatabaseName, mongoUri, uriWithDatabase } from './mongo-test-database.js';

interface RelaisProcess {
  child: ChildProcess;
  base: string;
  output: string[];
}

const FHIR_JSON = { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' };
const NIR = 'urn:oid:1.2.250.1.213.1.4.8';

/** Starts `node --import tsx src/server.ts` on a free port and waits for its "listening" log line. */
function startRelais(database: string, dataDir: string): Promise<RelaisProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      MONGODB_URI: uriWithDatabase(database),
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      AUTH_MODE: 'none',
      RATE_LIMIT_MAX: '100000',
      BASE_URL: 'http://relais.test/fhir',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      // A server that did not become ready is not left running after the test.
      child.kill('SIGKILL');
      reject(new Error(`Relais did not start:\n${output.join('\n')}`));
    }, 150_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        output.push(line);
        // The port comes first ("Server listening"), then the store opens: serve once "ready".
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output.join('\n'));
        if (match && line.includes('Relais FHIR R4 server ready')) {
          clearTimeout(timer);
          resolve({ child, base: `${match[1]}/fhir`, output });
        }
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Relais exited with ${code}:\n${output.join('\n')}`));
    });
  });
}

async function stopRelais(relais: RelaisProcess): Promise<void> {
  if (relais.child.exitCode !== null) return;
  const exited = new Promise((resolve) => relais.child.once('exit', resolve));
  relais.child.kill('SIGTERM');
  await exited;
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { accept: FHIR_JSON.accept, ...(body !== undefined ? { 'content-type': FHIR_JSON['content-type'] } : {}), ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, etag: response.headers.get('etag'), body: text ? JSON.parse(text) : undefined };
}

describe.skipIf(!mongoUri)('several Relais processes on one MongoDB', () => {
  const database = freshDatabaseName();
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-mp-'));
  const started: RelaisProcess[] = [];
  let a: RelaisProcess;
  let b: RelaisProcess;

  // Two processes load the definitions and seed the conformance resources (audited as the server's writes)
  // at once, on the MongoDB test server: generous on a loaded 2-core machine.
  beforeAll(async () => {
    [a, b] = await Promise.all([startRelais(database, dataDir), startRelais(database, dataDir)]);
    started.push(a, b);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(started.map(stopRelais));
    await dropDatabases([database]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs what the deployment guarantees at start', () => {
    const line = a.output.find((l) => l.includes('mongodb store:'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ component: 'store', topology: expect.any(String), atomicMultiWrite: expect.any(Boolean) });
  });

  it('50 simultaneous identical conditional creates on two processes make exactly one resource', async () => {
    const patient = { resourceType: 'Patient', identifier: [{ system: NIR, value: '1800175123456' }], name: [{ family: 'Martin' }] };
    const ifNoneExist = { 'if-none-exist': `identifier=${NIR}|1800175123456` };
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(i % 2 === 0 ? a.base : b.base, 'POST', '/Patient', patient, ifNoneExist)),
    );
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 200 || s === 201)).toBe(true);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    for (const base of [a.base, b.base]) {
      const search = await call(base, 'GET', `/Patient?identifier=${encodeURIComponent(`${NIR}|1800175123456`)}&_total=accurate`);
      expect(search.body.total).toBe(1);
    }
  });

  it('concurrent If-Match updates across the two processes: one winner, the others 412', async () => {
    const created = await call(a.base, 'POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'Durand' }] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(i % 2 === 0 ? a.base : b.base, 'PUT', `/Patient/${id}`, { resourceType: 'Patient', id, name: [{ family: `Writer${i}` }] }, { 'if-match': 'W/"1"' }),
      ),
    );
    expect(responses.filter((r) => r.status === 200)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 412)).toHaveLength(19);
    const winner = responses.find((r) => r.status === 200)!;
    const current = await call(b.base, 'GET', `/Patient/${id}`);
    expect(current.body.meta.versionId).toBe('2');
    expect(current.body.name).toEqual(winner.body.name);
  });

  it('a fresh process reads back, with full history, what another process wrote', async () => {
    const created = await call(a.base, 'POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'V1' }] });
    const id = created.body.id as string;
    for (const family of ['V2', 'V3']) {
      const updated = await call(a.base, 'PUT', `/Patient/${id}`, { resourceType: 'Patient', id, name: [{ family }] });
      expect(updated.status).toBe(200);
    }
    expect((await call(a.base, 'DELETE', `/Patient/${id}`)).status).toBeLessThan(300);
    await stopRelais(a);

    const fresh = await startRelais(database, dataDir);
    started.push(fresh);
    const history = await call(fresh.base, 'GET', `/Patient/${id}/_history`);
    expect(history.status).toBe(200);
    expect(history.body.total).toBe(4);
    expect(history.body.entry.map((e: { request?: { method: string }; resource?: { meta: { versionId: string } } }) => e.request?.method)).toEqual([
      'DELETE',
      'PUT',
      'PUT',
      'POST',
    ]);
    for (const [version, family] of [['1', 'V1'], ['2', 'V2'], ['3', 'V3']]) {
      const read = await call(fresh.base, 'GET', `/Patient/${id}/_history/${version}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ id, meta: { versionId: version }, name: [{ family }] });
    }
    expect((await call(fresh.base, 'GET', `/Patient/${id}`)).status).toBe(410);
  });
});
