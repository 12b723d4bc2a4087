/**
 * Issue 14, "Re-evaluation" and "The hospital may update what it sent": the
 * story of a Friday-evening discharge (fixtures/stories/01), replayed over
 * HTTP with the hospital's and the coordinator's tokens. Each later push or
 * single write concerning the discharge re-checks it in the same write: items
 * become done, the missing-items alert is closed (inactive, period.end), a
 * discharge moved to a Saturday raises the weekend alert, closes the Friday
 * one and moves the Task's deadline; the ward reads the alerts about its own
 * discharge. Idempotent and safe under concurrent pushes.
 */
import type { Bundle, Communication, Encounter, Flag, MedicationDispense, Task } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, coordinationOf, fixturePath, matches, replay, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const HOSPITAL = { role: 'hospital', finess: '370099992', client: 'dpi-chu-fictif' };
const NDA = 'NDA-2026-000505';
let server: TestServer;
let hospital: string;

async function call(token: string, method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, body?: unknown) {
  const response = await server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
  hospital = await tokenFor(server, HOSPITAL);
});
afterAll(async () => server.close());

describe('a Friday-evening discharge, followed by the ward\'s later pushes', () => {
  it('announced at 14:30 for 18:00: missing items, Friday and short-notice alerts, the ward reads them', async () => {
    const results = await replay(server, '01-friday-evening-discharge.json', 'worklist');
    const c = await coordinationOf(server, NDA);
    expect(c.checklist).toMatchObject({ 'family-informed': 'missing', 'gp-informed': 'missing', 'discharge-letter': 'missing', equipment: 'missing', 'medication-supply': 'missing' });
    expect(Object.keys(c.flags).sort()).toEqual(['friday-afternoon', 'missing-items', 'short-notice']);
    expect(c.task.restriction?.period?.end).toBe('2026-10-16T16:00:00.000Z');
    // The coordination cell's worklist of open alerts for the patient.
    expect(matches<Flag>(results.get('worklist')!.body).map((f) => f.status)).toEqual(['active', 'active', 'active']);
    // The ward reads the alerts about its discharge ("family not informed").
    const ward = await call(hospital, 'GET', `/fhir/Flag?encounter=${c.encounter}&status=active`);
    expect(ward.status).toBe(200);
    expect(matches<Flag>(ward.body).map((f) => f.code.text).join(' | ')).toContain('Famille informée');
  });

  it('the ward re-posts its transaction with what was missing: the checklist fills in, the missing-items alert is closed, the team is not told twice', async () => {
    const before = await coordinationOf(server, NDA);
    const results = await replay(server, '01-friday-evening-discharge.json', 'status-for-the-ward');
    const pushed = results.get('missing-items-sent')!.body as Bundle;
    // The stay was matched within what the hospital sent (conditional update): updated, not duplicated.
    expect(pushed.entry![1].response!.status).toMatch(/^200/);
    expect(await all(server, 'Encounter', [['identifier', `https://hopital-fictif.example.org/fhir/sid/nda|${NDA}`]])).toHaveLength(1);
    const c = await coordinationOf(server, NDA);
    expect(c.task.id).toBe(before.task.id);
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
    expect(c.flags['missing-items'].status).toBe('inactive');
    expect(Date.parse(c.flags['missing-items'].period!.end!)).toBeGreaterThanOrEqual(Date.parse(c.flags['missing-items'].period!.start!));
    expect(c.flags['friday-afternoon'].status).toBe('active');
    // One alert message per alert raised; none for a closing.
    expect(c.alerts).toHaveLength(before.alerts.length);
    // What the ward reads now: only the Friday and short-notice alerts are open.
    const open = matches<Flag>(results.get('status-for-the-ward')!.body).map((f) => f.identifier![0].value!.split('-').slice(1).join('-')).sort();
    expect(open).toEqual(['friday-afternoon', 'short-notice']);
    // The hospital's re-evaluation was done as the server, in the hospital's request, audited with it.
    expect(c.task.meta?.source).toBeUndefined();
  });

  it('re-posting the same follow-up changes nothing (no new version of the coordination)', async () => {
    const before = await coordinationOf(server, NDA);
    const again = await call(hospital, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath('follow-ups/05a-missing-items-sent.json'), 'utf8')));
    expect(again.status).toBe(200);
    const after = await coordinationOf(server, NDA);
    expect(after.task.meta?.versionId).toBe(before.task.meta?.versionId);
    for (const rule of Object.keys(before.flags)) expect(after.flags[rule].meta?.versionId).toBe(before.flags[rule].meta?.versionId);
    expect(after.alerts).toHaveLength(before.alerts.length);
  });

  it('the discharge moves to Saturday 10:00: weekend alert raised and told, Friday alert closed, deadline moved', async () => {
    const before = await coordinationOf(server, NDA);
    await replay(server, '01-friday-evening-discharge.json');
    const c = await coordinationOf(server, NDA);
    expect(c.task.restriction?.period?.end).toBe('2026-10-17T08:00:00.000Z');
    expect(c.flags.weekend.status).toBe('active');
    expect(c.flags.weekend.code.text).toContain('2026-10-17 10h');
    expect(c.flags['friday-afternoon'].status).toBe('inactive');
    expect(c.flags['friday-afternoon'].period?.end).toBeDefined();
    // Notice at 14:30 on Friday for Saturday 10:00: still short, the alert now says so.
    expect(c.flags['short-notice'].status).toBe('active');
    expect(c.flags['short-notice'].code.text).toContain('Préavis de 20 h');
    const told = c.alerts.filter((a) => !before.alerts.some((b) => b.id === a.id));
    expect(told.map((a) => a.payload![0].contentString)).toEqual([c.flags.weekend.code.text]);
    expect(c.task.description).toContain('week-end');
  });

  it('a single PUT of its Encounter (not a transaction) re-evaluates in the same write: back to Friday, the Friday alert is raised again', async () => {
    const before = await coordinationOf(server, NDA);
    const stay = (await call(hospital, 'GET', `/fhir/${before.encounter}`)).body as Encounter;
    const moved = await call(hospital, 'PUT', `/fhir/${before.encounter}`, { ...stay, period: { ...stay.period, end: '2026-10-16T19:00:00+02:00' } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const c = await coordinationOf(server, NDA);
    expect(c.task.restriction?.period?.end).toBe('2026-10-16T17:00:00.000Z');
    expect(c.flags['friday-afternoon'].status).toBe('active');
    expect(c.flags.weekend.status).toBe('inactive');
    expect(c.alerts.length).toBe(before.alerts.length + 1);
    // The AuditEvents of that PUT name the re-evaluation's writes too.
    const audits = await all(server, 'AuditEvent', [['entity', c.task.id!]]);
    expect(audits.length).toBeGreaterThan(0);
  });

  it('a MedicationDispense sent alone by the ward (doses given in advance) ticks medication-supply of another discharge', async () => {
    const result = await call(hospital, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath('discharges/04-frail-rural-no-nurse.json'), 'utf8')));
    expect(result.status).toBe(200);
    const before = await coordinationOf(server, 'NDA-2026-000404');
    expect(before.checklist['medication-supply']).toBe('missing');
    const [patient] = await all(server, 'Patient', [['identifier', 'urn:oid:1.2.250.1.213.1.4.10|137043726104567']]);
    const dispense: MedicationDispense = {
      resourceType: 'MedicationDispense',
      status: 'completed',
      medicationCodeableConcept: { text: 'Antalgique, 3 jours remis à la sortie' },
      subject: { reference: `Patient/${patient.id}` },
      context: { reference: before.encounter },
    };
    const sent = await call(hospital, 'POST', '/fhir/MedicationDispense', dispense);
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    const after = await coordinationOf(server, 'NDA-2026-000404');
    expect(after.checklist['medication-supply']).toBe('done');
    expect(after.flags['missing-items'].code.text).not.toContain('Médicaments disponibles');
    expect(after.flags['missing-items'].status).toBe('active');
  });

  it('the stay cancelled by the ward: its alerts are closed and the coordination Task cancelled, in the same write', async () => {
    const before = await coordinationOf(server, 'NDA-2026-000404');
    expect(Object.values(before.flags).some((f) => f.status === 'active')).toBe(true);
    const stay = (await call(hospital, 'GET', `/fhir/${before.encounter}`)).body as Encounter;
    expect((await call(hospital, 'PUT', `/fhir/${before.encounter}`, { ...stay, status: 'cancelled' })).status).toBe(200);
    const after = await coordinationOf(server, 'NDA-2026-000404');
    expect(after.task.status).toBe('cancelled');
    expect(after.task.priority).toBe('routine');
    expect(Object.values(after.flags).map((f) => f.status)).toEqual(Object.values(after.flags).map(() => 'inactive'));
  });
});

describe('concurrent pushes', () => {
  it('the same follow-up posted 6 times at once, and 6 concurrent PUTs of the stay: one coordination, consistent with the last stay written', async () => {
    const own = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
    try {
      const token = await tokenFor(own, HOSPITAL);
      const send = (method: 'POST' | 'PUT', url: string, body: unknown) =>
        own.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' }, payload: JSON.stringify(body) });
      await replay(own, '01-friday-evening-discharge.json', 'announce');
      const followUp = JSON.parse(readFileSync(fixturePath('follow-ups/05a-missing-items-sent.json'), 'utf8'));
      const responses = await Promise.all(Array.from({ length: 6 }, () => send('POST', '/fhir', followUp)));
      expect(responses.map((r) => r.statusCode)).toEqual(Array(6).fill(200));
      let c = await coordinationOf(own, NDA);
      expect(c.flags['missing-items'].status).toBe('inactive');
      expect((await all<Task>(own, 'Task', [['identifier', 'https://relais-sante.fr/fhir/sid/discharge-coordination-task|']])).length).toBe(1);
      expect(await all<Communication>(own, 'Communication', [['identifier', 'https://hopital-fictif.example.org/fhir/sid/message|MSG-0505-1']])).toHaveLength(1);

      const stay = (await all<Encounter>(own, 'Encounter', [['identifier', `https://hopital-fictif.example.org/fhir/sid/nda|${NDA}`]]))[0];
      const ends = ['2026-10-17T10:00:00+02:00', '2026-10-16T18:00:00+02:00', '2026-10-18T11:00:00+02:00', '2026-10-16T20:00:00+02:00', '2026-10-17T09:00:00+02:00', '2026-10-16T17:00:00+02:00'];
      const puts = await Promise.all(ends.map((end) => send('PUT', `/fhir/Encounter/${stay.id}`, { ...stay, meta: undefined, period: { ...stay.period, end } })));
      expect(puts.map((r) => r.statusCode)).toEqual(Array(6).fill(200));
      c = await coordinationOf(own, NDA);
      const last = (await all<Encounter>(own, 'Encounter', [['_id', stay.id!]]))[0];
      expect(c.task.restriction?.period?.end).toBe(new Date(last.period!.end!).toISOString());
      const weekend = [0, 6].includes(new Date(new Date(last.period!.end!).getTime() + 2 * 3600_000).getUTCDay());
      expect(c.flags.weekend?.status ?? 'inactive').toBe(weekend ? 'active' : 'inactive');
      expect(c.flags['friday-afternoon'].status).toBe(weekend ? 'inactive' : 'active');
      // Each raise was told once: as many alert messages as raises recorded in the Flags' versions.
      const raises = c.alerts.length;
      expect(raises).toBeGreaterThanOrEqual(3);
    } finally {
      await own.close();
    }
  });
});
