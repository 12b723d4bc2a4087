/**
 * The findings of the adversarial probe (issue 18), each reproduced as a
 * request a hostile client can send, with the answer it must now get: a
 * bounded 4xx OperationOutcome, never a 5xx, never a leak.
 * (Tokens that outlive their holder or their time: test/auth/tokens.test.ts.)
 */
import type { Bundle, OperationOutcome, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const INS = 'urn:oid:1.2.250.1.213.1.4.10';
const NURSE_RPPS = '10000000001';
let server: TestServer;
const tokens: Record<string, string> = {};
const { call, auditsOf } = authenticatedRequests(() => server, 'adv');

const tooCostly = (response: { statusCode: number; json(): unknown }) => {
  expect(response.statusCode).toBe(400);
  expect((response.json() as OperationOutcome).issue[0].code).toBe('too-costly');
};

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', LIMIT_BUNDLE_READ_RESOURCES: '50', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481', '450000088'] });
  const env = devAuthEnv(server.dataDir);
  tokens.hospitalA = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-a', ttlSeconds: 600 }, env);
  tokens.hospitalB = await mintDevToken({ role: 'hospital', finess: '450000088', client: 'dpi-b', ttlSeconds: 600 }, env);
  tokens.coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord', ttlSeconds: 600 }, env);
  tokens.nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, env);
  // Hospital A sends a patient, with INS, number, address and birth place.
  const sent = await call(tokens.hospitalA, 'POST', '/fhir/Patient', {
    resourceType: 'Patient',
    identifier: [{ system: INS, value: '255089912345678' }, { system: 'https://hopital-a.example.org/ipp', value: 'IPP-A-1' }],
    name: [{ family: 'Secret', given: ['Louise'] }],
    birthDate: '1955-08-09',
    gender: 'female',
    address: [{ line: ['3 rue des Tilleuls'], city: 'Tours', postalCode: '37000' }],
  });
  expect(sent.response.statusCode).toBe(201);
  const seed = server.ctx.engine.asServer('test setup');
  for (let i = 0; i < 30; i++) await seed.create('Patient', { resourceType: 'Patient', name: [{ family: `Charge${i}` }] });
  // A nurse habilitated for one patient, with Observations of it (for paging).
  const resources = [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Contract', id: 'adhesion', status: 'executed', subject: [{ reference: 'Practitioner/pr-nurse' }] },
    { resourceType: 'Patient', id: 'pat-n' },
    {
      resourceType: 'Consent',
      id: 'consent-n',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: 'Patient/pat-n' },
      performer: [{ reference: 'Patient/pat-n' }],
      provision: { type: 'permit' },
    },
    { resourceType: 'CareTeam', id: 'ct-n', status: 'active', subject: { reference: 'Patient/pat-n' }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
    { resourceType: 'Patient', id: 'pat-hidden' },
    { resourceType: 'Observation', id: 'obs-hidden', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/pat-hidden' } },
  ] as unknown as Resource[];
  for (const resource of resources) await seed.update(resource.resourceType, resource.id!, resource);
  for (let i = 0; i < 12; i++) await seed.create('Observation', { resourceType: 'Observation', status: 'final', code: { text: `Mesure ${i}` }, subject: { reference: 'Patient/pat-n' } });
});
afterAll(async () => server.close());

describe('no identity leaks between hospitals through $match', () => {
  const match = (patient: object) => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', ...patient } }] });

  it('another hospital walking birth dates gets nothing of what hospital A sent', async () => {
    const { response, requestId } = await call(tokens.hospitalB, 'POST', '/fhir/Patient/$match', match({ birthDate: '1955-08-09' }));
    expect(response.statusCode).toBe(200);
    expect((response.json() as Bundle).total).toBe(0);
    expect(response.body).not.toMatch(/Secret|255089912345678|IPP-A-1|Tilleuls/);
    expect((await auditsOf(requestId)).map((e) => e.outcome)).toEqual(['0']);
  });

  it('even with the full identity, it learns only that a certain match exists, never whom', async () => {
    const { response } = await call(tokens.hospitalB, 'POST', '/fhir/Patient/$match', match({ identifier: [{ system: INS, value: '255089912345678' }], name: [{ family: 'Secret', given: ['Louise'] }], birthDate: '1955-08-09', gender: 'female' }));
    const bundle = response.json() as Bundle;
    expect(bundle.total).toBe(0);
    expect(bundle.entry?.map((e) => e.search?.mode)).toEqual(['outcome']);
    expect(response.body).not.toMatch(/Secret|IPP-A-1|Tilleuls|Patient\/(?!\$match)/);
  });

  it('hospital A itself finds what it sent', async () => {
    const { response } = await call(tokens.hospitalA, 'POST', '/fhir/Patient/$match', match({ birthDate: '1955-08-09', name: [{ family: 'Secret' }] }));
    expect((response.json() as Bundle).total).toBe(1);
  });
});

describe('every request\'s cost is bounded', () => {
  it('_sort with 500 keys', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => (i % 2 ? 'family' : '-birthdate')).join(',');
    tooCostly((await call(tokens.coordinator, 'GET', `/fhir/Patient?_sort=${keys}`)).response);
  });

  it('a form _search with 200,000 parameters', async () => {
    const body = Array.from({ length: 200_000 }, (_, i) => `family=x${i}`).join('&');
    const response = await server.app.inject({
      method: 'POST',
      url: '/fhir/Patient/_search',
      headers: { authorization: `Bearer ${tokens.coordinator}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: body,
    });
    tooCostly(response);
  });

  it('a batch of 200 reads of _count=1000 shares one read budget: the reads past it are refused, each in its entry', async () => {
    const batch = { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 200 }, () => ({ request: { method: 'GET', url: 'Patient?_count=1000' } })) };
    const { response } = await call(tokens.coordinator, 'POST', '/fhir', batch);
    expect(response.statusCode).toBe(200);
    const statuses = (response.json() as Bundle).entry!.map((e) => e.response!.status.slice(0, 3));
    expect(statuses[0]).toBe('200');
    expect(statuses.filter((s) => s === '200').length).toBeLessThanOrEqual(2);
    expect(statuses.slice(2).every((s) => s === '400')).toBe(true);
  });

  it('a Bundle of more entries than allowed', async () => {
    const batch = { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 1001 }, () => ({ request: { method: 'GET', url: 'Patient/x' } })) };
    tooCostly((await call(tokens.coordinator, 'POST', '/fhir', batch)).response);
  });

  it('a Patient with 120,000 given names, or an array of 150,000 elements, is refused (no 500, nothing stored)', async () => {
    const given = Array.from({ length: 120_000 }, (_, i) => `G${i}`);
    tooCostly((await call(tokens.hospitalA, 'POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Long', given }] })).response);
    const many = { resourceType: 'Patient', identifier: Array.from({ length: 150_000 }, (_, i) => ({ value: String(i) })) };
    tooCostly((await call(tokens.coordinator, 'POST', '/fhir/Patient', many)).response);
    expect((await call(tokens.coordinator, 'GET', '/fhir/Patient?family=long&_summary=count')).response.json().total).toBe(0);
    // $validate applies the same bounds before validating.
    tooCostly((await call(tokens.coordinator, 'POST', '/fhir/Patient/$validate', { resourceType: 'Patient', name: [{ family: 'Long', given }] })).response);
  });

  it('bodies of several megabytes are read and checked by a body worker, off the event loop, with their usual answers', async () => {
    const work = server.ctx.bodyWork.counts;
    const before = { ...work };
    const base64 = Buffer.alloc(5_250_000, 'relais-').toString('base64');
    // A 7 MB discharge letter inline: legitimate, stored whole.
    const letter = { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'application/pdf', data: base64 } }] };
    const stored = (await call(tokens.coordinator, 'POST', '/fhir/DocumentReference', letter)).response;
    expect(stored.statusCode).toBe(201);
    expect(stored.json().content[0].attachment.data).toBe(base64);
    // A 9 MB string sent as XML: R4 caps a string at 1 MB.
    const xml = `<Patient xmlns="http://hl7.org/fhir"><name><text value="${'x'.repeat(9_000_000)}"/></name></Patient>`;
    const refused = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: { authorization: `Bearer ${tokens.coordinator}`, 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, payload: xml });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().issue[0].diagnostics).toContain('1048576');
    // 999 names of 9,000 letters: 36 MB of index entries to encode on the event loop.
    const names = { resourceType: 'Patient', name: Array.from({ length: 999 }, (_, i) => ({ family: `F${i}`.padEnd(9000, 'x') })) };
    const tooBig = (await call(tokens.coordinator, 'POST', '/fhir/Patient', names)).response;
    tooCostly(tooBig);
    expect(tooBig.json().issue[0].diagnostics).toContain('LIMIT_INDEX_BYTES');
    expect((await call(tokens.coordinator, 'GET', '/fhir/Patient?family=f1xxxxxxxx&_summary=count')).response.json().total).toBe(0);
    // Three resources checked by the worker, the XML document read by it; none left to the event loop.
    expect({ write: work.write - before.write, xml: work.xml - before.xml, failed: work.failed - before.failed }).toEqual({ write: 3, xml: 1, failed: 0 });
  });

  it('a batch counts as the work it carries against the rate limit', async () => {
    const limited = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '50', ...STRUCTURE_ONLY });
    try {
      const token = await mintDevToken({ role: 'coordinator', sub: 'coord', ttlSeconds: 600 }, devAuthEnv(limited.dataDir));
      const batch = { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 60 }, () => ({ request: { method: 'GET', url: 'Patient?_count=1' } })) };
      const response = await limited.app.inject({ method: 'POST', url: '/fhir', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(batch) });
      expect(response.statusCode).toBe(429);
      expect(response.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});

describe('malformed input is a 4xx naming the element, never a 5xx', () => {
  const bodies: Array<[string, unknown]> = [
    ['parameter not an array', { resourceType: 'Parameters', parameter: { name: 'url' } }],
    ['parameter [null]', { resourceType: 'Parameters', parameter: [null] }],
    ['valueUri an object', { resourceType: 'Parameters', parameter: [{ name: 'url', valueUri: {} }] }],
    ['a nameless parameter', { resourceType: 'Parameters', parameter: [{ valueString: 'x' }] }],
  ];
  for (const url of ['/fhir/Patient/$match', '/fhir/ValueSet/$expand', '/fhir/ValueSet/$validate-code']) {
    it(`${url}: ${bodies.map(([what]) => what).join(', ')}`, async () => {
      for (const [what, body] of bodies) {
        const { response } = await call(tokens.coordinator, 'POST', url, body);
        expect(response.statusCode, `${url} ${what}`).toBe(400);
        expect((response.json() as OperationOutcome).issue[0].expression?.[0], `${url} ${what}`).toMatch(/^Parameters\.parameter/);
      }
    });
  }

  it('a request caught by the store closing (shutdown) answers 503 with Retry-After, not 500', async () => {
    const closing = await startTestServer({ AUTH_MODE: 'none', ...STRUCTURE_ONLY });
    try {
      await closing.ctx.store.close();
      for (const [method, url, payload] of [['POST', '/fhir/Patient', { resourceType: 'Patient' }], ['PUT', '/fhir/Patient/p1', { resourceType: 'Patient', id: 'p1' }]] as const) {
        const response = await closing.app.inject({ method, url, headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(payload) });
        expect(response.statusCode, url).toBe(503);
        expect(response.headers['retry-after']).toBe('5');
        expect((response.json() as OperationOutcome).issue[0].code).toBe('transient');
      }
    } finally {
      await closing.close();
    }
  });
});

describe('identities that outlive their source', () => {
  it('a remembered token (AUTH_TOKEN_CACHE_SECONDS) stops working the request after its practitioner is deactivated', async () => {
    expect((await call(tokens.nurse, 'GET', '/fhir/Organization')).response.statusCode).toBe(200);
    expect((await call(tokens.nurse, 'GET', '/fhir/Organization')).response.statusCode).toBe(200);
    const seed = server.ctx.engine.asServer('test setup');
    const practitioner = (await seed.read('Practitioner', 'pr-nurse')).resource!;
    await seed.update('Practitioner', 'pr-nurse', { ...practitioner, active: false });
    try {
      expect((await call(tokens.nurse, 'GET', '/fhir/Organization')).response.statusCode).toBe(403);
    } finally {
      await seed.update('Practitioner', 'pr-nurse', { ...practitioner, active: true });
    }
    expect((await call(tokens.nurse, 'GET', '/fhir/Organization')).response.statusCode).toBe(200);
  });
});

describe('hidden and missing look alike', () => {
  it('a hidden id and an unknown one answer the same 404, both audited as refusals', async () => {
    const hidden = await call(tokens.nurse, 'GET', '/fhir/Observation/obs-hidden');
    const missing = await call(tokens.nurse, 'GET', '/fhir/Observation/obs-nowhere');
    expect(hidden.response.statusCode).toBe(404);
    expect(missing.response.json().issue[0].code).toBe(hidden.response.json().issue[0].code);
    expect((await auditsOf(hidden.requestId)).map((e) => e.outcome)).toEqual(['4']);
    expect((await auditsOf(missing.requestId)).map((e) => e.outcome)).toEqual(['4']);
  });

  it('a paging cursor stops answering (410) once the caller\'s access changes, so no later page or total shows what it lost', async () => {
    // _total=accurate: without it, the first page of a longer search leaves the total out (it is not counted).
    const first = (await call(tokens.nurse, 'GET', '/fhir/Observation?_count=5&_total=accurate')).response.json() as Bundle;
    expect(first.total).toBe(12);
    const next = first.link!.find((l) => l.relation === 'next')!.url.replace('http://relais.test', '');
    expect((await call(tokens.nurse, 'GET', next)).response.statusCode).toBe(200);
    // Without _total, the embedded store keeps the first page's snapshot unlisted until a next page is asked for.
    const lazy = (await call(tokens.nurse, 'GET', '/fhir/Observation?_count=4')).response.json() as Bundle;
    const lazyNext = lazy.link!.find((l) => l.relation === 'next')!.url.replace('http://relais.test', '');
    const seed = server.ctx.engine.asServer('test setup');
    const consent = (await seed.read('Consent', 'consent-n')).resource!;
    await seed.update('Consent', 'consent-n', { ...consent, status: 'inactive' });
    try {
      expect((await call(tokens.nurse, 'GET', next)).response.statusCode).toBe(410);
      expect((await call(tokens.nurse, 'GET', lazyNext)).response.statusCode).toBe(410);
    } finally {
      await seed.update('Consent', 'consent-n', { ...consent, status: 'active' });
    }
    // Another identity (the same subject with another role) never uses the cursor either.
    const sameSubject = await mintDevToken({ role: 'coordinator', sub: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    expect((await call(sameSubject, 'GET', next)).response.statusCode).toBe(410);
  });
});
