/**
 * An AuditEvent is durable before the response it records is sent (issue 17,
 * "Must show"): the real server process answers a stream of audited reads
 * (default authentication, a coordinator's token), is killed with SIGKILL in
 * the middle, and the store it leaves holds an AuditEvent for every read that
 * was answered — found by the request id each read carried (X-Request-Id,
 * recorded as AuditEvent.source.site).
 */
import { rmSync } from 'node:fs';
import type { AuditEvent } from 'fhir/r4';
import { afterAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';

const BASE_URL = 'http://relais.test/fhir';
const READERS = 6;
const KILL_AFTER = 120;

const dataDir = freshDataDir();
let server: SpawnedServer | undefined;

afterAll(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server?.exited;
  rmSync(dataDir, { recursive: true, force: true });
});

describe('audit: SIGKILL during a read load', () => {
  it('loses no AuditEvent of a read that was answered', async () => {
    server = await spawnServer({ dataDir, env: { AUTH_MODE: 'dev', BASE_URL, RATE_LIMIT_MAX: '1000000' } });
    const token = await mintDevToken({ role: 'coordinator', sub: 'coord-crash', ttlSeconds: 600 }, { DATA_DIR: dataDir, BASE_URL, AUTH_MODE: 'dev', LOG_LEVEL: 'silent' });
    const headers = { authorization: `Bearer ${token}`, accept: 'application/fhir+json' };
    const put = await fetch(`${server.origin}/fhir/Patient/crash-p`, {
      method: 'PUT',
      headers: { ...headers, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', id: 'crash-p', name: [{ family: 'Garnier' }] }),
    });
    expect(put.status).toBe(201);

    const answered: string[] = [];
    let killed = false;
    const reader = async (n: number) => {
      for (let i = 0; ; i++) {
        const requestId = `crash-read-${n}-${i}`;
        try {
          const response = await fetch(`${server!.origin}/fhir/Patient/crash-p`, { headers: { ...headers, 'x-request-id': requestId } });
          const body = (await response.json()) as { id?: string };
          // Answered: the whole response reached the client.
          if (response.status === 200 && body.id === 'crash-p') answered.push(requestId);
        } catch {
          return; // the server is gone
        }
        if (answered.length >= KILL_AFTER && !killed) {
          killed = true;
          server!.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: READERS }, (_, n) => reader(n)));
    expect((await server.exited).signal).toBe('SIGKILL');
    expect(answered.length).toBeGreaterThanOrEqual(KILL_AFTER);

    // The store as the killed process left it (what the next start recovers from).
    const store = new EmbeddedStore({ directory: dataDir });
    await store.open();
    try {
      const { versions } = await store.search({ resourceTypes: ['AuditEvent'], filter: {}, offset: 0, count: 1_000_000, withTotal: false });
      const audited = new Set(versions.map((v) => (v.resource as AuditEvent).source.site).filter((site): site is string => !!site));
      const reads = versions.filter((v) => (v.resource as AuditEvent).subtype?.some((c) => c.code === 'read')).length;
      expect(answered.filter((id) => !audited.has(id))).toEqual([]);
      expect(reads).toBeGreaterThanOrEqual(answered.length);
    } finally {
      await store.close();
    }
  }, 120_000);
});
