/**
 * End to end: the directory of professionals is loaded, then each discharge
 * fixture is posted as a transaction; the coordination work Relais derives is
 * checked the way a coordinator would read it.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Communication, Flag, Parameters, Patient, Resource, Task } from 'fhir/r4';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

const CHECKLIST = 'https://relais-sante.fr/fhir/CodeSystem/relais-discharge-checklist';
const COORDINATION_TASK = 'https://relais-sante.fr/fhir/sid/discharge-coordination-task';
const NURSE_TASK = 'https://relais-sante.fr/fhir/sid/discharge-nurse-task';
const ALERT = 'https://relais-sante.fr/fhir/sid/discharge-alert';

function fixture(name: string): Bundle {
  return JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')) as Bundle;
}

let server: TestServer;

async function post(bundle: unknown) {
  const response = await server.app.inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: JSON.stringify(bundle) });
  return { status: response.statusCode, body: response.json() as Bundle };
}

async function find<T extends Resource>(query: string): Promise<T[]> {
  const response = await server.app.inject({ method: 'GET', url: `/fhir/${query}${query.includes('?') ? '&' : '?'}_count=100` });
  expect(response.statusCode).toBe(200);
  return ((response.json() as Bundle).entry ?? []).map((e) => e.resource as T);
}

/** What a coordinator reads for one discharge: the Task, its checklist, alerts, and the nurse Tasks. */
async function coordination(bundle: Bundle) {
  const result = await post(bundle);
  expect(result.status).toBe(200);
  const encounterEntry = result.body.entry!.find((e) => e.response?.location?.startsWith('Encounter/'))!;
  const encounterRef = encounterEntry.response!.location!.split('/_history')[0];
  const tasks = await find<Task>(`Task?focus=${encounterRef}`);
  const task = tasks.find((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK));
  expect(task).toBeDefined();
  const checklist = Object.fromEntries(task!.input!.map((i) => [i.type.coding![0].code, i.valueCode]));
  const flags = await find<Flag>(`Flag?encounter=${encounterRef}`);
  const communications = await find<Communication>(`Communication?encounter=${encounterRef}&category=https://relais-sante.fr/fhir/CodeSystem/relais-communication-category|alert`);
  const rules = flags.map((f) => f.identifier![0].value!.split('-').slice(1).join('-')).sort();
  const nurseTasks = (await find<Task>(`Task?part-of=Task/${task!.id}`)).filter((t) => t.identifier?.some((i) => i.system === NURSE_TASK));
  return { result, encounterRef, task: task!, checklist, flags, communications, rules, nurseTasks };
}

beforeAll(async () => {
  server = await startTestServer({ COORDINATION_TEAM_FINESS: '370099991' });
  const directory = await post(fixture('directory-touraine.json'));
  expect(directory.status).toBe(200);
});
afterAll(async () => server.close());

describe('discharge intake', () => {
  it('stoma after ambulatory surgery: complete bundle, own nurse who masters the act, no alert', async () => {
    const c = await coordination(fixture('discharges/01-stoma-ambulatory-surgery.json'));
    expect(c.task.owner!.reference).toMatch(/^Organization\//);
    expect(c.task.owner!.display).toBe('DAC Touraine Relais (fictif)');
    expect(c.task.priority).toBe('routine');
    expect(c.checklist).toEqual({
      prescriptions: 'done',
      'medication-supply': 'done',
      equipment: 'done',
      'nurse-confirmed': 'to-do',
      'home-help': 'to-do',
      meals: 'to-do',
      'family-informed': 'done',
      'gp-informed': 'done',
      'discharge-letter': 'done',
    });
    expect(c.rules).toEqual([]);
    expect(c.communications).toHaveLength(0);
    // The patient's own nurse is asked to accept; no support is needed for an act she masters.
    expect(c.nurseTasks).toHaveLength(1);
    expect(c.nurseTasks[0].owner!.reference).toBe('PractitionerRole/role-claire-moreau');
    expect(c.nurseTasks[0].code!.text).toContain('Accepter');
  });

  it('is idempotent: posting the same discharge again changes nothing', async () => {
    const again = await post(fixture('discharges/01-stoma-ambulatory-surgery.json'));
    expect(again.status).toBe(200);
    expect(again.body.entry!.every((e) => e.response!.status === '200 OK')).toBe(true);
    const tasks = await find<Task>('Task?code:text=Coordination');
    expect(tasks.filter((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK))).toHaveLength(1);
  });

  it('complex wound with daily dressings: the own nurse is kept, support is proposed for the acts she does not declare', async () => {
    const c = await coordination(fixture('discharges/02-complex-wound-daily-dressings.json'));
    expect(c.checklist['family-informed']).toBe('missing');
    expect(c.checklist['gp-informed']).toBe('done');
    expect(c.rules).toEqual(['missing-items']);
    expect(c.flags[0].code.text).toContain('Famille informée');
    expect(c.communications).toHaveLength(1);
    expect(c.communications[0].recipient![0].display).toBe('DAC Touraine Relais (fictif)');
    const accept = c.nurseTasks.find((t) => t.identifier![0].value!.endsWith('-accept'))!;
    expect(accept.owner!.reference).toBe('PractitionerRole/role-sophie-lambert');
    const support = c.nurseTasks.filter((t) => t.intent === 'proposal');
    expect(support.map((t) => t.input![0].valueCodeableConcept!.coding![0].code).sort()).toEqual(['blood-glucose-monitoring', 'insulin-injection']);
    for (const t of support) {
      expect(t.description).toContain('restez en charge');
      expect(t.owner!.reference).toBe('PractitionerRole/role-sophie-lambert');
      expect(t.input!.filter((i) => i.type.text === 'support-option').map((i) => i.valueString)).toEqual(['telephone-advice', 'expert-partner-nurse']);
      expect(t.input!.find((i) => i.type.text === 'patient-nurse')!.valueReference!.reference).toBe('PractitionerRole/role-sophie-lambert');
      const experts = t.input!.filter((i) => i.type.text === 'candidate').map((i) => i.valueReference!.reference);
      expect(experts).toContain('PractitionerRole/role-claire-moreau');
      expect(experts).not.toContain('PractitionerRole/role-sophie-lambert');
    }
    expect(c.nurseTasks.some((t) => t.identifier![0].value!.endsWith('-find-nurse'))).toBe(false);
  });

  it('PICC line with infusions on the eve of 8 May: holiday-eve alert, expert partners proposed for PICC and infusion', async () => {
    const c = await coordination(fixture('discharges/03-picc-line-infusions.json'));
    expect(c.rules).toEqual(['holiday-eve']);
    expect(c.flags[0].code.text).toContain('veille');
    expect(c.task.priority).toBe('urgent');
    const support = c.nurseTasks.filter((t) => t.intent === 'proposal');
    expect(support.map((t) => t.input![0].valueCodeableConcept!.coding![0].code).sort()).toEqual(['infusion', 'picc-line']);
    const piccExperts = support.find((t) => t.input![0].valueCodeableConcept!.coding![0].code === 'picc-line')!.input!.filter((i) => i.type.text === 'candidate').map((i) => i.valueReference!.reference);
    expect(piccExperts.length).toBeGreaterThan(0);
    expect(piccExperts).not.toContain('PractitionerRole/role-claire-moreau');
  });

  it('frail rural patient with no nurse: a search Task, and an explicit "no one within 15 km" alert and result', async () => {
    const c = await coordination(fixture('discharges/04-frail-rural-no-nurse.json'));
    expect(c.rules).toEqual(['missing-items', 'no-nurse-in-range']);
    expect(c.checklist.equipment).toBe('missing');
    expect(c.checklist['medication-supply']).toBe('missing');
    expect(c.checklist['discharge-letter']).toBe('missing');
    const find = c.nurseTasks.find((t) => t.identifier![0].value!.endsWith('-find-nurse'))!;
    expect(find.owner!.display).toBe('DAC Touraine Relais (fictif)');
    expect(find.description).toContain('15 km');
    const order = find.focus!.reference!;
    const none = await server.app.inject({ method: 'GET', url: `/fhir/${order}/$find-professionals` });
    expect(none.statusCode).toBe(200);
    const outcome = (none.json() as Parameters).parameter!.find((p) => p.name === 'outcome')!;
    expect(JSON.stringify(outcome.resource)).toContain('Aucun(e) infirmier(e) dans un rayon de 15 km');
    const wider = await server.app.inject({ method: 'GET', url: `/fhir/${order}/$find-professionals?radius=40` });
    const candidates = (wider.json() as Parameters).parameter!.filter((p) => p.name === 'candidate');
    const first = candidates[0].part!;
    expect(first.find((p) => p.name === 'practitionerRole')!.valueReference!.reference).toBe('PractitionerRole/role-lucie-bernard');
    expect(first.find((p) => p.name === 'explanation')!.valueString).toMatch(/km du domicile/);
  });

  it('Friday 18:00 discharge decided at 14:30: friday-afternoon, short-notice and missing items; candidates ranked around Tours', async () => {
    const c = await coordination(fixture('discharges/05-friday-evening-same-afternoon.json'));
    expect(c.rules).toEqual(['friday-afternoon', 'missing-items', 'short-notice']);
    expect(c.flags.find((f) => f.identifier![0].value!.endsWith('short-notice'))!.code.text).toContain('Préavis de 4 h');
    expect(c.communications).toHaveLength(3);
    const find = c.nurseTasks.find((t) => t.identifier![0].value!.endsWith('-find-nurse'))!;
    const order = find.focus!.reference!;
    const response = await server.app.inject({ method: 'GET', url: `/fhir/${order}/$find-professionals` });
    const candidates = (response.json() as Parameters).parameter!.filter((p) => p.name === 'candidate').map((p) => Object.fromEntries(p.part!.map((x) => [x.name, x])));
    const ranked = candidates.map((c) => c.practitionerRole.valueReference!.reference);
    // Masters the wound, accepts new patients, works on Saturdays, nearest: Claire Moreau first.
    expect(ranked[0]).toBe('PractitionerRole/role-claire-moreau');
    // Not accepting new patients ranks below those who do, whatever the distance.
    expect(ranked.indexOf('PractitionerRole/role-sophie-lambert')).toBeGreaterThan(ranked.indexOf('PractitionerRole/role-julien-petit'));
    // Amboise (23 km) and Loches (30 km) are out of the 15 km radius.
    expect(ranked).not.toContain('PractitionerRole/role-paul-fontaine');
    expect(candidates[0].explanation.valueString).toContain("maîtrise l'acte prescrit (plaie complexe / pansement complexe)");
  });

  it('refuses to look for another nurse while the patient has their own, until they decline', async () => {
    const orders = await find<{ resourceType: 'ServiceRequest'; id: string; encounter: { reference: string } }>(`ServiceRequest?identifier=https://hopital-fictif.example.org/fhir/sid/prescription|RX-0101-1`);
    const refused = await server.app.inject({ method: 'GET', url: `/fhir/ServiceRequest/${orders[0].id}/$find-professionals` });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().issue[0].code).toBe('business-rule');
    // Claire Moreau is also the nurse of another discharge: decline this one only.
    const [accept] = (await find<Task>(`Task?owner=PractitionerRole/role-claire-moreau&focus=${orders[0].encounter.reference}`)).filter((t) => t.identifier?.[0].value?.endsWith('-accept'));
    const declined = await server.app.inject({ method: 'PUT', url: `/fhir/Task/${accept.id}`, headers: FHIR_JSON, payload: JSON.stringify({ ...accept, status: 'rejected', statusReason: { text: 'Tournée complète cette semaine' } }) });
    expect(declined.statusCode, declined.body).toBe(200);
    const allowed = await server.app.inject({ method: 'GET', url: `/fhir/ServiceRequest/${orders[0].id}/$find-professionals` });
    expect(allowed.statusCode).toBe(200);
    const ranked = (allowed.json() as Parameters).parameter!.filter((p) => p.name === 'candidate').map((p) => p.part!.find((x) => x.name === 'practitionerRole')!.valueReference!.reference);
    expect(ranked).not.toContain('PractitionerRole/role-claire-moreau');
    expect(ranked[0]).toBe('PractitionerRole/role-marc-robert');
  });
});

describe('codings of the network code systems', () => {
  // Found by the HL7 FHIR validator (scripts/hl7-validator-check.ts): the intake wrote displays
  // of its own ('Famille prévenue', 'plaie complexe') where the code systems say otherwise.
  it('every Coding the intake writes in a Relais code system carries that code system\'s display', async () => {
    for (const name of ['01-stoma-ambulatory-surgery', '02-complex-wound-daily-dressings', '03-picc-line-infusions', '04-frail-rural-no-nurse', '05-friday-evening-same-afternoon']) {
      expect((await post(fixture(`discharges/${name}.json`))).status).toBe(200);
    }
    const displays = new Map<string, string>();
    for (const file of ['relais-discharge-checklist', 'relais-technical-acts', 'relais-communication-category', 'relais-task-type']) {
      const cs = JSON.parse(readFileSync(new URL(`../../profiles/CodeSystem-${file}.json`, import.meta.url), 'utf8')) as { url: string; concept: Array<{ code: string; display?: string }> };
      for (const c of cs.concept) if (c.display) displays.set(`${cs.url}|${c.code}`, c.display);
    }
    const written = [...(await find<Task>('Task')), ...(await find<Flag>('Flag')), ...(await find<Communication>('Communication'))];
    const checked: string[] = [];
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(walk);
      if (!value || typeof value !== 'object') return;
      const o = value as Record<string, unknown>;
      if (typeof o.system === 'string' && typeof o.code === 'string' && typeof o.display === 'string' && o.system.startsWith('https://relais-sante.fr/fhir/CodeSystem/')) {
        checked.push(`${o.system}|${o.code}`);
        expect({ coding: `${o.system}|${o.code}`, display: o.display }).toEqual({ coding: `${o.system}|${o.code}`, display: displays.get(`${o.system}|${o.code}`) });
      }
      Object.values(o).forEach(walk);
    };
    walk(written);
    expect(checked.filter((c) => c.startsWith(CHECKLIST)).length).toBeGreaterThan(0);
    expect(checked.some((c) => c.includes('relais-technical-acts|'))).toBe(true);
  });
});

describe('idempotency under concurrency', () => {
  it('the same discharge posted 10 times at once gives one patient, one stay, one coordination task', async () => {
    const own = await startTestServer({ COORDINATION_TEAM_FINESS: '370099991' });
    try {
      const send = (bundle: unknown) => own.app.inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: JSON.stringify(bundle) });
      expect((await send(fixture('directory-touraine.json'))).statusCode).toBe(200);
      const bundle = fixture('discharges/03-picc-line-infusions.json');
      const responses = await Promise.all(Array.from({ length: 10 }, () => send(bundle)));
      expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
      const count = async (query: string) => ((await own.app.inject({ method: 'GET', url: `/fhir/${query}` })).json() as Bundle).total;
      expect(await count('Patient?_total=accurate')).toBe(1);
      expect(await count('Encounter?_total=accurate')).toBe(1);
      const tasks = ((await own.app.inject({ method: 'GET', url: '/fhir/Task?_count=100' })).json() as Bundle).entry!.map((e) => e.resource as Task);
      expect(tasks.filter((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK))).toHaveLength(1);
      expect(tasks.filter((t) => t.identifier?.some((i) => i.system === NURSE_TASK))).toHaveLength(3);
      expect(await count(`Flag?_total=accurate`)).toBe(1);
      expect(await count(`Communication?identifier=${ALERT}|${(await own.app.inject({ method: 'GET', url: '/fhir/Flag' })).json().entry[0].resource.identifier[0].value}&_total=accurate`)).toBe(1);
    } finally {
      await own.close();
    }
  });
});

export type { Patient };
