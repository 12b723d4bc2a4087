/**
 * Crash safety of the embedded store, end to end: the real server process
 * (see test/helpers/spawned-server.ts) takes a stream of creates and updates
 * from concurrent clients, is killed with SIGKILL in the middle of it, and is
 * restarted on the same data folder. Every write it acknowledged (2xx) must be
 * readable with its exact version and content, and the history intact.
 *
 * (Before the store moved to LMDB, the journal compaction threshold was set to
 * its minimum so that compactions also happened during the stream; LMDB has no
 * compaction, so recovery here is LMDB's own: the last durable commit.)
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Patient } from 'fhir/r4';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };
const WORKERS = 8;
/** Kill once this many writes were acknowledged, while the workers keep writing. */
const KILL_AFTER = 300;

interface Acknowledged {
  id: string;
  versionId: number;
  family: string;
}

const dataDir = freshDataDir();
const servers: SpawnedServer[] = [];
afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.exited));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('embedded store: SIGKILL in the middle of a write stream', () => {
  it('loses no acknowledged write', async () => {
    const first = await spawnServer({ dataDir });
    servers.push(first);
    const acknowledged: Acknowledged[] = [];
    const ids: string[] = [];
    let killed = false;
    let sequence = 0;

    async function worker(n: number): Promise<void> {
      while (!killed) {
        const family = `w${n}-${++sequence}`;
        try {
          // Mostly updates of known resources, some creates.
          const target = ids.length > 4 && sequence % 3 !== 0 ? ids[sequence % ids.length] : undefined;
          const body: Patient = { resourceType: 'Patient', ...(target ? { id: target } : {}), name: [{ family }], identifier: [{ system: 'urn:relais:test', value: family }] };
          const response = await fetch(target ? `${first.origin}/fhir/Patient/${target}` : `${first.origin}/fhir/Patient`, {
            method: target ? 'PUT' : 'POST',
            headers: FHIR_JSON,
            body: JSON.stringify(body),
          });
          if (response.status !== 200 && response.status !== 201) throw new Error(`unexpected ${response.status}: ${await response.text()}`);
          const stored = (await response.json()) as Patient;
          acknowledged.push({ id: stored.id!, versionId: Number(stored.meta!.versionId), family });
          if (!target) ids.push(stored.id!);
          if (acknowledged.length >= KILL_AFTER && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch (error) {
          // After the kill, requests in flight fail: they were never acknowledged.
          if (!killed) throw error;
        }
      }
    }

    await Promise.all(Array.from({ length: WORKERS }, (_, n) => worker(n)));
    const exit = await first.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(KILL_AFTER);
    // Recovery starts from the LMDB environment the killed process was writing.
    expect(existsSync(join(dataDir, 'store', 'data.mdb'))).toBe(true);

    const second = await spawnServer({ dataDir });
    servers.push(second);
    const get = async (path: string) => {
      const response = await fetch(`${second.origin}/fhir/${path}`);
      return { status: response.status, body: (await response.json()) as Pick<Patient, 'name' | 'meta' | 'id'> & Pick<Bundle, 'entry'> };
    };

    // Every acknowledged version, exactly as acknowledged.
    for (const write of acknowledged) {
      const { status, body } = await get(`Patient/${write.id}/_history/${write.versionId}`);
      expect(status, `${write.id}/_history/${write.versionId}`).toBe(200);
      expect(body.name?.[0].family).toBe(write.family);
      expect(body.meta?.versionId).toBe(String(write.versionId));
    }
    // Each resource's current version is at least the newest acknowledged one, and its
    // history holds every version from 1 to the current one, newest first, without gaps.
    const newest = new Map<string, number>();
    for (const write of acknowledged) newest.set(write.id, Math.max(newest.get(write.id) ?? 0, write.versionId));
    let settled: Acknowledged | undefined;
    for (const [id, versionId] of newest) {
      const current = await get(`Patient/${id}`);
      expect(current.status).toBe(200);
      const currentVersion = Number(current.body.meta!.versionId);
      if (currentVersion === versionId) settled = acknowledged.find((w) => w.id === id && w.versionId === versionId);
      expect(currentVersion).toBeGreaterThanOrEqual(versionId);
      const history = await get(`Patient/${id}/_history?_count=1000`);
      expect(history.body.entry!.map((e) => Number(e.response!.etag!.replace(/\D/g, '')))).toEqual(Array.from({ length: currentVersion }, (_, i) => currentVersion - i));
    }
    // The search index of current versions came back too (a resource whose newest
    // acknowledged write is its current version: in-flight writes may have landed on others).
    expect(settled).toBeDefined();
    const sample = settled!;
    const found = await get(`Patient?identifier=${encodeURIComponent(`urn:relais:test|${sample.family}`)}`);
    expect(found.status).toBe(200);
    expect(found.body.entry?.map((e) => e.resource!.id)).toContain(sample.id);
    // And the restarted server accepts writes.
    const write = await fetch(`${second.origin}/fhir/Patient`, { method: 'POST', headers: FHIR_JSON, body: JSON.stringify({ resourceType: 'Patient' }) });
    expect(write.status).toBe(201);
    expect((await second.stop()).code).toBe(0);
  }, 120_000);
});
