/**
 * Issue 14, the rest of the coordination record, over HTTP with each role's
 * token:
 * - the multidisciplinary evaluation is checked against its Questionnaire on
 *   write and by $validate (linkIds, required groups and items, answer types
 *   and options, enableWhen), and carries the GIR, the satisfaction with the
 *   home-help plan and who contributed each domain;
 * - the right to risk is structured and searchable (what risk, accepted by
 *   whom, when, after which concertation, who carries what);
 * - escalation to case management is a coded request that opens its
 *   EpisodeOfCare, asks the coordination team and tells the care team;
 * - a service with a signed convention listed in the care team covers its staff.
 */
import type { Bundle, Communication, EpisodeOfCare, OperationOutcome, QuestionnaireResponse, RiskAssessment, Task } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerInDirectory } from '../helpers/authenticated-requests.js';
import { all, coordinationOf, fixturePath, matches, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const R = 'https://relais-sante.fr/fhir';
const EVALUATION = `${R}/Questionnaire/relais-multidisciplinary-evaluation`;
let server: TestServer;
let patient: string;
let team: string;
const tokens: Record<string, string> = {};

async function call(token: string, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) {
  const response = await server.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}

const consent = (subject: string) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
  category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
  patient: { reference: subject },
  performer: [{ reference: subject }],
  policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
  provision: { type: 'permit' },
});
const agreement = (party: string, type: 'adhesion' | 'convention', status = 'executed') => ({
  resourceType: 'Contract',
  status,
  type: { coding: [{ system: `${R}/CodeSystem/relais-contract-type`, code: type }] },
  subject: [{ reference: party }],
  applies: { start: '2026-01-01' },
});

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
  tokens.coordinator = await tokenFor(server, { role: 'coordinator', sub: 'coordinatrice-dac' });
  expect((await call(tokens.coordinator, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath('directory-touraine.json'), 'utf8')))).status).toBe(200);
  tokens.hospital = await tokenFor(server, { role: 'hospital', finess: '370099992', client: 'dpi-chu-fictif' });
  expect((await call(tokens.hospital, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath('discharges/01-stoma-ambulatory-surgery.json'), 'utf8')))).status).toBe(200);
  patient = (await coordinationOf(server, 'NDA-2026-000101')).task.for!.reference!;
  // Claire Moreau is habilitated: the patient's consent, her adhésion, the network's care team.
  expect((await call(tokens.coordinator, 'POST', '/fhir/Consent', consent(patient))).status).toBe(201);
  expect((await call(tokens.coordinator, 'POST', '/fhir/Contract', agreement('Practitioner/pr-claire-moreau', 'adhesion'))).status).toBe(201);
  const careTeam = await call(tokens.coordinator, 'POST', '/fhir/CareTeam', { resourceType: 'CareTeam', status: 'active', subject: { reference: patient }, participant: [{ member: { reference: 'PractitionerRole/role-claire-moreau' } }] });
  team = careTeam.body.id;
  tokens.claire = await tokenFor(server, { role: 'nurse', rpps: '10100000011' });
});
afterAll(async () => server.close());

const evaluation = (items: QuestionnaireResponse['item'], status: QuestionnaireResponse['status'] = 'completed'): QuestionnaireResponse => ({
  resourceType: 'QuestionnaireResponse',
  questionnaire: EVALUATION,
  status,
  subject: { reference: patient },
  author: { reference: 'Practitioner/pr-claire-moreau' },
  authored: '2026-12-07',
  item: items,
});
const answer = (linkId: string, value: Record<string, unknown>) => ({ linkId, answer: [value] });
const domain = (linkId: string, ...items: Array<{ linkId: string; answer: unknown[] }>) => ({ linkId, item: [answer(`${linkId}.summary`, { valueString: `Synthèse ${linkId}` }), ...items] }) as NonNullable<QuestionnaireResponse['item']>[number];

describe('the multidisciplinary evaluation answers its Questionnaire', () => {
  it('an invented domain and none of the required groups: refused on write (422, nothing stored) and reported by $validate', async () => {
    const invented = evaluation([{ linkId: 'mood', item: [answer('mood.summary', { valueString: 'Triste' })] }]);
    const refused = await call(tokens.claire, 'POST', '/fhir/QuestionnaireResponse', invented);
    expect(refused.status).toBe(422);
    const problems = (refused.body as OperationOutcome).issue.map((i) => i.diagnostics).join('\n');
    expect(problems).toContain("linkId 'mood' is not an item");
    for (const required of ['health', 'autonomy', 'social']) expect(problems).toContain(`'${required}'`);
    expect(await all(server, 'QuestionnaireResponse', [])).toHaveLength(0);
    const checked = await call(tokens.claire, 'POST', '/fhir/QuestionnaireResponse/$validate', invented);
    expect(checked.status).toBe(200);
    expect((checked.body as OperationOutcome).issue.filter((i) => i.severity === 'error').length).toBeGreaterThanOrEqual(4);
  });

  it('wrong answer types, an option that is not offered, an answer its enableWhen disables: each located', async () => {
    const wrong = evaluation([
      domain('health', answer('health.concern', { valueString: 'oui' })),
      domain('autonomy', answer('autonomy.concern', { valueBoolean: false }), answer('autonomy.concern-detail', { valueString: 'Chutes' }), answer('autonomy.gir', { valueCoding: { system: 'https://example.org/autre-grille', code: 'A' } })),
      domain('social'),
    ]);
    const refused = await call(tokens.claire, 'POST', '/fhir/QuestionnaireResponse', wrong);
    expect(refused.status).toBe(422);
    const where = Object.fromEntries((refused.body as OperationOutcome).issue.map((i) => [i.expression![0], i.code]));
    expect(where).toEqual({
      'QuestionnaireResponse.item[0].item[1].answer[0].valueString': 'invalid',
      'QuestionnaireResponse.item[1].item[2]': 'business-rule',
      'QuestionnaireResponse.item[1].item[3].answer[0].valueCoding': 'code-invalid',
    });
  });

  it('a complete evaluation with the GIR, the satisfaction with the home-help plan and who contributed is stored; an evaluation in progress may be partial', async () => {
    const complete = evaluation([
      domain('health', answer('health.contributor', { valueReference: { reference: 'Practitioner/pr-claire-moreau' } })),
      domain('autonomy', answer('autonomy.concern', { valueBoolean: true }), answer('autonomy.concern-detail', { valueString: 'Chutes la nuit' }), answer('autonomy.gir', { valueCoding: { system: `${R}/CodeSystem/relais-gir`, code: '4', display: 'GIR 4' } })),
      domain('social'),
      domain('home-help-plan', answer('home-help-plan.satisfaction', { valueString: 'Partiellement satisfait' })),
    ]);
    const stored = await call(tokens.claire, 'POST', '/fhir/QuestionnaireResponse', complete);
    expect(stored.status, JSON.stringify(stored.body)).toBe(201);
    const checked = await call(tokens.claire, 'GET', `/fhir/QuestionnaireResponse/${stored.body.id}/$validate`);
    expect((checked.body as OperationOutcome).issue.filter((i) => i.severity === 'error')).toEqual([]);
    expect((await call(tokens.claire, 'POST', '/fhir/QuestionnaireResponse', evaluation([domain('health')], 'in-progress'))).status).toBe(201);
  });
});

describe('the right to risk', () => {
  const acceptance = (extra: Partial<RiskAssessment> = {}, acceptedBy = true): RiskAssessment => ({
    resourceType: 'RiskAssessment',
    meta: { profile: [`${R}/StructureDefinition/relais-risk-acceptance`] },
    extension: [
      ...(acceptedBy
        ? [
            { url: `${R}/StructureDefinition/relais-risk-accepted-by`, valueReference: { reference: patient } },
            { url: `${R}/StructureDefinition/relais-risk-accepted-by`, valueReference: { reference: `RelatedPerson/${relatedPerson}` } },
          ]
        : []),
      { url: `${R}/StructureDefinition/relais-risk-responsibility`, extension: [{ url: 'party', valueReference: { reference: 'PractitionerRole/role-claire-moreau' } }, { url: 'for', valueString: "Vérifier chaque matin le port du bracelet d'alerte" }] },
      { url: `${R}/StructureDefinition/relais-risk-responsibility`, extension: [{ url: 'party', valueReference: { reference: `RelatedPerson/${relatedPerson}` } }, { url: 'for', valueString: 'Appeler chaque soir' }] },
    ],
    status: 'final',
    code: { coding: [{ system: `${R}/CodeSystem/relais-risk-assessment-type`, code: 'accepted-risk' }] },
    subject: { reference: patient },
    occurrenceDateTime: '2026-12-03T15:00:00+01:00',
    basis: [{ reference: `Appointment/${meeting}` }],
    prediction: [{ outcome: { text: 'Chute à domicile la nuit, seule' }, rationale: 'Refuse la téléassistance nocturne et l\'entrée en EHPAD' }],
    mitigation: 'Bracelet d\'alerte, veilleuse, appel du soir',
    ...extra,
  });
  let relatedPerson: string;
  let meeting: string;

  it('is recorded as structured data (what, accepted by whom, when, after which concertation, who carries what) and found by patient, status and who accepted it', async () => {
    relatedPerson = (await all(server, 'RelatedPerson', [['patient', patient]]))[0].id!;
    const appointment = await call(tokens.coordinator, 'POST', '/fhir/Appointment', {
      resourceType: 'Appointment',
      status: 'fulfilled',
      description: 'Réunion de concertation au domicile',
      start: '2026-12-03T14:00:00+01:00',
      end: '2026-12-03T15:00:00+01:00',
      participant: [{ actor: { reference: patient }, status: 'accepted' }, { actor: { reference: `RelatedPerson/${relatedPerson}` }, status: 'accepted' }],
    });
    expect(appointment.status, JSON.stringify(appointment.body)).toBe(201);
    meeting = appointment.body.id;
    expect((await call(tokens.coordinator, 'POST', '/fhir/RiskAssessment', acceptance({}, false))).status).toBe(422);
    const recorded = await call(tokens.coordinator, 'POST', '/fhir/RiskAssessment', acceptance());
    expect(recorded.status, JSON.stringify(recorded.body)).toBe(201);
    await call(tokens.coordinator, 'POST', '/fhir/RiskAssessment', acceptance({ status: 'cancelled', prediction: [{ outcome: { text: 'Ancien risque retiré' } }] }));
    const kind = `${R}/CodeSystem/relais-risk-assessment-type|accepted-risk`;
    // The care team finds the accepted risks in force for the patient.
    const inForce = matches<RiskAssessment>((await call(tokens.claire, 'GET', `/fhir/RiskAssessment?patient=${patient}&status=final&code=${kind}`)).body);
    expect(inForce.map((r) => r.id)).toEqual([recorded.body.id]);
    const byFamily = matches<RiskAssessment>((await call(tokens.coordinator, 'GET', `/fhir/RiskAssessment?accepted-by=RelatedPerson/${relatedPerson}&status=final`)).body);
    expect(byFamily.map((r) => r.id)).toEqual([recorded.body.id]);
    // The PPS goal refers to it.
    const goal = await call(tokens.coordinator, 'POST', '/fhir/Goal', {
      resourceType: 'Goal',
      extension: [{ url: `${R}/StructureDefinition/relais-accepted-risk`, valueReference: { reference: `RiskAssessment/${recorded.body.id}` } }],
      lifecycleStatus: 'active',
      description: { text: 'Rester à domicile' },
      subject: { reference: patient },
    });
    expect(goal.status, JSON.stringify(goal.body)).toBe(201);
  });
});

describe('escalation to case management', () => {
  it('a coded request opens the EpisodeOfCare, asks the coordination team and tells the care team; the episode follows the Task and the request', async () => {
    const request = await call(tokens.claire, 'POST', '/fhir/ServiceRequest', {
      resourceType: 'ServiceRequest',
      status: 'active',
      intent: 'order',
      code: { coding: [{ system: `${R}/CodeSystem/relais-graded-response`, code: 'case-management', display: 'Gestion de cas' }] },
      subject: { reference: patient },
      requester: { reference: 'PractitionerRole/role-claire-moreau', display: 'Mme Claire MOREAU' },
      reasonCode: [{ text: 'Chutes répétées, refus des aides, aidante épuisée' }],
    });
    expect(request.status, JSON.stringify(request.body)).toBe(201);
    const [episode] = await all<EpisodeOfCare>(server, 'EpisodeOfCare', [['patient', patient]]);
    expect(episode.status).toBe('waitlist');
    expect(episode.type![0].coding![0]).toMatchObject({ system: `${R}/CodeSystem/relais-graded-response`, code: 'case-management' });
    expect(episode.referralRequest![0].reference).toBe(`ServiceRequest/${request.body.id}`);
    const [task] = await all<Task>(server, 'Task', [['based-on', `ServiceRequest/${request.body.id}`]]);
    expect(task.code!.coding![0].code).toBe('case-management');
    expect(task.description).toContain('aidante épuisée');
    // Told: in the coordinator's inbox, and the care team's (Claire's).
    const told = matches<Communication>((await call(tokens.coordinator, 'GET', '/fhir/Communication/$inbox?status=unread&_count=100')).body).filter((m) => m.about?.some((a) => a.reference === `Task/${task.id}`));
    expect(told).toHaveLength(1);
    expect(told[0].recipient!.map((r) => r.reference)).toContain(`CareTeam/${team}`);
    const claireInbox = matches<Communication>((await call(tokens.claire, 'GET', '/fhir/Communication/$inbox')).body);
    expect(claireInbox.map((m) => m.id)).toContain(told[0].id);
    // A case manager takes it: the episode becomes active with its care manager.
    const manager = await call(tokens.coordinator, 'POST', '/fhir/PractitionerRole', {
      resourceType: 'PractitionerRole',
      active: true,
      practitioner: { reference: 'Practitioner/pr-marc-robert' },
      organization: { reference: 'Organization/dac-touraine' },
    });
    const taken = await call(tokens.coordinator, 'PUT', `/fhir/Task/${task.id}`, { ...task, status: 'accepted', owner: { reference: `PractitionerRole/${manager.body.id}` } });
    expect(taken.status, JSON.stringify(taken.body)).toBe(200);
    let [now] = await all<EpisodeOfCare>(server, 'EpisodeOfCare', [['patient', patient]]);
    expect(now.status).toBe('active');
    expect(now.careManager!.reference).toBe(`PractitionerRole/${manager.body.id}`);
    // The situation settles: the request is completed, the episode finished, its history kept.
    const done = await call(tokens.coordinator, 'PUT', `/fhir/ServiceRequest/${request.body.id}`, { ...request.body, status: 'completed' });
    expect(done.status).toBe(200);
    [now] = await all<EpisodeOfCare>(server, 'EpisodeOfCare', [['patient', patient]]);
    expect(now.status).toBe('finished');
    expect(now.statusHistory!.map((h) => h.status)).toEqual(['waitlist', 'active', 'finished']);
    expect(now.period!.end).toBeDefined();
    // Still one episode, one Task, one notice.
    expect(await all(server, 'EpisodeOfCare', [['patient', patient]])).toHaveLength(1);
    expect(await all(server, 'Task', [['based-on', `ServiceRequest/${request.body.id}`]])).toHaveLength(1);
  });
});

describe('a service in the care team covers its staff', () => {
  it('a SSIAD with an executed convention, listed in the care team, opens the record to the nurses of its PractitionerRoles, and only while its convention holds', async () => {
    const rpps = '10100000123';
    await registerInDirectory(server, { rpps: [rpps] });
    const [practitioner] = await all(server, 'Practitioner', [['identifier', `https://rpps.esante.gouv.fr|${rpps}`]]);
    const role = await call(tokens.coordinator, 'POST', '/fhir/PractitionerRole', {
      resourceType: 'PractitionerRole',
      active: true,
      practitioner: { reference: `Practitioner/${practitioner.id}` },
      organization: { reference: 'Organization/ssiad-tours-sud' },
      code: [{ coding: [{ system: 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante', code: '60' }] }],
    });
    expect(role.status).toBe(201);
    const staff = await tokenFor(server, { role: 'nurse', rpps });
    const observation = await call(tokens.claire, 'POST', '/fhir/Observation', { resourceType: 'Observation', status: 'final', code: { text: 'Glycémie capillaire' }, subject: { reference: patient }, valueQuantity: { value: 1.32, unit: 'g/L' } });
    expect(observation.status).toBe(201);
    // Listed in the care team, without a convention: nothing.
    const careTeam = (await call(tokens.coordinator, 'GET', `/fhir/CareTeam/${team}`)).body;
    expect((await call(tokens.coordinator, 'PUT', `/fhir/CareTeam/${team}`, { ...careTeam, participant: [...careTeam.participant, { member: { reference: 'Organization/ssiad-tours-sud' } }] })).status).toBe(200);
    expect((await call(staff, 'GET', `/fhir/${patient}`)).status).toBe(404);
    // The convention signed: its staff reach the record, in reads and searches.
    const convention = await call(tokens.coordinator, 'POST', '/fhir/Contract', agreement('Organization/ssiad-tours-sud', 'convention'));
    expect(convention.status).toBe(201);
    expect((await call(staff, 'GET', `/fhir/${patient}`)).status).toBe(200);
    expect(matches((await call(staff, 'GET', `/fhir/Observation?patient=${patient}`)).body).map((o) => o.id)).toEqual([observation.body.id]);
    // Another service's staff do not.
    const other = await tokenFor(server, { role: 'nurse', rpps: '10100000044' });
    expect((await call(other, 'GET', `/fhir/${patient}`)).status).toBe(404);
    // The convention ends: access ends on the next request.
    expect((await call(tokens.coordinator, 'PUT', `/fhir/Contract/${convention.body.id}`, { ...convention.body, status: 'terminated' })).status).toBe(200);
    expect((await call(staff, 'GET', `/fhir/${patient}`)).status).toBe(404);
    expect((await call(staff, 'GET', `/fhir/Observation?patient=${patient}&_total=accurate`)).body.total).toBe(0);
  });
});

export type { Bundle };
