/**
 * Parsed searches kept by their text (src/search/search-query-cache.ts): a repeated search gets the
 * same answer as a fresh parse, a SearchParameter added since is seen by the next search, two
 * searches that differ only in what the key holds (types, strictness, a value) never share a parse,
 * a parse that asked the store is never kept, and the cache stays within its bounds.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { IndexExtractor } from '../../src/search/index-extractor.js';
import { definitionOf } from '../../src/search/profile-search-parameters.js';
import { SearchQueryCache } from '../../src/search/search-query-cache.js';
import { SearchCompiler, type SubQueryStore } from '../../src/search/search-query.js';
import { SearchParameterRegistry } from '../../src/search/search-parameters.js';
import type { SearchParameterDefinition } from '../../src/fhir/definitions.js';
import { BIRTH_CITY } from '../helpers/birth-city-parameter.js';

const definitions = loadDefinitions();
const base = 'http://relais.test/fhir';

/** A store that must not be asked (the searches here have no sub-query). */
const noStore: SubQueryStore = {
  search: () => Promise.reject(new Error('no sub-query expected')),
  distinct: () => Promise.reject(new Error('no sub-query expected')),
};

function setup() {
  const registry = new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes);
  const extractor = new IndexExtractor(registry, { baseUrl: base });
  const compiler = new SearchCompiler(registry, { defaultCount: 20, maxCount: 100, baseUrl: base }, undefined, (type, code) => extractor.indexes(type, code));
  return { registry, extractor, compiler };
}

describe('parsed searches kept by their text', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('answers a repeated search as a fresh parse does, and hands out a parse no reader can change', async () => {
    const { compiler } = setup();
    const params: Array<[string, string]> = [['identifier', 'https://rpps.esante.gouv.fr|10001234567'], ['_count', '5']];
    const first = await compiler.parse(['Practitioner'], params, false, noStore);
    const again = await compiler.parse(['Practitioner'], params, false, noStore);
    const fresh = await setup().compiler.parse(['Practitioner'], params, false, noStore);
    expect(again).toEqual(fresh);
    expect(first).toEqual(fresh);
    expect(again.count).toBe(5);
    expect(() => {
      (again.used as Array<[string, string]>).push(['family', 'x']);
    }).toThrow(TypeError);
    expect(() => {
      (again.filter as Record<string, unknown>).id = 'x';
    }).toThrow(TypeError);
    const third = await compiler.parse(['Practitioner'], params, false, noStore);
    expect(third).toBe(again); // kept from the second parse on
    expect(third).toEqual(fresh);
  });

  it('sees a SearchParameter added after a search in the next search', async () => {
    const { registry, extractor, compiler } = setup();
    const params: Array<[string, string]> = [['birth-city', 'Lyon']];
    await compiler.parse(['Patient'], params, false, noStore);
    const before = await compiler.parse(['Patient'], params, false, noStore); // seen twice: kept
    expect(await compiler.parse(['Patient'], params, false, noStore)).toBe(before);
    expect(before.ignored).toEqual(['birth-city']);
    expect(extractor.indexes('Patient', 'birth-city')).toBe(false);
    registry.add(definitionOf(BIRTH_CITY) as SearchParameterDefinition, definitions.resourceTypes);
    const after = await compiler.parse(['Patient'], params, false, noStore);
    expect(after.ignored).toEqual([]);
    expect(after.used).toEqual(params);
    expect(JSON.stringify(after.filter)).toContain('idx.birth-city');
    expect(extractor.indexes('Patient', 'birth-city')).toBe(true);
  });

  it('never shares a parse between searches differing in types, strictness, names or values', async () => {
    const { compiler } = setup();
    const family: Array<[string, string]> = [['family', 'dupont']];
    expect((await compiler.parse(['Patient'], family, false, noStore)).ignored).toEqual([]);
    // Organization has no family: ignored in lenient handling, refused in strict handling.
    expect((await compiler.parse(['Organization'], family, false, noStore)).ignored).toEqual(['family']);
    await expect(compiler.parse(['Organization'], family, true, noStore)).rejects.toMatchObject({ status: 400 });
    const dupont = await compiler.parse(['Patient'], family, false, noStore);
    const durand = await compiler.parse(['Patient'], [['family', 'durand']], false, noStore);
    expect(JSON.stringify(dupont.filter)).toContain('dupont');
    expect(JSON.stringify(durand.filter)).toContain('durand');
    expect(JSON.stringify(durand.filter)).not.toContain('dupont');
    // Where a name ends and its value begins is part of the key.
    const split = await compiler.parse(['Patient'], [['given', 'a'], ['family', 'b']], false, noStore);
    const joined = await compiler.parse(['Patient'], [['given', 'a&family=b']], false, noStore);
    expect(split.used).toHaveLength(2);
    expect(joined.used).toEqual([['given', 'a&family=b']]);
  });

  it('does not keep a parse that asked the store: a chain is resolved again each time', async () => {
    const { compiler } = setup();
    let asked = 0;
    const store: SubQueryStore = {
      search: () => Promise.reject(new Error('not expected')),
      distinct: async () => [`patient-${++asked}`],
    };
    const params: Array<[string, string]> = [['subject:Patient.identifier', 'urn:oid:1.2.250.1.213.1.4.8|1234567890123']];
    const filters: string[] = [];
    for (let i = 0; i < 3; i++) filters.push(JSON.stringify((await compiler.parse(['Observation'], params, false, store)).filter));
    expect(asked).toBe(3);
    filters.forEach((filter, i) => expect(filter).toContain(`Patient/patient-${i + 1}`));
  });

  it('does not keep a parse that read the clock: ap on a date follows the time of each search', async () => {
    const { compiler } = setup();
    const params: Array<[string, string]> = [['birthdate', 'ap2000-01-01']];
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2010-01-01T00:00:00Z'));
    await compiler.parse(['Patient'], params, false, noStore);
    const early = JSON.stringify((await compiler.parse(['Patient'], params, false, noStore)).filter);
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const late = JSON.stringify((await compiler.parse(['Patient'], params, false, noStore)).filter);
    // The R4 page: ap is 10 % of the gap to now on each side, so a later now widens the range.
    expect(late).not.toEqual(early);
  });

  it('stays within its bounds in entries and characters, and keeps no long text', () => {
    const cache = new SearchQueryCache(() => 0, { entries: 3, chars: 400, longestText: 60 });
    const parsed = () => ({ filter: {}, used: [], ignored: [], offset: 0, sort: [], include: [], revinclude: [] });
    const keep = (into: SearchQueryCache, i: number) => {
      const key = into.keyOf(['Patient'], [['family', `name-${i}`]], false)!;
      into.set(key, parsed());
      into.set(key, parsed()); // kept the second time its text is seen
    };
    cache.set(cache.keyOf(['Patient'], [['family', 'once']], false)!, parsed());
    expect(cache.size).toBe(0);
    for (let i = 0; i < 10; i++) keep(cache, i);
    expect(cache.size).toBe(3);
    expect(cache.keyOf(['Patient'], [['family', 'x'.repeat(61)]], false)).toBeUndefined();
    expect(cache.keyOf(['Patient'], [['_cursor', 'abc']], false)).toBeUndefined();
    const wide = new SearchQueryCache(() => 0, { entries: 100, chars: 400, longestText: 60 });
    for (let i = 0; i < 10; i++) keep(wide, i);
    // Each key of ~30 characters counts 4 × its length: at most 400 characters' worth kept.
    expect(wide.size).toBeLessThanOrEqual(4);
    expect(wide.size).toBeGreaterThan(0);
  });
});
