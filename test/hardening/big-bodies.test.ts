/**
 * Big bodies are read and checked by a body worker (src/body-work), off the
 * event loop (issue 18: a 9 MB body held every other request for up to a
 * second). What a client gets must not change with where the work ran: the
 * same status, the same stored resource and index, the same OperationOutcome.
 * Two servers take the same requests, one checking every body in place
 * (BODY_WORKERS=0), one sending every body of 4 KB or more to its worker; the
 * worker's task counters say where the work ran.
 */
import type { OperationOutcome, Patient, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BodyChecker } from '../../src/body-work/body-checker.js';
import { loadConfig } from '../../src/config.js';
import { checkedWrite } from '../../src/engine/resource-checks.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const LIMITS = { LIMIT_INDEX_BYTES: '65536' };
let inPlace: TestServer;
let offThread: TestServer;

beforeAll(async () => {
  // Network profiles enforced (the default): the worker must validate with them too.
  inPlace = await startTestServer({ BODY_WORKERS: '0', ...LIMITS });
  offThread = await startTestServer({ BODY_WORKERS: '1', BODY_WORKER_THRESHOLD_BYTES: '4096', ...LIMITS });
});
afterAll(async () => {
  await inPlace?.close();
  await offThread?.close();
});

const bigPatient = (extra: Partial<Patient> = {}): Patient => ({
  resourceType: 'Patient',
  name: Array.from({ length: 60 }, (_, i) => ({ family: `Dupont-${i}`, given: ['Marie', `Éléonore${i}`], text: `Marie Éléonore Dupont-${i} ${'de la Tour '.repeat(5)}` })),
  address: [{ line: ['3 rue des Tilleuls'], city: 'Tours', postalCode: '37000' }],
  birthDate: '1948-03-02',
  ...extra,
});

async function send(server: TestServer, method: string, url: string, body: string, type = 'application/fhir+json') {
  const response = await server.app.inject({ method: method as 'POST', url, headers: { 'content-type': type, accept: 'application/fhir+json' }, payload: body });
  return { status: response.statusCode, json: response.json() as Resource & OperationOutcome };
}

/** A stored resource without what differs between two servers by design (its id, version meta). */
function comparable(resource: Resource): unknown {
  const { id: _id, meta: _meta, ...rest } = resource;
  return rest;
}

/** The same request to both servers; answers both, having checked the off-thread one ran it in its worker. */
async function both(method: string, url: string, body: string, type?: string, tasks: { write: number; xml: number } = { write: 1, xml: 0 }) {
  const before = { ...offThread.ctx.bodyWork.counts };
  const here = await send(inPlace, method, url, body, type);
  const there = await send(offThread, method, url, body, type);
  expect({ write: offThread.ctx.bodyWork.counts.write - before.write, xml: offThread.ctx.bodyWork.counts.xml - before.xml }).toEqual(tasks);
  expect(offThread.ctx.bodyWork.counts.failed).toBe(0);
  expect(inPlace.ctx.bodyWork.counts).toEqual({ write: 0, xml: 0, failed: 0 });
  return { here, there };
}

describe('a big body checked by a body worker gets the answer it gets on the event loop', () => {
  it('a valid create: 201 on both, the same resource stored, found by the same searches', async () => {
    const { here, there } = await both('POST', '/fhir/Patient', JSON.stringify(bigPatient()));
    expect([here.status, there.status]).toEqual([201, 201]);
    expect(comparable(there.json)).toEqual(comparable(here.json));
    for (const query of ['family=dupont-42', 'name:contains=eleonore17', 'address-city=tours', 'birthdate=1948-03-02', `_id=${there.json.id}`]) {
      const found = await offThread.app.inject({ method: 'GET', url: `/fhir/Patient?${query}` });
      expect(found.json().total ?? found.json().entry?.length, query).toBe(1);
      const foundHere = await inPlace.app.inject({ method: 'GET', url: `/fhir/Patient?${query.replace(there.json.id!, here.json.id!)}` });
      expect(foundHere.json().entry?.length, query).toBe(1);
    }
  });

  it('the worker computes exactly the index the event loop computes', async () => {
    const config = offThread.ctx.config;
    const checker = new BodyChecker({
      packagesDir: config.FHIR_PACKAGES_DIR,
      enforcement: config.VALIDATION_ENFORCEMENT,
      unknownExtensions: config.UNKNOWN_EXTENSIONS,
      baseUrl: offThread.ctx.engine.facts.baseUrl,
      limits: offThread.ctx.engine.facts.limits,
    });
    const body = bigPatient({ identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.10', value: '248039912345678' }], generalPractitioner: [{ reference: 'Practitioner/p1' }] });
    const result = checker.run({ kind: 'write', mode: 'create', resourceType: 'Patient', id: 'same-id', body });
    expect(result).toEqual({ ok: true, value: { index: checkedWrite(inPlace.ctx.engine.facts, 'create', 'Patient', 'same-id', body).index } });
  });

  it('an invalid body: the same status and OperationOutcome (structure, then profile)', async () => {
    for (const body of [bigPatient({ birthDate: 'le 2 mars' }), bigPatient({ gender: 'nope' as Patient['gender'] }), { ...bigPatient(), resourceType: 'Observation' }]) {
      const { here, there } = await both('POST', '/fhir/Patient', JSON.stringify(body));
      expect(here.status).toBeGreaterThanOrEqual(400);
      expect(here.status).toBeLessThan(500);
      expect(there).toEqual(here);
    }
  });

  it('an update: created then updated on both, and an id mismatch refused alike', async () => {
    for (const expected of [201, 200]) {
      const { here, there } = await both('PUT', '/fhir/Patient/big-1', JSON.stringify({ ...bigPatient({ gender: expected === 201 ? 'female' : 'other' }), id: 'big-1' }));
      expect([here.status, there.status]).toEqual([expected, expected]);
      expect(comparable(there.json)).toEqual(comparable(here.json));
    }
    const { here, there } = await both('PUT', '/fhir/Patient/big-2', JSON.stringify({ ...bigPatient(), id: 'big-3' }));
    expect(here.status).toBe(400);
    expect(there).toEqual(here);
  });

  it('a resource whose index would pass LIMIT_INDEX_BYTES: the same 400 naming the limit, nothing stored', async () => {
    const body = JSON.stringify(bigPatient({ name: Array.from({ length: 10 }, (_, i) => ({ family: `Martin${i}`.padEnd(3000, 'e') })) }));
    const { here, there } = await both('POST', '/fhir/Patient', body);
    expect(here.status).toBe(400);
    expect(there).toEqual(here);
    expect(there.json.issue[0]).toMatchObject({ code: 'too-costly' });
    expect(there.json.issue[0].diagnostics).toContain('LIMIT_INDEX_BYTES');
    const found = await offThread.app.inject({ method: 'GET', url: '/fhir/Patient?family=martin1' });
    expect(found.json().entry ?? []).toEqual([]);
  });

  it('a big FHIR XML body is read by the worker: stored alike, and a malformed one refused alike', async () => {
    const xml = `<Patient xmlns="http://hl7.org/fhir">${Array.from({ length: 120 }, (_, i) => `<name><family value="Durand-${i}"/><given value="Jeanne"/></name>`).join('')}<birthDate value="1950-01-01"/></Patient>`;
    // Read by the worker, then (the JSON form being big too) checked by it.
    const stored = await both('POST', '/fhir/Patient', xml, 'application/fhir+xml', { xml: 1, write: 1 });
    expect([stored.here.status, stored.there.status]).toEqual([201, 201]);
    expect(comparable(stored.there.json)).toEqual(comparable(stored.here.json));
    for (const [bad, write] of [[xml.replace('</Patient>', ''), 0], [xml.replace('<Patient ', '<Patient foo="1" '), 0], [xml.replace('1950-01-01', 'x'.repeat(5000)), 1]] as const) {
      const { here, there } = await both('POST', '/fhir/Patient', bad, 'application/fhir+xml', { xml: 1, write });
      expect(here.status).toBe(400);
      expect(there).toEqual(here);
    }
  });

  it('the big entries of a transaction too: the same outcome, and a refused entry refuses the transaction alike', async () => {
    const transaction = (family: string) =>
      JSON.stringify({
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [
          { fullUrl: 'urn:uuid:7f1c0c1e-1111-4c4c-8888-000000000001', resource: bigPatient({ name: [{ family }, ...bigPatient().name!] }), request: { method: 'POST', url: 'Patient' } },
          { resource: { ...bigPatient(), id: 'tx-big' }, request: { method: 'PUT', url: 'Patient/tx-big' } },
          { resource: { resourceType: 'Observation', status: 'final', code: { text: 'poids' }, subject: { reference: 'urn:uuid:7f1c0c1e-1111-4c4c-8888-000000000001' } }, request: { method: 'POST', url: 'Observation' } },
        ],
      });
    const { here, there } = await both('POST', '/fhir', transaction('Transaction'), undefined, { write: 2, xml: 0 });
    expect([here.status, there.status]).toEqual([200, 200]);
    const statuses = (answer: typeof here) => (answer.json as unknown as { entry: Array<{ response: { status: string } }> }).entry.map((e) => e.response.status);
    expect(statuses(there)).toEqual(statuses(here));
    const found = await offThread.app.inject({ method: 'GET', url: '/fhir/Patient?family=transaction&_revinclude=Observation:subject' });
    expect(found.json().entry).toHaveLength(2);
    // The first entry's birth date invalid: the whole transaction refused, with the same OperationOutcome.
    const refused = await both('POST', '/fhir', transaction('Refus').replace('1948-03-02', 'hier'), undefined, { write: 1, xml: 0 });
    expect(refused.here.status).toBe(400);
    expect(refused.there).toEqual(refused.here);
  });

  it('a small body stays on the event loop', async () => {
    const before = { ...offThread.ctx.bodyWork.counts };
    const response = await send(offThread, 'POST', '/fhir/Patient', JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Petit' }] }));
    expect(response.status).toBe(201);
    expect(offThread.ctx.bodyWork.counts).toEqual(before);
  });
});

describe('configuration', () => {
  it('BODY_WORKERS, BODY_WORKER_THRESHOLD_BYTES and LIMIT_INDEX_BYTES are checked at start, naming what they accept', () => {
    expect(() => loadConfig({ BODY_WORKERS: '17' })).toThrow(/BODY_WORKERS.*16/);
    expect(() => loadConfig({ BODY_WORKERS: 'many' })).toThrow(/BODY_WORKERS/);
    expect(() => loadConfig({ BODY_WORKER_THRESHOLD_BYTES: '10' })).toThrow(/BODY_WORKER_THRESHOLD_BYTES.*1024/);
    expect(() => loadConfig({ LIMIT_INDEX_BYTES: '0' })).toThrow(/LIMIT_INDEX_BYTES.*65536/);
    expect(loadConfig({})).toMatchObject({ BODY_WORKERS: 1, BODY_WORKER_THRESHOLD_BYTES: 262144, LIMIT_INDEX_BYTES: 16777216 });
  });
});
