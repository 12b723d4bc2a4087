import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';

const validator = new StructureValidator(loadDefinitions());
const examplesDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));

function locations(resource: unknown): string[] {
  return validator.validate(resource).flatMap((issue) => issue.expression ?? []);
}

describe('structure validator', () => {
  it('accepts the official R4 examples, except those HL7 itself published invalid', () => {
    // These examples break the base definitions (codes with non-breaking spaces,
    // SearchParameters without base, a Questionnaire item without linkId...).
    const knownInvalid = /^(Bundle-v2-valuesets|CodeSystem-v2-0550|ImplementationGuide-fhir|ig-r4|Questionnaire-qs1|SearchParameter-.*extensions-.*)\.json$/;
    const rejected: string[] = [];
    let checked = 0;
    for (const file of readdirSync(examplesDir)) {
      if (!file.endsWith('.json') || file === 'package.json' || file.startsWith('.') || knownInvalid.test(file)) continue;
      const resource = JSON.parse(readFileSync(join(examplesDir, file), 'utf8'));
      if (!resource.resourceType) continue;
      checked++;
      // HL7's Java validator also rejects these faults of the examples (relative canonicals such as
      // 'Library/opioidcds-common', empty narratives: txt-2, upper-case UUIDs, 'urn:oid:X.Y.Z'); any other rejection is a bug here.
      const issues = validator.validate(resource).filter((i) => !/must be an absolute URL \(or a #fragment\)|txt-2|is not a valid urn:(uuid|oid)/.test(i.diagnostics ?? ''));
      if (issues.length > 0) rejected.push(`${file}: ${issues[0].diagnostics}`);
    }
    expect(checked).toBeGreaterThan(5000);
    expect(rejected).toEqual([]);
    // 5,300 resources, 6,500 narratives parsed: ~10 s of CPU, more when other test files share the cores.
  }, 120_000);

  it('rejects unknown elements, wrong cardinality and wrong types with FHIRPath locations', () => {
    expect(locations({ resourceType: 'Patient', nickname: 'x' })).toEqual(['Patient.nickname']);
    expect(locations({ resourceType: 'Patient', name: { family: 'Martin' } })).toEqual(['Patient.name']);
    expect(locations({ resourceType: 'Patient', gender: ['male'] })).toEqual(['Patient.gender']);
    expect(locations({ resourceType: 'Patient', active: 'yes' })).toEqual(['Patient.active']);
    expect(locations({ resourceType: 'Patient', name: [{ given: ['Hélène'], family: 42 }] })).toEqual(['Patient.name[0].family']);
  });

  it('checks choice types by their suffix', () => {
    const base = { resourceType: 'Observation', status: 'final', code: { text: 'glycémie' } };
    expect(locations({ ...base, valueQuantity: { value: 1.2, unit: 'g/L' } })).toEqual([]);
    expect(locations({ ...base, valueFoo: 1 })).toEqual(['Observation.valueFoo']);
    expect(locations({ ...base, valueQuantity: { value: 'high' } })).toEqual(['Observation.value.ofType(Quantity).value']);
  });

  it('rejects malformed primitives and impossible calendar dates', () => {
    expect(locations({ resourceType: 'Patient', birthDate: '2023-02-30' })).toEqual(['Patient.birthDate']);
    expect(locations({ resourceType: 'Patient', birthDate: '2023-13-01' })).toEqual(['Patient.birthDate']);
    expect(locations({ resourceType: 'Patient', birthDate: '1949-02-29' })).toEqual(['Patient.birthDate']);
    expect(locations({ resourceType: 'Patient', birthDate: '1948-02-29' })).toEqual([]);
    expect(locations({ resourceType: 'Patient', birthDate: '1948-02-28' })).toEqual([]);
    expect(locations({ resourceType: 'Patient', id: 'has space' })).toEqual(['Patient.id']);
    expect(locations({ resourceType: 'Patient', gender: '' })).toEqual(['Patient.gender']);
    expect(locations({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueInteger: 1.5 })).toEqual(['Observation.value.ofType(integer)']);
  });

  it('requires mandatory elements, including inside backbone elements and contained resources', () => {
    expect(locations({ resourceType: 'Observation', code: { text: 'x' } })).toEqual(['Observation.status']);
    expect(locations({ resourceType: 'Patient', link: [{ type: 'seealso' }] })).toEqual(['Patient.link[0].other']);
    expect(locations({ resourceType: 'Patient', contained: [{ resourceType: 'Observation', id: 'o', code: { text: 'x' } }] })).toEqual([
      'Patient.contained[0].status',
    ]);
  });

  it('accepts primitive extensions through _element companions and rejects them on complex elements', () => {
    expect(locations({ resourceType: 'Patient', birthDate: '1950-01-01', _birthDate: { extension: [{ url: 'http://example.org/x', valueBoolean: true }] } })).toEqual([]);
    expect(locations({ resourceType: 'Patient', _name: { id: 'x' } })).toEqual(['Patient.name']);
  });
});
