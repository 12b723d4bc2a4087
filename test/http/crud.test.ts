/**
 * create, read, vread, update, delete and patch through the HTTP stack, with the
 * headers and statuses of the R4 http page (Location, ETag, Last-Modified,
 * Prefer: return, conditional read, HEAD).
 */
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, STRUCTURE_ONLY, useTestServer } from '../helpers/test-server.js';

const BASE = 'http://relais.test/fhir';
const JSON_PATCH = { 'content-type': 'application/json-patch+json' };

const { inject } = useTestServer(STRUCTURE_ONLY);

async function createPatient(body: Record<string, unknown> = {}) {
  const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient', name: [{ family: 'Martin' }], ...body } });
  expect(response.statusCode).toBe(201);
  return response.json() as { id: string; meta: { versionId: string; lastUpdated: string }; [key: string]: unknown };
}

describe('create', () => {
  it('answers 201 with Location, ETag, Last-Modified and a server-assigned id (the body id is ignored)', async () => {
    const response = await inject({
      method: 'POST',
      url: '/fhir/Patient',
      headers: FHIR_JSON,
      payload: { resourceType: 'Patient', id: 'client-chosen', meta: { versionId: '7', lastUpdated: '2001-01-01T00:00:00Z' }, name: [{ family: 'Durand' }] },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.resourceType).toBe('Patient');
    expect(body.id).not.toBe('client-chosen');
    expect(body.id).toMatch(/^[A-Za-z0-9\-.]{1,64}$/);
    expect(body.meta.versionId).toBe('1');
    expect(body.meta.lastUpdated).not.toBe('2001-01-01T00:00:00Z');
    expect(response.headers.location).toBe(`${BASE}/Patient/${body.id}/_history/1`);
    expect(response.headers.etag).toBe('W/"1"');
    expect(response.headers['last-modified']).toBe(new Date(body.meta.lastUpdated).toUTCString());
    expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
    const missing = await inject({ method: 'GET', url: '/fhir/Patient/client-chosen' });
    expect(missing.statusCode).toBe(404);
  });

  it('accepts application/json bodies too', async () => {
    const response = await inject({ method: 'POST', url: '/fhir/Observation', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: { resourceType: 'Observation', status: 'final', code: { text: 'poids' } } });
    expect(response.statusCode).toBe(201);
  });
});

describe('read and vread', () => {
  it('reads the current version with ETag and Last-Modified', async () => {
    const created = await createPatient({ gender: 'female' });
    const response = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(created);
    expect(response.headers.etag).toBe('W/"1"');
    expect(response.headers['last-modified']).toBe(new Date(created.meta.lastUpdated).toUTCString());
  });

  it('reads a given version; an unknown version is a 404', async () => {
    const created = await createPatient();
    const updated = await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: FHIR_JSON, payload: { ...created, gender: 'male' } });
    expect(updated.statusCode).toBe(200);
    const v1 = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history/1` });
    expect(v1.statusCode).toBe(200);
    expect(v1.json().gender).toBeUndefined();
    expect(v1.headers.etag).toBe('W/"1"');
    const v2 = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history/2` });
    expect(v2.json().gender).toBe('male');
    expect(v2.json().meta.versionId).toBe('2');
    for (const vid of ['3', '0', 'abc']) {
      const response = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history/${vid}` });
      expect(response.statusCode, vid).toBe(404);
      expect(response.json().resourceType).toBe('OperationOutcome');
    }
  });

  it('answers 404 for an id never seen', async () => {
    const response = await inject({ method: 'GET', url: '/fhir/Patient/never-seen' });
    expect(response.statusCode).toBe(404);
    expect(response.json().resourceType).toBe('OperationOutcome');
  });

  it('answers HEAD like GET without a body', async () => {
    const created = await createPatient();
    const response = await inject({ method: 'HEAD', url: `/fhir/Patient/${created.id}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('W/"1"');
    expect(response.body).toBe('');
    const missing = await inject({ method: 'HEAD', url: '/fhir/Patient/never-seen' });
    expect(missing.statusCode).toBe(404);
  });
});

describe('conditional read', () => {
  it('answers 304 when If-None-Match names the current version, 200 otherwise', async () => {
    const created = await createPatient();
    const same = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}`, headers: { 'if-none-match': 'W/"1"' } });
    expect(same.statusCode).toBe(304);
    expect(same.body).toBe('');
    await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: FHIR_JSON, payload: { ...created, active: true } });
    const stale = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}`, headers: { 'if-none-match': 'W/"1"' } });
    expect(stale.statusCode).toBe(200);
    expect(stale.json().active).toBe(true);
  });

  it('answers 304 when not modified since If-Modified-Since, 200 when modified after', async () => {
    const created = await createPatient();
    const lastModified = new Date(created.meta.lastUpdated);
    const later = new Date(lastModified.getTime() + 60_000).toUTCString();
    const earlier = new Date(lastModified.getTime() - 60_000).toUTCString();
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}`, headers: { 'if-modified-since': later } })).statusCode).toBe(304);
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}`, headers: { 'if-modified-since': lastModified.toUTCString() } })).statusCode).toBe(304);
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}`, headers: { 'if-modified-since': earlier } })).statusCode).toBe(200);
  });
});

describe('update', () => {
  it('stores a new version (200, ETag W/"2", meta.versionId 2)', async () => {
    const created = await createPatient();
    const response = await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: FHIR_JSON, payload: { ...created, birthDate: '1950-04-02' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('W/"2"');
    expect(response.json().meta.versionId).toBe('2');
    expect(response.json().birthDate).toBe('1950-04-02');
    expect(response.headers['last-modified']).toBe(new Date(response.json().meta.lastUpdated).toUTCString());
    const read = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` });
    expect(read.json().birthDate).toBe('1950-04-02');
  });

  it('names the written version in Content-Location on 200 (no Location), not beside an OperationOutcome body', async () => {
    // HAPI's generic client takes MethodOutcome.getId() from Location, else Content-Location.
    const created = await createPatient();
    const response = await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: FHIR_JSON, payload: { ...created, active: true } });
    expect(response.statusCode).toBe(200);
    expect(response.headers.location).toBeUndefined();
    expect(response.headers['content-location']).toBe(`${BASE}/Patient/${created.id}/_history/2`);
    const conditional = await inject({ method: 'PUT', url: `/fhir/Patient?_id=${created.id}`, headers: FHIR_JSON, payload: { resourceType: 'Patient', name: [{ family: 'Martin' }] } });
    expect(conditional.statusCode).toBe(200);
    expect(conditional.headers['content-location']).toBe(`${BASE}/Patient/${created.id}/_history/3`);
    const outcome = await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: { ...FHIR_JSON, prefer: 'return=OperationOutcome' }, payload: { ...created, active: false } });
    expect(outcome.statusCode).toBe(200);
    expect(outcome.json().resourceType).toBe('OperationOutcome');
    expect(outcome.headers['content-location']).toBeUndefined();
  });

  it('creates the resource with the client id when it does not exist (201 + Location)', async () => {
    const response = await inject({ method: 'PUT', url: '/fhir/Patient/client-id-1', headers: FHIR_JSON, payload: { resourceType: 'Patient', id: 'client-id-1', active: true } });
    expect(response.statusCode).toBe(201);
    expect(response.headers.location).toBe(`${BASE}/Patient/client-id-1/_history/1`);
    expect(response.headers.etag).toBe('W/"1"');
    expect((await inject({ method: 'GET', url: '/fhir/Patient/client-id-1' })).json().active).toBe(true);
  });

  it('recreates a deleted resource as a new version', async () => {
    const created = await createPatient();
    expect((await inject({ method: 'DELETE', url: `/fhir/Patient/${created.id}` })).statusCode).toBe(204);
    const response = await inject({ method: 'PUT', url: `/fhir/Patient/${created.id}`, headers: FHIR_JSON, payload: { resourceType: 'Patient', id: created.id } });
    expect(response.statusCode).toBe(201);
    expect(response.json().meta.versionId).toBe('3');
  });
});

describe('delete', () => {
  it('deletes: read is then 410 Gone, and vread of the deletion version is 410 too', async () => {
    const created = await createPatient();
    const deleted = await inject({ method: 'DELETE', url: `/fhir/Patient/${created.id}` });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe('');
    const read = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` });
    expect(read.statusCode).toBe(410);
    expect(read.json().resourceType).toBe('OperationOutcome');
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history/2` })).statusCode).toBe(410);
    // The version before the deletion stays readable.
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history/1` })).statusCode).toBe(200);
  });

  it('answers 204 for something absent or already deleted, without creating versions', async () => {
    expect((await inject({ method: 'DELETE', url: '/fhir/Patient/never-existed' })).statusCode).toBe(204);
    expect((await inject({ method: 'GET', url: '/fhir/Patient/never-existed' })).statusCode).toBe(404);
    const created = await createPatient();
    await inject({ method: 'DELETE', url: `/fhir/Patient/${created.id}` });
    expect((await inject({ method: 'DELETE', url: `/fhir/Patient/${created.id}` })).statusCode).toBe(204);
    const history = await inject({ method: 'GET', url: `/fhir/Patient/${created.id}/_history` });
    expect(history.json().total).toBe(2);
  });
});

describe('patch (JSON Patch)', () => {
  it('applies the operations and stores a new version', async () => {
    const created = await createPatient();
    const response = await inject({
      method: 'PATCH',
      url: `/fhir/Patient/${created.id}`,
      headers: JSON_PATCH,
      payload: [
        { op: 'test', path: '/name/0/family', value: 'Martin' },
        { op: 'replace', path: '/name/0/family', value: 'Bernard' },
        { op: 'add', path: '/gender', value: 'other' },
      ],
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers.etag).toBe('W/"2"');
    const read = (await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` })).json();
    expect(read.name[0].family).toBe('Bernard');
    expect(read.gender).toBe('other');
    expect(read.meta.versionId).toBe('2');
  });

  it('names the written version in Content-Location (HAPI reads the outcome id from it)', async () => {
    const created = await createPatient();
    const response = await inject({ method: 'PATCH', url: `/fhir/Patient/${created.id}`, headers: JSON_PATCH, payload: [{ op: 'add', path: '/gender', value: 'other' }] });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-location']).toBe(`${BASE}/Patient/${created.id}/_history/2`);
  });

  it('refuses a failing test operation with 422 and changes nothing', async () => {
    const created = await createPatient();
    const response = await inject({
      method: 'PATCH',
      url: `/fhir/Patient/${created.id}`,
      headers: JSON_PATCH,
      payload: [
        { op: 'replace', path: '/name/0/family', value: 'Changed' },
        { op: 'test', path: '/name/0/family', value: 'Martin' },
      ],
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().resourceType).toBe('OperationOutcome');
    const read = (await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` })).json();
    expect(read).toEqual(created);
  });

  it('refuses a patch that changes the id or resourceType (422)', async () => {
    const created = await createPatient();
    for (const payload of [[{ op: 'replace', path: '/id', value: 'other' }], [{ op: 'replace', path: '/resourceType', value: 'Practitioner' }]]) {
      const response = await inject({ method: 'PATCH', url: `/fhir/Patient/${created.id}`, headers: JSON_PATCH, payload });
      expect(response.statusCode).toBe(422);
      expect(response.json().resourceType).toBe('OperationOutcome');
    }
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` })).json()).toEqual(created);
  });

  it('refuses a patch whose result is not a valid resource (422), and a body that is no patch (400)', async () => {
    const created = await createPatient();
    const invalid = await inject({ method: 'PATCH', url: `/fhir/Patient/${created.id}`, headers: JSON_PATCH, payload: [{ op: 'add', path: '/colour', value: 'blue' }] });
    expect(invalid.statusCode).toBe(422);
    const notAPatch = await inject({ method: 'PATCH', url: `/fhir/Patient/${created.id}`, headers: JSON_PATCH, payload: { op: 'add' } });
    expect(notAPatch.statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${created.id}` })).json()).toEqual(created);
  });

  it('answers 404 for an unknown id and 410 for a deleted one', async () => {
    const patch = [{ op: 'add', path: '/active', value: true }];
    expect((await inject({ method: 'PATCH', url: '/fhir/Patient/no-such', headers: JSON_PATCH, payload: patch })).statusCode).toBe(404);
    const created = await createPatient();
    await inject({ method: 'DELETE', url: `/fhir/Patient/${created.id}` });
    expect((await inject({ method: 'PATCH', url: `/fhir/Patient/${created.id}`, headers: JSON_PATCH, payload: patch })).statusCode).toBe(410);
  });
});

describe('Prefer: return', () => {
  it('return=minimal answers with headers and an empty body', async () => {
    const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, prefer: 'return=minimal' }, payload: { resourceType: 'Patient' } });
    expect(response.statusCode).toBe(201);
    expect(response.body).toBe('');
    expect(response.headers.location).toMatch(/\/Patient\/[^/]+\/_history\/1$/);
    expect(response.headers.etag).toBe('W/"1"');
    const id = String(response.headers.location).split('/').at(-3);
    const update = await inject({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: { ...FHIR_JSON, prefer: 'return=minimal' }, payload: { resourceType: 'Patient', id, active: false } });
    expect(update.statusCode).toBe(200);
    expect(update.body).toBe('');
    expect(update.headers.etag).toBe('W/"2"');
  });

  it('return=representation answers with the stored resource', async () => {
    const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, prefer: 'return=representation' }, payload: { resourceType: 'Patient', active: true } });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ resourceType: 'Patient', active: true, meta: { versionId: '1' } });
  });

  it('return=OperationOutcome answers with an OperationOutcome', async () => {
    const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, prefer: 'return=OperationOutcome' }, payload: { resourceType: 'Patient' } });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].severity).toBe('information');
    expect(response.headers.location).toBeDefined();
  });
});
