/**
 * Patient/[id]/$everything (R4 operation Patient-everything): the patient
 * compartment plus the resources it references (practitioners, roles,
 * organisations, locations, medications), paged with next links, `_since`,
 * `start`/`end` on care dates, `_type`; access-filtered and audited like a
 * search.
 */
import type { AuditEvent, Bundle } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { startBulkServer, type BulkTestServer } from './bulk-test-server.js';

let server: BulkTestServer;
const tokens: Record<string, string> = {};
const NURSE_RPPS = '10000000001';
let counter = 0;

const seed = (resource: Record<string, unknown>) => server.ctx.engine.asServer('test setup').update(String(resource.resourceType), String(resource.id), resource);

async function get(url: string, role?: string): Promise<{ status: number; body: Bundle & { issue?: Array<{ diagnostics: string }> }; requestId: string }> {
  const requestId = `everything-${++counter}`;
  const response = await server.app.inject({ method: 'GET', url: url.replace('http://relais.test', ''), headers: { ...(role ? { authorization: `Bearer ${tokens[role]}` } : {}), 'x-request-id': requestId } });
  return { status: response.statusCode, body: response.json(), requestId };
}
const refs = (bundle: Bundle) => (bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`);

/** Every page of an $everything, following next links. */
async function allPages(url: string, role?: string): Promise<{ refs: string[]; totals: number[]; pages: number }> {
  const found: string[] = [];
  const totals: number[] = [];
  let next: string | undefined = url;
  let pages = 0;
  while (next) {
    const { status, body } = await get(next, role);
    expect(status, JSON.stringify(body)).toBe(200);
    found.push(...refs(body));
    totals.push(body.total!);
    next = body.link?.find((l) => l.relation === 'next')?.url;
    pages++;
  }
  return { refs: found, totals, pages };
}

const RECORD_A = [
  'Patient/pat-a',
  'CarePlan/pps-a',
  'CareTeam/ct-a',
  'Condition/cond-a',
  'Consent/consent-a',
  'Encounter/enc-a',
  'Flag/flag-a',
  'MedicationRequest/mr-a',
  'Observation/obs-a-2019',
  'Observation/obs-a-2024',
  'RelatedPerson/aidant-a',
  'Task/task-a',
  'Practitioner/pr-gp',
  'Practitioner/pr-nurse',
  'Organization/org-ssiad',
  'Location/loc-chu',
  'Medication/med-1',
];

beforeAll(async () => {
  server = await startBulkServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000' });
  const env = devAuthEnv(server.dataDir);
  tokens.nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, env);
  tokens.coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, env);
  tokens.otherCoordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-2', ttlSeconds: 600 }, env);
  const subjectA = { reference: 'Patient/pat-a' };
  for (const resource of [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Practitioner', id: 'pr-gp', name: [{ family: 'Bernard' }] },
    { resourceType: 'Practitioner', id: 'pr-unrelated', name: [{ family: 'Petit' }] },
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' },
    { resourceType: 'Location', id: 'loc-chu', name: 'CHU de Tours' },
    { resourceType: 'Medication', id: 'med-1', code: { text: 'Metformine 500 mg' } },
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] },
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }], generalPractitioner: [{ reference: 'Practitioner/pr-gp' }] },
    { resourceType: 'Patient', id: 'pat-b', name: [{ family: 'Lefèvre' }] },
    {
      resourceType: 'Consent',
      id: 'consent-a',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: subjectA,
      performer: [subjectA],
      provision: { type: 'permit' },
    },
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: subjectA, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
    { resourceType: 'RelatedPerson', id: 'aidant-a', patient: subjectA, name: [{ family: 'Moreau', given: ['Paul'] }] },
    { resourceType: 'Encounter', id: 'enc-a', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }, subject: subjectA, location: [{ location: { reference: 'Location/loc-chu' } }], period: { start: '2024-03-01', end: '2024-03-10' } },
    { resourceType: 'Condition', id: 'cond-a', subject: subjectA, code: { text: 'Diabète de type 2' } },
    { resourceType: 'CarePlan', id: 'pps-a', status: 'active', intent: 'plan', subject: subjectA, period: { start: '2024-03-10' } },
    { resourceType: 'Task', id: 'task-a', status: 'requested', intent: 'order', for: subjectA, owner: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'Flag', id: 'flag-a', status: 'active', code: { text: 'Sortie un vendredi' }, subject: subjectA },
    { resourceType: 'MedicationRequest', id: 'mr-a', status: 'active', intent: 'order', subject: subjectA, medicationReference: { reference: 'Medication/med-1' } },
    { resourceType: 'Observation', id: 'obs-a-2019', status: 'final', code: { text: 'Poids' }, subject: subjectA, effectiveDateTime: '2019-05-01' },
    { resourceType: 'Observation', id: 'obs-a-2024', status: 'final', code: { text: 'Poids' }, subject: subjectA, effectiveDateTime: '2024-05-01', performer: [{ reference: 'Practitioner/pr-nurse' }] },
    { resourceType: 'Observation', id: 'obs-b', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-b' }, performer: [{ reference: 'Practitioner/pr-unrelated' }] },
    // Names patient A and patient B: in both records; a nurse habilitated for A only may not see it.
    { resourceType: 'Communication', id: 'com-ab', status: 'completed', subject: subjectA, recipient: [{ reference: 'Patient/pat-b' }] },
  ]) {
    await seed(resource);
  }
});
afterAll(async () => server?.close());

describe('Patient/$everything', () => {
  it('returns the compartment and the resources it references, nothing of other patients', async () => {
    const { status, body } = await get('/fhir/Patient/pat-a/$everything', 'coordinator');
    expect(status).toBe(200);
    expect(body.type).toBe('searchset');
    expect(new Set(refs(body))).toEqual(new Set([...RECORD_A, 'Communication/com-ab']));
    expect(refs(body)[0]).toBe('Patient/pat-a');
    expect(body.total).toBe(RECORD_A.length + 1);
    const modes = Object.fromEntries((body.entry ?? []).map((e) => [`${e.resource!.resourceType}/${e.resource!.id}`, e.search?.mode]));
    expect(modes['Observation/obs-a-2024']).toBe('match');
    expect(modes['Practitioner/pr-gp']).toBe('include');
    // The compartment's resources first, then what they reference.
    const lastMatch = (body.entry ?? []).map((e) => e.search?.mode).lastIndexOf('match');
    const firstInclude = (body.entry ?? []).map((e) => e.search?.mode).indexOf('include');
    expect(lastMatch).toBeLessThan(firstInclude);
    expect(refs(body)).not.toContain('Observation/obs-b');
    expect(refs(body)).not.toContain('Practitioner/pr-unrelated');
  });

  it('pages with next links: every resource once across pages, the same total on each', async () => {
    const paged = await allPages('/fhir/Patient/pat-a/$everything?_count=4', 'coordinator');
    expect(paged.pages).toBe(Math.ceil((RECORD_A.length + 1) / 4));
    expect(new Set(paged.refs)).toEqual(new Set([...RECORD_A, 'Communication/com-ab']));
    expect(paged.refs).toHaveLength(RECORD_A.length + 1);
    expect(new Set(paged.totals)).toEqual(new Set([RECORD_A.length + 1]));
  });

  it('the paging cursor belongs to the caller: another caller gets 410', async () => {
    const first = await get('/fhir/Patient/pat-a/$everything?_count=4', 'coordinator');
    const next = first.body.link!.find((l) => l.relation === 'next')!.url;
    expect((await get(next, 'otherCoordinator')).status).toBe(410);
    expect((await get(next, 'coordinator')).status).toBe(200);
  });

  it('_since keeps what changed after it; _type the listed types; start/end the care dates', async () => {
    const before = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await seed({ resourceType: 'Flag', id: 'flag-a', status: 'inactive', code: { text: 'Sortie un vendredi' }, subject: { reference: 'Patient/pat-a' } });
    expect(refs((await get(`/fhir/Patient/pat-a/$everything?_since=${encodeURIComponent(before)}`, 'coordinator')).body)).toEqual(['Flag/flag-a']);
    expect(refs((await get('/fhir/Patient/pat-a/$everything?_type=Patient,Observation', 'coordinator')).body)).toEqual(['Patient/pat-a', 'Observation/obs-a-2019', 'Observation/obs-a-2024']);
    const dated = refs((await get('/fhir/Patient/pat-a/$everything?start=2024-01-01&end=2024-12-31&_type=Observation,Encounter,Condition', 'coordinator')).body);
    // Observations and Encounters are filtered on their care date; Condition has no `date` parameter, so it stays.
    expect(dated).toEqual(['Condition/cond-a', 'Encounter/enc-a', 'Observation/obs-a-2024']);
  });

  it('bad parameters are a 400; an unknown patient a 404', async () => {
    for (const url of ['/fhir/Patient/pat-a/$everything?start=yesterday', '/fhir/Patient/pat-a/$everything?_since=2024-01-01', '/fhir/Patient/pat-a/$everything?_type=Nope', '/fhir/Patient/pat-a/$everything?_count=0', '/fhir/Patient/pat-a/$everything?colour=blue']) {
      const { status, body } = await get(url, 'coordinator');
      expect(status, url).toBe(400);
      expect(body.resourceType).toBe('OperationOutcome');
    }
    expect((await get('/fhir/Patient/nobody/$everything', 'coordinator')).status).toBe(404);
  });

  it('a nurse sees her patient\'s record as her access allows, and nothing of another patient; audited like a search', async () => {
    const { status, body, requestId } = await get('/fhir/Patient/pat-a/$everything', 'nurse');
    expect(status).toBe(200);
    expect(refs(body)).not.toContain('Communication/com-ab');
    expect(new Set(refs(body))).toEqual(new Set(RECORD_A));
    expect(body.total).toBe(RECORD_A.length);
    expect((await get('/fhir/Patient/pat-b/$everything', 'nurse')).status).toBe(404);
    const audits = (await server.ctx.engine.asServer('test setup').search('AuditEvent', [['_count', '1000']])).entry!.map((e) => e.resource as AuditEvent).filter((e) => e.source.site === requestId);
    const listing = audits.find((e) => e.subtype?.[0].code === 'search-system')!;
    expect(listing).toBeDefined();
    expect(listing.entity!.filter((x) => x.what?.reference?.startsWith('Patient/')).map((x) => x.what!.reference)).toEqual(['Patient/pat-a']);
    expect(Buffer.from(listing.entity!.find((x) => x.query)!.query!, 'base64').toString()).toContain('Patient/pat-a/$everything');
  });
});
