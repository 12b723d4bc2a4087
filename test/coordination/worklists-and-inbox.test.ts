/**
 * Issue 14, "Worklists": the coordination cell lists its work with the
 * network's SearchParameters (Flag status, category, period; Task checklist
 * items by type and value; Communication priority), and each reader has an
 * inbox — messages addressed to her, her role, her organisation or a care
 * team she belongs to — with her own read receipts. Over HTTP with the
 * coordinators' and a nurse's tokens.
 */
import type { Bundle, Communication, Flag, Task } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, coordinationOf, fixturePath, matches, replay, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const CHECKLIST = 'https://relais-sante.fr/fhir/CodeSystem/relais-discharge-checklist';
const CATEGORY = 'https://relais-sante.fr/fhir/CodeSystem/relais-communication-category';
let server: TestServer;
const tokens: Record<string, string> = {};

async function call(token: string, method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await server.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}
const list = async <T extends { id?: string }>(token: string, query: string) => {
  const result = await call(token, 'GET', `/fhir/${query}`);
  expect(result.status, JSON.stringify(result.body).slice(0, 300)).toBe(200);
  return { resources: matches(result.body) as unknown as T[], bundle: result.body as Bundle };
};

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
  tokens.coordinator = await tokenFor(server, { role: 'coordinator', sub: 'coordinatrice-dac' });
  tokens.colleague = await tokenFor(server, { role: 'coordinator', sub: 'coordinateur-dac' });
  tokens.claire = await tokenFor(server, { role: 'nurse', rpps: '10100000011' });
  tokens.hospital = await tokenFor(server, { role: 'hospital', finess: '370099992', client: 'dpi-chu-fictif' });
  await replay(server, '01-friday-evening-discharge.json', 'missing-items-sent');
  for (const name of ['01-stoma-ambulatory-surgery.json', '04-frail-rural-no-nurse.json']) {
    expect((await call(tokens.hospital, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath(`discharges/${name}`), 'utf8')))).status).toBe(200);
  }
});
afterAll(async () => server.close());

describe('the coordination cell\'s worklists', () => {
  it('alerts by status, category and period', async () => {
    const flags = await all<Flag>(server, 'Flag', []);
    const active = await list<Flag>(tokens.coordinator, 'Flag?status=active&category=http://terminology.hl7.org/CodeSystem/flag-category|admin&_count=100');
    expect(active.resources.map((f) => f.id).sort()).toEqual(flags.filter((f) => f.status === 'active').map((f) => f.id).sort());
    const closed = await list<Flag>(tokens.coordinator, 'Flag?status=inactive');
    expect(closed.resources.map((f) => f.identifier![0].value!.split('-').slice(1).join('-'))).toEqual(['missing-items']);
    // Alerts whose period reaches past the Friday-evening follow-up: the open ones, and the one closed since.
    const recent = await list<Flag>(tokens.coordinator, `Flag?period=ge${new Date(Date.now() - 3600_000).toISOString()}&_count=100`);
    expect(recent.resources.length).toBe(flags.length);
    expect((await list<Flag>(tokens.coordinator, 'Flag?period=lt2020-01-01')).resources).toHaveLength(0);
  });

  it('discharges by checklist item and status: whose family is not informed, whose letter is missing', async () => {
    const family = await list<Task>(tokens.coordinator, `Task?input=${CHECKLIST}|family-informed$missing`);
    const rural = await coordinationOf(server, 'NDA-2026-000404');
    expect(family.resources.map((t) => t.id)).toEqual([rural.task.id]);
    const friday = await coordinationOf(server, 'NDA-2026-000505');
    const informed = await list<Task>(tokens.coordinator, `Task?input=${CHECKLIST}|family-informed$done&_count=100`);
    expect(informed.resources.map((t) => t.id)).toContain(friday.task.id);
    // Type and value in the same input: done for the family does not match "letter missing".
    const letter = await list<Task>(tokens.coordinator, `Task?input=${CHECKLIST}|discharge-letter$missing`);
    expect(letter.resources.map((t) => t.id)).toEqual([rural.task.id]);
    expect((await list<Task>(tokens.coordinator, `Task?input-type=${CHECKLIST}|discharge-letter&input-value=missing&_count=100`)).resources.map((t) => t.id)).toContain(rural.task.id);
    // The urgent discharges to organise.
    const urgent = await list<Task>(tokens.coordinator, 'Task?code=https://relais-sante.fr/fhir/CodeSystem/relais-task-type|discharge-coordination&priority=urgent&status=requested&_count=100');
    expect(urgent.resources.map((t) => t.id).sort()).toEqual([friday.task.id, rural.task.id].sort());
  });

  it('messages by priority', async () => {
    const urgent = await list<Communication>(tokens.coordinator, `Communication?priority=urgent&category=${CATEGORY}|alert&_count=100`);
    const everyAlert = await all<Communication>(server, 'Communication', [['category', `${CATEGORY}|alert`]]);
    expect(urgent.resources.length).toBe(everyAlert.length);
    expect((await list<Communication>(tokens.coordinator, 'Communication?priority=stat')).resources).toHaveLength(0);
  });
});

describe('inboxes and read receipts', () => {
  it('the coordination team\'s messages are in each coordinator\'s inbox; marking read is per reader and idempotent', async () => {
    const inbox = await list<Communication>(tokens.coordinator, 'Communication/$inbox?status=unread&_count=100');
    const alerts = await all<Communication>(server, 'Communication', [['category', `${CATEGORY}|alert`]]);
    expect(inbox.bundle.total).toBe(alerts.length);
    const first = inbox.resources[0];
    const marked = await call(tokens.coordinator, 'POST', `/fhir/Communication/${first.id}/$mark-read`);
    expect(marked.status).toBe(201);
    expect(marked.body.inResponseTo[0].reference).toBe(`Communication/${first.id}`);
    const again = await call(tokens.coordinator, 'POST', `/fhir/Communication/${first.id}/$mark-read`);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(marked.body.id);
    expect((await list(tokens.coordinator, 'Communication/$inbox?status=unread&_count=100')).bundle.total).toBe(alerts.length - 1);
    const read = await list(tokens.coordinator, 'Communication/$inbox?status=read');
    expect(read.bundle.total).toBe(1);
    expect(read.bundle.entry!.map((e) => e.search!.mode)).toEqual(['match', 'include']);
    // Her colleague has not read it.
    expect((await list(tokens.colleague, 'Communication/$inbox?status=unread&_count=100')).bundle.total).toBe(alerts.length);
    // The urgent ones only.
    expect((await list(tokens.colleague, 'Communication/$inbox?priority=routine')).bundle.total).toBe(0);
  });

  it('a nurse finds the messages addressed to her role or to a care team she belongs to, and only those', async () => {
    // Claire Moreau is habilitated for the patient of discharge 01 (consent, adhésion, the network's care team).
    const stay = (await coordinationOf(server, 'NDA-2026-000101')).task.for!.reference!;
    const setup = server.ctx.engine.asServer('test setup');
    await setup.create('Consent', {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: stay },
      performer: [{ reference: stay }],
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN' }] },
      provision: { type: 'permit' },
    });
    await setup.create('Contract', { resourceType: 'Contract', status: 'executed', type: { coding: [{ system: 'https://relais-sante.fr/fhir/CodeSystem/relais-contract-type', code: 'adhesion' }] }, subject: [{ reference: 'Practitioner/pr-claire-moreau' }], applies: { start: '2026-01-01' } });
    const team = await call(tokens.coordinator, 'POST', '/fhir/CareTeam', { resourceType: 'CareTeam', status: 'active', subject: { reference: stay }, participant: [{ member: { reference: 'PractitionerRole/role-claire-moreau' } }] });
    expect(team.status).toBe(201);
    const message = (recipient: string, text: string, priority = 'routine') => ({
      resourceType: 'Communication',
      status: 'completed',
      category: [{ coding: [{ system: CATEGORY, code: 'information' }] }],
      priority,
      subject: { reference: stay },
      recipient: [{ reference: recipient }],
      sent: new Date().toISOString(),
      payload: [{ contentString: text }],
    });
    const toTeam = await call(tokens.coordinator, 'POST', '/fhir/Communication', message(`CareTeam/${team.body.id}`, "Concertation jeudi à 14 h au domicile", 'urgent'));
    const toRole = await call(tokens.coordinator, 'POST', '/fhir/Communication', message('PractitionerRole/role-claire-moreau', 'Poches de stomie livrées'));
    const toOther = await call(tokens.coordinator, 'POST', '/fhir/Communication', message('PractitionerRole/role-marc-robert', 'Message pour un autre infirmier'));
    const inbox = await list<Communication>(tokens.claire, 'Communication/$inbox');
    expect(inbox.resources.map((m) => m.id).sort()).toEqual([toTeam.body.id, toRole.body.id].sort());
    // She reads the team's message: acknowledged for her only.
    expect((await call(tokens.claire, 'POST', `/fhir/Communication/${toTeam.body.id}/$mark-read`)).status).toBe(201);
    expect((await list(tokens.claire, 'Communication/$inbox?status=unread')).resources.map((m) => m.id)).toEqual([toRole.body.id]);
    // A message of her patient's record addressed to someone else is not hers to acknowledge.
    const refused = await call(tokens.claire, 'POST', `/fhir/Communication/${toOther.body.id}/$mark-read`);
    expect(refused.status).toBe(422);
    expect((await all(server, 'Communication', [['in-response-to', `Communication/${toOther.body.id}`]])).length).toBe(0);
  });
});
