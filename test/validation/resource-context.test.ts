/**
 * A resource inside another — a Bundle entry, a Parameters part, a contained
 * resource — is judged in its own context: its `#id` references name resources
 * contained in *it* (or, for a contained resource, in its container), and its
 * invariants see it as %resource. Before, they were judged against the outer
 * resource, so a valid collection Bundle was refused with 422.
 */
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

const patientWithContainedOrganization = {
  resourceType: 'Patient',
  contained: [{ resourceType: 'Organization', id: 'org', name: 'Cabinet infirmier des Lilas' }],
  name: [{ family: 'Durand', given: ['Alice'] }],
  managingOrganization: { reference: '#org' },
};
const observationWithContainedPerformer = {
  resourceType: 'Observation',
  contained: [{ resourceType: 'Practitioner', id: 'pr', name: [{ family: 'Martin' }] }],
  status: 'final',
  code: { text: 'Poids' },
  performer: [{ reference: '#pr' }],
  valueQuantity: { value: 70, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
};
const collection = (...resources: object[]) => ({
  resourceType: 'Bundle',
  type: 'collection',
  entry: resources.map((resource, i) => ({ fullUrl: `urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e${String(i).padStart(2, '0')}`, resource })),
});
const errorsOf = (outcome: { issue: Array<{ severity: string; diagnostics?: string; expression?: string[] }> }) => outcome.issue.filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('resources inside resources are validated in their own context', () => {
  const { inject } = useTestServer({ VALIDATION_ENFORCEMENT: 'network' });

  it('a collection Bundle whose entries refer to their own contained resources is stored (was 422)', async () => {
    const res = await inject({ method: 'POST', url: '/fhir/Bundle', headers: FHIR_JSON, payload: collection(patientWithContainedOrganization, observationWithContainedPerformer) });
    expect(res.statusCode, res.body).toBe(201);
  });

  it('$validate of that Bundle finds no error', async () => {
    const res = await inject({ method: 'POST', url: '/fhir/Bundle/$validate', headers: FHIR_JSON, payload: collection(patientWithContainedOrganization, observationWithContainedPerformer) });
    expect(res.statusCode).toBe(200);
    expect(errorsOf(res.json())).toEqual([]);
  });

  it('a Parameters part holding a resource with contained resources is stored', async () => {
    const parameters = { resourceType: 'Parameters', parameter: [{ name: 'patient', resource: patientWithContainedOrganization }] };
    const res = await inject({ method: 'POST', url: '/fhir/Parameters', headers: FHIR_JSON, payload: parameters });
    expect(res.statusCode, res.body).toBe(201);
  });

  it("an entry's #id does not resolve to another entry's contained resource, nor to the Bundle's", async () => {
    const borrowing = { ...observationWithContainedPerformer, contained: undefined, performer: [{ reference: '#org' }] };
    const bundle = { ...collection(patientWithContainedOrganization, borrowing), contained: undefined };
    const res = await inject({ method: 'POST', url: '/fhir/Bundle/$validate', headers: FHIR_JSON, payload: bundle });
    const errors = errorsOf(res.json());
    expect(errors).toContainEqual(expect.objectContaining({ expression: ['Bundle.entry[1].resource.performer[0].reference'], diagnostics: expect.stringContaining("'org'") }));
  });

  it('a contained resource may refer to a sibling contained resource of its container', async () => {
    const carePlan = {
      resourceType: 'CarePlan',
      contained: [
        { resourceType: 'Organization', id: 'org', name: 'SSIAD' },
        { resourceType: 'Practitioner', id: 'pr', name: [{ family: 'Martin' }] },
        { resourceType: 'CareTeam', id: 'team', participant: [{ member: { reference: '#pr' }, onBehalfOf: { reference: '#org' } }] },
      ],
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/p1' },
      careTeam: [{ reference: '#team' }],
    };
    const res = await inject({ method: 'POST', url: '/fhir/CarePlan/$validate', headers: FHIR_JSON, payload: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: carePlan }] } });
    expect(errorsOf(res.json())).toEqual([]);
  });
});
