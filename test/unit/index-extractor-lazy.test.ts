/**
 * The index extractor compiles a search parameter's expression on its first use, one parameter at a
 * time (a search asks only about its own parameters: compiling a whole type at its first search held
 * the event loop 60–110 ms). What it answers must not depend on that: whether a parameter is indexed
 * (`indexes`, the search compiler's question) and a single parameter's entries (`extractParameter`,
 * _include) are the same as from a type compiled whole (`indexedCodes`, `extract`), whatever was
 * asked before.
 */
import type { Resource } from 'fhir/r4';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { FULL_TEXT_PARAMETERS } from '../../src/search/full-text.js';
import { IndexExtractor } from '../../src/search/index-extractor.js';
import { SearchParameterRegistry } from '../../src/search/search-parameters.js';

const definitions = loadDefinitions();
const registry = new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes);
const baseUrl = 'http://relais.test/fhir';
// The types the network uses most, and every 12th of the others (for time: each compile is a few ms).
const TYPES = [...new Set(['Patient', 'Observation', 'Location', 'Encounter', 'CarePlan', 'Bundle', 'Practitioner', ...definitions.resourceTypes.filter((_, i) => i % 12 === 0)])];

describe('per-parameter compilation of the index extractor', () => {
  it('answers whether a parameter is indexed as the whole type compiled does, asked in any order', () => {
    const whole = new IndexExtractor(registry, { baseUrl });
    let asked = 0;
    for (const type of TYPES) {
      const lazy = new IndexExtractor(registry, { baseUrl });
      const codes = [...new Set([...registry.indexedFor(type).map((p) => p.code), ...FULL_TEXT_PARAMETERS, 'no-such-code'])].reverse();
      for (const code of codes) {
        expect(lazy.indexes(type, code), `${type}.${code}`).toBe(whole.indexedCodes(type).has(code));
        asked++;
      }
      // Once the type is compiled whole on the same extractor, the answers are unchanged.
      expect(lazy.indexedCodes(type)).toEqual(whole.indexedCodes(type));
      for (const code of codes) expect(lazy.indexes(type, code), `${type}.${code} after`).toBe(whole.indexedCodes(type).has(code));
    }
    expect(asked).toBeGreaterThan(200);
    // Some parameters exist without being indexed (Bundle.composition names a resource, not a reference).
    expect(new IndexExtractor(registry, { baseUrl }).indexes('Bundle', 'composition')).toBe(false);
  });

  it("extracts one parameter's entries as the whole extraction does, on the official examples", () => {
    const folder = 'node_modules/hl7.fhir.r4.examples/';
    const files = readdirSync(folder).filter((f) => /^(Patient|Observation|Encounter|CarePlan|Location)-example[^/]*\.json$/.test(f)).slice(0, 40);
    const whole = new IndexExtractor(registry, { baseUrl });
    let compared = 0;
    for (const file of files) {
      const resource = JSON.parse(readFileSync(folder + file, 'utf8')) as Resource;
      const all = whole.extract(resource);
      const lazy = new IndexExtractor(registry, { baseUrl });
      for (const parameter of registry.indexedFor(resource.resourceType)) {
        if (FULL_TEXT_PARAMETERS.has(parameter.code)) continue; // no expression: not extracted one by one
        expect(lazy.extractParameter(resource, parameter.code), `${file} ${parameter.code}`).toEqual(all[parameter.code] ?? []);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(200);
  });
});
