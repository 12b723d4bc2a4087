/**
 * Two Relais instances on one MongoDB database (issue 13): jobs and files are
 * store documents, so the kick-off on one instance is run by the other's
 * worker, and either answers the status and serves the files; a job whose
 * instance is killed mid-export is taken over by another instance once its
 * lease runs out, and finishes with every resource exactly once. /metrics on
 * either instance counts the deployment's export jobs.
 */
import { rmSync } from 'node:fs';
import type { Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer } from '../helpers/spawned-server.js';
import { dropDatabases, freshDatabaseName, mongoUri, uriWithDatabase } from '../store/mongo-test-database.js';
import { download, kickOff, poll, startBulkServer, type BulkTestServer, type Manifest } from './bulk-test-server.js';

const COUNT = 60;

/** relais_queue_depth{queue="bulk-export-jobs"} as an instance's /metrics shows it. */
async function exportQueueDepth(server: BulkTestServer): Promise<{ queued: number; running: number }> {
  const text = (await server.app.inject({ url: '/metrics' })).body;
  const value = (state: string) => Number(new RegExp(`^relais_queue_depth\\{queue="bulk-export-jobs",state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  return { queued: value('queued'), running: value('running') };
}

describe.skipIf(!mongoUri)('bulk export on two instances sharing MongoDB', () => {
  const database = freshDatabaseName();
  let front: BulkTestServer;
  let back: BulkTestServer;
  const env = (workers: string) => ({ MONGODB_URI: uriWithDatabase(database), BULK_EXPORT_WORKERS: workers, BULK_EXPORT_FILE_MAX_RESOURCES: '15' });

  beforeAll(async () => {
    // The front instance runs no exports (BULK_EXPORT_WORKERS=0): only the back one can have run them.
    front = await startBulkServer(env('0'));
    back = await startBulkServer(env('1'), { leaseMs: 1500 });
    for (let i = 0; i < COUNT; i++) {
      const resource = { resourceType: 'Observation', id: `obs-${String(i).padStart(3, '0')}`, status: 'final', code: { text: 'glycémie' } } as Resource;
      const response = await front.app.inject({ method: 'PUT', url: `/fhir/Observation/${resource.id}`, headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(resource) });
      expect(response.statusCode).toBe(201);
    }
  });
  afterAll(async () => {
    await front?.close();
    await back?.close();
    await dropDatabases([database]);
  });

  it('kick-off on one instance; status and files from the other (and from the first)', async () => {
    const started = await kickOff(front.app, '$export?_type=Observation');
    expect(started.statusCode, started.body).toBe(202);
    const statusUrl = String(started.headers['content-location']);
    // /metrics on the instance that runs no exports shows the job the other one runs: the depth is read from the shared jobs.
    const before = await exportQueueDepth(front);
    expect(before.queued + before.running).toBe(1);
    const done = await poll(back.app, statusUrl);
    expect(done.statusCode, done.body).toBe(200);
    const manifest = JSON.parse(done.body) as Manifest;
    expect(manifest.output.map((f) => f.count)).toEqual([15, 15, 15, 15]);
    const ids: string[] = [];
    for (const file of manifest.output) ids.push(...(await download(back.app, file.url)).map((r) => String(r.id)));
    expect(ids).toEqual(Array.from({ length: COUNT }, (_, i) => `obs-${String(i).padStart(3, '0')}`));
    // The front instance serves the same manifest and files from the shared database.
    expect((await poll(front.app, statusUrl)).body).toBe(done.body);
    expect(await download(front.app, manifest.output[3].url)).toHaveLength(15);
    expect(await exportQueueDepth(front)).toEqual({ queued: 0, running: 0 });
    expect(await exportQueueDepth(back)).toEqual({ queued: 0, running: 0 });
    // And a cancel on one is seen by the other.
    expect((await front.app.inject({ method: 'DELETE', url: statusUrl.replace('http://relais.test', '') })).statusCode).toBe(202);
    expect((await back.app.inject({ method: 'GET', url: statusUrl.replace('http://relais.test', '') })).statusCode).toBe(404);
  });

  it('a job whose instance is killed mid-export is taken over by another instance once its lease runs out', async () => {
    await back.stop();
    // A third instance, a real process, runs the job and is killed (SIGKILL) after two files.
    const dying = await spawnServer({ env: { ...env('1'), BULK_EXPORT_FILE_MAX_RESOURCES: '3', BULK_EXPORT_LEASE_SECONDS: '3' } });
    let jobId = '';
    try {
      const started = await kickOff(front.app, '$export?_type=Observation');
      jobId = String(started.headers['content-location']).split('/').pop()!;
      for (const deadline = Date.now() + 60_000; ; ) {
        const job = await front.ctx.bulk.storage.getJob(jobId);
        if ((job?.output.length ?? 0) >= 2) break;
        if (Date.now() > deadline) throw new Error('the spawned instance wrote no files');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      dying.child.kill('SIGKILL');
      await dying.exited;
    } finally {
      if (dying.child.exitCode === null && dying.child.signalCode === null) dying.child.kill('SIGKILL');
      rmSync(dying.dataDir, { recursive: true, force: true });
    }
    const left = (await front.ctx.bulk.storage.getJob(jobId))!;
    expect(left).toMatchObject({ status: 'running', attempts: 1 });
    expect(left.output.length).toBeLessThan(COUNT / 3);
    const rescuer = await startBulkServer(env('1'), { leaseMs: 1500 });
    try {
      const done = await poll(rescuer.app, `/fhir/bulk-status/${jobId}`);
      expect(done.statusCode, done.body).toBe(200);
      const manifest = JSON.parse(done.body) as Manifest;
      const ids: string[] = [];
      for (const file of manifest.output) ids.push(...(await download(front.app, file.url)).map((r) => String(r.id)));
      expect(ids).toHaveLength(COUNT);
      expect(new Set(ids).size).toBe(COUNT);
      expect((await front.ctx.bulk.storage.getJob(jobId))!.attempts).toBe(2);
    } finally {
      await rescuer.close();
    }
  }, 120_000);
});
