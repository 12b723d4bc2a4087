/**
 * A restart in the middle of an export (issue 13: "a restart resumes or fails
 * a job cleanly, never stuck in progress"): the job resumes after the last
 * file it recorded, and the finished export holds every resource exactly once;
 * a server killed with SIGKILL (no chance to give the job back) is resumed the
 * same way; a job that keeps being interrupted is failed, and its status says so.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import type { ExportJob } from '../../src/bulk/export-job.js';
import { spawnServer, freshDataDir } from '../helpers/spawned-server.js';
import { download, kickOff, poll, startBulkServer, type Manifest } from './bulk-test-server.js';

const COUNT = 400;
const observations = (): Bundle<Resource> => ({
  resourceType: 'Bundle',
  type: 'transaction',
  entry: Array.from({ length: COUNT }, (_, i) => {
    const resource = { resourceType: 'Observation', id: `obs-${String(i).padStart(4, '0')}`, status: 'final', code: { text: `mesure ${i}` } } as Resource;
    return { resource, request: { method: 'PUT' as const, url: `Observation/${resource.id}` } };
  }),
});

const jobsDir = (dataDir: string) => join(dataDir, 'bulk-export', 'jobs');
function storedJobs(dataDir: string): ExportJob[] {
  try {
    return readdirSync(jobsDir(dataDir)).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(jobsDir(dataDir), f), 'utf8')) as ExportJob);
  } catch {
    return [];
  }
}

async function waitFor<T>(what: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = what();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resumes the job on a fresh in-process server over the same data and checks the finished export. */
async function resumeAndCheck(dataDir: string, jobId: string, expectedAttempts: number): Promise<void> {
  const again = await startBulkServer({ BULK_EXPORT_FILE_MAX_RESOURCES: '20' }, {}, { dataDir });
  try {
    const done = await poll(again.app, `/fhir/bulk-status/${jobId}`, {}, 60_000);
    expect(done.statusCode, done.body).toBe(200);
    const manifest = JSON.parse(done.body) as Manifest;
    const ids: string[] = [];
    for (const file of manifest.output) ids.push(...(await download(again.app, file.url)).map((r) => String(r.id)));
    expect(ids).toHaveLength(COUNT);
    expect(new Set(ids).size).toBe(COUNT);
    expect(manifest.output.reduce((n, f) => n + f.count, 0)).toBe(COUNT);
    expect((await again.ctx.bulk.storage.getJob(jobId))!.attempts).toBe(expectedAttempts);
  } finally {
    await again.close();
  }
}

describe('restart in the middle of an export', () => {
  it('a graceful stop gives the job back; the next start resumes it after the last recorded file', async () => {
    const first = await startBulkServer({ BULK_EXPORT_FILE_MAX_RESOURCES: '3' });
    const { dataDir } = first;
    const seeded = await first.app.inject({ method: 'POST', url: '/fhir', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(observations()) });
    expect(seeded.statusCode, seeded.body).toBe(200);
    const started = await kickOff(first.app, '$export?_type=Observation');
    const jobId = String(started.headers['content-location']).split('/').pop()!;
    await waitFor(() => ((first.ctx.bulk.storage as unknown as { jobs: Map<string, ExportJob> }).jobs.get(jobId)?.output.length ?? 0) >= 3 || undefined);
    await first.stop();
    const [stopped] = storedJobs(dataDir);
    expect(stopped.status).toBe('running');
    expect(stopped.output.length).toBeGreaterThanOrEqual(3);
    expect(stopped.output.length).toBeLessThan(COUNT / 3);
    expect(Date.parse(stopped.lease!.until)).toBeLessThan(Date.now());
    await resumeAndCheck(dataDir, jobId, 2);
  }, 90_000);

  it('a server killed mid-export (SIGKILL) leaves a job the next start resumes', async () => {
    const dataDir = freshDataDir();
    const child = await spawnServer({ dataDir, env: { BULK_EXPORT_FILE_MAX_RESOURCES: '2' } });
    try {
      const seeded = await fetch(`${child.origin}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(observations()) });
      expect(seeded.status).toBe(200);
      const started = await fetch(`${child.origin}/fhir/$export?_type=Observation`, { headers: { prefer: 'respond-async', accept: 'application/fhir+json' } });
      expect(started.status).toBe(202);
      const jobId = started.headers.get('content-location')!.split('/').pop()!;
      await waitFor(() => (storedJobs(dataDir).find((j) => j.id === jobId)?.output.length ?? 0) >= 2 || undefined, 60_000);
      child.child.kill('SIGKILL');
      await child.exited;
      const [killed] = storedJobs(dataDir);
      expect(killed.status).toBe('running');
      expect(Date.parse(killed.lease!.until)).toBeGreaterThan(Date.now() - 1000);
      expect(killed.output.length).toBeLessThan(COUNT / 2);
      await resumeAndCheck(dataDir, jobId, 2);
    } finally {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('a job interrupted too many times is failed, never left in progress: its status is a 500 OperationOutcome', async () => {
    const first = await startBulkServer({ BULK_EXPORT_WORKERS: '0' });
    const { dataDir } = first;
    const started = await kickOff(first.app, '$export?_type=Patient');
    const jobId = String(started.headers['content-location']).split('/').pop()!;
    await first.stop();
    // As a job looks after three runs that each died: running, its last lease run out, started three times (maxAttempts).
    const path = join(jobsDir(dataDir), `${jobId}.json`);
    const job = JSON.parse(readFileSync(path, 'utf8')) as ExportJob;
    writeFileSync(path, JSON.stringify({ ...job, status: 'running', attempts: 3, lease: { holder: 'worker-gone', until: new Date(0).toISOString() } }));
    const again = await startBulkServer({}, {}, { dataDir });
    try {
      const status = await poll(again.app, `/fhir/bulk-status/${jobId}`);
      expect(status.statusCode).toBe(500);
      expect(status.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] });
      expect(status.json().issue[0].diagnostics).toContain('interrupted 3 times');
      expect((await again.ctx.bulk.storage.getJob(jobId))!.status).toBe('failed');
    } finally {
      await again.close();
    }
  }, 90_000);
});
