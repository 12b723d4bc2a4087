/**
 * Authorship is the caller's (issue 11): what a practitioner writes names
 * them — their Practitioner, one of their PractitionerRoles, their
 * organisation, or their RPPS — as its author, sender or requester; naming
 * another professional is refused (422, naming the element) and nothing is
 * stored. The patient or a relative may be named (what the patient said or
 * asked). A coordinator may write on someone's behalf: the AuditEvent records
 * whom the write names.
 */
import type { AuditEvent, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const NURSE_RPPS = '10000000001';
const OTHER_RPPS = '10000000002';
let server: TestServer;
let nurse: string;
let coordinator: string;
const { call, auditsOf } = authenticatedRequests(() => server, 'author');

const patient = { reference: 'Patient/pat-a' };
/** One body per author-like element, the element set to `who`. */
const WRITES: Array<{ element: string; body: (who: object) => Resource }> = [
  { element: 'Communication.sender', body: (who) => ({ resourceType: 'Communication', status: 'completed', subject: patient, sender: who, payload: [{ contentString: 'Passage fait' }] }) as Resource },
  { element: 'QuestionnaireResponse.author', body: (who) => ({ resourceType: 'QuestionnaireResponse', status: 'completed', subject: patient, author: who }) as Resource },
  { element: 'Flag.author', body: (who) => ({ resourceType: 'Flag', status: 'active', code: { text: 'Chute' }, subject: patient, author: who }) as Resource },
  { element: 'Task.requester', body: (who) => ({ resourceType: 'Task', status: 'requested', intent: 'order', for: patient, requester: who }) as Resource },
  { element: 'CarePlan.author', body: (who) => ({ resourceType: 'CarePlan', status: 'active', intent: 'plan', subject: patient, author: who }) as Resource },
  { element: 'ServiceRequest.requester', body: (who) => ({ resourceType: 'ServiceRequest', status: 'active', intent: 'order', subject: patient, requester: who }) as Resource },
];

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', ...STRUCTURE_ONLY });
  nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  const seed = server.ctx.engine.asServer('test setup');
  const resources: Resource[] = [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Practitioner', id: 'pr-other', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: OTHER_RPPS }] },
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' },
    { resourceType: 'Organization', id: 'org-other', name: 'Cabinet voisin' },
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'PractitionerRole', id: 'role-other', practitioner: { reference: 'Practitioner/pr-other' }, organization: { reference: 'Organization/org-other' } },
    { resourceType: 'Contract', id: 'convention', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] },
    { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] },
    {
      resourceType: 'Consent',
      id: 'consent-a',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient,
      performer: [patient],
      provision: { type: 'permit' },
    },
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: patient, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
    { resourceType: 'Task', id: 'task-from-coordination', status: 'requested', intent: 'order', for: patient, requester: { reference: 'Organization/org-other' } },
  ] as unknown as Resource[];
  for (const resource of resources) await seed.update(resource.resourceType, resource.id!, resource);
});
afterAll(async () => server.close());

describe('a practitioner writes as herself', () => {
  it.each(WRITES)('refuses $element naming another professional (422, the element named), and stores nothing', async ({ element, body }) => {
    for (const other of [{ reference: 'Practitioner/pr-other' }, { reference: 'PractitionerRole/role-other' }, { reference: 'Organization/org-other' }, { identifier: { system: 'https://rpps.esante.gouv.fr', value: OTHER_RPPS } }, { display: 'Dr Quelqu\'un' }]) {
      const resource = body(other);
      const { response, requestId } = await call(nurse, 'POST', `/fhir/${resource.resourceType}`, resource);
      expect(response.statusCode, `${element} ${JSON.stringify(other)}`).toBe(422);
      expect(response.json().issue[0].expression).toEqual([element]);
      expect((await auditsOf(requestId)).map((e) => e.outcome)).toEqual(['4']);
    }
  });

  it.each(WRITES)('accepts $element naming her Practitioner, her role, her organisation or her RPPS', async ({ element, body }) => {
    for (const self of [{ reference: 'Practitioner/pr-nurse' }, { reference: 'PractitionerRole/role-nurse' }, { reference: 'Organization/org-ssiad' }, { identifier: { system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS } }]) {
      const resource = body(self);
      const { response } = await call(nurse, 'POST', `/fhir/${resource.resourceType}`, resource);
      expect(response.statusCode, `${element} ${JSON.stringify(self)}: ${response.body}`).toBe(201);
    }
  });

  it('may name the patient as a message\'s sender (she records what the patient said)', async () => {
    const { response } = await call(nurse, 'POST', '/fhir/Communication', WRITES[0].body(patient));
    expect(response.statusCode).toBe(201);
  });

  it('may update what someone else requested, without becoming its requester, but not change the requester to another', async () => {
    const current = (await server.ctx.engine.asServer('test setup').read('Task', 'task-from-coordination')).resource!;
    const accepted = await call(nurse, 'PUT', '/fhir/Task/task-from-coordination', { ...current, status: 'accepted' });
    expect(accepted.response.statusCode, accepted.response.body).toBe(200);
    const moved = await call(nurse, 'PUT', '/fhir/Task/task-from-coordination', { ...current, status: 'accepted', requester: { reference: 'Practitioner/pr-other' } });
    expect(moved.response.statusCode).toBe(422);
  });
});

describe('a coordinator writes on behalf of others', () => {
  it('is allowed, and the AuditEvent names whom the write names as its author', async () => {
    const { response, requestId } = await call(coordinator, 'POST', '/fhir/Communication', WRITES[0].body({ reference: 'Practitioner/pr-other' }));
    expect(response.statusCode).toBe(201);
    const [event] = (await auditsOf(requestId)) as AuditEvent[];
    const authors = event.agent.filter((a) => a.type?.coding?.[0].code === 'AUT');
    expect(authors.map((a) => a.who?.reference)).toEqual(['Practitioner/pr-other']);
    expect(event.agent[0].requestor).toBe(true);
  });
});
