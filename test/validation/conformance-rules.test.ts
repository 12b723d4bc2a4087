/**
 * Conformance resources checked as the HL7 validator does beyond their invariants
 * (conformance-rules.ts): a SearchParameter's expression must parse, and a resource in HL7's
 * namespace must name its work group.
 */
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
const s = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(undefined), 'claimed');
const errors = (r: object) => s.validate(r).filter((i) => i.severity === 'error').map((i) => i.diagnostics);
const searchParameter = (expression: string, url = 'https://relais-sante.fr/fhir/SearchParameter/test') => ({
  resourceType: 'SearchParameter', url, name: 'Test', status: 'active', description: 'test', code: 'test', base: ['Patient'], type: 'token', expression,
});

describe('conformance resources', () => {
  it("a SearchParameter's expression must parse", () => {
    expect(errors(searchParameter('Patient.identifier'))).toEqual([]);
    expect(errors(searchParameter("Patient.extension('https://x').value"))).toEqual([]);
    expect(errors(searchParameter('Patient.identifier.where(system = '))[0]).toMatch(/does not parse/);
  });
  it("a resource in HL7's namespace names its work group (structuredefinition-wg)", () => {
    expect(errors(searchParameter('Patient.identifier', 'http://hl7.org/fhir/SearchParameter/test'))[0]).toMatch(/work group/);
    const withWg = { ...searchParameter('Patient.identifier', 'http://hl7.org/fhir/SearchParameter/test'), extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/structuredefinition-wg', valueCode: 'fhir' }] };
    expect(errors(withWg)).toEqual([]);
  });
});
