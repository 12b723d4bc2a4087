/**
 * The embedded store's candidate test (src/store/embedded/filter-test.ts) gives
 * exactly mingo's answer on filters with long membership lists (which it turns
 * into Set lookups), alone and combined with other conditions.
 */
import { Query } from 'mingo';
import { describe, expect, it } from 'vitest';
import { filterTest } from '../../src/store/embedded/filter-test.js';

const ids = Array.from({ length: 200 }, (_, i) => `p${i}`);
const docs = Array.from({ length: 300 }, (_, i) => ({
  id: `p${i}`,
  type: 'Observation',
  idx: {
    ...(i % 4 === 0 ? {} : { patient: [{ r: `Patient/p${(i * 7) % 300}` }, ...(i % 3 === 0 ? [{ r: `Group/g${i}` }] : [])] }),
    code: [{ s: 'http://loinc.org', c: i % 2 === 0 ? '8480-6' : '29463-7' }],
  },
}));

const filters: Array<Record<string, unknown>> = [
  { id: { $in: ids.filter((_, i) => i % 3 === 0) } },
  { 'idx.patient': { $elemMatch: { r: { $in: ids.map((id) => `Patient/${id}`).filter((_, i) => i % 2 === 1) } } } },
  { $and: [{ id: { $in: ids } }, { 'idx.code': { $elemMatch: { c: '8480-6' } } }] },
  { $and: [{ 'idx.patient': { $elemMatch: { r: { $in: ids.map((id) => `Patient/${id}`) } } } }, { $and: [{ id: { $in: ids.slice(50) } }] }] },
  { $or: [{ id: { $in: ids.slice(0, 40) } }, { 'idx.code': { $elemMatch: { c: '29463-7' } } }] }, // not a top-level conjunct: mingo
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
