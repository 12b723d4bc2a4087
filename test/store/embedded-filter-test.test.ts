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

/**
 * Comparisons on entry fields (date, number and quantity prefixes: `lo`, `hi`, `n`, `cn` in an
 * $elemMatch, alone or in $or/$and) are evaluated without mingo: the answers must be mingo's for
 * every value an entry may hold — strings, numbers, a field missing or of another type, equal
 * bounds, -0, and the shapes left to mingo (a field holding an array, an entry that is not an object).
 */
describe('entry comparisons', () => {
  const values: unknown[] = ['1940-01-01T00:00:00.000Z', '1950-06-15T00:00:00.000Z', '1960-01-01T00:00:00.000Z', '1939-12-31T23:59:59.999Z', 5, -0, 0, 39.5, 40, 12, null, true, { a: 1 }, ['1950-01-01T00:00:00.000Z'], [41, 2]];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)];
  const entry = (): unknown => {
    if (random() < 0.04) return pick(['text', 3, null, [{ lo: 5 }]]);
    const e: Record<string, unknown> = {};
    for (const field of ['lo', 'hi', 'n']) if (random() < 0.75) e[field] = pick(values);
    return e;
  };
  const docs = Array.from({ length: 400 }, (_, i) => ({
    id: `d${i}`,
    type: 'Patient',
    idx: i % 25 === 0 ? {} : { birthdate: i % 31 === 0 ? [] : i % 97 === 0 ? 'not a list' : Array.from({ length: 1 + (i % 3) }, entry) },
  }));
  const operand = () => pick<string | number>(['1940-01-01T00:00:00.000Z', '1950-06-15T00:00:00.000Z', '1960-01-01T00:00:00.000Z', 0, 5, 39.5, 40]);
  const comparison = (): Record<string, unknown> => {
    const ops: Record<string, unknown> = {};
    for (const op of ['$gt', '$gte', '$lt', '$lte']) if (random() < 0.4) ops[op] = operand();
    if (Object.keys(ops).length === 0) ops.$gte = operand();
    return { [pick(['lo', 'hi', 'n'])]: ops };
  };
  const condition = (depth: number): Record<string, unknown> => {
    const roll = random();
    if (depth < 2 && roll < 0.3) return { $or: [condition(depth + 1), condition(depth + 1)] };
    if (depth < 2 && roll < 0.4) return { $and: [condition(depth + 1), condition(depth + 1)] };
    return roll < 0.7 ? comparison() : { ...comparison(), ...comparison() };
  };

  it('answer as mingo does on random conditions and entries of every shape', () => {
    let matched = 0;
    for (let n = 0; n < 120; n++) {
      const filter = n % 5 === 0 ? { $and: [{ 'idx.birthdate': { $elemMatch: condition(0) } }, { 'idx.birthdate': { $elemMatch: condition(0) } }] } : { 'idx.birthdate': { $elemMatch: condition(0) } };
      const query = new Query(filter);
      const expected = docs.filter((d) => query.test(d)).map((d) => d.id);
      matched += expected.length;
      expect(docs.filter((d) => filterTest(filter)(d)).map((d) => d.id), JSON.stringify(filter)).toEqual(expected);
    }
    expect(matched).toBeGreaterThan(0);
  });

  it('answer as mingo does on the compiler\'s date prefixes (ge as an $or, lt, a range)', () => {
    const ge = { 'idx.birthdate': { $elemMatch: { $or: [{ hi: { $gt: '1940-12-31T23:59:59.999Z' } }, { lo: { $gte: '1940-01-01T00:00:00.000Z' }, hi: { $lte: '1940-12-31T23:59:59.999Z' } }] } } };
    const lt = { 'idx.birthdate': { $elemMatch: { lo: { $lt: '1960-01-01T00:00:00.000Z' } } } };
    for (const filter of [ge, lt, { $and: [ge, lt] }]) {
      const query = new Query(filter);
      const expected = docs.filter((d) => query.test(d)).map((d) => d.id);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(docs.length);
      expect(docs.filter((d) => filterTest(filter)(d)).map((d) => d.id)).toEqual(expected);
    }
  });
});
