import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildDefinitions } from '../../scripts/build-definitions.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';

describe('R4 definitions artefact', () => {
  it('is exactly what scripts/build-definitions.ts derives from hl7.fhir.r4.examples@4.0.1', () => {
    const built = buildDefinitions();
    const committedTypes = JSON.parse(readFileSync('src/fhir/definitions/r4-types.json', 'utf8'));
    const committedParams = JSON.parse(readFileSync('src/fhir/definitions/r4-search-parameters.json', 'utf8'));
    expect(committedTypes.resourceTypes).toEqual(built.resourceTypes);
    expect(committedTypes.types).toEqual(JSON.parse(JSON.stringify(built.types)));
    expect(committedParams).toEqual(JSON.parse(JSON.stringify(built.searchParameters)));
  });

  it('knows the 146 concrete R4 resource types and their elements', () => {
    const defs = loadDefinitions();
    expect(defs.resourceTypes).toHaveLength(146);
    expect(defs.isResourceType('CarePlan')).toBe(true);
    expect(defs.isResourceType('DomainResource')).toBe(false);
    const observation = defs.childrenOf('Observation');
    expect(observation.get('value[x]')?.types).toContain('Quantity');
    expect(observation.get('status')).toMatchObject({ min: 1, max: '1' });
    expect(defs.childrenOf('Questionnaire.item').get('item')?.ref).toBe('Questionnaire.item');
  });
});
