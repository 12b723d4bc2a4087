/**
 * One test (or more) per validator rule, on small resources built here:
 * cardinality, fixed, pattern, slicing (per-slice cardinality, closed slicing,
 * extension slices by url), bindings by strength, unknown ValueSets, extension
 * context and value type, reference targets, base R4 invariants, profile
 * invariants, and a snapshot generated from a differential.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { StructureDefinition } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { ConformanceRegistry } from '../../src/conformance/conformance-registry.js';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { generateSnapshot } from '../../src/conformance/snapshot-generator.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const B = 'https://relais-sante.fr/fhir';
const coreDir = dirname(createRequire(import.meta.url).resolve('hl7.fhir.r4.examples/package.json'));
const definitions = loadDefinitions();
const network = conformanceRegistry(undefined);
const service = new ValidationService(definitions, new StructureValidator(definitions), network, 'network');
const issuesOf = (r: unknown, profiles?: string[]) => service.validate(r, profiles ? { profiles } : {});
const at = (r: unknown, expression: string, profiles?: string[]) => issuesOf(r, profiles).filter((i) => i.expression?.[0] === expression);

/** A registry with the network's resources plus ad-hoc test profiles (snapshots generated from their differentials). */
function withProfile(differential: StructureDefinition['differential'], type: string): ValidationService {
  const registry = new ConformanceRegistry();
  for (const e of network.all()) registry.add(e.resource, e.source);
  const base = network.get<StructureDefinition>(`${B}/StructureDefinition/relais-${type.toLowerCase()}`)!;
  const sd: StructureDefinition = { resourceType: 'StructureDefinition', url: `http://test/${type}`, name: 'T', status: 'draft', kind: 'resource', abstract: false, type, baseDefinition: base.url, derivation: 'constraint', differential };
  // Base datatypes come from HL7's R4 package (devDependency), as in scripts/generate-snapshots.ts.
  const core = (u: string) => {
    const file = join(coreDir, `StructureDefinition-${u.split('|')[0].slice('http://hl7.org/fhir/StructureDefinition/'.length)}.json`);
    return u.startsWith('http://hl7.org/fhir/StructureDefinition/') && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StructureDefinition) : undefined;
  };
  sd.snapshot = { element: generateSnapshot(sd, (u) => registry.get<StructureDefinition>(u) ?? core(u)) };
  registry.add(sd, 'test');
  return new ValidationService(definitions, new StructureValidator(definitions), registry, 'network');
}

const insPatient = () => ({
  resourceType: 'Patient',
  extension: [{ url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability', extension: [{ url: 'identityStatus', valueCoding: { code: 'VALI' } }] }],
  identifier: [{ use: 'official', type: { coding: [{ system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203', code: 'INS-NIR' }] }, system: 'urn:oid:1.2.250.1.213.1.4.8', value: '248066912312345' }],
});

describe('validator rules', () => {
  it('cardinality: a slice max is enforced', () => {
    const p = insPatient();
    p.identifier.push({ ...p.identifier[0], value: '148066912312345' });
    expect(at(p, 'Patient.identifier')).toContainEqual(expect.objectContaining({ severity: 'error', diagnostics: expect.stringContaining("slice 'INS-NIR'): at most 1 allowed, found 2") }));
  });
  it('fixed value: the INS-NIR system is fixed', () => {
    const p = insPatient();
    p.identifier[0].system = 'urn:oid:1.2.3';
    expect(at(p, 'Patient.identifier[0].system')[0]).toMatchObject({ severity: 'error', code: 'value' });
  });
  it('pattern value: extra codings are allowed, a different code is not', () => {
    const svc = withProfile({ element: [{ id: 'Patient', path: 'Patient' }, { id: 'Patient.maritalStatus', path: 'Patient.maritalStatus', patternCodeableConcept: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W' }] } }] }, 'Patient');
    const ok = { resourceType: 'Patient', maritalStatus: { coding: [{ system: 'http://x', code: 'y' }, { system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'W', display: 'Widowed' }] } };
    expect(svc.validate(ok, { profiles: ['http://test/Patient'] }).filter((i) => i.severity === 'error')).toEqual([]);
    const ko = { resourceType: 'Patient', maritalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus', code: 'M' }] } };
    expect(svc.validate(ko, { profiles: ['http://test/Patient'] })).toContainEqual(expect.objectContaining({ expression: ['Patient.maritalStatus'], diagnostics: expect.stringContaining('pattern') }));
  });
  it('closed slicing rejects a value matching no slice', () => {
    const svc = withProfile({ element: [{ id: 'Flag', path: 'Flag' }, { id: 'Flag.identifier', path: 'Flag.identifier', slicing: { discriminator: [{ type: 'value', path: 'system' }], rules: 'closed' } }, { id: 'Flag.identifier:a', path: 'Flag.identifier', sliceName: 'a' }, { id: 'Flag.identifier:a.system', path: 'Flag.identifier.system', fixedUri: 'urn:a' }] }, 'Flag');
    const flag = { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: 'Patient/1' }, identifier: [{ system: 'urn:a', value: '1' }, { system: 'urn:b', value: '2' }] };
    const issues = svc.validate(flag, { profiles: ['http://test/Flag'] });
    expect(issues).toContainEqual(expect.objectContaining({ expression: ['Flag.identifier[1]'], diagnostics: expect.stringContaining('matches none of the slices') }));
    expect(issues.filter((i) => i.expression?.[0] === 'Flag.identifier[0]')).toEqual([]);
  });
  it('required binding: error; extensible binding: warning', () => {
    expect(at({ resourceType: 'Patient', gender: 'woman' }, 'Patient.gender')[0]).toMatchObject({ severity: 'error', code: 'code-invalid' });
    const role = { resourceType: 'PractitionerRole', code: [{ coding: [{ system: 'http://example.org/professions', code: 'wizard' }] }] };
    expect(at(role, 'PractitionerRole.code[0]')[0]).toMatchObject({ severity: 'warning', code: 'code-invalid' });
  });
  it('binding to an unknown ValueSet: information, no exception', () => {
    const svc = withProfile({ element: [{ id: 'Patient', path: 'Patient' }, { id: 'Patient.maritalStatus', path: 'Patient.maritalStatus', binding: { strength: 'required', valueSet: 'http://example.org/ValueSet/nowhere' } }] }, 'Patient');
    const issues = svc.validate({ resourceType: 'Patient', maritalStatus: { coding: [{ system: 'http://x', code: 'y' }] } }, { profiles: ['http://test/Patient'] });
    expect(issues).toContainEqual(expect.objectContaining({ severity: 'information', expression: ['Patient.maritalStatus'] }));
    expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
  });
  it('extension context: the chosen-by-patient flag belongs on CareTeam.participant', () => {
    const ok = { resourceType: 'CareTeam', participant: [{ extension: [{ url: `${B}/StructureDefinition/relais-chosen-by-patient`, valueBoolean: true }], member: { reference: 'Practitioner/p' } }] };
    expect(issuesOf(ok).filter((i) => i.severity === 'error')).toEqual([]);
    const ko = { resourceType: 'Patient', extension: [{ url: `${B}/StructureDefinition/relais-chosen-by-patient`, valueBoolean: true }] };
    expect(at(ko, 'Patient.extension[0]')[0].diagnostics).toContain('is not allowed on Patient');
  });
  it('extension value type is enforced, and ext-1 (value and sub-extensions) natively', () => {
    const ko = { resourceType: 'PractitionerRole', extension: [{ url: `${B}/StructureDefinition/relais-accepting-new-patients`, valueString: 'yes' }] };
    expect(at(ko, 'PractitionerRole.extension[0].value.ofType(string)')[0].severity).toBe('error');
    const both = { resourceType: 'Patient', extension: [{ url: 'http://example.org/x', valueString: 'a', extension: [{ url: 'y', valueString: 'b' }] }] };
    expect(at(both, 'Patient.extension[0]')).toContainEqual(expect.objectContaining({ diagnostics: expect.stringContaining('ext-1') }));
  });
  it('reference targets: base R4 targets and profile targets', () => {
    expect(at({ resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: 'Observation/1' } }, 'Flag.subject')[0].diagnostics).toContain('Observation is not allowed');
    expect(at({ resourceType: 'Goal', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/1' }, expressedBy: { reference: 'Organization/o' } }, 'Goal.expressedBy')[0].diagnostics).toContain('Organization is not allowed');
    expect(at({ resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: '#missing' } }, 'Flag.subject.reference')[0].code).toBe('not-found');
  });
  it('base R4 invariants (dom-3: a contained resource must be referenced; per-1)', () => {
    const contained = { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: 'Patient/1' }, contained: [{ resourceType: 'Patient', id: 'orphan' }] };
    expect(at(contained, 'Flag.contained[0]')).toContainEqual(expect.objectContaining({ diagnostics: expect.stringContaining('dom-3') }));
    const period = { resourceType: 'Flag', status: 'active', code: { text: 'x' }, subject: { reference: 'Patient/1' }, period: { start: '2026-05-02', end: '2026-05-01' } };
    expect(at(period, 'Flag.period')).toContainEqual(expect.objectContaining({ diagnostics: expect.stringContaining('per-1') }));
  });
  it('profile invariants: an INS needs a qualified identity (relais-pat-1)', () => {
    const p = insPatient();
    p.extension[0].extension[0].valueCoding.code = 'PROV';
    expect(at(p, 'Patient')).toContainEqual(expect.objectContaining({ code: 'invariant', diagnostics: expect.stringContaining('relais-pat-1') }));
    expect(issuesOf(insPatient()).filter((i) => i.severity === 'error')).toEqual([]);
  });
  it('unknown profile in meta.profile is information, not a rejection; unknown profile asked explicitly is an error', () => {
    const r = { resourceType: 'Flag', meta: { profile: ['http://example.org/unknown'] }, status: 'active', code: { text: 'x' }, subject: { reference: 'Patient/1' } };
    expect(issuesOf(r)).toContainEqual(expect.objectContaining({ severity: 'information' }));
    expect(issuesOf(r, ['http://example.org/unknown'])[0]).toMatchObject({ severity: 'error', code: 'not-found' });
  });
  it('snapshot generation expands datatype children under slices and keeps the base', () => {
    const sd = network.get<StructureDefinition>(`${B}/StructureDefinition/relais-patient`)!;
    const ids = sd.snapshot!.element.map((e) => e.id);
    expect(ids).toContain('Patient.identifier:INS-NIR.system');
    expect(ids).toContain('Patient.birthDate');
    expect(sd.snapshot!.element.find((e) => e.id === 'Patient.identifier:INS-NIR.system')!.fixedUri).toBe('urn:oid:1.2.250.1.213.1.4.8');
  });
});
