/**
 * transaction and batch bundles over HTTP (R4 http page, "batch/transaction").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, BundleEntry, Observation, Patient, Resource } from 'fhir/r4';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => server.close());

// A test identifier system; a urn:oid must be a dotted number (R4 oid), so none of the network's real OIDs is borrowed here.
const SYSTEM = 'urn:oid:1.2.250.1.71.4.2.7.999';

async function post(bundle: unknown, headers: Record<string, string> = {}) {
  const response = await server.app.inject({ method: 'POST', url: '/fhir', headers: { ...FHIR_JSON, ...headers }, payload: JSON.stringify(bundle) });
  return { status: response.statusCode, body: response.json() as Bundle & { issue?: Array<{ code: string; diagnostics: string; expression?: string[] }> } };
}

async function searchTotal(query: string): Promise<number> {
  const response = await server.app.inject({ method: 'GET', url: `/fhir/${query}${query.includes('?') ? '&' : '?'}_total=accurate` });
  return (response.json() as Bundle).total ?? -1;
}

async function readRef<T extends Resource>(reference: string): Promise<T> {
  const response = await server.app.inject({ method: 'GET', url: `/fhir/${reference}` });
  expect(response.statusCode).toBe(200);
  return response.json() as T;
}

function patient(value: string, family = 'Martin'): Patient {
  return { resourceType: 'Patient', identifier: [{ system: SYSTEM, value }], name: [{ family, given: ['Jeanne'] }] };
}

function tx(entry: BundleEntry[], type: 'transaction' | 'batch' = 'transaction'): Bundle {
  return { resourceType: 'Bundle', type, entry };
}

describe('transaction', () => {
  it('rewrites urn:uuid references everywhere (references, extensions, contained, narrative) and answers in request order', async () => {
    const observation: Observation = {
      resourceType: 'Observation',
      status: 'final',
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><a href="urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000001">patient</a></div>' },
      // The contained Provenance also targets its container ('#'), as dom-3 requires of a contained resource.
      contained: [{ resourceType: 'Provenance', id: 'p1', target: [{ reference: 'urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000001' }, { reference: '#' }], recorded: '2026-01-05T10:00:00Z', agent: [{ who: { display: 'x' } }] }],
      extension: [{ url: 'https://example.org/ext', valueReference: { reference: 'urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000001' } }],
      code: { text: 'poids' },
      subject: { reference: 'urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000001' },
    };
    const { status, body } = await post(
      tx([
        { fullUrl: 'urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000002', resource: observation, request: { method: 'POST', url: 'Observation' } },
        { fullUrl: 'urn:uuid:0d5b5a4e-1111-4a4a-9b9b-000000000001', resource: patient('rw-1'), request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.type).toBe('transaction-response');
    expect(body.entry).toHaveLength(2);
    const [obsEntry, patEntry] = body.entry!;
    expect(obsEntry.response!.status).toBe('201 Created');
    expect(patEntry.response!.status).toBe('201 Created');
    expect(patEntry.response!.location).toMatch(/^Patient\/[^/]+\/_history\/1$/);
    expect(patEntry.response!.etag).toBe('W/"1"');
    expect(patEntry.response!.lastModified).toBeTruthy();
    const patientRef = patEntry.response!.location!.split('/_history')[0];
    const stored = await readRef<Observation>(obsEntry.response!.location!.split('/_history')[0]);
    expect(stored.subject!.reference).toBe(patientRef);
    expect(stored.extension![0].valueReference!.reference).toBe(patientRef);
    expect((stored.contained![0] as { target: Array<{ reference: string }> }).target[0].reference).toBe(patientRef);
    expect(stored.text!.div).toContain(`href="${patientRef}"`);
  });

  it('resolves conditional references to exactly one stored resource, and to resources the bundle creates', async () => {
    const first = await post(tx([{ resource: patient('cr-1'), request: { method: 'POST', url: 'Patient' } }]));
    const patientRef = first.body.entry![0].response!.location!.split('/_history')[0];
    const { status, body } = await post(
      tx([
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'a' }, subject: { reference: `Patient?identifier=${SYSTEM}|cr-1` } }, request: { method: 'POST', url: 'Observation' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'b' }, subject: { reference: `Patient?identifier=${SYSTEM}|cr-new` } }, request: { method: 'POST', url: 'Observation' } },
        { resource: patient('cr-new'), request: { method: 'POST', url: 'Patient' } },
      ]),
    );
    expect(status).toBe(200);
    const a = await readRef<Observation>(body.entry![0].response!.location!.split('/_history')[0]);
    expect(a.subject!.reference).toBe(patientRef);
    const b = await readRef<Observation>(body.entry![1].response!.location!.split('/_history')[0]);
    expect(b.subject!.reference).toBe(body.entry![2].response!.location!.split('/_history')[0]);
  });

  it('fails the whole transaction when a conditional reference matches nothing or several, leaving nothing behind', async () => {
    const none = await post(
      tx([
        { resource: patient('nothing-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `Patient?identifier=${SYSTEM}|nobody` } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(none.status).toBe(412);
    expect(none.body.issue![0].code).toBe('not-found');
    expect(none.body.issue![0].diagnostics).toContain('Bundle.entry[1]');
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|nothing-1`)).toBe(0);

    await post(tx([{ resource: patient('twin', 'Durand'), request: { method: 'POST', url: 'Patient' } }]));
    await post(tx([{ resource: patient('twin', 'Durand'), request: { method: 'POST', url: 'Patient' } }]));
    const several = await post(
      tx([{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'y' }, subject: { reference: `Patient?identifier=${SYSTEM}|twin` } }, request: { method: 'POST', url: 'Observation' } }]),
    );
    expect(several.status).toBe(412);
    expect(several.body.issue![0].code).toBe('multiple-matches');
  });

  it('is all or nothing: one invalid entry and nothing of the others is visible', async () => {
    const { status, body } = await post(
      tx([
        { resource: patient('aon-1'), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'z' }, notAnElement: true } as unknown as Observation, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(status).toBe(400);
    expect(body.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(body.issue)).toContain('Bundle.entry[1]');
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|aon-1`)).toBe(0);
  });

  it('checks If-Match inside entries and aborts everything on a stale version', async () => {
    const created = await post(tx([{ resource: patient('im-1'), request: { method: 'POST', url: 'Patient' } }]));
    const id = created.body.entry![0].response!.location!.split('/')[1];
    const { status } = await post(
      tx([
        { resource: patient('im-2'), request: { method: 'POST', url: 'Patient' } },
        { resource: { ...patient('im-1', 'Changed'), id }, request: { method: 'PUT', url: `Patient/${id}`, ifMatch: 'W/"7"' } },
      ]),
    );
    expect(status).toBe(412);
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|im-2`)).toBe(0);
    const ok = await post(tx([{ resource: { ...patient('im-1', 'Changed'), id }, request: { method: 'PUT', url: `Patient/${id}`, ifMatch: 'W/"1"' } }]));
    expect(ok.status).toBe(200);
    expect(ok.body.entry![0].response!.status).toBe('200 OK');
    expect(ok.body.entry![0].response!.etag).toBe('W/"2"');
  });

  it('honours If-None-Exist: a match is returned (200) and references point to it', async () => {
    const first = await post(tx([{ resource: patient('ine-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|ine-1` } }]));
    expect(first.body.entry![0].response!.status).toBe('201 Created');
    const again = await post(
      tx([
        { fullUrl: 'urn:uuid:7f0d4c2a-2222-4b4b-8c8c-000000000001', resource: patient('ine-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|ine-1` } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'w' }, subject: { reference: 'urn:uuid:7f0d4c2a-2222-4b4b-8c8c-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    );
    expect(again.body.entry![0].response!.status).toBe('200 OK');
    expect(again.body.entry![0].response!.location).toBe(first.body.entry![0].response!.location);
    const obs = await readRef<Observation>(again.body.entry![1].response!.location!.split('/_history')[0]);
    expect(obs.subject!.reference).toBe(first.body.entry![0].response!.location!.split('/_history')[0]);
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|ine-1`)).toBe(1);
  });

  it('processes DELETE, POST, PUT, GET in that order whatever the entry order, and GET sees the writes', async () => {
    const { body } = await post(
      tx([
        { request: { method: 'GET', url: `Patient?identifier=${SYSTEM}|order-1` } },
        { resource: { ...patient('order-1'), id: 'order-put-1' }, request: { method: 'PUT', url: 'Patient/order-put-1' } },
      ]),
    );
    expect(body.entry![1].response!.status).toBe('201 Created');
    expect(body.entry![0].response!.status).toBe('200 OK');
    expect((body.entry![0].resource as Bundle).total).toBe(1);
  });

  it('refuses a resource that appears twice among the writes', async () => {
    const { status, body } = await post(
      tx([
        { resource: { ...patient('dup-1'), id: 'dup-1' }, request: { method: 'PUT', url: 'Patient/dup-1' } },
        { request: { method: 'DELETE', url: 'Patient/dup-1' } },
      ]),
    );
    expect(status).toBe(400);
    expect(body.issue![0].diagnostics).toContain('Patient/dup-1');
    expect((await server.app.inject({ method: 'GET', url: '/fhir/Patient/dup-1' })).statusCode).toBe(404);
  });

  it('applies a JSON Patch carried by a Binary entry, and answers a GET with ifNoneMatch by 304', async () => {
    await post(tx([{ resource: { ...patient('patch-1'), id: 'patch-1' }, request: { method: 'PUT', url: 'Patient/patch-1' } }]));
    const data = Buffer.from(JSON.stringify([{ op: 'replace', path: '/name/0/family', value: 'Bernard' }])).toString('base64');
    const { body } = await post(
      tx([
        { resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data }, request: { method: 'PATCH', url: 'Patient/patch-1' } },
        { request: { method: 'GET', url: 'Patient/patch-1', ifNoneMatch: 'W/"2"' } },
      ]),
    );
    expect(body.entry![0].response!.status).toBe('200 OK');
    expect(body.entry![1].response!.status).toBe('304 Not Modified');
    expect((await readRef<Patient>('Patient/patch-1')).name![0].family).toBe('Bernard');
  });

  it('creates one resource when the same conditional create is posted 10 times at once', async () => {
    const bundle = tx([
      { fullUrl: 'urn:uuid:5a5a5a5a-3333-4c4c-9d9d-000000000001', resource: patient('race-1'), request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${SYSTEM}|race-1` } },
      { resource: { resourceType: 'Observation', status: 'final', identifier: [{ system: SYSTEM, value: 'race-obs' }], code: { text: 'r' }, subject: { reference: 'urn:uuid:5a5a5a5a-3333-4c4c-9d9d-000000000001' } }, request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${SYSTEM}|race-obs` } },
    ]);
    const results = await Promise.all(Array.from({ length: 10 }, () => post(bundle)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(results.filter((r) => r.body.entry![0].response!.status === '201 Created')).toHaveLength(1);
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|race-1`)).toBe(1);
    expect(await searchTotal(`Observation?identifier=${SYSTEM}|race-obs`)).toBe(1);
  });

  it('rejects a Bundle of another type with an OperationOutcome', async () => {
    const { status, body } = await post({ resourceType: 'Bundle', type: 'collection', entry: [] });
    expect(status).toBe(400);
    expect(body.resourceType).toBe('OperationOutcome');
  });
});

describe('batch', () => {
  it('runs entries independently: a failing entry carries its own outcome, the others succeed', async () => {
    const { status, body } = await post(
      tx(
        [
          { resource: patient('batch-1'), request: { method: 'POST', url: 'Patient' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'q' }, notAnElement: 1 } as unknown as Observation, request: { method: 'POST', url: 'Observation' } },
          { request: { method: 'GET', url: 'Patient/does-not-exist' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'q' }, subject: { reference: 'urn:uuid:00000000-0000-4000-8000-000000000009' } }, request: { method: 'POST', url: 'Observation' } },
        ],
        'batch',
      ),
    );
    expect(status).toBe(200);
    expect(body.type).toBe('batch-response');
    expect(body.entry!.map((e) => e.response!.status)).toEqual(['201 Created', '400 Bad Request', '404 Not Found', '400 Bad Request']);
    expect(body.entry![1].response!.outcome!.resourceType).toBe('OperationOutcome');
    expect(await searchTotal(`Patient?identifier=${SYSTEM}|batch-1`)).toBe(1);
  });
});

describe('CapabilityStatement', () => {
  it('lists transaction and batch among the system interactions', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/fhir/metadata' });
    const codes = (response.json().rest[0].interaction as Array<{ code: string }>).map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['transaction', 'batch']));
  });
});

describe('a store without multi-document transactions', () => {
  it('refuses a transaction of several writes with a clear outcome, writing nothing; a single write still goes through', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { buildApp } = await import('../../src/app.js');
    const { loadConfig } = await import('../../src/config.js');
    const { buildContext } = await import('../../src/context.js');
    const { EmbeddedStore } = await import('../../src/store/embedded/embedded-store.js');
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-test-'));
    const store = new EmbeddedStore({ directory: dataDir });
    // The same contract as a MongoDB deployment without transactions (standalone server).
    Object.defineProperty(store, 'capabilities', { value: { name: 'standalone', atomicMultiWrite: false } });
    const ctx = buildContext(loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none' }), store);
    await store.open();
    const app = await buildApp(ctx, { logger: false });
    try {
      const send = (bundle: Bundle) => app.inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: JSON.stringify(bundle) });
      const refused = await send(tx([{ resource: patient('na-1'), request: { method: 'POST', url: 'Patient' } }, { resource: patient('na-2'), request: { method: 'POST', url: 'Patient' } }]));
      expect(refused.statusCode).toBe(400);
      expect(refused.json().issue[0].code).toBe('not-supported');
      expect(((await app.inject({ method: 'GET', url: '/fhir/Patient?_total=accurate' })).json() as Bundle).total).toBe(0);
      const single = await send(tx([{ resource: patient('na-3'), request: { method: 'POST', url: 'Patient' } }]));
      expect(single.statusCode).toBe(200);
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
