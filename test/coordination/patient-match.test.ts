/**
 * Patient/$match on French identity traits: typos, accents, maiden names,
 * swapped first names, day/month swapped, INS; grades and onlyCertainMatches.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Patient } from 'fhir/r4';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

const INS_NIR = 'urn:oid:1.2.250.1.213.1.4.8';
const INS_TYPE = { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR' }] };
const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const INSEE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code';
const RELIABILITY = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability';

function person(p: { birth: string; used?: string; given: string[]; gender: 'male' | 'female'; date: string; insee?: string; ins?: string }): Patient {
  const patient: Patient = {
    resourceType: 'Patient',
    ...(p.ins ? { identifier: [{ use: 'official', type: INS_TYPE, system: INS_NIR, value: p.ins }] } : {}),
    name: [{ use: 'official', family: p.birth, given: p.given }, ...(p.used ? [{ use: 'usual' as const, family: p.used, given: [p.given[0]] }] : [])],
    gender: p.gender,
    birthDate: p.date,
    extension: [
      ...(p.insee ? [{ url: BIRTH_PLACE, valueAddress: { extension: [{ url: INSEE, valueCoding: { code: p.insee } }] } }] : []),
      // An INS may only be exchanged for a qualified identity (status VALI).
      ...(p.ins ? [{ url: RELIABILITY, extension: [{ url: 'identityStatus', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445', code: 'VALI' } }] }] : []),
    ],
  };
  if (patient.extension!.length === 0) delete patient.extension;
  return patient;
}

let server: TestServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer();
  const people: Record<string, Patient> = {
    helene: person({ birth: 'LEFÈVRE', used: 'DURAND', given: ['Hélène', 'Marie'], gender: 'female', date: '1950-03-04', insee: '37261', ins: '250033726100112' }),
    helena: person({ birth: 'LEFEBVRE', given: ['Héléna'], gender: 'female', date: '1950-03-14', insee: '75056' }),
    francois: person({ birth: 'NGUYEN', given: ['François', 'Xavier'], gender: 'male', date: '1944-11-02', insee: '37195' }),
    other: person({ birth: 'MARTIN', given: ['Paul'], gender: 'male', date: '1962-06-30', insee: '37261' }),
    twinA: person({ birth: 'BLANC', given: ['Léa'], gender: 'female', date: '1990-01-01' }),
    twinB: person({ birth: 'BLANC', given: ['Léa'], gender: 'female', date: '1990-01-01' }),
  };
  for (const [key, patient] of Object.entries(people)) {
    const response = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: JSON.stringify(patient) });
    expect(response.statusCode).toBe(201);
    ids[key] = response.json().id;
  }
});
afterAll(async () => server.close());

async function match(patient: Patient, extra: Array<{ name: string; valueBoolean?: boolean; valueInteger?: number }> = []) {
  const response = await server.app.inject({
    method: 'POST',
    url: '/fhir/Patient/$match',
    headers: FHIR_JSON,
    payload: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient }, ...extra] }),
  });
  expect(response.statusCode).toBe(200);
  const bundle = response.json() as Bundle;
  return (bundle.entry ?? [])
    .filter((e) => e.search?.mode === 'match')
    .map((e) => ({ id: e.resource!.id!, score: e.search!.score!, grade: e.search!.extension![0].valueCode! }));
}

describe('Patient/$match', () => {
  it('finds the same person with a typo and no accents, as probable, ranked first', async () => {
    const found = await match(person({ birth: 'LEFEVRE', given: ['Helene', 'Marie'], gender: 'female', date: '1950-03-04', insee: '37261' }));
    expect(found[0].id).toBe(ids.helene);
    expect(['certain', 'probable']).toContain(found[0].grade);
    const typo = await match(person({ birth: 'LEFEVERE', given: ['Hlene'], gender: 'female', date: '1950-03-04', insee: '37261' }));
    expect(typo[0].id).toBe(ids.helene);
    expect(typo[0].grade).not.toBe('certainly-not');
    expect(typo.find((m) => m.id === ids.other)).toBeUndefined();
  });

  it('finds a married woman registered under her used name (maiden name vs used name)', async () => {
    const found = await match(person({ birth: 'DURAND', given: ['Hélène'], gender: 'female', date: '1950-03-04' }));
    expect(found[0].id).toBe(ids.helene);
    expect(found[0].score).toBeGreaterThanOrEqual(0.85);
  });

  it('finds someone whose first names were typed in another order, and with day and month swapped', async () => {
    const found = await match(person({ birth: 'NGUYEN', given: ['Xavier', 'François'], gender: 'male', date: '1944-02-11', insee: '37195' }));
    expect(found[0].id).toBe(ids.francois);
    expect(['probable', 'certain']).toContain(found[0].grade);
  });

  it('grades an identical INS with consistent traits as certain, and ranks a near-namesake below', async () => {
    const found = await match(person({ birth: 'LEFEVRE', given: ['Hélène'], gender: 'female', date: '1950-03-04', ins: '250033726100112' }));
    expect(found[0]).toMatchObject({ id: ids.helene, grade: 'certain', score: 1 });
    const namesake = found.find((m) => m.id === ids.helena);
    if (namesake) expect(namesake.score).toBeLessThan(found[0].score);
  });

  it('onlyCertainMatches returns only a certain match, and nothing when two are equally certain', async () => {
    const certain = await match(person({ birth: 'LEFÈVRE', given: ['Hélène', 'Marie'], gender: 'female', date: '1950-03-04', insee: '37261', ins: '250033726100112' }), [{ name: 'onlyCertainMatches', valueBoolean: true }]);
    expect(certain.map((m) => m.id)).toEqual([ids.helene]);
    const twins = await match(person({ birth: 'BLANC', given: ['Léa'], gender: 'female', date: '1990-01-01' }), [{ name: 'onlyCertainMatches', valueBoolean: true }]);
    expect(twins).toEqual([]);
    const both = await match(person({ birth: 'BLANC', given: ['Léa'], gender: 'female', date: '1990-01-01' }), [{ name: 'count', valueInteger: 1 }]);
    expect(both).toHaveLength(1);
  });

  it('returns no candidate for a different person', async () => {
    const found = await match(person({ birth: 'ROBERT', given: ['Jacques'], gender: 'male', date: '1971-09-09', insee: '13055' }));
    expect(found).toEqual([]);
  });

  it('refuses a call without a Patient', async () => {
    const response = await server.app.inject({ method: 'POST', url: '/fhir/Patient/$match', headers: FHIR_JSON, payload: JSON.stringify({ resourceType: 'Parameters', parameter: [] }) });
    expect(response.statusCode).toBe(400);
    expect(response.json().resourceType).toBe('OperationOutcome');
  });
});
