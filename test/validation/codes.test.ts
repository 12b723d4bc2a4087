/**
 * Codes and displays against the CodeSystems the server holds completely: R4's own
 * (definitions/r4-codesystems.json) and the network's and packages'. Codings and Quantities.
 */
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
const s = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(undefined), 'claimed');
const issues = (coding: object, severity: string) => s.validate({ resourceType: 'Basic', code: { coding: [coding] } }).filter((i) => i.severity === severity && i.code === 'code-invalid');
const NETWORK_CS = 'https://relais-sante.fr/fhir/CodeSystem/relais-communication-category';

describe('codes of held CodeSystems', () => {
  it('an unknown code of an R4 CodeSystem or of a network CodeSystem is an error', () => {
    expect(issues({ system: 'http://hl7.org/fhir/administrative-gender', code: 'feminine' }, 'error')[0].expression).toEqual(['Basic.code.coding[0].code']);
    expect(issues({ system: NETWORK_CS, code: 'nope' }, 'error')).toHaveLength(1);
    expect(issues({ system: NETWORK_CS, code: 'alert' }, 'error')).toEqual([]);
  });
  it('a wrong display is a warning', () => {
    expect(issues({ system: 'http://hl7.org/fhir/administrative-gender', code: 'female', display: 'Male' }, 'warning')[0].diagnostics).toMatch(/should be 'Female'/);
    expect(issues({ system: 'http://hl7.org/fhir/administrative-gender', code: 'female', display: 'female' }, 'warning')).toEqual([]);
  });
  it('terminology.hl7.org systems (R4 ships their 2018 edition): a miscased code is an error, an absent one a warning', () => {
    expect(issues({ system: 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm', code: 'Tab' }, 'error')[0].diagnostics).toMatch(/'TAB'/);
    expect(issues({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'BTG' }, 'warning')).toHaveLength(1);
    expect(issues({ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'BTG' }, 'error')).toEqual([]);
  });
  it('codes of systems the server does not hold are not judged', () => {
    expect(issues({ system: 'http://loinc.org', code: 'anything' }, 'error')).toEqual([]);
  });
  it('a Quantity code is checked against its system like a Coding', () => {
    const errors = s.validate({ resourceType: 'Medication', amount: { numerator: { value: 1, system: 'http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm', code: 'Tab' }, denominator: { value: 1 } } }).filter((i) => i.severity === 'error');
    expect(errors[0].expression).toEqual(['Medication.amount.numerator.code']);
  });
});
