/**
 * The network's conformance resources (profiles/) carry names that tools can use as
 * identifiers, as R4 asks of every canonical resource's `name` (invariants sdf-0, vsd-0,
 * csd-0, spd-0: "Name should be usable as an identifier for the module by machine processing
 * applications such as code generation"). The HL7 validator (scripts/hl7-validator-check.ts)
 * warned about the SearchParameters, named like their ids.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILES_DIR } from '../../src/conformance/load-conformance.js';

describe('names of the conformance resources in profiles/', () => {
  it('every name matches the R4 identifier pattern [A-Z]([A-Za-z0-9_]){0,254}', () => {
    const files = readdirSync(DEFAULT_PROFILES_DIR).filter((f) => f.endsWith('.json'));
    const named = files.map((file) => ({ file, name: (JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, file), 'utf8')) as { name?: string }).name }));
    expect(named.filter((n) => n.file.startsWith('SearchParameter-')).length).toBeGreaterThan(0);
    for (const { file, name } of named) {
      if (name === undefined) continue;
      expect({ file, name, valid: /^[A-Z]([A-Za-z0-9_]){0,254}$/.test(name) }).toEqual({ file, name, valid: true });
    }
  });
});
