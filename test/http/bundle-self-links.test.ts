/**
 * Links of searchset Bundles as a third-party client reads them (findings of the HL7 FHIR
 * validator, scripts/hl7-validator-check.ts): the comma, FHIR's "or" separator, stays literal in
 * self/next links, the links still work when followed, and the $match searchset names its
 * search with a self link.
 */
import type { Bundle } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

const { inject } = useTestServer();

async function create(resource: object): Promise<void> {
  const response = await inject({ method: 'POST', url: `/fhir/${(resource as { resourceType: string }).resourceType}`, headers: FHIR_JSON, payload: JSON.stringify(resource) });
  expect(response.statusCode).toBe(201);
}

/** The path and query of a link, to follow it through inject(). */
function local(url: string): string {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
}

describe('searchset links', () => {
  it('keep the comma of _type and of an "or" value literal, and can be followed', async () => {
    await create({ resourceType: 'Patient', name: [{ family: 'Lien' }], gender: 'female' });
    await create({ resourceType: 'Patient', name: [{ family: 'Lien' }], gender: 'male' });
    await create({ resourceType: 'Organization', name: 'Cabinet Lien' });

    const system = await inject({ method: 'GET', url: '/fhir?_type=Patient,Organization&_count=2' });
    expect(system.statusCode).toBe(200);
    const page1 = system.json() as Bundle;
    const self = page1.link!.find((l) => l.relation === 'self')!.url;
    const next = page1.link!.find((l) => l.relation === 'next')!.url;
    expect(self).toContain('_type=Patient,Organization');
    expect(self).not.toContain('%2C');
    expect(next).toContain('_type=Patient,Organization');
    const page2 = (await inject({ method: 'GET', url: local(next) })).json() as Bundle;
    const types = [...page1.entry!, ...page2.entry!].map((e) => e.resource!.resourceType).sort();
    expect(types).toEqual(['Organization', 'Patient', 'Patient']);

    const or = (await inject({ method: 'GET', url: '/fhir/Patient?gender=female,male&family=Lien' })).json() as Bundle;
    const orSelf = or.link!.find((l) => l.relation === 'self')!.url;
    expect(orSelf).toContain('gender=female,male');
    const again = (await inject({ method: 'GET', url: local(orSelf) })).json() as Bundle;
    expect(again.entry!.map((e) => e.resource!.id).sort()).toEqual(or.entry!.map((e) => e.resource!.id).sort());
    expect(again.entry).toHaveLength(2);
  });

  it('a comma escaped inside a value stays escaped (its backslash is percent-encoded)', async () => {
    const response = await inject({ method: 'GET', url: `/fhir/Patient?family=${encodeURIComponent('a\\,b')}` });
    expect(response.statusCode).toBe(200);
    const self = (response.json() as Bundle).link!.find((l) => l.relation === 'self')!.url;
    expect(self).toContain('family=a%5C,b');
  });

  it('Patient/$match answers a searchset with a self link naming the operation', async () => {
    const response = await inject({
      method: 'POST',
      url: '/fhir/Patient/$match',
      headers: FHIR_JSON,
      payload: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: 'Lien' }], gender: 'female' } }] }),
    });
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(bundle.type).toBe('searchset');
    expect(bundle.link).toEqual([{ relation: 'self', url: expect.stringMatching(/\/fhir\/Patient\/\$match$/) }]);
  });
});
