/**
 * Type- and system-level history for restricted callers (issue 6): the same
 * decision as search. A nurse gets the versions of her patients' data only,
 * each version judged on its OWN content (a resource's versions from when it
 * belonged to another patient stay hidden), and nothing about other patients
 * leaks through Bundle.total, paging links or deletion entries; a hospital sees
 * the history of what it sent; a coordinator sees everything of the network;
 * every history request leaves one AuditEvent (allowed or refused) naming the
 * patients whose versions it returned.
 */
import type { AuditEvent, Bundle, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let nurse: string;
let coordinator: string;
let hospital: string;
let auditor: string;
const NURSE_RPPS = '10000000001';
let requestCounter = 0;

const seed = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource);
const observation = (id: string, patient: string, status = 'final'): Resource =>
  ({ resourceType: 'Observation', id, status, code: { text: 'Pression artérielle' }, subject: { reference: `Patient/${patient}` } }) as Resource;
const consent = (status: string): Resource =>
  ({
    resourceType: 'Consent',
    id: 'consent-a',
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/pat-a' },
    performer: [{ reference: 'Patient/pat-a' }],
    provision: { type: 'permit' },
  }) as Resource;

async function call(token: string, url: string, extra: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET', body?: unknown) {
  const requestId = `hist-${++requestCounter}`;
  const response = await server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...extra },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { response, requestId };
}

async function auditsOf(requestId: string): Promise<AuditEvent[]> {
  const bundle = await server.ctx.engine.asServer('test setup').search('AuditEvent', [['_count', '1000']]);
  return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.source.site === requestId);
}

/** "Type/id/version" of each entry, DELETE entries marked. */
const versionsOf = (bundle: Bundle) =>
  (bundle.entry ?? []).map((e) => `${e.request?.method === 'DELETE' ? 'DELETE ' : ''}${e.fullUrl!.split('/fhir/')[1]}/${e.response!.etag!.replace(/\D/g, '')}`);

/** Every page of a history, following next links; also checks that no link names anything but the query. */
async function allPages(token: string, url: string): Promise<{ versions: string[]; totals: number[]; bundles: Bundle[] }> {
  const versions: string[] = [];
  const totals: number[] = [];
  const bundles: Bundle[] = [];
  let next: string | undefined = url;
  while (next) {
    const { response } = await call(token, next.replace('http://relais.test', ''));
    expect(response.statusCode, next).toBe(200);
    const bundle = response.json() as Bundle;
    bundles.push(bundle);
    versions.push(...versionsOf(bundle));
    totals.push(bundle.total!);
    next = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return { versions, totals, bundles };
}

// The Observation versions the nurse may see: those whose own content files them under pat-a.
const NURSE_OBSERVATIONS = ['DELETE Observation/obs-a-del/2', 'Observation/obs-a-del/1', 'Observation/obs-a/2', 'Observation/obs-left/1', 'Observation/obs-moved/2', 'Observation/obs-a/1'];

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481'] });
  nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  for (const resource of [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' },
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] },
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] },
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Lefèvre' }] },
    consent('active'),
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: { reference: 'Patient/pat-a' }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
  ] as Resource[]) {
    await seed(resource);
  }
  // Versions in this order (newest last); the comment says whose record each version is in.
  await seed(observation('obs-a', 'pat-a')); // A
  await seed(observation('obs-b', 'pat-b')); // B
  await seed(observation('obs-moved', 'pat-b')); // B
  await seed(observation('obs-moved', 'pat-a')); // A (moved from B)
  await seed(observation('obs-left', 'pat-a')); // A
  await seed(observation('obs-left', 'pat-b')); // B (moved away from A)
  await seed(observation('obs-a', 'pat-a', 'amended')); // A
  await seed(observation('obs-b', 'pat-b', 'amended')); // B
  await seed(observation('obs-a-del', 'pat-a')); // A
  await server.ctx.engine.asServer('test setup').delete('Observation', 'obs-a-del'); // deletion of A's content
  await seed(observation('obs-b-del', 'pat-b')); // B
  await server.ctx.engine.asServer('test setup').delete('Observation', 'obs-b-del'); // deletion of B's content
});
afterAll(async () => server.close());

describe('type history for a nurse', () => {
  it("returns exactly the versions filed under her patient, each judged on its own content, and an exact total", async () => {
    const { response, requestId } = await call(nurse, '/fhir/Observation/_history?_count=100');
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(versionsOf(bundle)).toEqual(NURSE_OBSERVATIONS);
    expect(bundle.total).toBe(NURSE_OBSERVATIONS.length);
    // Nothing of pat-b: neither its resources, nor the B-era versions of the moved ones, nor its deletion.
    expect(JSON.stringify(bundle)).not.toContain('pat-b');
    expect(JSON.stringify(bundle)).not.toContain('obs-b');
    const [event] = await auditsOf(requestId);
    expect(event.outcome).toBe('0');
    expect(event.subtype?.[0].code).toBe('history-type');
    expect(event.agent[0].who?.identifier?.value).toBe(NURSE_RPPS);
    expect(event.entity?.filter((e) => e.what?.reference).map((e) => e.what?.reference)).toEqual(['Patient/pat-a']);
    expect(event.entity?.some((e) => e.query !== undefined)).toBe(true);
  });

  it('instance history follows the same rule: a resource moved between records shows her only the versions filed under her patient', async () => {
    const moved = await call(nurse, '/fhir/Observation/obs-moved/_history');
    expect(moved.response.statusCode).toBe(200);
    expect(versionsOf(moved.response.json() as Bundle)).toEqual(['Observation/obs-moved/2']);
    expect((moved.response.json() as Bundle).total).toBe(1);
    const left = await call(nurse, '/fhir/Observation/obs-left/_history');
    expect(versionsOf(left.response.json() as Bundle)).toEqual(['Observation/obs-left/1']);
    expect(JSON.stringify(left.response.json())).not.toContain('pat-b');
    const [event] = await auditsOf(moved.requestId);
    expect(event.outcome).toBe('0');
    expect(event.entity?.filter((e) => e.what?.reference?.startsWith('Patient/')).map((e) => e.what?.reference)).toEqual(['Patient/pat-a']);
    // A resource never filed under her patient stays unknown (404), its refusal audited.
    const other = await call(nurse, '/fhir/Observation/obs-b/_history');
    expect(other.response.statusCode).toBe(404);
    expect((await auditsOf(other.requestId)).map((e) => e.outcome)).toEqual(['4']);
  });

  it('pages through her versions only: totals and next links count nothing else; _count=0 answers her total', async () => {
    const paged = await allPages(nurse, '/fhir/Observation/_history?_count=2');
    expect(paged.versions).toEqual(NURSE_OBSERVATIONS);
    expect(paged.bundles).toHaveLength(3);
    expect(new Set(paged.totals)).toEqual(new Set([NURSE_OBSERVATIONS.length]));
    expect(paged.bundles.at(-1)!.link?.some((l) => l.relation === 'next')).toBe(false);
    const totalOnly = (await call(nurse, '/fhir/Observation/_history?_count=0')).response.json() as Bundle;
    expect(totalOnly.total).toBe(NURSE_OBSERVATIONS.length);
    expect(totalOnly.entry).toBeUndefined();
    // An offset past her versions is empty, with no next link (the coordinator's history is longer).
    const beyond = (await call(nurse, `/fhir/Observation/_history?_count=2&_offset=${NURSE_OBSERVATIONS.length}`)).response.json() as Bundle;
    expect(beyond.entry).toBeUndefined();
    expect(beyond.link?.some((l) => l.relation === 'next')).toBe(false);
  });

  it('keeps _since: only her versions at or after the instant', async () => {
    const all = (await call(nurse, '/fhir/Observation/_history?_count=100')).response.json() as Bundle;
    const instant = all.entry![2].response!.lastModified!;
    const since = (await call(nurse, `/fhir/Observation/_history?_since=${encodeURIComponent(instant)}`)).response.json() as Bundle;
    expect(versionsOf(since)).toEqual(NURSE_OBSERVATIONS.slice(0, 3));
    expect(since.total).toBe(3);
  });

  it('filters system history with _type the same way, and without _type over every type she may list', async () => {
    const { response, requestId } = await call(nurse, '/fhir/_history?_type=Patient,Observation&_count=100');
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(versionsOf(bundle)).toEqual([...NURSE_OBSERVATIONS, 'Patient/pat-a/1']);
    expect(bundle.total).toBe(NURSE_OBSERVATIONS.length + 1);
    expect(bundle.link?.find((l) => l.relation === 'self')?.url).toContain('_type=Patient,Observation');
    expect((await auditsOf(requestId))[0].subtype?.[0].code).toBe('history-system');
    // Without _type: every type she may list, filtered the same way (the same versions, here).
    const untyped = await call(nurse, '/fhir/_history?_count=100');
    expect(untyped.response.statusCode).toBe(200);
    const everything = versionsOf(untyped.response.json() as Bundle);
    expect(everything).toEqual(expect.arrayContaining([...NURSE_OBSERVATIONS, 'Patient/pat-a/1']));
    expect(everything.filter((v) => v.includes('pat-b') || v.startsWith('AuditEvent/'))).toEqual([]);
    expect((await auditsOf(untyped.requestId)).map((e) => e.outcome)).toEqual(['0']);
  });

  it('refuses the history of a type she may not read at all (403, audited)', async () => {
    const { response, requestId } = await call(nurse, '/fhir/AuditEvent/_history');
    expect(response.statusCode).toBe(403);
    const events = await auditsOf(requestId);
    expect(events).toHaveLength(1);
    expect(events[0].outcome).toBe('4');
  });

  it('cuts history at once when the Consent is withdrawn, and gives it back when restored', async () => {
    await seed(consent('inactive'));
    try {
      const { response, requestId } = await call(nurse, '/fhir/Observation/_history?_count=100');
      expect(response.statusCode).toBe(200);
      const bundle = response.json() as Bundle;
      expect(bundle.total).toBe(0);
      expect(bundle.entry).toBeUndefined();
      const [event] = await auditsOf(requestId);
      expect(event.outcome).toBe('0');
      expect(event.entity?.some((e) => e.what?.reference?.startsWith('Patient/'))).toBe(false);
    } finally {
      await seed(consent('active'));
    }
    expect(((await call(nurse, '/fhir/Observation/_history?_count=100')).response.json() as Bundle).total).toBe(NURSE_OBSERVATIONS.length);
  });

  it('break-the-glass opens the other patients\' versions for this request only, flagged and notified', async () => {
    const { response, requestId } = await call(nurse, '/fhir/Observation/_history?_count=100', { 'x-break-the-glass': 'patient found unconscious at home' });
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(bundle.total).toBe(12);
    expect(versionsOf(bundle)).toContain('Observation/obs-b/1');
    const [event] = await auditsOf(requestId);
    expect(event.meta?.security?.[0].code).toBe('BTG');
    expect(event.entity?.filter((e) => e.what?.reference).map((e) => e.what?.reference).sort()).toEqual(['Patient/pat-a', 'Patient/pat-b']);
    const alerts = await server.ctx.engine.asServer('test setup').search('Communication', [['subject', 'Patient/pat-b']]);
    expect(alerts.entry?.length).toBeGreaterThan(0);
    expect(((await call(nurse, '/fhir/Observation/_history?_count=100')).response.json() as Bundle).total).toBe(NURSE_OBSERVATIONS.length);
  });
});

describe('type and system history for other callers', () => {
  it('gives the coordinator every version, as the server sees it, audited', async () => {
    const all = await server.ctx.engine.asServer('test setup').history({ resourceType: 'Observation' }, [['_count', '100']]);
    const { response, requestId } = await call(coordinator, '/fhir/Observation/_history?_count=100');
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(bundle.total).toBe(12);
    expect(versionsOf(bundle)).toEqual(versionsOf(all as Bundle));
    const [event] = await auditsOf(requestId);
    expect(event.outcome).toBe('0');
    expect(event.entity?.filter((e) => e.what?.reference).map((e) => e.what?.reference).sort()).toEqual(['Patient/pat-a', 'Patient/pat-b']);
    // System history names its types and returns only those (no AuditEvent slips in).
    const system = (await call(coordinator, '/fhir/_history?_type=Observation&_count=100')).response.json() as Bundle;
    expect(versionsOf(system)).toEqual(versionsOf(all as Bundle));
  });

  it('shows a hospital the history of what it sent only', async () => {
    const sent = await call(hospital, '/fhir/ServiceRequest', {}, 'POST', {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      subject: { reference: 'Patient/pat-a' },
    });
    expect(sent.response.statusCode).toBe(201);
    const id = sent.response.json().id as string;
    await seed({ resourceType: 'ServiceRequest', id: 'sr-other', status: 'active', intent: 'order', subject: { reference: 'Patient/pat-a' } } as Resource);
    const { response, requestId } = await call(hospital, '/fhir/ServiceRequest/_history');
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(versionsOf(bundle)).toEqual([`ServiceRequest/${id}/1`]);
    expect(bundle.total).toBe(1);
    const [event] = await auditsOf(requestId);
    expect(event.outcome).toBe('0');
    expect(event.entity?.some((e) => e.what?.reference === 'Patient/pat-a')).toBe(true);
    // Nothing else of the network, at system level either.
    const system = (await call(hospital, '/fhir/_history?_type=ServiceRequest,Observation,Patient')).response.json() as Bundle;
    expect(versionsOf(system)).toEqual([`ServiceRequest/${id}/1`]);
    // A later version not sent by the hospital (a coordinator's update) is not shown to it.
    const { meta: _sentMeta, ...sentRequest } = (await server.ctx.engine.asServer('test setup').read('ServiceRequest', id)).resource!;
    await seed({ ...sentRequest, status: 'completed' } as Resource);
    expect(versionsOf((await call(hospital, '/fhir/ServiceRequest/_history')).response.json() as Bundle)).toEqual([`ServiceRequest/${id}/1`]);
  });

  it('lets the auditor page the audit trail, itself audited', async () => {
    const { response, requestId } = await call(auditor, '/fhir/AuditEvent/_history?_count=5');
    expect(response.statusCode).toBe(200);
    expect((response.json() as Bundle).total).toBeGreaterThan(5);
    expect((await auditsOf(requestId)).map((e) => e.outcome)).toEqual(['0']);
    expect((await call(auditor, '/fhir/Observation/_history')).response.statusCode).toBe(403);
  });
});
