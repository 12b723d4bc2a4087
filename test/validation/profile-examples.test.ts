/**
 * Every example in profiles/examples is valid; every example in
 * profiles/examples/invalid is rejected with the expected location and message
 * (profiles/examples/invalid/expectations.json), through the same service the
 * engine uses on write.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { conformanceRegistry } from '../../src/validation/validation-from-config.js';
import { DEFAULT_PROFILES_DIR } from '../../src/conformance/load-conformance.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { StructureValidator } from '../../src/validation/structure-validator.js';
import { ValidationService } from '../../src/validation/validation-service.js';

const definitions = loadDefinitions();
// With FR Core, as the server runs by default (fhir-packages/): the examples use its extensions.
const service = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(join(DEFAULT_PROFILES_DIR, '..', 'fhir-packages')), 'network');
const examplesDir = join(DEFAULT_PROFILES_DIR, 'examples');
const invalidDir = join(examplesDir, 'invalid');
const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const failures = (issues: Array<{ severity: string }>) => issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');

describe('valid examples of profiles/', () => {
  const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json'));
  it('cover every network resource profile', () => {
    const covered = new Set<string>();
    for (const f of files) {
      const r = read(join(examplesDir, f));
      for (const p of r.meta?.profile ?? [service.networkProfileFor(r.resourceType)]) covered.add(p);
    }
    const profiles = [...service.supportedProfiles().values()].flat().filter((u) => u.startsWith('https://relais-sante.fr/'));
    const missing = profiles.filter((p) => !covered.has(p) && !['relais-servicerequest'].some((id) => p.endsWith(id)));
    expect(missing).toEqual([]);
  });
  for (const file of files) {
    it(`${file} is valid`, () => {
      const resource = read(join(examplesDir, file));
      expect(resource.meta?.profile ?? service.networkProfileFor(resource.resourceType)).toBeTruthy();
      expect(failures(service.validate(resource))).toEqual([]);
    });
  }
});

describe('invalid examples of profiles/', () => {
  const expectations = read(join(invalidDir, 'expectations.json')) as Record<string, { expression: string; message: string }>;
  it('each invalid file has an expectation', () => {
    expect(readdirSync(invalidDir).filter((f) => f !== 'expectations.json').sort()).toEqual(Object.keys(expectations).sort());
  });
  for (const [file, expected] of Object.entries(expectations)) {
    it(`${file} is rejected at ${expected.expression}`, () => {
      const issues = failures(service.validate(read(join(invalidDir, file))));
      expect(issues.length).toBeGreaterThan(0);
      expect(issues).toContainEqual(expect.objectContaining({ expression: [expected.expression], diagnostics: expect.stringContaining(expected.message) }));
    });
  }
});
