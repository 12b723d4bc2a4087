/**
 * Extensions: R4 core extensions checked against their definitions (context, value type,
 * sub-extensions), and the UNKNOWN_EXTENSIONS policy for extensions nobody defines here
 * (an error on the network's profiled types by default, information elsewhere; configurable).
 */
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { ValidationService, type UnknownExtensionPolicy } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
const service = (policy?: UnknownExtensionPolicy) => new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(undefined), 'claimed', policy ? { unknownExtensions: policy } : {});
const EXT = 'http://hl7.org/fhir/StructureDefinition/';
const errors = (s: ValidationService, r: object) => s.validate(r).filter((i) => i.severity === 'error');
const observation = (extension: object[]) => ({ resourceType: 'Observation', status: 'final', code: { text: 'poids' }, extension });

describe('R4 core extensions', () => {
  const s = service();
  it('accept a core extension in its context with a value of its type', () => {
    expect(errors(s, { resourceType: 'Patient', extension: [{ url: `${EXT}patient-birthPlace`, valueAddress: { city: 'Tours' } }] })).toEqual([]);
  });
  it('refuse a core extension outside its context', () => {
    expect(errors(s, observation([{ url: `${EXT}patient-birthPlace`, valueAddress: { city: 'Tours' } }]))[0].diagnostics).toMatch(/not allowed on Observation/);
  });
  it('refuse a value of the wrong type', () => {
    expect(errors(s, observation([{ url: `${EXT}workflow-episodeOfCare`, valueString: 'x' }]))[0].diagnostics).toMatch(/takes a value of type Reference, not String/);
  });
  it('refuse an undefined sub-extension of a complex core extension, and require its mandatory ones', () => {
    const nationality = (extension: object[]) => ({ resourceType: 'Patient', extension: [{ url: `${EXT}patient-nationality`, extension }] });
    expect(errors(s, nationality([{ url: 'code', valueCodeableConcept: { text: 'française' } }]))).toEqual([]);
    expect(errors(s, nationality([{ url: 'colour', valueString: 'x' }])).map((i) => i.diagnostics).join()).toMatch(/Sub-extension 'colour' is not defined/);
  });
});

describe('UNKNOWN_EXTENSIONS', () => {
  const unknown = { url: 'https://hopital.example/fhir/StructureDefinition/no-such-extension', valueString: 'x' };
  const patient = { resourceType: 'Patient', extension: [unknown] };
  const basic = { resourceType: 'Basic', code: { text: 'x' }, extension: [unknown] };
  it('network-error (default): an error on a type the network profiles (Patient), information elsewhere (Basic)', () => {
    const s = service();
    expect(errors(s, patient)[0].diagnostics).toMatch(/not known to this server, and unknown extensions are not accepted on Patient/);
    expect(errors(s, basic)).toEqual([]);
    expect(s.validate(basic)).toContainEqual(expect.objectContaining({ severity: 'information', diagnostics: expect.stringMatching(/not known to this server/) }));
  });
  it('error: everywhere; information: nowhere', () => {
    expect(errors(service('error'), basic)).toHaveLength(1);
    expect(errors(service('information'), patient)).toEqual([]);
  });
  it('a relative url (a sub-extension of an unknown complex extension) is not judged on its own', () => {
    expect(errors(service('error'), { resourceType: 'Basic', code: { text: 'x' }, extension: [{ url: 'https://hopital.example/ext', extension: [{ url: 'part', valueString: 'x' }] }] })).toHaveLength(1);
  });
});
