/**
 * Issue 14, "The nurse-first chain", over HTTP with the nurses' own tokens
 * (fixtures/stories/02 and 03). The nurse asked sees her request and the
 * minimum data to decide as soon as it exists — before any consent, care team
 * or adhésion — through a grant limited to that request, audited as such;
 * she answers it (only its answer); accepting ticks "nurse confirmed";
 * taking up (or declining) the support offered is hers; declining with a
 * reason makes Relais rank other nurses for the whole discharge, open the
 * next Task with the offers, and alert the coordination team.
 */
import type { AuditEvent, Bundle, Communication, Parameters, Task } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, coordinationOf, matches, replay, TASK_TYPE, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
const tokens: Record<string, string> = {};

async function call(token: string, method: 'GET' | 'PUT' | 'PATCH', url: string, body?: unknown, requestId?: string) {
  const response = await server.app.inject({
    method,
    url,
    headers: {
      authorization: `Bearer ${token}`,
      ...(requestId ? { 'x-request-id': requestId } : {}),
      ...(body !== undefined ? { 'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json' } : {}),
    },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}

const teamMessages = async (encounter: string) =>
  (await all<Communication>(server, 'Communication', [['encounter', encounter]])).filter((c) => c.identifier?.some((i) => i.system === 'https://relais-sante.fr/fhir/sid/coordination-message'));

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
  tokens.sophie = await tokenFor(server, { role: 'nurse', rpps: '10100000033' });
  tokens.claire = await tokenFor(server, { role: 'nurse', rpps: '10100000011' });
  tokens.coordinator = await tokenFor(server, { role: 'coordinator', sub: 'coordinatrice-dac' });
});
afterAll(async () => server.close());

describe('the patient\'s own nurse is asked first', () => {
  it('sees her requests and the minimum data to decide at once — no consent, no care team, no adhésion yet — and nothing else', async () => {
    const results = await replay(server, '02-own-nurse-answers.json', 'her-requests');
    const listed = results.get('her-requests')!.body as Bundle;
    const mine = matches<Task>(listed);
    expect(mine.map((t) => t.code!.coding![0].code).sort()).toEqual(['nurse-acceptance', 'nurse-support', 'nurse-support']);
    // Her requests name the patient, the stay and the orders of the acts offered support: included, readable.
    const included = (listed.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => e.resource!.resourceType).sort();
    expect(included).toEqual(['Encounter', 'Patient', 'ServiceRequest', 'ServiceRequest']);
    const c = await coordinationOf(server, 'NDA-2026-000202');
    const accept = mine.find((t) => t.code!.coding![0].code === 'nurse-acceptance')!;
    expect((await call(tokens.sophie, 'GET', `/fhir/Task/${accept.id}`, undefined, 'sophie-reads-request')).status).toBe(200);
    const order = accept.input!.find((i) => i.type.text === 'order')!.valueReference!.reference!;
    expect((await call(tokens.sophie, 'GET', `/fhir/${order}`)).status).toBe(200);
    // The grant is the request's: it is recorded in the AuditEvent of the access.
    const [audit] = (await all<AuditEvent>(server, 'AuditEvent', [])).filter((e) => e.source.site === 'sophie-reads-request');
    expect(audit.entity!.some((e) => e.what?.reference === `Task/${accept.id}` && e.role?.code === '13')).toBe(true);
    expect(audit.outcomeDesc).toContain('request grant');
    // Not the coordination Task, the alerts, the letter: 404 as an unknown id; nothing in searches.
    expect((await call(tokens.sophie, 'GET', `/fhir/Task/${c.task.id}`)).status).toBe(404);
    for (const flag of Object.values(c.flags)) expect((await call(tokens.sophie, 'GET', `/fhir/Flag/${flag.id}`)).status).toBe(404);
    const letters = await call(tokens.sophie, 'GET', `/fhir/DocumentReference?encounter=${c.encounter}&_total=accurate`);
    expect(letters.body.total).toBe(0);
    // Another nurse sees none of it.
    expect((await call(tokens.claire, 'GET', `/fhir/Task/${accept.id}`)).status).toBe(404);
  });

  it('answers her requests, and only that: the team is told of each answer; accepting ticks "nurse confirmed"', async () => {
    const c = await coordinationOf(server, 'NDA-2026-000202');
    expect(c.checklist['nurse-confirmed']).toBe('to-do');
    const support = c.nurseTasks.filter((t) => t.code?.coding?.[0].code === 'nurse-support');
    expect(support.every((t) => t.owner?.reference === 'PractitionerRole/role-sophie-lambert')).toBe(true);
    // She may not rewrite her request (its patient, its owner): 403.
    const accept = c.nurseTasks.find((t) => t.code?.coding?.[0].code === 'nurse-acceptance')!;
    const rewrite = await call(tokens.sophie, 'PATCH', `/fhir/Task/${accept.id}`, [{ op: 'replace', path: '/owner', value: { reference: 'PractitionerRole/role-claire-moreau' } }]);
    expect(rewrite.status).toBe(403);
    // Accepting a support needs the option chosen; declining needs a reason (422, nothing written).
    const insulin = `/fhir/Task?code=${TASK_TYPE}|nurse-support&owner=PractitionerRole/role-sophie-lambert&input-value=https://relais-sante.fr/fhir/CodeSystem/relais-technical-acts|insulin-injection`;
    expect((await call(tokens.sophie, 'PATCH', insulin, [{ op: 'replace', path: '/status', value: 'accepted' }])).status).toBe(422);
    const glucose = `/fhir/Task?code=${TASK_TYPE}|nurse-support&owner=PractitionerRole/role-sophie-lambert&input-value=https://relais-sante.fr/fhir/CodeSystem/relais-technical-acts|blood-glucose-monitoring`;
    const noReason = await call(tokens.sophie, 'PATCH', glucose, [{ op: 'replace', path: '/status', value: 'rejected' }]);
    expect(noReason.status).toBe(422);
    expect(noReason.body.issue[0].expression).toEqual(['Task.statusReason']);
    expect(await teamMessages(c.encounter)).toHaveLength(0);

    await replay(server, '02-own-nurse-answers.json', 'accept');
    const after = await coordinationOf(server, 'NDA-2026-000202');
    expect(after.checklist['nurse-confirmed']).toBe('done');
    const byAct = Object.fromEntries(after.nurseTasks.filter((t) => t.code?.coding?.[0].code === 'nurse-support').map((t) => [t.input![0].valueCodeableConcept!.coding![0].code, t.status]));
    expect(byAct).toEqual({ 'insulin-injection': 'accepted', 'blood-glucose-monitoring': 'rejected' });
    const told = (await teamMessages(after.encounter)).map((m) => m.payload![0].contentString!);
    expect(told).toHaveLength(3);
    expect(told.join('\n')).toContain('Mme Sophie LAMBERT accepte un conseil téléphonique pour injection d\'insuline');
    expect(told.join('\n')).toContain('décline l\'accompagnement proposé pour surveillance glycémique');
    expect(told.join('\n')).toContain('accepte la prise en charge du retour à domicile');
  });
});

describe('the patient\'s own nurse declines', () => {
  it('declining needs a reason; then Relais ranks other nurses for the whole discharge, opens the next Task and alerts the team', async () => {
    await replay(server, '03-own-nurse-declines.json', 'announce');
    const before = await coordinationOf(server, 'NDA-2026-000303');
    const accept = before.nurseTasks.find((t) => t.code?.coding?.[0].code === 'nurse-acceptance')!;
    expect(accept.owner?.reference).toBe('PractitionerRole/role-claire-moreau');
    // The patient's own nurse comes first: no one else is proposed while she has not answered.
    const order = accept.input!.find((i) => i.type.text === 'order')!.valueReference!.reference!;
    expect((await call(tokens.coordinator, 'GET', `/fhir/${order}/$find-professionals`)).status).toBe(422);
    expect((await call(tokens.claire, 'PUT', `/fhir/Task/${accept.id}`, { ...accept, status: 'rejected' })).status).toBe(422);

    const results = await replay(server, '03-own-nurse-declines.json');
    const c = await coordinationOf(server, 'NDA-2026-000303');
    expect(c.checklist['nurse-confirmed']).toBe('to-do');
    // Her support offers lapse.
    expect(c.nurseTasks.filter((t) => t.code?.coding?.[0].code === 'nurse-support').map((t) => t.status)).toEqual(['cancelled', 'cancelled']);
    // The next Task: the offers ranked for the whole discharge (PICC line and infusion), without her.
    const [next] = matches<Task>(results.get('next-task')!.body);
    expect(next.basedOn![0].reference).toBe(`Task/${accept.id}`);
    expect(next.description).toContain('Je ne pratique pas les PICC line');
    const proposed = next.input!.filter((i) => i.type.text === 'candidate').map((i) => i.valueReference!.reference);
    expect(proposed.length).toBeGreaterThan(0);
    expect(proposed).not.toContain('PractitionerRole/role-claire-moreau');
    expect(next.input![0].valueReference!.display).toMatch(/maîtrise les 2 actes prescrits/);
    // The team is alerted, urgently.
    const told = (await teamMessages(c.encounter)).filter((m) => m.priority === 'urgent');
    expect(told.map((m) => m.payload![0].contentString).join()).toContain('Mme Claire MOREAU décline la prise en charge');
    // Now someone else may be looked for, never her.
    const ranked = await call(tokens.coordinator, 'GET', `/fhir/${order}/$find-professionals`);
    expect(ranked.status).toBe(200);
    const roles = (ranked.body as Parameters).parameter!.filter((p) => p.name === 'candidate').flatMap((p) => p.part!.filter((x) => x.name === 'practitionerRole').map((x) => x.valueReference!.reference));
    expect(roles).not.toContain('PractitionerRole/role-claire-moreau');
    // Her request is closed: she still reads it, no longer the patient it named.
    expect((await call(tokens.claire, 'GET', `/fhir/Task/${accept.id}`)).status).toBe(200);
    expect((await call(tokens.claire, 'GET', `/fhir/${accept.for!.reference}`)).status).toBe(404);
  });
});
