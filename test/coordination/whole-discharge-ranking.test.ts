/**
 * Issue 14, "Ranking for the whole discharge", over HTTP with the hospital's
 * and the coordinator's tokens: offers cover every act ordered (one nurse, or
 * a pair), weigh explicit capacity (accepting new patients, visits a day
 * declared) against the visits the orders imply; an alert when nobody with
 * capacity is within range (the remote patient whose only practice is full);
 * a complex case when three long visits a day exceed a liberal round, with
 * the HAD, SSIAD and home-help services that have places. Explanations in
 * French.
 */
import type { Flag, Parameters, ParametersParameter, Task } from 'fhir/r4';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinationOf, fixturePath, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let hospital: string;
let coordinator: string;

async function call(token: string, method: 'GET' | 'POST', url: string, body?: unknown) {
  const response = await server.app.inject({ method, url, headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) }, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}

const part = (p: ParametersParameter, name: string) => p.part!.find((x) => x.name === name);
const parts = (p: ParametersParameter, name: string) => p.part!.filter((x) => x.name === name);

async function announce(name: string, nda: string) {
  const result = await call(hospital, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath(`discharges/${name}`), 'utf8')));
  expect(result.status, JSON.stringify(result.body).slice(0, 400)).toBe(200);
  const c = await coordinationOf(server, nda);
  const find = c.nurseTasks.find((t) => t.code?.coding?.[0].code === 'find-nurse') as Task;
  const ranked = await call(coordinator, 'GET', `/fhir/${find.focus!.reference}/$find-professionals`);
  expect(ranked.status).toBe(200);
  return { c, find, ranked: ranked.body as Parameters };
}

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', COORDINATION_TEAM_FINESS: '370099991' });
  coordinator = await tokenFor(server, { role: 'coordinator', sub: 'coordinatrice-dac' });
  expect((await call(coordinator, 'POST', '/fhir', JSON.parse(readFileSync(fixturePath('directory-touraine.json'), 'utf8')))).status).toBe(200);
  hospital = await tokenFor(server, { role: 'hospital', finess: '370099992', client: 'dpi-chu-fictif' });
});
afterAll(async () => server.close());

describe('offers for the whole discharge', () => {
  it('three acts nobody masters alone: a pair covering them all ranks first, each nurse with the acts she takes', async () => {
    const { c, find, ranked } = await announce('06-three-acts-no-nurse.json', 'NDA-2026-000606');
    expect(Object.keys(c.flags)).toEqual([]);
    const acts = ranked.parameter!.filter((p) => p.name === 'act').map((p) => p.valueCoding!.code).sort();
    expect(acts).toEqual(['insulin-injection', 'picc-line', 'stoma-care']);
    const load = ranked.parameter!.find((p) => p.name === 'careLoad')!;
    expect(part(load, 'visitsPerDay')!.valueDecimal).toBe(2);
    expect(part(load, 'minutesPerDay')!.valueInteger).toBe(70);
    const candidates = ranked.parameter!.filter((p) => p.name === 'candidate');
    const best = candidates[0];
    expect(part(best, 'kind')!.valueCode).toBe('pair');
    const members = parts(best, 'member').map((m) => ({ role: part(m, 'practitionerRole')!.valueReference!.reference, acts: parts(m, 'act').map((a) => a.valueCoding!.code).sort() }));
    expect(members.flatMap((m) => m.acts).sort()).toEqual(['insulin-injection', 'picc-line', 'stoma-care']);
    expect(members.map((m) => m.role)).toContain('PractitionerRole/role-claire-moreau');
    expect(part(best, 'hasCapacity')!.valueBoolean).toBe(true);
    expect(part(best, 'explanation')!.valueString).toMatch(/^binôme couvrant les 3 actes prescrits : Mme Claire MOREAU \(/);
    // A single nurse covering part of the acts comes after, saying what she lacks.
    const claireAlone = candidates.find((p) => part(p, 'kind')!.valueCode === 'single' && part(p, 'practitionerRole')!.valueReference!.reference === 'PractitionerRole/role-claire-moreau')!;
    expect(part(claireAlone, 'explanation')!.valueString).toContain('maîtrise 2 des 3 actes prescrits ; non déclaré(s) : picc line');
    expect(part(claireAlone, 'score')!.valueDecimal!).toBeLessThan(part(best, 'score')!.valueDecimal!);
    // The intake's Task proposes the same offers.
    expect(find.input![0].type.text).toBe('candidate-pair');
    expect(find.input!.slice(1, 3).map((i) => [i.type.text, i.valueReference!.display!.slice(0, 3)])).toEqual([
      ['candidate-pair-member', '1. '],
      ['candidate-pair-member', '1. '],
    ]);
  });

  it('a remote patient whose only practice in range is full: no-nurse-in-range alert, and the ranking says why', async () => {
    const { c, ranked } = await announce('07-remote-only-practice-full.json', 'NDA-2026-000707');
    expect(c.flags['no-nurse-in-range'].status).toBe('active');
    expect(c.flags['no-nurse-in-range'].code.text).toContain('1 dans le secteur, mais sans capacité');
    expect(ranked.parameter!.find((p) => p.name === 'inRange')!.valueInteger).toBe(1);
    expect(ranked.parameter!.find((p) => p.name === 'withCapacity')!.valueInteger).toBe(0);
    const [only] = ranked.parameter!.filter((p) => p.name === 'candidate');
    expect(part(only, 'practitionerRole')!.valueReference!.reference).toBe('PractitionerRole/role-lucie-bernard');
    expect(part(only, 'hasCapacity')!.valueBoolean).toBe(false);
    expect(part(only, 'explanation')!.valueString).toContain('ne prend pas de nouveaux patients, capacité déclarée insuffisante : 0 passage(s) par jour pour 1 nécessaire(s)');
    const outcome = ranked.parameter!.find((p) => p.name === 'outcome')!;
    expect(JSON.stringify(outcome.resource)).toContain('avec de la capacité');
    // The team was told.
    expect(c.alerts.map((a) => a.payload![0].contentString)).toContain(c.flags['no-nurse-in-range'].code.text);
  });

  it('three long visits a day: a complex case, with the HAD, SSIAD and home-help services that have places', async () => {
    const { c, ranked } = await announce('08-heavy-load-three-visits.json', 'NDA-2026-000808');
    const complex: Flag = c.flags['complex-case'];
    expect(complex.status).toBe('active');
    expect(complex.code.text).toContain('3 passage(s) par jour, 165 min de soins par jour');
    expect(complex.code.text).toContain("au-delà d'une tournée libérale (90 min et 3 passages par jour)");
    const services = c.nurseTasks.find((t) => t.code?.coding?.[0].code === 'home-care-service')!;
    const proposed = services.input!.map((i) => i.valueReference!.reference);
    expect(proposed.slice(0, 3).sort()).toEqual(['Organization/had-touraine', 'Organization/saad-touraine', 'Organization/ssiad-tours-sud']);
    // The full SSIAD is listed last, said full.
    expect(proposed.at(-1)).toBe('Organization/ssiad-tours-nord');
    expect(services.input!.at(-1)!.valueReference!.display).toContain('0 place(s) disponible(s)');
    expect(services.input!.find((i) => i.valueReference!.reference === 'Organization/had-touraine')!.valueReference!.display).toContain('soins techniques complexes (infusion)');
    expect(ranked.parameter!.find((p) => p.name === 'complexCase')!.valueBoolean).toBe(true);
    const listed = ranked.parameter!.filter((p) => p.name === 'service').map((p) => ({ org: part(p, 'organization')!.valueReference!.reference, places: part(p, 'places')?.valueInteger, capacity: part(p, 'hasCapacity')!.valueBoolean }));
    expect(listed.find((s) => s.org === 'Organization/ssiad-tours-nord')).toEqual({ org: 'Organization/ssiad-tours-nord', places: 0, capacity: false });
    expect(listed.find((s) => s.org === 'Organization/had-touraine')).toEqual({ org: 'Organization/had-touraine', places: 2, capacity: true });
  });
});
