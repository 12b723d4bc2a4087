/**
 * Bulk Data $export end to end over HTTP (Bulk Data IG 2.0.0): kick-off by GET
 * and POST at system, Patient and Group level, polling (202 + X-Progress +
 * Retry-After), the manifest, downloads, cancel, expiry, and bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { download, exportAll, kickOff, poll, put, startBulkServer, type BulkTestServer, type Manifest } from './bulk-test-server.js';

let server: BulkTestServer;
const app = () => server.app;

beforeAll(async () => {
  server = await startBulkServer();
  await put(app(), { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Lefèvre' }] });
  await put(app(), { resourceType: 'Patient', id: 'pat-2', name: [{ family: 'Dubois' }] });
  await put(app(), { resourceType: 'Practitioner', id: 'prac-1', name: [{ family: 'Martin' }] });
  for (let i = 0; i < 5; i++) {
    await put(app(), { resourceType: 'Observation', id: `obs-${i}`, status: i % 2 ? 'final' : 'preliminary', code: { text: 'poids' }, subject: { reference: `Patient/pat-${(i % 2) + 1}` } });
  }
});
afterAll(async () => server?.close());

describe('kick-off, status, manifest, files', () => {
  it('exports every type at system level: 202 + Content-Location, then a manifest and NDJSON files', async () => {
    const started = await kickOff(app(), '$export');
    expect(started.statusCode, started.body).toBe(202);
    const location = String(started.headers['content-location']);
    expect(location).toMatch(/^http:\/\/relais\.test\/fhir\/bulk-status\/[0-9a-f]{32}$/);
    const done = await poll(app(), location);
    expect(done.statusCode, done.body).toBe(200);
    expect(done.headers['content-type']).toMatch(/^application\/json/);
    expect(done.headers.expires).toBeDefined();
    const manifest = JSON.parse(done.body) as Manifest;
    expect(manifest).toMatchObject({ request: 'http://relais.test/fhir/$export', requiresAccessToken: false, error: [] });
    expect(manifest).not.toHaveProperty('deleted');
    expect(Date.parse(manifest.transactionTime)).not.toBeNaN();
    const byType = Object.fromEntries(manifest.output.map((f) => [f.type, f.count]));
    expect(byType).toMatchObject({ Patient: 2, Practitioner: 1, Observation: 5 });
    const observations = await download(app(), manifest.output.find((f) => f.type === 'Observation')!.url);
    expect(observations.map((o) => o.id)).toEqual(['obs-0', 'obs-1', 'obs-2', 'obs-3', 'obs-4']);
    expect(observations[0]).toMatchObject({ resourceType: 'Observation', meta: { versionId: '1' } });
  });
});
