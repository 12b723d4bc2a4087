/**
 * Per-resource enforcement in the engine for instance interactions (read,
 * vread, history of an instance, create, update, patch, delete) over
 * app.inject with dev tokens: a nurse reaches a patient's data only with an
 * active Consent, active CareTeam membership and an executed Contract; what
 * she may not reach answers exactly like an unknown id (404); every access,
 * allowed or refused, leaves one AuditEvent in the store.
 */
import type { Bundle, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let nurse: string;
let strangerNurse: string;
let coordinator: string;
const NURSE_RPPS = '10000000001';

const seed = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource);
const observation = (id: string, patient: string): Resource =>
  ({ resourceType: 'Observation', id, status: 'final', code: { text: 'Pression artérielle' }, subject: { reference: `Patient/${patient}` } }) as Resource;
const consent = (id: string, patient: string, status: string): Resource =>
  ({
    resourceType: 'Consent',
    id,
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    performer: [{ reference: `Patient/${patient}` }],
    provision: { type: 'permit' },
  }) as Resource;

const { call, auditsOf } = authenticatedRequests(() => server, 'enf');

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481'] });
  nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  strangerNurse = await mintDevToken({ role: 'nurse', rpps: '10000000099', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  const resources: Resource[] = [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] } as Resource,
    { resourceType: 'Practitioner', id: 'pr-stranger', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000099' }] } as Resource,
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' } as Resource,
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } } as Resource,
    // The service signed the network's convention: it covers its nurses.
    { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] } as Resource,
    // The stranger is in pat-a's care team but neither she nor a service of hers signed anything.
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] } as Resource,
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Lefèvre' }] } as Resource,
    consent('consent-a', 'pat-a', 'active'),
    {
      resourceType: 'CareTeam',
      id: 'ct-a',
      status: 'active',
      subject: { reference: 'Patient/pat-a' },
      participant: [{ member: { reference: 'Practitioner/pr-nurse' } }, { member: { reference: 'Practitioner/pr-stranger' } }],
    } as Resource,
    observation('obs-a', 'pat-a'),
    observation('obs-b', 'pat-b'),
    observation('obs-a-deleted', 'pat-a'),
    observation('obs-b-deleted', 'pat-b'),
  ];
  for (const resource of resources) await seed(resource);
  await server.ctx.engine.asServer('test setup').delete('Observation', 'obs-a-deleted');
  await server.ctx.engine.asServer('test setup').delete('Observation', 'obs-b-deleted');
});
afterAll(async () => server.close());

describe('instance reads', () => {
  it('lets the nurse read her patient and that patient\'s data, and audits each read with agent and patient', async () => {
    for (const url of ['/fhir/Patient/pat-a', '/fhir/Observation/obs-a', '/fhir/Observation/obs-a/_history/1', '/fhir/Observation/obs-a/_history']) {
      const { response, requestId } = await call(nurse, 'GET', url);
      expect(response.statusCode, url).toBe(200);
      const events = await auditsOf(requestId);
      expect(events, url).toHaveLength(1);
      expect(events[0].outcome).toBe('0');
      expect(events[0].agent[0].who?.identifier?.value).toBe(NURSE_RPPS);
      expect(events[0].entity?.some((e) => e.what?.reference === 'Patient/pat-a')).toBe(true);
    }
  });

  it('answers another patient\'s data exactly like an unknown id (404), and audits the refusal', async () => {
    const unknown = (await call(nurse, 'GET', '/fhir/Observation/obs-zz')).response;
    expect(unknown.statusCode).toBe(404);
    for (const [url, id] of [
      ['/fhir/Patient/pat-b', 'Patient/pat-b'],
      ['/fhir/Observation/obs-b', 'Observation/obs-b'],
      ['/fhir/Observation/obs-b/_history/1', 'Observation/obs-b'],
      ['/fhir/Observation/obs-b/_history', 'Observation/obs-b'],
    ] as const) {
      const { response, requestId } = await call(nurse, 'GET', url);
      expect(response.statusCode, url).toBe(404);
      expect(response.json().issue[0].code).toBe(unknown.json().issue[0].code);
      expect(response.json().issue[0].diagnostics).toBe(`${id} is not known`);
      const events = await auditsOf(requestId);
      expect(events, url).toHaveLength(1);
      expect(events[0].outcome).toBe('4');
      expect(events[0].entity?.some((e) => e.what?.reference === 'Patient/pat-b')).toBe(true);
    }
  });

  it('does not reveal that a hidden resource was deleted (404, not 410); a reachable one is 410', async () => {
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-b-deleted')).response.statusCode).toBe(404);
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-a-deleted')).response.statusCode).toBe(410);
  });

  it('refuses a care-team member whose side signed no agreement', async () => {
    expect((await call(strangerNurse, 'GET', '/fhir/Observation/obs-a')).response.statusCode).toBe(404);
  });

  it('lets the coordinator read every patient of the network', async () => {
    expect((await call(coordinator, 'GET', '/fhir/Observation/obs-b')).response.statusCode).toBe(200);
  });

  it('break-the-glass opens a read for this request only, flagged in the audit trail', async () => {
    const { response, requestId } = await call(nurse, 'GET', '/fhir/Observation/obs-b', undefined, { 'x-break-the-glass': 'patient found unconscious at home' });
    expect(response.statusCode).toBe(200);
    const [event] = await auditsOf(requestId);
    expect(event.meta?.security?.[0].code).toBe('BTG');
    expect(event.purposeOfEvent?.[0].coding?.[0].code).toBe('ETREAT');
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-b')).response.statusCode).toBe(404);
  });
});

describe('instance writes', () => {
  it('refuses to update (405, as for any id she cannot see) or patch (404) another patient\'s data, writing nothing, and audits the refusal', async () => {
    const update = await call(nurse, 'PUT', '/fhir/Observation/obs-b', { ...observation('obs-b', 'pat-b'), status: 'amended' });
    expect(update.response.statusCode).toBe(405);
    // A JSON Patch `test` could probe values: it must not get that far.
    const probe = await call(nurse, 'PATCH', '/fhir/Observation/obs-b', [{ op: 'test', path: '/status', value: 'final' }]);
    expect(probe.response.statusCode).toBe(404);
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-b')).versionId).toBe(1);
    expect((await auditsOf(update.requestId))[0].outcome).toBe('4');
    expect((await auditsOf(probe.requestId))[0].outcome).toBe('4');
  });

  it('refuses to move a reachable resource into another patient\'s record', async () => {
    const moved = await call(nurse, 'PUT', '/fhir/Observation/obs-a', observation('obs-a', 'pat-b'));
    expect(moved.response.statusCode).toBe(403);
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-a')).resource).toMatchObject({ subject: { reference: 'Patient/pat-a' } });
  });

  it('creates and updates her patient\'s data with the AuditEvent in the same write; refuses a create for another patient', async () => {
    const created = await call(nurse, 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-a' } });
    expect(created.response.statusCode).toBe(201);
    const [createEvent] = await auditsOf(created.requestId);
    expect(createEvent.action).toBe('C');
    expect(createEvent.entity?.some((e) => e.what?.reference === 'Patient/pat-a')).toBe(true);
    const updated = await call(nurse, 'PUT', '/fhir/Observation/obs-a', { ...observation('obs-a', 'pat-a'), status: 'amended' });
    expect(updated.response.statusCode).toBe(200);
    expect((await auditsOf(updated.requestId)).map((e) => [e.action, e.outcome])).toEqual([['U', '0']]);
    const patched = await call(nurse, 'PATCH', '/fhir/Observation/obs-a', [{ op: 'replace', path: '/status', value: 'corrected' }]);
    expect(patched.response.statusCode).toBe(200);
    expect(await auditsOf(patched.requestId)).toHaveLength(1);
    const elsewhere = await call(nurse, 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-b' } });
    expect(elsewhere.response.statusCode).toBe(403);
    expect((await auditsOf(elsewhere.requestId))[0].outcome).toBe('4');
  });

  it('matches a per-patient caller\'s conditional writes within what she may see: a hidden match is neither updated nor revealed', async () => {
    // pat-b's Observation matches these criteria, but the nurse may not see it: for her there is no match.
    const withHerId = await call(nurse, 'PUT', '/fhir/Observation?subject=Patient/pat-b', observation('obs-new', 'pat-a'));
    const withFreeCriteria = await call(nurse, 'PUT', '/fhir/Observation?subject=Patient/pat-nobody', observation('obs-new', 'pat-a'));
    // No visible match and an id she chose: refused like any client-chosen id, whatever is hidden.
    expect(withHerId.response.statusCode).toBe(405);
    expect(withHerId.response.json()).toEqual(withFreeCriteria.response.json());
    const { id: _id, ...withoutId } = observation('unused', 'pat-a') as Resource & { id?: string };
    const created = await call(nurse, 'PUT', '/fhir/Observation?subject=Patient/pat-b', withoutId);
    expect(created.response.statusCode).toBe(201);
    expect((created.response.json() as Resource).id).not.toBe('obs-b');
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-b')).versionId).toBe(1);
    // Her own match is updated.
    const own = await call(nurse, 'PUT', '/fhir/Observation?_id=obs-a', { ...observation('obs-a', 'pat-a'), status: 'amended' });
    expect(own.response.statusCode).toBe(200);
    expect((await auditsOf(own.requestId)).map((e) => e.action)).toEqual(['U']);
    // Conditional patch and delete: what she cannot see is "not found" (patch) or nothing to delete (no delete right: 403).
    const patchHidden = await call(nurse, 'PATCH', '/fhir/Observation?_id=obs-b', [{ op: 'replace', path: '/status', value: 'amended' }]);
    expect(patchHidden.response.statusCode).toBe(404);
  });

  it('lets the coordinator delete, audited as D in the same write', async () => {
    await seed(observation('obs-to-delete', 'pat-b'));
    const { response, requestId } = await call(coordinator, 'DELETE', '/fhir/Observation/obs-to-delete');
    expect(response.statusCode).toBe(204);
    expect((await auditsOf(requestId)).map((e) => e.action)).toEqual(['D']);
  });

  it('refuses the nurse a delete (403: role) and audits it', async () => {
    const { response, requestId } = await call(nurse, 'DELETE', '/fhir/Observation/obs-a');
    expect(response.statusCode).toBe(403);
    expect(await auditsOf(requestId)).toHaveLength(1);
  });
});

describe('revocation', () => {
  it('cuts access on the very next request when the Consent is withdrawn', async () => {
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-a')).response.statusCode).toBe(200);
    await seed(consent('consent-a', 'pat-a', 'inactive'));
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-a')).response.statusCode).toBe(404);
    await seed(consent('consent-a', 'pat-a', 'active'));
    expect((await call(nurse, 'GET', '/fhir/Observation/obs-a')).response.statusCode).toBe(200);
  });
});

describe('search leakage', () => {
  type Entry = { resource: Resource & { subject?: { reference?: string } }; search?: { mode?: string } };
  const refsOf = (bundle: { entry?: Entry[] }) => (bundle.entry ?? []).map((e) => `${e.resource.resourceType}/${e.resource.id}`);
  const mentionsPatB = (bundle: { entry?: Entry[] }) => JSON.stringify(bundle).includes('pat-b');

  it('returns only reachable resources, with a total that counts only them', async () => {
    const { response, requestId } = await call(nurse, 'GET', '/fhir/Observation?_total=accurate');
    const bundle = response.json();
    expect(response.statusCode).toBe(200);
    expect(mentionsPatB(bundle)).toBe(false);
    expect(refsOf(bundle)).toContain('Observation/obs-a');
    expect(bundle.total).toBe(bundle.entry.length);
    const count = (await call(nurse, 'GET', '/fhir/Observation?_summary=count')).response.json();
    expect(count.total).toBe(bundle.total);
    const [event] = await auditsOf(requestId);
    expect(event.action).toBe('E');
    expect(event.entity?.filter((e) => e.what?.reference?.startsWith('Patient/')).map((e) => e.what?.reference)).toEqual(['Patient/pat-a']);
  });

  it('finds nothing of another patient by reference, id, name, chain or _has, and counts zero', async () => {
    for (const url of [
      '/fhir/Observation?subject=Patient/pat-b&_total=accurate',
      '/fhir/Patient?_id=pat-b&_total=accurate',
      '/fhir/Patient?family=Lef&_total=accurate',
      '/fhir/Observation?subject.family=Lef&_total=accurate',
      '/fhir/Patient?_has:Observation:subject:_id=obs-b&_total=accurate',
      '/fhir/Consent?patient=Patient/pat-b&_total=accurate',
    ]) {
      const { response } = await call(nurse, 'GET', url);
      expect(response.statusCode, url).toBe(200);
      expect(response.json().total, url).toBe(0);
    }
    // The same chain on her own patient does find it: the zero above is the filter, not the query.
    expect((await call(nurse, 'GET', '/fhir/Observation?subject.family=Moreau&_total=accurate')).response.json().total).toBeGreaterThan(0);
  });

  it('includes and revincludes only reachable resources', async () => {
    const included = (await call(nurse, 'GET', '/fhir/Observation?_include=Observation:subject')).response.json();
    expect(mentionsPatB(included)).toBe(false);
    expect(refsOf(included)).toContain('Patient/pat-a');
    const rev = (await call(nurse, 'GET', '/fhir/Patient?_revinclude=Observation:subject&_revinclude=Consent:patient')).response.json();
    expect(mentionsPatB(rev)).toBe(false);
    expect(refsOf(rev)).toEqual(expect.arrayContaining(['Patient/pat-a', 'Observation/obs-a', 'Consent/consent-a']));
  });

  it('pages through reachable resources only, and a system-wide search with _type is filtered too', async () => {
    let url: string | undefined = '/fhir/Observation?_count=1';
    const seen: string[] = [];
    while (url) {
      const page = (await call(nurse, 'GET', url)).response.json();
      seen.push(...refsOf(page));
      const next = page.link.find((l: { relation: string }) => l.relation === 'next')?.url as string | undefined;
      url = next?.replace('http://relais.test', '');
    }
    expect(seen).toContain('Observation/obs-a');
    expect(seen.some((r) => r.startsWith('Observation/obs-b'))).toBe(false);
    const system = (await call(nurse, 'GET', '/fhir?_type=Patient,Observation&_total=accurate')).response.json();
    expect(mentionsPatB(system)).toBe(false);
    expect(refsOf(system)).toContain('Patient/pat-a');
  });

  it('gives a nurse without an agreement nothing, and the coordinator everything', async () => {
    expect((await call(strangerNurse, 'GET', '/fhir/Observation?_total=accurate')).response.json().total).toBe(0);
    const all = (await call(coordinator, 'GET', '/fhir/Observation?_total=accurate')).response.json();
    expect(refsOf(all)).toEqual(expect.arrayContaining(['Observation/obs-a', 'Observation/obs-b']));
  });

  it('leaves the directory open to practitioners', async () => {
    const directory = (await call(strangerNurse, 'GET', '/fhir/Practitioner')).response;
    expect(refsOf(directory.json())).toContain('Practitioner/pr-nurse');
  });
});

describe('batch and transaction Bundles', () => {
  const txn = (entries: unknown[], type = 'transaction') => ({ resourceType: 'Bundle', type, entry: entries });
  const put = (resource: Resource) => ({ resource, request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` } });
  const post = (resource: Resource, extra: Record<string, string> = {}) => ({ resource, request: { method: 'POST', url: resource.resourceType, ...extra } });
  const newObservation = (patient: string): Resource => ({ resourceType: 'Observation', status: 'final', code: { text: 'Glycémie' }, subject: { reference: `Patient/${patient}` } }) as Resource;

  it('commits a nurse\'s transaction on her patient with one AuditEvent per written resource', async (test) => {
    // Multi-resource Bundles need a store with multi-document transactions.
    if (!server.ctx.store.capabilities.atomicMultiWrite) test.skip();
    const { response, requestId } = await call(nurse, 'POST', '/fhir', txn([put({ ...observation('obs-a', 'pat-a'), status: 'final' } as Resource), post(newObservation('pat-a'))]));
    expect(response.statusCode).toBe(200);
    const events = await auditsOf(requestId);
    expect(events.map((e) => e.action).sort()).toEqual(['C', 'U']);
    expect(events.every((e) => e.outcome === '0' && e.entity?.some((x) => x.what?.reference === 'Patient/pat-a'))).toBe(true);
  });

  it('refuses the whole transaction when one entry reaches another patient, writing nothing', async (test) => {
    // Multi-resource Bundles need a store with multi-document transactions.
    if (!server.ctx.store.capabilities.atomicMultiWrite) test.skip();
    const before = (await server.ctx.engine.asServer('test setup').read('Observation', 'obs-a')).versionId;
    const intoOther = await call(nurse, 'POST', '/fhir', txn([put(observation('obs-a', 'pat-a')), post(newObservation('pat-b'))]));
    expect(intoOther.response.statusCode).toBe(403);
    const hidden = await call(nurse, 'POST', '/fhir', txn([put(observation('obs-a', 'pat-a')), put(observation('obs-b', 'pat-b'))]));
    // The answer a PUT of an id she cannot see gets on its own, whether or not it exists (see put-hidden-and-hospital-tasks.test.ts).
    expect(hidden.response.statusCode).toBe(405);
    expect(hidden.response.json().issue[0].diagnostics).toMatch(/^PUT Observation\/obs-b: your access does not include creating resources with an id you choose/);
    expect((await server.ctx.engine.asServer('test setup').read('Observation', 'obs-a')).versionId).toBe(before);
    expect((await auditsOf(hidden.requestId)).map((e) => e.outcome)).toEqual(['4']);
  });

  it('answers read entries as the same requests alone, and matches conditional entries within what the caller may see', async () => {
    const reads = await call(
      nurse,
      'POST',
      '/fhir',
      txn(
        [
          { request: { method: 'GET', url: 'Observation?subject=Patient/pat-b' } },
          { request: { method: 'GET', url: 'Observation?_count=100' } },
          { request: { method: 'GET', url: 'Observation/obs-a' } },
          { request: { method: 'GET', url: 'Observation/obs-b' } },
          { request: { method: 'GET', url: 'Patient/pat-a/_history' } },
        ],
        'batch',
      ),
    );
    expect(reads.response.statusCode).toBe(200);
    const [otherPatient, all, own, hidden, ownHistory] = (reads.response.json() as Bundle).entry!;
    // pat-b's Observations are filtered out of the search, not refused (as GET /Observation?subject=Patient/pat-b answers).
    expect(otherPatient.response!.status).toMatch(/^200/);
    expect((otherPatient.resource as Bundle).total ?? 0).toBe(0);
    const seen = ((all.resource as Bundle).entry ?? []).map((e) => (e.resource as { subject?: { reference?: string } }).subject?.reference);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r === 'Patient/pat-a')).toBe(true);
    expect(own.response!.status).toMatch(/^200/);
    expect((own.resource as Resource).id).toBe('obs-a');
    expect(hidden.response!.status).toMatch(/^404/);
    expect(hidden.resource).toBeUndefined();
    expect(ownHistory.response!.status).toMatch(/^200/);
    // Each entry is audited as the request alone would be: the hidden read as a refusal.
    const outcomes = (await auditsOf(reads.requestId)).map((e) => e.outcome).sort();
    expect(outcomes).toEqual(['0', '0', '0', '0', '4']);
    // A conditional entry is matched within what she may see: pat-b's Observations do not match, so hers is created.
    const conditional = await call(nurse, 'POST', '/fhir', txn([post(newObservation('pat-a'), { ifNoneExist: 'subject=Patient/pat-b' })]));
    expect(conditional.response.statusCode).toBe(200);
    expect((conditional.response.json() as Bundle).entry![0].response!.status).toMatch(/^201/);
  });

  it('lets a hospital send a referral, marks it as its own server-side, and shows it only what it sent', async (test) => {
    // Multi-resource Bundles need a store with multi-document transactions.
    if (!server.ctx.store.capabilities.atomicMultiWrite) test.skip();
    const hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    const patient = { resourceType: 'Patient', name: [{ family: 'Girard' }], meta: { source: 'forged-source' } };
    const { response } = await call(
      hospital,
      'POST',
      '/fhir',
      txn([
        { fullUrl: 'urn:uuid:7d3c4c2e-5a55-4b8e-9d0e-1f2a3b4c5d6e', resource: patient, request: { method: 'POST', url: 'Patient' } },
        post({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: { reference: 'urn:uuid:7d3c4c2e-5a55-4b8e-9d0e-1f2a3b4c5d6e' } } as Resource),
      ]),
    );
    expect(response.statusCode).toBe(200);
    const [patientId, requestIdOf] = response.json().entry.map((e: { response: { location: string } }) => e.response.location.split('/')[1]);
    const stored = await server.ctx.engine.asServer('test setup').read('Patient', patientId);
    expect(stored.resource?.meta?.source).not.toBe('forged-source');
    expect((await call(hospital, 'GET', `/fhir/ServiceRequest/${requestIdOf}`)).response.statusCode).toBe(200);
    expect((await call(hospital, 'GET', '/fhir/Patient/pat-a')).response.statusCode).toBe(404);
    const mine = (await call(hospital, 'GET', '/fhir/Patient?_total=accurate')).response.json();
    expect(mine.total).toBe(1);
    expect(mine.entry[0].resource.id).toBe(patientId);
  });
});

describe('break-the-glass notification', () => {
  const alertsAbout = async (patient: string) => {
    const bundle = await server.ctx.engine.asServer('test setup').search('Communication', [['subject', `Patient/${patient}`], ['_count', '100']]);
    return (bundle.entry ?? []).map((e) => e.resource as Resource & { category?: Array<{ coding?: Array<{ code?: string }> }>; payload?: Array<{ contentString?: string }> });
  };

  it('tells the coordination team, in the same write as the audit, each time break-the-glass opens a record', async () => {
    const before = (await alertsAbout('pat-b')).length;
    const reason = 'chute au domicile, patient inconscient';
    expect((await call(nurse, 'GET', '/fhir/Patient/pat-b', undefined, { 'x-break-the-glass': reason })).response.statusCode).toBe(200);
    const alerts = await alertsAbout('pat-b');
    expect(alerts).toHaveLength(before + 1);
    const alert = alerts.find((a) => a.payload?.[0].contentString?.includes(reason));
    expect(alert?.category?.[0].coding?.[0].code).toBe('alert');
    const search = await call(nurse, 'GET', '/fhir/Observation?subject=Patient/pat-b', undefined, { 'x-break-the-glass': reason });
    expect(search.response.json().entry.length).toBeGreaterThan(0);
    expect(await alertsAbout('pat-b')).toHaveLength(before + 2);
    expect((await auditsOf(search.requestId))[0].meta?.security?.[0].code).toBe('BTG');
  });

  it('sends nothing when the practitioner could reach the record anyway', async () => {
    const before = (await alertsAbout('pat-a')).length;
    const { requestId } = await call(nurse, 'GET', '/fhir/Observation/obs-a', undefined, { 'x-break-the-glass': 'vérification avant le passage du soir' });
    expect(await alertsAbout('pat-a')).toHaveLength(before);
    expect((await auditsOf(requestId))[0].meta?.security).toBeUndefined();
  });
});

describe('operations', () => {
  it('audits a hospital\'s Patient/$match, and refuses it to a nurse (403, audited)', async () => {
    const hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    const body = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: 'Moreau' }] } }] };
    const { response, requestId } = await call(hospital, 'POST', '/fhir/Patient/$match', body);
    expect(response.statusCode).toBe(200);
    const [event] = await auditsOf(requestId);
    expect(event.subtype?.[0].code).toBe('operation');
    expect(event.outcome).toBe('0');
    const refused = await call(nurse, 'POST', '/fhir/Patient/$match', body);
    expect(refused.response.statusCode).toBe(403);
    expect((await auditsOf(refused.requestId))[0].outcome).toBe('4');
  });
});

describe('audit completeness', () => {
  it('N accesses of every kind, allowed or refused, leave exactly N AuditEvents with the right agent, patient and outcome', async () => {
    const accesses: Array<[string, 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE', string, unknown?]> = [
      [nurse, 'GET', '/fhir/Patient/pat-a'],
      [nurse, 'GET', '/fhir/Patient/pat-b'],
      [nurse, 'GET', '/fhir/Observation/obs-a/_history/1'],
      [nurse, 'GET', '/fhir/Observation/obs-b/_history'],
      [nurse, 'GET', '/fhir/Observation?subject=Patient/pat-a'],
      [nurse, 'GET', '/fhir/AuditEvent'],
      [nurse, 'PUT', '/fhir/Observation/obs-b', observation('obs-b', 'pat-b')],
      [nurse, 'PATCH', '/fhir/Observation/obs-a', [{ op: 'replace', path: '/status', value: 'final' }]],
      [nurse, 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'Pouls' }, subject: { reference: 'Patient/pat-b' } }],
      [nurse, 'DELETE', '/fhir/Observation/obs-a'],
      [strangerNurse, 'GET', '/fhir/Observation/obs-a'],
      [coordinator, 'GET', '/fhir/Observation/obs-b'],
    ];
    const outcomes: Array<{ requestId: string; status: number; token: string }> = [];
    for (const [token, method, url, body] of accesses) {
      const { response, requestId } = await call(token, method, url, body);
      outcomes.push({ requestId, status: response.statusCode, token });
    }
    const agentOf: Record<string, string | undefined> = { [nurse]: NURSE_RPPS, [strangerNurse]: '10000000099' };
    let total = 0;
    for (const { requestId, status, token } of outcomes) {
      const events = await auditsOf(requestId);
      total += events.length;
      expect(events, requestId).toHaveLength(1);
      expect(events[0].outcome, requestId).toBe(status < 400 ? '0' : '4');
      if (agentOf[token]) expect(events[0].agent[0].who?.identifier?.value).toBe(agentOf[token]);
    }
    expect(total).toBe(accesses.length);
    const hiddenRead = await auditsOf(outcomes[1].requestId);
    expect(hiddenRead[0].entity?.some((e) => e.what?.reference === 'Patient/pat-b')).toBe(true);
  });
});

describe('paging links', () => {
  it('keeps a search\'s next-page cursor to the caller who made it (410 for anyone else)', async () => {
    const first = (await call(coordinator, 'GET', '/fhir/Observation?_count=1')).response.json();
    const next = (first.link.find((l: { relation: string }) => l.relation === 'next')?.url as string).replace('http://relais.test', '');
    expect((await call(coordinator, 'GET', next)).response.statusCode).toBe(200);
    expect((await call(nurse, 'GET', next)).response.statusCode).toBe(410);
  });
});
