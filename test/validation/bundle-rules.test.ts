/**
 * The Bundle page's rules beyond the bdl-* invariants (bundle-rules.ts), as the HL7 validator
 * applies them: fullUrl presence and form, RESTful fullUrls matching their resource, and the
 * references of documents and messages resolved inside the Bundle.
 */
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
const s = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(undefined), 'claimed');
const errorsAt = (bundle: object) => s.validate(bundle).filter((i) => i.severity === 'error').map((i) => `${i.expression?.[0]}: ${i.diagnostics}`);
const patient = { resourceType: 'Patient', id: 'p1', name: [{ family: 'Durand' }] };
const BASE = 'https://hopital.example/fhir';

describe('Bundle rules', () => {
  it('an entry holding a resource needs a fullUrl, except in transactions and batches', () => {
    expect(errorsAt({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] })).toEqual([expect.stringMatching(/^Bundle.entry\[0\]: .*needs a fullUrl/)]);
    expect(errorsAt({ resourceType: 'Bundle', type: 'transaction', entry: [{ resource: patient, request: { method: 'POST', url: 'Patient' } }] })).toEqual([]);
  });
  it('a fullUrl is absolute, and a RESTful one ends with the resource type and id', () => {
    expect(errorsAt({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'Patient/p1', resource: patient }] })[0]).toMatch(/must be absolute/);
    expect(errorsAt({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${BASE}/Patient/p2`, resource: patient }] })[0]).toMatch(/must end with the entry's resource type and id \(Patient\/p1\)/);
    expect(errorsAt({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${BASE}/Patient/p1`, resource: patient }] })).toEqual([]);
  });
  it("a document's references resolve to its entries (relative ones against the referring entry's base)", () => {
    const composition = (subject: string) => ({
      resourceType: 'Composition', id: 'c1', status: 'final', type: { text: 'Lettre de liaison' }, date: '2024-03-05', title: 'Sortie', author: [{ reference: subject }], subject: { reference: subject },
    });
    const document = (subject: string) => ({
      resourceType: 'Bundle', type: 'document', identifier: { system: 'urn:ietf:rfc:3986', value: 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e5f' }, timestamp: '2024-03-05T10:00:00Z',
      entry: [{ fullUrl: `${BASE}/Composition/c1`, resource: composition(subject) }, { fullUrl: `${BASE}/Patient/p1`, resource: patient }],
    });
    expect(errorsAt(document('Patient/p1'))).toEqual([]);
    expect(errorsAt(document(`${BASE}/Patient/p1`))).toEqual([]);
    expect(errorsAt(document('Patient/p9'))).toContainEqual(expect.stringMatching(/^Bundle.entry\[0\].resource.subject.reference: The reference 'Patient\/p9' does not resolve/));
  });
  it('a collection may refer outside itself', () => {
    const observation = { resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/elsewhere' } };
    expect(errorsAt({ resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: `${BASE}/Observation/o1`, resource: observation }] })).toEqual([]);
  });
});
