/**
 * The embedded store's candidate test (src/store/embedded/filter-test.ts) gives
 * exactly mingo's answer on filters with long membership lists (which it turns
 * into Set lookups), alone and combined with other conditions; and the tests it keeps across
 * searches answer as a fresh compilation would, whatever filters share a text.
 */
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { filterTest, FilterTests } from '../../src/store/embedded/filter-test.js';

const ids = Array.from({ length: 200 }, (_, i) => `p${i}`);
const fillers = Array.from({ length: 40 }, (_, i) => `x-${i}`);
const docs = Array.from({ length: 300 }, (_, i) => ({
  id: `p${i}`,
  type: 'Observation',
  idx: {
    ...(i % 4 === 0 ? {} : { patient: [{ r: `Patient/p${(i * 7) % 300}` }, ...(i % 3 === 0 ? [{ r: `Group/g${i}` }] : [])] }),
    // Every tenth entry has no system (a `code` element): token :in's `s: { $in: [system, null] }` accepts it.
    code: [{ ...(i % 10 === 1 ? {} : { s: 'http://loinc.org' }), c: i % 2 === 0 ? '8480-6' : '29463-7' }],
  },
}));

const filters: Array<Record<string, unknown>> = [
  { id: { $in: ids.filter((_, i) => i % 3 === 0) } },
  { 'idx.patient': { $elemMatch: { r: { $in: ids.map((id) => `Patient/${id}`).filter((_, i) => i % 2 === 1) } } } },
  { $and: [{ id: { $in: ids } }, { 'idx.code': { $elemMatch: { c: '8480-6' } } }] },
  { $and: [{ 'idx.patient': { $elemMatch: { r: { $in: ids.map((id) => `Patient/${id}`) } } } }, { $and: [{ id: { $in: ids.slice(50) } }] }] },
  { $or: [{ id: { $in: ids.slice(0, 40) } }, { 'idx.code': { $elemMatch: { c: '29463-7' } } }] }, // not a top-level conjunct: mingo
  // Token :in / :below / :above (one code list per system) and :not-in.
  { 'idx.code': { $elemMatch: { c: { $in: ['29463-7', ...fillers] }, s: { $in: ['http://loinc.org', null] } } } },
  { 'idx.code': { $elemMatch: { c: { $in: ['29463-7', ...fillers] }, s: { $in: ['http://loinc.org'] } } } }, // not the entries without a system
  { $or: [{ 'idx.code': { $elemMatch: { c: { $in: ['8480-6', ...fillers] }, s: { $in: ['http://snomed.info/sct', null] } } } }, { 'idx.code': { $elemMatch: { c: { $in: ['29463-7', ...fillers] }, s: { $in: ['http://loinc.org', null] } } } }] },
  { $nor: [{ 'idx.code': { $elemMatch: { c: { $in: ['29463-7', ...fillers] }, s: { $in: ['http://loinc.org', null] } } } }] },
  { $and: [{ id: { $in: ids } }, { $nor: [{ 'idx.code': { $elemMatch: { c: { $in: ['8480-6', ...fillers] }, s: { $in: ['http://loinc.org'] } } } }] }] },
  { id: { $in: ['p1', 'p2'] } }, // short: mingo
  { id: { $in: [...ids, 7] } }, // not only strings: mingo
];

describe('embedded filter test', () => {
  for (const [n, filter] of filters.entries()) {
    it(`agrees with mingo on filter ${n}`, () => {
      const query = new Query(filter);
      const test = filterTest(filter);
      const expected = docs.filter((d) => query.test(d)).map((d) => d.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(docs.length);
      expect(docs.filter((d) => test(d)).map((d) => d.id)).toEqual(expected);
    });
  }
});

describe('kept filter tests', () => {
  const matching = (test: (doc: Record<string, unknown>) => boolean) => docs.filter((d) => test(d)).map((d) => d.id);
  it('answer as a fresh compilation, for filters met again, differing in a value, or not plain JSON', () => {
    const tests = new FilterTests();
    const variants: Array<Record<string, unknown>> = [
      { 'idx.code': { $elemMatch: { c: '8480-6' } } },
      { 'idx.code': { $elemMatch: { c: '29463-7' } } },
      { id: { $regex: /^p1/ } }, // JSON writes both RegExps as {}: they must not share a kept test
      { id: { $regex: /^p2/ } },
      { id: { $in: ids } }, // too large to keep
      { 'idx.patient': { $exists: true } },
      { 'idx.patient': { $exists: false } },
    ];
    for (let round = 0; round < 3; round++) {
      for (const filter of variants) expect(matching(tests.get(filter)), JSON.stringify(filter)).toEqual(matching((doc) => new Query(filter).test(doc)));
    }
  });
});
