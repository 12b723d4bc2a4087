/**
 * The bulk storage contract (src/bulk/bulk-storage.ts), run against the
 * directory storage (embedded store deployments) and the MongoDB storage:
 * compare-and-set, leases taken once and taken over when they run out, files
 * invisible until finished, replaced when rewritten, removed with their job.
 */
import { text } from 'node:stream/consumers';
import { afterEach, describe, expect, it } from 'vitest';
import type { BulkStorage } from '../../src/bulk/bulk-storage.js';
import type { ExportJob } from '../../src/bulk/export-job.js';

export interface BulkStorageHarness {
  create(): Promise<BulkStorage>;
  /** The same storage opened again (a restart, or another process). */
  reopen(storage: BulkStorage): Promise<BulkStorage>;
  dispose(): Promise<void>;
}

export function job(id: string, overrides: Partial<ExportJob> = {}): ExportJob {
  const now = new Date().toISOString();
  return {
    id,
    owner: 'owner-a',
    caller: { kind: 'anonymous' },
    level: 'system',
    request: 'http://relais.test/fhir/$export',
    transactionTime: now,
    types: ['Patient'],
    typeFilters: {},
    notices: [],
    status: 'queued',
    cursor: { typeIndex: 0 },
    output: [],
    deleted: [],
    error: [],
    written: 0,
    attempts: 0,
    revision: 0,
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

export function describeBulkStorageContract(name: string, harness: () => BulkStorageHarness): void {
  describe(`bulk storage contract: ${name}`, () => {
    let h: BulkStorageHarness;
    const open = async () => (h ??= harness()).create();
    afterEach(async () => h?.dispose());

    it('keeps jobs, replaces them only at the revision read, lists an owner\'s jobs oldest first', async () => {
      const storage = await open();
      await storage.insertJob(job('j1', { createdAt: '2026-01-01T00:00:01.000Z' }));
      await storage.insertJob(job('j2', { createdAt: '2026-01-01T00:00:00.000Z' }));
      await storage.insertJob(job('j3', { owner: 'owner-b' }));
      const j1 = (await storage.getJob('j1'))!;
      expect(j1).toMatchObject({ id: 'j1', owner: 'owner-a', revision: 0, status: 'queued' });
      expect(await storage.replaceJob({ ...j1, written: 10 }, 0)).toBe(true);
      expect(await storage.replaceJob({ ...j1, written: 99 }, 0)).toBe(false);
      expect(await storage.getJob('j1')).toMatchObject({ written: 10, revision: 1 });
      expect((await storage.jobsOf('owner-a', ['queued'])).map((j) => j.id)).toEqual(['j2', 'j1']);
      expect(await storage.jobsOf('owner-a', ['completed'])).toEqual([]);
      expect(await storage.getJob('nope')).toBeUndefined();
      // The queue depth of /metrics: counts by status, every owner.
      expect(await storage.countJobs(['queued', 'running'])).toEqual({ queued: 3 });
      expect(await storage.replaceJob({ ...(await storage.getJob('j3'))!, status: 'running' }, 0)).toBe(true);
      expect(await storage.countJobs(['queued', 'running', 'completed'])).toEqual({ queued: 2, running: 1 });
      const again = await h.reopen(storage);
      expect(await again.getJob('j1')).toMatchObject({ written: 10, revision: 1 });
    });

    it('gives each job to one worker at a time, and to another once the lease has run out', async () => {
      const storage = await open();
      await storage.insertJob(job('j1', { createdAt: '2026-01-01T00:00:00.000Z' }));
      await storage.insertJob(job('j2', { createdAt: '2026-01-01T00:00:01.000Z' }));
      const now = new Date();
      const [a, b, c] = await Promise.all([storage.claimJob('w1', now, 60_000), storage.claimJob('w2', now, 60_000), storage.claimJob('w3', now, 60_000)]);
      const claimed = [a, b, c].filter((j): j is ExportJob => j !== undefined);
      expect(claimed.map((j) => j.id).sort()).toEqual(['j1', 'j2']);
      for (const j of claimed) expect(j).toMatchObject({ status: 'running', attempts: 1, revision: 1 });
      expect(await storage.claimJob('w4', now, 60_000)).toBeUndefined();
      const later = new Date(now.getTime() + 61_000);
      const taken = await storage.claimJob('w4', later, 60_000);
      expect(taken).toMatchObject({ id: 'j1', attempts: 2, revision: 2, lease: { holder: 'w4' } });
      // The first holder's compare-and-set now fails: it learns it lost the job.
      expect(await storage.replaceJob({ ...claimed.find((j) => j.id === 'j1')!, written: 5 }, 1)).toBe(false);
    });

    it('lists cancelled and expired jobs for the sweeper, and deletes them', async () => {
      const storage = await open();
      await storage.insertJob(job('done', { status: 'completed', expiresAt: '2026-01-01T00:00:00.000Z' }));
      await storage.insertJob(job('fresh', { status: 'completed', expiresAt: '2999-01-01T00:00:00.000Z' }));
      await storage.insertJob(job('stopped', { status: 'cancelled' }));
      expect((await storage.jobsToSweep(new Date('2026-06-01T00:00:00.000Z'))).map((j) => j.id).sort()).toEqual(['done', 'stopped']);
      await storage.deleteJob('done');
      expect(await storage.getJob('done')).toBeUndefined();
    });

    it('shows a file only once finished, replaces it when rewritten, removes a job\'s files', async () => {
      const storage = await open();
      const sink = await storage.createFile('j1', 'Patient-1.ndjson');
      await sink.write('{"resourceType":"Patient","id":"a"}\n');
      expect(await storage.readFile('j1', 'Patient-1.ndjson')).toBeUndefined();
      // Large enough to cross buffers and GridFS chunks.
      const line = `${JSON.stringify({ resourceType: 'Patient', id: 'b', text: 'é'.repeat(200_000) })}\n`;
      for (let i = 0; i < 5; i++) await sink.write(line);
      const size = await sink.finish();
      const expected = `{"resourceType":"Patient","id":"a"}\n${line.repeat(5)}`;
      expect(size).toBe(Buffer.byteLength(expected));
      const file = (await storage.readFile('j1', 'Patient-1.ndjson'))!;
      expect(file.size).toBe(size);
      expect(await text(file.stream)).toBe(expected);
      // Rewritten (a resumed part): the old content goes; an aborted file leaves nothing.
      const again = await storage.createFile('j1', 'Patient-1.ndjson');
      await again.write('{"resourceType":"Patient","id":"c"}\n');
      expect(await again.finish()).toBe(36);
      expect(await text((await storage.readFile('j1', 'Patient-1.ndjson'))!.stream)).toBe('{"resourceType":"Patient","id":"c"}\n');
      const dropped = await storage.createFile('j1', 'Patient-2.ndjson');
      await dropped.write('x\n');
      await dropped.abort();
      expect(await storage.readFile('j1', 'Patient-2.ndjson')).toBeUndefined();
      const unfinished = await storage.createFile('j1', 'Patient-3.ndjson');
      await unfinished.write(line);
      await storage.deleteFiles('j1');
      expect(await storage.readFile('j1', 'Patient-1.ndjson')).toBeUndefined();
      await unfinished.abort();
    });
  });
}
