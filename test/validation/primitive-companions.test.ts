/**
 * The `_element` companions of primitives (R4 JSON page, "Representation of
 * primitive elements"; locations are FHIRPath, where `_given` is `given`), and the order of validation issues (most severe first).
 */
import { describe, expect, it } from 'vitest';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { operationOutcome } from '../../src/fhir/operation-outcome.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
const structure = new StructureValidator(definitions);
const errorsAt = (resource: object) => structure.validate(resource).filter((i) => i.severity === 'error').flatMap((i) => i.expression ?? []);

describe('primitive companions', () => {
  const ext = { extension: [{ url: 'http://example.org/x', valueString: 'y' }] };
  it('accepts an object for a single value and an array of the same length for a repeating one', () => {
    expect(errorsAt({ resourceType: 'Patient', active: true, _active: ext })).toEqual([]);
    expect(errorsAt({ resourceType: 'Patient', _active: ext })).toEqual([]);
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: ['A', 'B'], _given: [null, ext] }] })).toEqual([]);
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: [null, 'B'], _given: [ext, null] }] })).toEqual([]);
  });
  it('refuses an array as the companion of a single value', () => {
    expect(errorsAt({ resourceType: 'Patient', active: true, _active: [ext] })).toEqual(['Patient.active']);
    expect(errorsAt({ resourceType: 'Patient', _active: [ext] })).toEqual(['Patient.active']);
  });
  it('refuses an object as the companion of a repeating value', () => {
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: ['A'], _given: ext }] })).toEqual(['Patient.name[0].given']);
  });
  it('refuses companions whose length differs from the values', () => {
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: ['A'], _given: [null, ext] }] })).toEqual(['Patient.name[0].given']);
  });
  it('refuses nulls on both sides, and a null companion of a single value', () => {
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: ['A', null], _given: [ext, null] }] })).toContain('Patient.name[0].given[1]');
    expect(errorsAt({ resourceType: 'Patient', active: true, _active: null })).toEqual(['Patient.active']);
    expect(errorsAt({ resourceType: 'Patient', name: [{ given: ['A', null] }] })).toEqual(['Patient.name[0].given[1]']);
  });
  it('refuses a companion on a non-primitive element', () => {
    expect(errorsAt({ resourceType: 'Patient', _name: [ext] })).toEqual(['Patient.name']);
  });
});

describe('issue order', () => {
  const service = new ValidationService(definitions, structure, conformanceRegistry(undefined), 'claimed');
  it('validation lists errors before warnings and information', () => {
    // dom-6 (a narrative is recommended) is a warning; the per-1 breach an error.
    const issues = service.validate({ resourceType: 'Encounter', status: 'finished', class: { code: 'HH' }, period: { start: '2024-03-10', end: '2024-03-01' }, meta: { profile: ['http://example.org/unknown'] } });
    const severities = issues.map((i) => i.severity);
    expect(severities).toContain('error');
    expect(severities).toContain('warning');
    expect(severities).toContain('information');
    expect(severities).toEqual([...severities].sort((a, b) => ['fatal', 'error', 'warning', 'information'].indexOf(a) - ['fatal', 'error', 'warning', 'information'].indexOf(b)));
  });
  it('every OperationOutcome is written most severe first, keeping the order within a severity', () => {
    const outcome = operationOutcome([
      { severity: 'information', code: 'informational', diagnostics: 'i' },
      { severity: 'warning', code: 'invariant', diagnostics: 'w1' },
      { severity: 'error', code: 'invariant', diagnostics: 'e1' },
      { severity: 'warning', code: 'invariant', diagnostics: 'w2' },
      { severity: 'fatal', code: 'exception', diagnostics: 'f' },
      { severity: 'error', code: 'invariant', diagnostics: 'e2' },
    ]);
    expect(outcome.issue.map((i) => i.diagnostics)).toEqual(['f', 'e1', 'e2', 'w1', 'w2', 'i']);
  });
});
