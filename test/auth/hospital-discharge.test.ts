/**
 * Issue 6 × issue 5, with authentication on (AUTH_MODE=dev tokens): a
 * hospital's software pushes the discharge bundles of fixtures/discharges as
 * transactions. Their conditional references to the network's directory
 * resolve; conditional creates and references against patient data match only
 * what the hospital sent (a Patient by INS: as Patient/$match would), and
 * anything else looks exactly like "not found". The discharge intake's writes
 * are the server's (a hospital may not create a Flag; the intake does) and
 * carry no hospital mark; the hospital reads back what it sent and its
 * coordination Tasks, nothing else. Only the server marks a resource as a
 * hospital's submission (meta.source).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { AuditEvent, Bundle, Communication, Flag, OperationOutcome, Resource, Task } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const COORDINATION_TASK = 'https://relais-sante.fr/fhir/sid/discharge-coordination-task';
const IPP = 'https://hopital-fictif.example.org/fhir/sid/ipp';
const INS = 'urn:oid:1.2.250.1.213.1.4.10';

let server: TestServer;
let hospitalA: string;
let hospitalB: string;
let coordinator: string;
let requestCounter = 0;

function fixture(name: string): Bundle {
  return JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')) as Bundle;
}
const DISCHARGES = readdirSync(new URL('../../fixtures/discharges/', import.meta.url)).filter((f) => f.endsWith('.json')).sort();

async function call(token: string, method: 'GET' | 'PUT' | 'POST', url: string, body?: unknown) {
  const requestId = `hospital-discharge-${++requestCounter}`;
  const response = await server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { response, requestId };
}

/** The server's own view (its session): what a coordinator would find. */
async function all<T extends Resource>(type: string, params: Array<[string, string]>): Promise<T[]> {
  const bundle = await server.ctx.engine.asServer('test setup').search(type, [...params, ['_count', '1000']]);
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
}

async function searchAs<T extends Resource>(token: string, query: string): Promise<{ status: number; resources: T[]; total?: number }> {
  const { response } = await call(token, 'GET', `/fhir/${query}`);
  const bundle = response.json() as Bundle;
  return { status: response.statusCode, resources: (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T), total: bundle.total };
}

const transaction = (...entry: unknown[]): Bundle => ({ resourceType: 'Bundle', type: 'transaction', entry }) as Bundle;

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', COORDINATION_TEAM_FINESS: '370099991', ...STRUCTURE_ONLY });
  await registerInDirectory(server, { finess: ['370000481', '450000088'] });
  hospitalA = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu-tours', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  hospitalB = await mintDevToken({ role: 'hospital', finess: '450000088', client: 'dpi-chr-orleans', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  coordinator = await mintDevToken({ role: 'coordinator', rpps: '10000000999', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  // The network's directory, loaded by the server itself.
  await server.ctx.engine.asServer('test setup').transaction(fixture('directory-touraine.json'));
  // A patient of the network no hospital sent, known by a hospital identifier and by an INS.
  await server.ctx.engine.asServer('test setup').update('Patient', 'pat-network', {
    resourceType: 'Patient',
    id: 'pat-network',
    identifier: [
      { system: IPP, value: 'IPP-HIDDEN-1' },
      { system: IPP, value: 'IPP-HIDDEN-2' },
      { system: INS, value: '299123726199999' },
    ],
    name: [{ family: 'Réseau', given: ['Jeanne'] }],
    birthDate: '1940-01-01',
  });
});
afterAll(async () => server.close());

describe('a hospital pushes its discharge bundles', () => {
  const sent: Record<string, { encounter: string; patient: string }> = {};

  it.each(DISCHARGES)('%s: 200 transaction-response, intake done as the server, read back by the hospital only', async (name) => {
    const { response, requestId } = await call(hospitalA, 'POST', '/fhir', fixture(`discharges/${name}`));
    expect(response.statusCode, response.body).toBe(200);
    const result = response.json() as Bundle;
    expect(result.type).toBe('transaction-response');
    expect(result.entry!.every((e) => e.response!.status.startsWith('201'))).toBe(true);
    const location = (type: string) => result.entry!.find((e) => e.response!.location!.startsWith(`${type}/`))!.response!.location!.split('/_history')[0];
    const encounter = location('Encounter');
    const patient = location('Patient');
    sent[name] = { encounter, patient };

    // The conditional references to the directory resolved to the network's entries.
    const stay = (await call(hospitalA, 'GET', `/fhir/${encounter}`)).response;
    expect(stay.statusCode).toBe(200);
    const serviceProvider = stay.json().serviceProvider.reference as string;
    const [hospital] = await all('Organization', [['identifier', 'https://finess.esante.gouv.fr|370099992']]);
    expect(serviceProvider).toBe(`Organization/${hospital.id}`);
    const source = stay.json().meta.source as string;
    expect(source).toMatch(/#dpi-chu-tours$/);

    // The intake ran: a coordination Task, and alerts as Flags (a type hospitals may not create) and Communications.
    const tasks = await all<Task>('Task', [['focus', encounter]]);
    const coordination = tasks.find((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK));
    expect(coordination).toBeDefined();
    const flags = await all<Flag>('Flag', [['encounter', encounter]]);
    const alerts = await all<Communication>('Communication', [['encounter', encounter], ['category', 'https://relais-sante.fr/fhir/CodeSystem/relais-communication-category|alert']]);
    if (!['01-stoma-ambulatory-surgery.json', '06-three-acts-no-nurse.json'].includes(name)) expect(flags.length).toBeGreaterThan(0);
    expect(alerts.length).toBe(flags.length);
    // The intake's writes are the server's: no hospital mark.
    for (const resource of [...tasks, ...flags, ...alerts]) expect(resource.meta?.source).toBeUndefined();

    // The hospital reads back what it sent and its coordination status...
    expect((await call(hospitalA, 'GET', `/fhir/${patient}`)).response.statusCode).toBe(200);
    expect((await call(hospitalA, 'GET', `/fhir/Task/${coordination!.id}`)).response.statusCode).toBe(200);
    const itsTasks = await searchAs<Task>(hospitalA, `Task?focus=${encounter}`);
    expect(itsTasks.status).toBe(200);
    expect(itsTasks.resources.map((t) => t.id)).toContain(coordination!.id);
    // ...and the alerts about its discharge ("Friday evening, family not informed"), in reads and searches alike.
    for (const flag of flags) expect((await call(hospitalA, 'GET', `/fhir/Flag/${flag.id}`)).response.statusCode).toBe(200);
    expect((await searchAs(hospitalA, `Flag?encounter=${encounter}&_total=accurate`)).total).toBe(flags.length);
    expect((await searchAs(hospitalA, `Communication?encounter=${encounter}&_total=accurate`)).resources.every((c) => c.meta?.source === source)).toBe(true);

    // Another hospital sees none of it.
    expect((await call(hospitalB, 'GET', `/fhir/${encounter}`)).response.statusCode).toBe(404);
    expect((await call(hospitalB, 'GET', `/fhir/Task/${coordination!.id}`)).response.statusCode).toBe(404);
    expect((await searchAs(hospitalB, `Task?focus=${encounter}&_total=accurate`)).total).toBe(0);
    for (const flag of flags) expect((await call(hospitalB, 'GET', `/fhir/Flag/${flag.id}`)).response.statusCode).toBe(404);
    expect((await searchAs(hospitalB, `Flag?encounter=${encounter}&_total=accurate`)).total).toBe(0);

    // Every write of the transaction, the intake's included, is audited as the hospital's request.
    const audits = (await all<AuditEvent>('AuditEvent', [])).filter((e) => e.source.site === requestId);
    const audited = new Set(audits.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference?.split('/_history')[0])));
    for (const resource of [coordination!, ...flags, ...alerts]) expect(audited.has(`${resource.resourceType}/${resource.id}`)).toBe(true);
    expect(audits.every((e) => e.outcome === '0')).toBe(true);
  });

  it('posting the same discharge again matches what it sent: 200 per entry, no second coordination Task', async () => {
    const name = DISCHARGES[0];
    const { response, requestId } = await call(hospitalA, 'POST', '/fhir', fixture(`discharges/${name}`));
    expect(response.statusCode, response.body).toBe(200);
    const result = response.json() as Bundle;
    expect(result.entry!.map((e) => e.response!.status)).toEqual(result.entry!.map(() => '200 OK'));
    // Each existing resource the hospital was answered with is an access, audited.
    const audits = (await all<AuditEvent>('AuditEvent', [])).filter((e) => e.source.site === requestId);
    const audited = new Set(audits.flatMap((e) => (e.entity ?? []).map((x) => x.what?.reference?.split('/_history')[0])));
    for (const entry of result.entry!) expect(audited.has(entry.response!.location!.split('/_history')[0])).toBe(true);
    const tasks = (await all<Task>('Task', [['focus', sent[name].encounter]])).filter((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK));
    expect(tasks).toHaveLength(1);
  });

  it('another hospital posting the same bundle matches its own submissions only: its own stay and patient-data, the network\'s Patient by INS', async () => {
    const name = DISCHARGES[0];
    const { response } = await call(hospitalB, 'POST', '/fhir', fixture(`discharges/${name}`));
    expect(response.statusCode, response.body).toBe(200);
    const result = response.json() as Bundle;
    const patientEntry = result.entry!.find((e) => e.response!.location!.startsWith('Patient/'))!;
    // One INS, one patient: matched (200) like $match would, but not shown (hospital B did not send it).
    expect(patientEntry.response!.status).toMatch(/^200/);
    expect(patientEntry.response!.location!.split('/_history')[0]).toBe(sent[name].patient);
    expect(patientEntry.resource).toBeUndefined();
    // A's Encounter, requests and letters are not B's: B's criteria did not match them.
    const encounterEntry = result.entry!.find((e) => e.response!.location!.startsWith('Encounter/'))!;
    expect(encounterEntry.response!.status).toMatch(/^201/);
    expect(encounterEntry.response!.location!.split('/_history')[0]).not.toBe(sent[name].encounter);
    const stayB = encounterEntry.response!.location!.split('/_history')[0];
    expect((await call(hospitalA, 'GET', `/fhir/${stayB}`)).response.statusCode).toBe(404);
    // B's stay gets its own coordination, which B sees (and A does not).
    const tasksB = await searchAs<Task>(hospitalB, `Task?focus=${stayB}`);
    const coordinationB = tasksB.resources.find((t) => t.identifier?.some((i) => i.system === COORDINATION_TASK));
    expect(coordinationB).toBeDefined();
    expect((await call(hospitalA, 'GET', `/fhir/Task/${coordinationB!.id}`)).response.statusCode).toBe(404);
  });
});

describe('the patient\'s nurse a hospital names in a CareTeam', () => {
  it('is information for the coordination team: it opens no record until the network\'s own CareTeam names her (only her request and what it names)', async () => {
    const nurseRpps = '10100000011'; // the chosen nurse of fixture 01's CareTeam
    const nurse = await mintDevToken({ role: 'nurse', rpps: nurseRpps, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    const stay = (await all('Encounter', [['identifier', 'https://hopital-fictif.example.org/fhir/sid/nda|NDA-2026-000101']])).find((e) => e.meta?.source?.endsWith('#dpi-chu-tours'))!;
    const patient = (stay as unknown as { subject: { reference: string } }).subject.reference;
    const hospitalTeams = await all('CareTeam', [['patient', patient]]);
    expect(hospitalTeams.length).toBeGreaterThan(0);
    expect(hospitalTeams.every((t) => /#dpi-(chu-tours|chr-orleans)$/.test(t.meta?.source ?? ''))).toBe(true); // both hospitals sent this patient's team
    // The other two conditions hold: the patient's consent and the nurse's agreement with the network.
    await server.ctx.engine.asServer('test setup').create('Consent', {
      resourceType: 'Consent',
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: patient },
      performer: [{ reference: patient }],
      provision: { type: 'permit' },
    });
    await server.ctx.engine.asServer('test setup').create('Contract', { resourceType: 'Contract', status: 'executed', subject: [{ identifier: { system: 'https://rpps.esante.gouv.fr', value: nurseRpps } }] });
    // The request the coordination addressed to her opens her request and what it names (the patient,
    // the stay, the orders) — not the rest of the record (the letter, the messages).
    const [letter] = await all('DocumentReference', [['patient', patient]]);
    expect((await call(nurse, 'GET', `/fhir/${patient}`)).response.statusCode).toBe(200);
    expect((await call(nurse, 'GET', `/fhir/DocumentReference/${letter.id}`)).response.statusCode).toBe(404);
    // The coordination team's CareTeam (no hospital mark) is the one that grants access.
    const [practitioner] = await all('Practitioner', [['identifier', `https://rpps.esante.gouv.fr|${nurseRpps}`]]);
    const { response } = await call(coordinator, 'POST', '/fhir/CareTeam', {
      resourceType: 'CareTeam',
      status: 'active',
      subject: { reference: patient },
      participant: [{ member: { reference: `Practitioner/${practitioner.id}` } }],
      meta: { source: hospitalTeams[0].meta!.source },
    });
    expect(response.statusCode, response.body).toBe(201);
    expect((response.json() as Resource).meta?.source).toBeUndefined();
    expect((await call(nurse, 'GET', `/fhir/${patient}`)).response.statusCode).toBe(200);
    expect((await call(nurse, 'GET', `/fhir/DocumentReference/${letter.id}`)).response.statusCode).toBe(200);
  });
});

describe('conditional criteria of a hospital over patient data it did not send', () => {
  const observation = (subject: string) => ({
    fullUrl: 'urn:uuid:0b7a6c1e-0000-4000-8000-000000000001',
    resource: { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: subject } },
    request: { method: 'POST', url: 'Observation' },
  });

  it('a conditional reference to a patient it did not send fails exactly like one to no patient at all', async () => {
    const hidden = (await call(hospitalA, 'POST', '/fhir', transaction(observation(`Patient?identifier=${IPP}|IPP-HIDDEN-1`)))).response;
    const absent = (await call(hospitalA, 'POST', '/fhir', transaction(observation(`Patient?identifier=${IPP}|IPP-ABSENT-9`)))).response;
    expect(hidden.statusCode).toBe(412);
    expect(absent.statusCode).toBe(hidden.statusCode);
    const text = (r: typeof hidden, id: string) => JSON.stringify((r.json() as OperationOutcome).issue).split(id).join('<id>');
    expect(text(hidden, 'IPP-HIDDEN-1')).toBe(text(absent, 'IPP-ABSENT-9'));
    expect((await all('Observation', [['subject', 'Patient/pat-network']])).length).toBe(0);
  });

  it('a conditional create on a hospital identifier it did not send creates its own Patient, never revealing the network\'s', async () => {
    const entry = {
      fullUrl: 'urn:uuid:0b7a6c1e-0000-4000-8000-000000000002',
      resource: { resourceType: 'Patient', identifier: [{ system: IPP, value: 'IPP-HIDDEN-1' }], name: [{ family: 'Autre' }] },
      request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${IPP}|IPP-HIDDEN-1` },
    };
    const { response } = await call(hospitalA, 'POST', '/fhir', transaction(entry));
    expect(response.statusCode, response.body).toBe(200);
    const result = (response.json() as Bundle).entry![0];
    expect(result.response!.status).toMatch(/^201/);
    expect(result.response!.location).not.toMatch(/^Patient\/pat-network\//);
    expect(JSON.stringify(result)).not.toContain('Réseau');
  });

  it('a Patient by INS resolves over the network, as $match would, without showing it', async () => {
    const byIns = `Patient?identifier=${INS}|299123726199999`;
    const { response } = await call(hospitalA, 'POST', '/fhir', transaction(observation(byIns)));
    expect(response.statusCode, response.body).toBe(200);
    const written = (response.json() as Bundle).entry![0].resource as { subject: { reference: string } };
    expect(written.subject.reference).toBe('Patient/pat-network');
    expect((await call(hospitalA, 'GET', '/fhir/Patient/pat-network')).response.statusCode).toBe(404);
    // Other criteria on Patient (not one INS) stay within what the hospital sent.
    const byName = (await call(hospitalA, 'POST', '/fhir', transaction(observation('Patient?family=Réseau&birthdate=1940-01-01')))).response;
    expect(byName.statusCode).toBe(412);
  });

  it('a single POST with If-None-Exist matches like a transaction entry, and the match is audited', async () => {
    const post = (identifier: string, family: string) =>
      server.app.inject({
        method: 'POST',
        url: '/fhir/Patient',
        headers: { authorization: `Bearer ${hospitalA}`, 'content-type': 'application/fhir+json', 'if-none-exist': `identifier=${identifier}`, 'x-request-id': `single-${++requestCounter}` },
        payload: JSON.stringify({ resourceType: 'Patient', identifier: [{ system: identifier.split('|')[0], value: identifier.split('|')[1] }], name: [{ family }] }),
      });
    // Its own submission: created once, then found (200 with its content).
    const first = await post(`${IPP}|IPP-SINGLE-1`, 'Premier');
    expect(first.statusCode, first.body).toBe(201);
    const again = await post(`${IPP}|IPP-SINGLE-1`, 'Premier');
    expect(again.statusCode).toBe(200);
    expect(again.json().id).toBe(first.json().id);
    // A hospital identifier of a patient it did not send: matched among its own Patients only (the
    // one the previous test created, or a new one), never the network's.
    const hidden = await post(`${IPP}|IPP-HIDDEN-1`, 'Autre');
    expect(hidden.json().id).not.toBe('pat-network');
    expect(hidden.body).not.toContain('Réseau');
    // One INS: the network's patient, as $match would say, with its identity only.
    const byIns = await post(`${INS}|299123726199999`, 'Réseau');
    expect(byIns.statusCode).toBe(200);
    expect(byIns.body).not.toContain('Réseau');
    expect(byIns.headers.etag).toBeDefined();
    const audits = (await all<AuditEvent>('AuditEvent', [])).filter((e) => e.source.site === byIns.headers['x-request-id']);
    expect(audits.map((e) => e.outcome)).toEqual(['0']);
    expect(JSON.stringify(audits[0].entity)).toContain('Patient/pat-network');
    expect((await call(hospitalA, 'GET', '/fhir/Patient/pat-network')).response.statusCode).toBe(404);
  });

  it('conditional PUT and DELETE stay refused to hospitals (no update or delete right); a batch matches its conditional references like a transaction', async () => {
    const put = transaction({ resource: { resourceType: 'Patient', name: [{ family: 'X' }] }, request: { method: 'PUT', url: `Patient?identifier=${IPP}|IPP-HIDDEN-1` } });
    const refused = (await call(hospitalA, 'POST', '/fhir', put)).response;
    expect(refused.statusCode).toBe(403);
    expect(refused.json().issue[0].diagnostics).toBe('the hospital system role may not update Patient');
    const del = transaction({ request: { method: 'DELETE', url: `Patient?identifier=${IPP}|IPP-HIDDEN-1` } });
    expect((await call(hospitalA, 'POST', '/fhir', del)).response.statusCode).toBe(403);
    // Hidden criteria answer exactly like absent ones, in a batch as in a transaction.
    const batch = (ipp: string) => ({ resourceType: 'Bundle', type: 'batch', entry: [observation(`Patient?identifier=${IPP}|${ipp}`)] });
    const before = (await all('Observation', [['subject', 'Patient/pat-network']])).length;
    const hidden = (await call(hospitalA, 'POST', '/fhir', batch('IPP-HIDDEN-2'))).response;
    const absent = (await call(hospitalA, 'POST', '/fhir', batch('IPP-ABSENT-9'))).response;
    expect(hidden.statusCode).toBe(200);
    const status = (r: typeof hidden) => (r.json() as Bundle).entry![0].response!.status;
    expect(status(hidden)).toMatch(/^412/);
    expect(status(absent)).toBe(status(hidden));
    expect((await all('Observation', [['subject', 'Patient/pat-network']])).length).toBe(before);
  });
});

describe('only the server marks a resource as a hospital\'s submission', () => {
  it('a coordinator writing a hospital\'s meta.source does not hand the resource to that hospital', async () => {
    const [, first] = Object.entries(await encounterOfA())[0];
    const source = first.meta!.source!;
    const forged = { resourceType: 'Observation', status: 'final', code: { text: 'Glycémie' }, subject: { reference: 'Patient/pat-network' }, meta: { source } };
    const { response } = await call(coordinator, 'POST', '/fhir/Observation', forged);
    expect(response.statusCode, response.body).toBe(201);
    const id = (response.json() as Resource).id!;
    const stored = await server.ctx.engine.asServer('test setup').read('Observation', id);
    expect(stored.resource!.meta?.source).toBeUndefined();
    expect((await call(hospitalA, 'GET', `/fhir/Observation/${id}`)).response.statusCode).toBe(404);
    expect((await searchAs(hospitalA, `Observation?_id=${id}&_total=accurate`)).total).toBe(0);
  });

  it('a coordinator updating a hospital\'s resource as it is keeps the mark (the hospital still reads it back)', async () => {
    const [id, encounter] = Object.entries(await encounterOfA())[0];
    const { response } = await call(coordinator, 'PUT', `/fhir/Encounter/${id}`, { ...encounter, status: 'finished' });
    expect(response.statusCode, response.body).toBe(200);
    expect((await call(hospitalA, 'GET', `/fhir/Encounter/${id}`)).response.statusCode).toBe(200);
  });

  it('a hospital cannot claim another hospital\'s mark: the server writes its own', async () => {
    const [, encounter] = Object.entries(await encounterOfA())[0];
    const { response } = await call(hospitalB, 'POST', '/fhir/Observation', {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Poids' },
      meta: { source: encounter.meta!.source },
    });
    expect(response.statusCode, response.body).toBe(201);
    const id = (response.json() as Resource).id!;
    expect((await call(hospitalA, 'GET', `/fhir/Observation/${id}`)).response.statusCode).toBe(404);
    expect((await call(hospitalB, 'GET', `/fhir/Observation/${id}`)).response.statusCode).toBe(200);
  });
});

/** Hospital A's Encounters, by id, as stored. */
async function encounterOfA(): Promise<Record<string, Resource>> {
  const encounters = await all('Encounter', []);
  const ofA = encounters.filter((e) => e.meta?.source?.endsWith('#dpi-chu-tours'));
  expect(ofA.length).toBeGreaterThan(0);
  return Object.fromEntries(ofA.map((e) => [e.id!, e]));
}
