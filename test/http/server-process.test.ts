/**
 * The server as a process (src/server.ts, spawned as a child): graceful
 * shutdown on SIGTERM (the request in flight completes, the write is durable,
 * exit code 0), what it writes to its log at info level (request ids, no query
 * strings, no bodies, no identifiers), and a configuration error stopping it
 * with one line.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };
const folders: string[] = [];
const servers: SpawnedServer[] = [];
afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.exited));
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}, dataDir = freshDataDir()): Promise<SpawnedServer> {
  if (!folders.includes(dataDir)) folders.push(dataDir);
  const server = await spawnServer({ dataDir, env });
  servers.push(server);
  return server;
}

/** Resolves once the process has written a log line matching `pattern`. */
async function logged(server: SpawnedServer, pattern: RegExp): Promise<void> {
  while (!server.stdout.some((line) => pattern.test(line))) {
    if (server.child.exitCode !== null) throw new Error('server exited');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('graceful shutdown', () => {
  it('on SIGTERM, finishes the request in flight (its write is durable) and exits 0', async () => {
    const dataDir = freshDataDir();
    // At debug level the server logs each request as it arrives (at info, only once answered).
    const server = await start({ LOG_LEVEL: 'debug' }, dataDir);
    const url = new URL('/fhir/Patient', server.origin);
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'EnVol' }] });
    const half = Math.floor(body.length / 2);

    // A create whose body arrives in two halves; SIGTERM lands between them.
    const response = new Promise<{ status: number; text: string }>((done, fail) => {
      const req = request(url, { method: 'POST', headers: { ...FHIR_JSON, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
        let text = '';
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => done({ status: res.statusCode!, text }));
      });
      req.on('error', fail);
      req.write(body.slice(0, half));
      // The server has the request once it logged "incoming request" for it.
      void logged(server, /"incoming request".*"method":"POST"|"method":"POST".*"incoming request"/).then(async () => {
        server.child.kill('SIGTERM');
        await logged(server, /shutting down/);
        req.end(body.slice(half));
      }, fail);
    });

    const { status, text } = await response;
    expect(status, text).toBe(201);
    const id = JSON.parse(text).id as string;
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    // The acknowledged write is there after a restart (the store was flushed and closed).
    const again = await start({}, dataDir);
    const read = await fetch(`${again.origin}/fhir/Patient/${id}`);
    expect(read.status).toBe(200);
    expect(((await read.json()) as { name: Array<{ family: string }> }).name[0].family).toBe('EnVol');
    expect((await again.stop()).code).toBe(0);
  }, 90_000);
});

describe('logs at info level', () => {
  it('carry request ids, method, path and status, but never query strings, bodies or identifiers', async () => {
    const server = await start();
    const nir = '2480975123456';
    const family = 'Quelquechose-Secret';
    const created = await fetch(`${server.origin}/fhir/Patient`, {
      method: 'POST',
      headers: { ...FHIR_JSON, 'x-request-id': 'trace-123' },
      body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: nir }], name: [{ family }], birthDate: '1948-09-07' }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-request-id')).toBe('trace-123');
    const searched = await fetch(`${server.origin}/fhir/Patient?identifier=${encodeURIComponent(`urn:oid:1.2.250.1.213.1.4.8|${nir}`)}&family=${family}`);
    expect(searched.status).toBe(200);
    // Failures too: an invalid body and a conditional create carrying the identifier in a header.
    const invalid = await fetch(`${server.origin}/fhir/Patient?x=${nir}`, { method: 'POST', headers: FHIR_JSON, body: JSON.stringify({ resourceType: 'Patient', name: [{ family }], secret: nir }) });
    expect(invalid.status).toBe(400);
    const conditional = await fetch(`${server.origin}/fhir/Patient`, {
      method: 'POST',
      headers: { ...FHIR_JSON, 'if-none-exist': `identifier=urn:oid:1.2.250.1.213.1.4.8|${nir}` },
      body: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: nir }] }),
    });
    expect(conditional.status).toBe(200);
    const malformed = await fetch(`${server.origin}/fhir/Patient`, { method: 'POST', headers: FHIR_JSON, body: `{"family":"${family}",` });
    expect(malformed.status).toBe(400);
    await logged(server, /"statusCode":400/);
    expect((await server.stop()).code).toBe(0);

    const log = server.stdout.join('\n');
    expect(log).not.toContain(nir);
    expect(log).not.toContain(family);
    expect(log).not.toContain('1948-09-07');
    expect(log).not.toContain('identifier=');
    expect(log).not.toMatch(/\?/);
    // What is logged is useful: JSON lines with the request id, method, path and status.
    const lines = server.stdout.map((line) => JSON.parse(line) as { reqId?: string; req?: { method: string; path: string }; res?: { statusCode: number } });
    expect(lines.some((l) => l.reqId === 'trace-123' && l.req?.method === 'POST' && l.req.path === '/fhir/Patient')).toBe(true);
    expect(lines.some((l) => l.reqId === 'trace-123' && l.res?.statusCode === 201)).toBe(true);
    // One line per request at info level, once answered, with everything above.
    const created201 = lines.filter((l) => l.reqId === 'trace-123');
    expect(created201).toHaveLength(1);
    expect(created201[0]).toMatchObject({ msg: 'request completed', req: { method: 'POST', path: '/fhir/Patient' }, res: { statusCode: 201 } });
    expect(typeof (created201[0] as { responseTime?: unknown }).responseTime).toBe('number');
    expect(server.stderr.join('\n')).not.toContain(nir);
  }, 60_000);
});

describe('configuration', () => {
  it('a wrong value stops the server with a one-line explanation', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: resolve(import.meta.dirname, '../..'),
      env: { PATH: process.env.PATH ?? '', PORT: 'eighty', DATA_DIR: freshDataDir() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
    expect(code).not.toBe(0);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/PORT/);
  }, 60_000);
});
