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

describe('levels and parameters', () => {
  it('Patient/$export covers the compartment types only, with _type', async () => {
    const { manifest, resources } = await exportAll(app(), 'Patient/$export');
    const types = new Set(manifest.output.map((f) => f.type));
    expect(types.has('Practitioner')).toBe(false);
    expect([...types].sort()).toEqual(['Observation', 'Patient']);
    expect(resources).toHaveLength(7);
    const typed = await exportAll(app(), 'Patient/$export?_type=Observation');
    expect(typed.manifest.output.map((f) => f.type)).toEqual(['Observation']);
    expect(typed.manifest.request).toBe('http://relais.test/fhir/Patient/$export?_type=Observation');
  });

  it('POST with a Parameters body: patient restricts the compartments, _type and _typeFilter as values', async () => {
    const body = {
      resourceType: 'Parameters',
      parameter: [
        { name: '_type', valueString: 'Patient,Observation' },
        { name: 'patient', valueReference: { reference: 'Patient/pat-1' } },
        { name: '_typeFilter', valueString: 'Observation?status=preliminary' },
      ],
    };
    const { manifest, resources } = await exportAll(app(), 'Patient/$export', {}, body);
    expect(manifest.request).toBe('http://relais.test/fhir/Patient/$export');
    expect(resources.map((r) => `${r.resourceType}/${r.id}`).sort()).toEqual(['Observation/obs-0', 'Observation/obs-2', 'Observation/obs-4', 'Patient/pat-1']);
  });

  it('_typeFilter: each type filtered on its own, several queries of a type ORed, repeated parameters merged', async () => {
    const one = await exportAll(app(), `$export?_type=Observation,Patient&_typeFilter=${encodeURIComponent('Observation?status=final')}`);
    expect(one.resources.map((r) => r.id)).toEqual(['obs-1', 'obs-3', 'pat-1', 'pat-2']);
    const either = await exportAll(
      app(),
      `$export?_type=Observation&_typeFilter=${encodeURIComponent('Observation?_id=obs-0')},${encodeURIComponent('Observation?status=final&subject=Patient/pat-2')}&_typeFilter=${encodeURIComponent('Observation?_id=obs-4')}`,
    );
    expect(either.resources.map((r) => r.id)).toEqual(['obs-0', 'obs-1', 'obs-3', 'obs-4']);
    // A filter on a type that is not exported changes nothing, and says so in the error file.
    const other = await exportAll(app(), `$export?_type=Patient&_typeFilter=${encodeURIComponent('Observation?status=final')}`);
    expect(other.resources).toHaveLength(2);
    expect(JSON.stringify(other.errors)).toContain('_typeFilter on Observation has no effect');
  });

  it('_elements keeps the listed elements (per type or for all) and marks the resources SUBSETTED', async () => {
    const { resources } = await exportAll(app(), '$export?_type=Observation&_elements=Observation.status,id');
    expect(resources).toHaveLength(5);
    expect(resources[0]).not.toHaveProperty('subject');
    expect(resources[0]).toMatchObject({ resourceType: 'Observation', id: 'obs-0', status: 'preliminary' });
    expect(JSON.stringify(resources[0].meta)).toContain('SUBSETTED');
  });

  it('accepts the ndjson aliases of _outputFormat', async () => {
    for (const format of ['application/fhir+ndjson', 'application/ndjson', 'ndjson']) {
      const started = await kickOff(app(), `$export?_type=Patient&_outputFormat=${encodeURIComponent(format)}`);
      expect(started.statusCode, format).toBe(202);
      expect((await poll(app(), String(started.headers['content-location']))).statusCode).toBe(200);
    }
  });

  it('splits a type into files of BULK_EXPORT_FILE_MAX_RESOURCES', async () => {
    const small = await startBulkServer({ BULK_EXPORT_FILE_MAX_RESOURCES: '2' });
    try {
      for (let i = 0; i < 5; i++) await put(small.app, { resourceType: 'Observation', id: `o${i}`, status: 'final', code: { text: 'x' } });
      const { manifest, resources } = await exportAll(small.app, '$export?_type=Observation');
      expect(manifest.output.map((f) => f.count)).toEqual([2, 2, 1]);
      expect(resources.map((r) => r.id)).toEqual(['o0', 'o1', 'o2', 'o3', 'o4']);
    } finally {
      await small.close();
    }
  });
});

describe('bad input: a 400 OperationOutcome at kick-off, and no job', () => {
  const jobCount = async () => (await server.ctx.bulk.storage.jobsOf('anonymous', ['queued', 'running', 'completed', 'failed', 'cancelled'])).length;
  const cases: Array<[string, string, string, unknown?]> = [
    ['an unknown _type', '$export?_type=Patient,Patiente', '_type'],
    ['a malformed _since', '$export?_since=2024-13-01T00:00:00Z', '_since'],
    ['a _since without a time zone', '$export?_since=2024-01-01T00:00:00', '_since'],
    ['an _outputFormat not offered', '$export?_outputFormat=application/fhir%2Bjson', '_outputFormat'],
    ['a _typeFilter naming no type', `$export?_typeFilter=${encodeURIComponent('status=final')}`, '_typeFilter'],
    ['a _typeFilter with an unknown parameter', `$export?_typeFilter=${encodeURIComponent('Observation?colour=blue')}`, ''],
    ['a _typeFilter with a malformed value', `$export?_typeFilter=${encodeURIComponent('Observation?date=yesterday')}`, ''],
    ['a _typeFilter with a result parameter', `$export?_typeFilter=${encodeURIComponent('Observation?_sort=date')}`, '_typeFilter'],
    ['an unsupported parameter', '$export?includeAssociatedData=LatestProvenanceResources', 'includeAssociatedData'],
    ['patient on a GET', 'Patient/$export?patient=Patient/pat-1', 'patient'],
    ['a type outside the compartment at Patient level', 'Patient/$export?_type=Practitioner', '_type'],
    ['a Group that does not exist', 'Group/no-such-group/$export', ''],
    ['patient at system level', '$export', 'patient', { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/pat-1' } }] }],
    ['a patient that does not exist', 'Patient/$export', 'patient', { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/nobody' } }] }],
    ['a body that is not Parameters', 'Patient/$export', 'resourceType', { resourceType: 'Patient' }],
  ];
  for (const [label, path, expression, body] of cases) {
    it(label, async () => {
      const before = await jobCount();
      const response = await kickOff(app(), path, {}, body);
      expect(response.statusCode, response.body).toBe(400);
      const outcome = response.json() as { resourceType: string; issue: Array<{ severity: string; expression?: string[] }> };
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue[0].severity).toBe('error');
      if (expression) expect(JSON.stringify(outcome.issue[0].expression ?? [])).toContain(expression);
      expect(response.headers['content-location']).toBeUndefined();
      expect(await jobCount()).toBe(before);
    });
  }

  it('without Prefer: respond-async', async () => {
    const response = await app().inject({ method: 'GET', url: '/fhir/$export', headers: { accept: 'application/fhir+json' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().issue[0].diagnostics).toContain('respond-async');
  });

  it('an unsupported parameter is ignored under Prefer: handling=lenient, and reported in the error file', async () => {
    const { errors, resources } = await exportAll(app(), '$export?_type=Patient&includeAssociatedData=LatestProvenanceResources', { prefer: 'respond-async, handling=lenient' });
    expect(resources).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] });
    expect(JSON.stringify(errors[0])).toContain('includeAssociatedData');
  });

  it('an unknown status or file URL is a 404 OperationOutcome', async () => {
    for (const url of ['/fhir/bulk-status/0123456789abcdef0123456789abcdef', '/fhir/bulk-status/not-a-job', '/fhir/bulk-files/0123456789abcdef0123456789abcdef/Patient-1.ndjson']) {
      const response = await app().inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(404);
      expect(response.json().resourceType).toBe('OperationOutcome');
    }
  });
});

describe('Group/[id]/$export', () => {
  it('exports the compartments of the Group\'s active members only, and checks a patient list against them', async () => {
    await put(app(), {
      resourceType: 'Group',
      id: 'secteur-nord',
      type: 'person',
      actual: true,
      member: [{ entity: { reference: 'Patient/pat-2' } }, { entity: { reference: 'Patient/pat-1' }, inactive: true }],
    });
    const { manifest, resources } = await exportAll(app(), 'Group/secteur-nord/$export?_type=Patient,Observation');
    expect(manifest.request).toBe('http://relais.test/fhir/Group/secteur-nord/$export?_type=Patient%2CObservation');
    expect(resources.map((r) => `${r.resourceType}/${r.id}`)).toEqual(['Patient/pat-2', 'Observation/obs-1', 'Observation/obs-3']);
    const notMember = await kickOff(app(), 'Group/secteur-nord/$export', {}, { resourceType: 'Parameters', parameter: [{ name: 'patient', valueReference: { reference: 'Patient/pat-1' } }] });
    expect(notMember.statusCode).toBe(400);
    expect(notMember.json().issue[0].diagnostics).toContain('not members of this Group');
  });
});

describe('_since: changes and deletions', () => {
  it('exports what changed after _since, and the deletions since then as transaction Bundles in `deleted`', async () => {
    const s = await startBulkServer();
    try {
      for (const id of ['a', 'b', 'c']) await put(s.app, { resourceType: 'Observation', id, status: 'final', code: { text: id }, subject: { reference: 'Patient/p' } });
      await put(s.app, { resourceType: 'Patient', id: 'p' });
      const first = await exportAll(s.app, '$export?_type=Patient,Observation');
      expect(first.resources).toHaveLength(4);
      const since = first.manifest.transactionTime;
      await new Promise((resolve) => setTimeout(resolve, 5));
      await put(s.app, { resourceType: 'Observation', id: 'a', status: 'amended', code: { text: 'a' }, subject: { reference: 'Patient/p' } });
      await s.app.inject({ method: 'DELETE', url: '/fhir/Observation/b' });
      await put(s.app, { resourceType: 'Observation', id: 'd', status: 'final', code: { text: 'd' }, subject: { reference: 'Patient/p' } });
      const next = await exportAll(s.app, `$export?_type=Patient,Observation&_since=${encodeURIComponent(since)}`);
      expect(next.resources.map((r) => `${r.id}/${(r.meta as { versionId: string }).versionId}`)).toEqual(['a/2', 'd/1']);
      expect(next.manifest.deleted).toEqual([{ type: 'Bundle', url: expect.stringContaining('/bulk-files/'), count: 1 }]);
      expect(next.deleted).toEqual([
        { resourceType: 'Bundle', type: 'transaction', meta: { lastUpdated: expect.any(String) }, entry: [{ request: { method: 'DELETE', url: 'Observation/b' } }] },
      ]);
      // A _typeFilter applies to deletions too, judged on what was deleted.
      const filtered = await exportAll(s.app, `$export?_type=Observation&_since=${encodeURIComponent(since)}&_typeFilter=${encodeURIComponent('Observation?code:text=zzz')}`);
      expect(filtered.resources).toEqual([]);
      expect(filtered.deleted).toEqual([]);
      expect(filtered.manifest.deleted).toEqual([]);
    } finally {
      await s.close();
    }
  });
});

describe('consistency, progress, limits, cancel, expiry', () => {
  it('exports the data as of transactionTime, whatever is written while the job waits or runs', async () => {
    const s = await startBulkServer({}, { settleMs: 800 });
    try {
      for (const id of ['a', 'b', 'c']) await put(s.app, { resourceType: 'Observation', id, status: 'final', code: { text: 'before' } });
      const started = await kickOff(s.app, '$export?_type=Observation');
      expect(started.statusCode).toBe(202);
      // While the job waits (settle delay), its status is 202 with progress and a polling hint.
      const running = await s.app.inject({ method: 'GET', url: String(started.headers['content-location']).replace('http://relais.test', '') });
      expect(running.statusCode).toBe(202);
      expect(running.headers['x-progress']).toMatch(/.+/);
      expect(String(running.headers['x-progress']).length).toBeLessThan(100);
      expect(Number(running.headers['retry-after'])).toBeGreaterThan(0);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await put(s.app, { resourceType: 'Observation', id: 'a', status: 'amended', code: { text: 'after' } });
      await s.app.inject({ method: 'DELETE', url: '/fhir/Observation/b' });
      await put(s.app, { resourceType: 'Observation', id: 'z', status: 'final', code: { text: 'after' } });
      const done = await poll(s.app, String(started.headers['content-location']));
      expect(done.statusCode).toBe(200);
      const manifest = JSON.parse(done.body) as Manifest;
      const lines = await download(s.app, manifest.output[0].url);
      expect(lines.map((r) => `${r.id}:${(r.code as { text: string }).text}`)).toEqual(['a:before', 'b:before', 'c:before']);
    } finally {
      await s.close();
    }
  });

  it('answers 429 with Retry-After when the caller already has BULK_EXPORT_MAX_JOBS_PER_CLIENT exports in progress', async () => {
    const s = await startBulkServer({ BULK_EXPORT_MAX_JOBS_PER_CLIENT: '1' }, { settleMs: 700 });
    try {
      const first = await kickOff(s.app, '$export?_type=Patient');
      expect(first.statusCode).toBe(202);
      const second = await kickOff(s.app, '$export?_type=Patient');
      expect(second.statusCode).toBe(429);
      expect(Number(second.headers['retry-after'])).toBeGreaterThan(0);
      expect(second.json().resourceType).toBe('OperationOutcome');
      // Once the first is finished, another may start.
      expect((await poll(s.app, String(first.headers['content-location']))).statusCode).toBe(200);
      expect((await kickOff(s.app, '$export?_type=Patient')).statusCode).toBe(202);
    } finally {
      await s.close();
    }
  });

  it('DELETE cancels a running job (202), after which its status and files are 404; its files are removed', async () => {
    const s = await startBulkServer({}, { settleMs: 600 });
    try {
      await put(s.app, { resourceType: 'Patient', id: 'p1' });
      const started = await kickOff(s.app, '$export?_type=Patient');
      const status = String(started.headers['content-location']).replace('http://relais.test', '');
      const cancelled = await s.app.inject({ method: 'DELETE', url: status });
      expect(cancelled.statusCode).toBe(202);
      expect((await s.app.inject({ method: 'GET', url: status })).statusCode).toBe(404);
      expect((await s.app.inject({ method: 'DELETE', url: status })).statusCode).toBe(404);
      // The worker stops at its next write; the sweeper removes the job.
      await new Promise((resolve) => setTimeout(resolve, 900));
      expect(await s.ctx.bulk.sweep()).toBeGreaterThanOrEqual(1);
      expect(await s.ctx.bulk.storage.getJob(status.split('/').pop()!)).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('DELETE of a completed job ends it: status and files 404', async () => {
    const started = await kickOff(app(), '$export?_type=Patient');
    const done = await poll(app(), String(started.headers['content-location']));
    const manifest = JSON.parse(done.body) as Manifest;
    const status = String(started.headers['content-location']).replace('http://relais.test', '');
    expect((await app().inject({ method: 'DELETE', url: status })).statusCode).toBe(202);
    expect((await app().inject({ method: 'GET', url: status })).statusCode).toBe(404);
    expect((await app().inject({ method: 'GET', url: manifest.output[0].url.replace('http://relais.test', '') })).statusCode).toBe(404);
  });

  it('expires a finished job after BULK_EXPORT_RETENTION_SECONDS: 404, then removed with its files', async () => {
    let offset = 0;
    const s = await startBulkServer({ BULK_EXPORT_RETENTION_SECONDS: '600' }, {}, { clock: () => new Date(Date.now() + offset) });
    const a = s.app;
    try {
      await put(a, { resourceType: 'Patient', id: 'p1' });
      const { manifest } = await exportAll(a, '$export?_type=Patient');
      const started = manifest.output[0].url.split('/bulk-files/')[1].split('/')[0];
      const done = await a.inject({ method: 'GET', url: `/fhir/bulk-status/${started}` });
      expect(done.statusCode).toBe(200);
      expect(Date.parse(String(done.headers.expires)) - Date.now()).toBeGreaterThan(590_000);
      offset = 601_000;
      expect((await a.inject({ method: 'GET', url: `/fhir/bulk-status/${started}` })).statusCode).toBe(404);
      expect((await a.inject({ method: 'GET', url: manifest.output[0].url.replace('http://relais.test', '') })).statusCode).toBe(404);
      expect(await s.ctx.bulk.sweep()).toBe(1);
      expect(await s.ctx.bulk.storage.getJob(started)).toBeUndefined();
      expect(await s.ctx.bulk.storage.readFile(started, 'Patient-1.ndjson')).toBeUndefined();
    } finally {
      await s.close();
    }
  });
});

describe('CapabilityStatement', () => {
  it('lists $export at system, Patient and Group level with the Bulk Data IG definitions, and Patient/$everything', async () => {
    const statement = (await app().inject({ method: 'GET', url: '/fhir/metadata' })).json() as {
      rest: Array<{ operation?: Array<{ name: string; definition: string }>; resource: Array<{ type: string; operation?: Array<{ name: string; definition: string }> }> }>;
    };
    const rest = statement.rest[0];
    expect(rest.operation).toContainEqual({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' });
    const operationsOf = (type: string) => rest.resource.find((r) => r.type === type)?.operation ?? [];
    expect(operationsOf('Patient')).toEqual(expect.arrayContaining([
      { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' },
      { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
    ]));
    expect(operationsOf('Group')).toContainEqual({ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' });
    expect(operationsOf('Observation').some((o) => o.name === 'export')).toBe(false);
  });
});
