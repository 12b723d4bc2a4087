/**
 * Loads FR Core 2.2.0 from fhir-packages/ (shipped with Relais, CC0) the way
 * FHIR_PACKAGES_DIR does at start, and checks that the
 * network's valid examples are also valid against the matching FR Core
 * profiles, and that FR Core's own examples pass our validator.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseTar } from 'nanotar';
import { describe, expect, it } from 'vitest';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { DEFAULT_PROFILES_DIR } from '../../src/conformance/load-conformance.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const packagesDir = resolve(DEFAULT_PROFILES_DIR, '..', 'fhir-packages');
const frCore = join(packagesDir, 'hl7.fhir.fr.core-2.2.0.tgz');

const FR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/';
const matching: Array<[string, string]> = [
  ['Patient-patient-ins-durand.json', 'fr-core-patient-ins'],
  ['Patient-patient-ipp-bernard.json', 'fr-core-patient'],
  ['Practitioner-nurse-martin.json', 'fr-core-practitioner'],
  ['PractitionerRole-nurse-martin-liberal.json', 'fr-core-practitioner-role'],
  ['Organization-ssiad-rhone.json', 'fr-core-organization'],
  ['Encounter-stay-durand.json', 'fr-core-encounter'],
  ['Appointment-concertation-durand.json', 'fr-core-appointment'],
  ['RelatedPerson-carer-durand.json', 'fr-core-related-person'],
];
const errorsOf = (issues: Array<{ severity: string }>) => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('FR Core 2.2.0 package', () => {
  const definitions = loadDefinitions();
  const service = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(packagesDir), 'network');

  it('is loaded: its profiles are known', () => {
    expect(service.registry.sourceOf(`${FR}fr-core-patient-ins`)).toBe('hl7.fhir.fr.core#2.2.0');
  });
  for (const [file, profile] of matching) {
    it(`${file} is valid against ${profile}`, () => {
      const resource = JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'examples', file), 'utf8'));
      expect(errorsOf(service.validate(resource, { profiles: [FR + profile] }))).toEqual([]);
    });
  }
  it("FR Core's own examples pass against the profiles they claim", () => {
    const items = parseTar(gunzipSync(readFileSync(frCore))).filter((i) => i.name.startsWith('package/example/') && i.name.endsWith('.json'));
    expect(items.length).toBeGreaterThan(20);
    const failing = items.flatMap((i) => {
      const r = JSON.parse(i.text);
      const e = errorsOf(service.validate(r));
      return e.length ? [`${i.name}: ${JSON.stringify(e[0])}`] : [];
    });
    expect(failing).toEqual([]);
  });
});
