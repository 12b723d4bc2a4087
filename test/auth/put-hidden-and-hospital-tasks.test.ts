/**
 * Issue 6 gaps, over app.inject with dev tokens:
 * - a PUT to an id the caller cannot see answers the same whether a resource
 *   exists there or not (R4 update: a server may refuse client-defined ids,
 *   405), for a nurse and for a hospital, alone and inside Bundles; PATCH,
 *   DELETE and conditional PUT agree; updates of what the caller can read
 *   still succeed;
 * - a hospital's Task search returns what it sent and the coordination Tasks
 *   about its requests, nothing else, counted exactly, through includes too;
 * - break-the-glass over a broad search tells the coordination team once,
 *   listing the patients opened.
 */
import type { Bundle, Communication, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let nurse: string;
let hospitalA: string;
let hospitalB: string;
const NURSE_RPPS = '10000000001';

const seed = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource);
const observation = (id: string, patient: string, status = 'final'): Resource =>
  ({ resourceType: 'Observation', id, status, code: { text: 'Pression artérielle' }, subject: { reference: `Patient/${patient}` } }) as Resource;

const { call, auditsOf } = authenticatedRequests(() => server, 'put-hidden');

/** What a caller sees of an answer, with the id it asked about replaced: status, Allow, and the OperationOutcome. */
function shape(response: { statusCode: number; headers: Record<string, unknown>; body: string }, id: string) {
  return { status: response.statusCode, allow: response.headers.allow, body: response.body.split(id).join('<id>') };
}

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481', '450000088'] });
  nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  hospitalA = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  hospitalB = await mintDevToken({ role: 'hospital', finess: '450000088', client: 'dpi-chr-orleans', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  const resources: Resource[] = [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] } as Resource,
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' } as Resource,
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } } as Resource,
    { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] } as Resource,
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] } as Resource,
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Lefèvre' }] } as Resource,
    { resourceType: 'Patient', id: 'pat-c', name: [{ family: 'Garnier' }] } as Resource,
    {
      resourceType: 'Consent',
      id: 'consent-a',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: 'Patient/pat-a' },
      performer: [{ reference: 'Patient/pat-a' }],
      provision: { type: 'permit' },
    } as Resource,
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: { reference: 'Patient/pat-a' }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] } as Resource,
    observation('obs-a', 'pat-a'),
    observation('obs-b', 'pat-b'),
    observation('obs-c', 'pat-c'),
    observation('obs-b-deleted', 'pat-b'),
  ];
  for (const resource of resources) await seed(resource);
  await server.ctx.engine.asServer('test setup').delete('Observation', 'obs-b-deleted');
});
afterAll(async () => server.close());

describe('PUT to an id the caller cannot see', () => {
  it('answers a nurse the same 405 for a hidden resource, a deleted hidden one and a free id, writes nothing, and audits each alike', async () => {
    const answers = [];
    for (const [id, patient] of [
      ['obs-b', 'pat-b'],
      ['obs-b-deleted', 'pat-b'],
      ['obs-free-1', 'pat-a'], // a free id, filed under her own patient: update as create
      ['obs-free-2', 'pat-b'],
    ] as const) {
      const { response, requestId } = await call(nurse, 'PUT', `/fhir/Observation/${id}`, observation(id, patient, 'amended'));
      answers.push(shape(response, id));
      const events = await auditsOf(requestId);
      expect(events.map((e) => [e.action, e.outcome]), id).toEqual([['U', '4']]);
    }
    expect(answers[0].status).toBe(405);
    expect(answers[0].allow).toBe('GET, HEAD');
    expect(JSON.parse(answers[0].body).issue[0].code).toBe('not-supported');
    for (const answer of answers.slice(1)) expect(answer).toEqual(answers[0]);
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-b')).versionId).toBe(1);
    await expect(server.ctx.engine.asServer('test setup').read('Observation', 'obs-free-1')).rejects.toMatchObject({ status: 404 });
  });

  it('still lets her update what she can read (200)', async () => {
    const { response } = await call(nurse, 'PUT', '/fhir/Observation/obs-a', observation('obs-a', 'pat-a', 'amended'));
    expect(response.statusCode).toBe(200);
    expect(response.json().status).toBe('amended');
  });

  it('answers PATCH (404), DELETE (403) and conditional PUT (405) alike for hidden and free ids', async () => {
    const patchDocument = [{ op: 'test', path: '/status', value: 'final' }];
    const patchHidden = (await call(nurse, 'PATCH', '/fhir/Observation/obs-b', patchDocument)).response;
    const patchFree = (await call(nurse, 'PATCH', '/fhir/Observation/obs-free-3', patchDocument)).response;
    expect(patchHidden.statusCode).toBe(404);
    expect(shape(patchFree, 'obs-free-3')).toEqual(shape(patchHidden, 'obs-b'));
    const deleteHidden = (await call(nurse, 'DELETE', '/fhir/Observation/obs-b')).response;
    const deleteFree = (await call(nurse, 'DELETE', '/fhir/Observation/obs-free-3')).response;
    expect(deleteHidden.statusCode).toBe(403);
    expect(shape(deleteFree, 'obs-free-3')).toEqual(shape(deleteHidden, 'obs-b'));
    const conditionalHidden = (await call(nurse, 'PUT', '/fhir/Observation?_id=obs-b', observation('obs-b', 'pat-a'))).response;
    const conditionalFree = (await call(nurse, 'PUT', '/fhir/Observation?_id=obs-free-3', observation('obs-free-3', 'pat-a'))).response;
    // Matched within what she may see: neither id matches for her, and an id of her choosing is refused alike.
    expect(conditionalHidden.statusCode).toBe(405);
    expect(shape(conditionalFree, 'obs-free-3')).toEqual(shape(conditionalHidden, 'obs-b'));
  });

  it('answers PUT entries of transactions and batches as the PUT alone, whatever exists, committing nothing', async () => {
    const bundle = (type: string, id: string, patient: string) => ({
      resourceType: 'Bundle',
      type,
      entry: [{ resource: observation(id, patient, 'amended'), request: { method: 'PUT', url: `Observation/${id}` } }],
    });
    for (const type of ['transaction', 'batch']) {
      const hidden = (await call(nurse, 'POST', '/fhir', bundle(type, 'obs-b', 'pat-b'))).response;
      const free = (await call(nurse, 'POST', '/fhir', bundle(type, 'obs-free-4', 'pat-a'))).response;
      expect(hidden.statusCode, type).toBe(405);
      expect(hidden.json().issue[0].diagnostics).toMatch(/^PUT Observation\/obs-b: your access does not include creating resources with an id you choose/);
      expect(shape(free, 'obs-free-4'), type).toEqual(shape(hidden, 'obs-b'));
      const patched = (await call(nurse, 'POST', '/fhir', { resourceType: 'Bundle', type, entry: [{ resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'test', path: '/status', value: 'final' }])).toString('base64') }, request: { method: 'PATCH', url: 'Observation/obs-b' } }] })).response;
      expect(patched.statusCode, type).toBe(404);
    }
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-b')).versionId).toBe(1);
    await expect(server.ctx.engine.asServer('test setup').read('Observation', 'obs-free-4')).rejects.toMatchObject({ status: 404 });
  });

  it('answers a hospital the same 403 for an existing resource it did not send and a free id, alone and in a transaction', async () => {
    const patient = (id: string) => ({ resourceType: 'Patient', id, name: [{ family: 'Girard' }] });
    const hidden = (await call(hospitalA, 'PUT', '/fhir/Patient/pat-b', patient('pat-b'))).response;
    const free = (await call(hospitalA, 'PUT', '/fhir/Patient/pat-free-1', patient('pat-free-1'))).response;
    expect(hidden.statusCode).toBe(403);
    expect(shape(free, 'pat-free-1')).toEqual(shape(hidden, 'pat-b'));
    const txn = (id: string) => ({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient(id), request: { method: 'PUT', url: `Patient/${id}` } }] });
    const hiddenInTxn = (await call(hospitalA, 'POST', '/fhir', txn('pat-b'))).response;
    const freeInTxn = (await call(hospitalA, 'POST', '/fhir', txn('pat-free-2'))).response;
    expect(hiddenInTxn.statusCode).toBe(403);
    expect(shape(freeInTxn, 'pat-free-2')).toEqual(shape(hiddenInTxn, 'pat-b'));
    await expect(server.ctx.engine.asServer('test setup').read('Patient', 'pat-free-2')).rejects.toMatchObject({ status: 404 });
    expect((await server.ctx.engine.asServer('test setup').read('Patient', 'pat-b')).versionId).toBe(1);
  });
});

describe('a hospital\'s coordination Tasks', () => {
  type Entry = { resource: Resource; search?: { mode?: string } };
  const ids = (bundle: { entry?: Entry[] }, mode = 'match') =>
    (bundle.entry ?? [])
      .filter((e) => e.search?.mode === mode)
      .map((e) => `${e.resource.resourceType}/${e.resource.id}`)
      .sort();
  const created = async (token: string, resource: Record<string, unknown>) => {
    const { response } = await call(token, 'POST', `/fhir/${resource.resourceType as string}`, resource);
    expect(response.statusCode, JSON.stringify(response.json())).toBe(201);
    return response.json().id as string;
  };
  const task = (id: string, links: Record<string, unknown>): Resource => ({ resourceType: 'Task', id, status: 'requested', intent: 'order', ...links }) as Resource;
  const refs: Record<string, string> = {};

  beforeAll(async () => {
    // What each hospital sends (marked as its own server-side, meta.source).
    refs.patientA = await created(hospitalA, { resourceType: 'Patient', name: [{ family: 'Girard' }] });
    const subject = { reference: `Patient/${refs.patientA}` };
    refs.requestA = await created(hospitalA, { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject });
    refs.stayA = await created(hospitalA, { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject });
    refs.taskSentByA = await created(hospitalA, { resourceType: 'Task', status: 'requested', intent: 'order', focus: { reference: `ServiceRequest/${refs.requestA}` } });
    refs.requestB = await created(hospitalB, { resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/pat-c' } });
    // The network's coordination work, written by the server (as the discharge intake does) and by coordinators.
    for (const resource of [
      task('task-coordination-stay-a', { focus: { reference: `Encounter/${refs.stayA}` }, for: subject }),
      task('task-based-on-request-a', { basedOn: [{ reference: `ServiceRequest/${refs.requestA}` }], for: subject }),
      task('task-support-request-a', { focus: { reference: `ServiceRequest/${refs.requestA}` }, partOf: [{ reference: 'Task/task-coordination-stay-a' }] }),
      task('task-about-request-b', { focus: { reference: `ServiceRequest/${refs.requestB}` }, for: { reference: 'Patient/pat-c' } }),
      task('task-about-patient-a', { focus: { reference: `Patient/${refs.patientA}` }, for: subject }),
      task('task-unrelated', { focus: { reference: 'Patient/pat-a' }, for: { reference: 'Patient/pat-a' } }),
    ]) {
      await seed(resource);
    }
  });

  it('returns exactly the Tasks it sent and those about its requests, with a total that counts only them', async () => {
    const expected = ['Task/task-based-on-request-a', 'Task/task-coordination-stay-a', 'Task/task-support-request-a', `Task/${refs.taskSentByA}`].sort();
    const bundle = (await call(hospitalA, 'GET', '/fhir/Task?_total=accurate')).response.json();
    expect(ids(bundle)).toEqual(expected);
    expect(bundle.total).toBe(4);
    expect((await call(hospitalA, 'GET', '/fhir/Task?_summary=count')).response.json().total).toBe(4);
    // Instance reads agree with the search, in both directions.
    for (const ref of expected) expect((await call(hospitalA, 'GET', `/fhir/${ref}`)).response.statusCode, ref).toBe(200);
    for (const ref of ['Task/task-about-request-b', 'Task/task-about-patient-a', 'Task/task-unrelated']) {
      expect((await call(hospitalA, 'GET', `/fhir/${ref}`)).response.statusCode, ref).toBe(404);
    }
  });

  it('shows the same Tasks in the type history', async () => {
    const history = (await call(hospitalA, 'GET', '/fhir/Task/_history')).response.json();
    const seen = [...new Set((history.entry as Entry[]).map((e) => `Task/${e.resource.id}`))].sort();
    expect(seen).toEqual(['Task/task-based-on-request-a', 'Task/task-coordination-stay-a', 'Task/task-support-request-a', `Task/${refs.taskSentByA}`].sort());
    expect(history.total).toBe(4);
  });

  it('never shows one hospital the other\'s Tasks, even when asked by reference', async () => {
    const b = (await call(hospitalB, 'GET', '/fhir/Task?_total=accurate')).response.json();
    expect(ids(b)).toEqual(['Task/task-about-request-b']);
    expect(b.total).toBe(1);
    const probe = (await call(hospitalA, 'GET', `/fhir/Task?focus=ServiceRequest/${refs.requestB}&_total=accurate`)).response.json();
    expect(probe.total).toBe(0);
    const probeCount = (await call(hospitalA, 'GET', '/fhir/Task?status=requested&_summary=count')).response.json();
    expect(probeCount.total).toBe(4);
  });

  it('includes, revincludes and _has reach the same Tasks and nothing else', async () => {
    const rev = (await call(hospitalA, 'GET', '/fhir/ServiceRequest?_revinclude=Task:focus&_revinclude=Task:based-on')).response.json();
    expect(ids(rev)).toEqual([`ServiceRequest/${refs.requestA}`]);
    expect(ids(rev, 'include')).toEqual(['Task/task-based-on-request-a', 'Task/task-support-request-a', `Task/${refs.taskSentByA}`].sort());
    const included = (await call(hospitalA, 'GET', '/fhir/Task?_include=Task:focus&_include=Task:part-of')).response.json();
    // Focus targets it sent are included; the coordination Task that others point to through partOf is one of its own.
    expect(ids(included, 'include')).toEqual([`Encounter/${refs.stayA}`, `ServiceRequest/${refs.requestA}`].sort());
    expect(JSON.stringify(included)).not.toContain('Patient/pat-a"');
    const has = (await call(hospitalA, 'GET', '/fhir/ServiceRequest?_has:Task:focus:status=requested&_total=accurate')).response.json();
    expect(ids(has)).toEqual([`ServiceRequest/${refs.requestA}`]);
    expect(has.total).toBe(1);
  });
});

describe('break-the-glass over a broad search', () => {
  const alerts = async () => {
    const bundle = await server.ctx.engine.asServer('test setup').search('Communication', [['category', 'alert'], ['_count', '1000']]);
    return (bundle.entry ?? []).map((e) => e.resource as Communication);
  };

  it('tells the coordination team once per request, listing every patient it opened', async () => {
    const before = (await alerts()).map((c) => c.id);
    const reason = 'appel du SAMU, patiente inconsciente';
    const { response, requestId } = await call(nurse, 'GET', '/fhir/Observation?_count=100', undefined, { 'x-break-the-glass': reason });
    expect(response.statusCode).toBe(200);
    const returned = new Set((response.json() as Bundle).entry?.map((e) => (e.resource as { subject?: { reference?: string } }).subject?.reference));
    expect(returned).toEqual(new Set(['Patient/pat-a', 'Patient/pat-b', 'Patient/pat-c']));
    const added = (await alerts()).filter((c) => !before.includes(c.id));
    expect(added).toHaveLength(1);
    // pat-a is hers anyway: only the records the glass opened are listed.
    expect(added[0].about?.map((r) => r.reference).sort()).toEqual(['Patient/pat-b', 'Patient/pat-c']);
    expect(added[0].subject).toBeUndefined();
    expect(added[0].payload?.[0].contentString).toContain(reason);
    const [event] = await auditsOf(requestId);
    expect(event.meta?.security?.[0].code).toBe('BTG');
    expect(event.entity?.filter((e) => e.what?.reference?.startsWith('Patient/')).map((e) => e.what?.reference).sort()).toEqual(['Patient/pat-a', 'Patient/pat-b', 'Patient/pat-c']);
  });
});
