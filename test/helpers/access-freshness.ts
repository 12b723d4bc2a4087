/**
 * A nurse's access to one patient's Observation, and the writes that must end
 * it on her very next request (src/access/fact-cache.ts keeps access facts
 * between requests, issue 17): shared by the one-process test
 * (test/auth/access-facts-freshness.test.ts) and the two-process MongoDB test
 * (test/store/mongo-access-facts.test.ts).
 */
import type { Resource } from 'fhir/r4';
import { expect, it } from 'vitest';

export const NURSE_RPPS = '10000000077';

export const consent = (status: string, end?: string): Resource =>
  ({
    resourceType: 'Consent',
    id: 'consent-a',
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/pat-a' },
    performer: [{ reference: 'Patient/pat-a' }],
    provision: { type: 'permit', ...(end ? { period: { end } } : {}) },
  }) as Resource;
export const careTeam = (members: string[]): Resource =>
  ({ resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: { reference: 'Patient/pat-a' }, participant: members.map((m) => ({ member: { reference: m } })) }) as Resource;
export const practitioner = (active: boolean): Resource => ({ resourceType: 'Practitioner', id: 'pr-nurse', active, identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] }) as Resource;

export const NETWORK: Resource[] = [
  practitioner(true),
  { resourceType: 'Practitioner', id: 'pr-other', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000078' }] } as Resource,
  { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD Val de Loire' } as Resource,
  { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } } as Resource,
  { resourceType: 'Contract', id: 'convention-ssiad', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] } as Resource,
  { resourceType: 'Patient', id: 'pat-a', name: [{ family: 'Moreau' }] } as Resource,
  consent('active'),
  careTeam(['Practitioner/pr-nurse', 'Practitioner/pr-other']),
  { resourceType: 'Observation', id: 'obs-a', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-a' } } as Resource,
];

/** What the nurse gets: her read of the Observation and the size of her search of it. */
export interface Sight {
  read: number;
  found: number;
}

/** The checks, over any pair of "write as the coordination team" and "ask as the nurse" (same or another process). */
export function freshnessCases(write: () => (resource: Resource) => Promise<void>, nurse: () => () => Promise<Sight>) {
  const seen = { read: 200, found: 1 };
  const hidden = { read: 404, found: 0 };

  it('a Consent withdrawn applies to the very next request, and so does its renewal', async () => {
    expect(await nurse()()).toEqual(seen);
    expect(await nurse()()).toEqual(seen);
    await write()(consent('inactive'));
    expect(await nurse()()).toEqual(hidden);
    await write()(consent('active'));
    expect(await nurse()()).toEqual(seen);
  });

  it('a care team member removed loses access on the very next request', async () => {
    expect(await nurse()()).toEqual(seen);
    await write()(careTeam(['Practitioner/pr-other']));
    expect(await nurse()()).toEqual(hidden);
    await write()(careTeam(['Practitioner/pr-nurse', 'Practitioner/pr-other']));
    expect(await nurse()()).toEqual(seen);
  });
}

