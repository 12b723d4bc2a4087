/**
 * The embedded store answers a search whose every condition its keys prove at one point, one of them
 * with few keys (one patient's weights: `patient=…&code=…`), without its general planner and judges
 * (src/store/embedded/point-lookup.ts). Checked here against the filter evaluation (filter-test.ts)
 * over random resources written, updated and deleted in many commits, on ordinary and compact heads:
 * the same matches — a resource updated away from a condition, a deleted one, two conditions holding
 * on different resources — in the default order the general path gives (ids in order; the keys'
 * order for one condition, as key-order.ts lists it), cut at a page's end, with the entries a sort
 * names; and the general path keeps the searches it does not take (no condition with few keys, a
 * parameter without keys).
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/network-dataset.js';
import { indexWriter, randomRound, temporaryLayouts } from '../helpers/embedded-layouts.js';
import { filterTest } from '../../src/store/embedded/filter-test.js';
import { matchingDocuments } from '../../src/store/embedded/document-reader.js';
import { listExactMatches } from '../../src/store/embedded/key-order.js';
import { Pacer } from '../../src/store/embedded/pacer.js';
import { pointConditions, pointMatches } from '../../src/store/embedded/point-lookup.js';
import type { IndexEntries } from '../../src/store/resource-store.js';

const freshLayout = temporaryLayouts('relais-point-lookup-');
const TYPE = 'Observation';
const LOINC = 'http://loinc.org';
const CODES = ['29463-7', '8480-6', '8867-4'];
type Filter = Record<string, unknown>;

/** 150 resources over 40 patients (about four each: few keys), three codes, two statuses. */
function randomEntries(random: () => number): IndexEntries {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const index: IndexEntries = {
    // Sometimes two codings, one with another system: system and code must hold on one entry.
    code: random() < 0.2 ? [{ s: 'http://snomed.info/sct', c: pick(CODES) }, { s: LOINC, c: pick(CODES) }] : [{ s: LOINC, c: pick(CODES) }],
    status: [{ c: random() < 0.7 ? 'final' : 'amended' }],
    date: [{ lo: `202${Math.floor(random() * 5)}-01-01T00:00:00.000Z`, hi: `202${Math.floor(random() * 5)}-06-30T23:59:59.999Z` }],
  };
  if (random() < 0.9) index.patient = [{ r: `Patient/p${Math.floor(random() * 40)}` }];
  return index;
}

function randomFilter(random: () => number): Filter {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const patient = () => `Patient/p${Math.floor(random() * 42)}`;
  const conditions: Filter[] = [];
  // A narrow condition (a patient, or two), then zero to two others, narrow or broad, in any order.
  conditions.push(random() < 0.8 ? { 'idx.patient': { $elemMatch: { r: patient() } } } : { 'idx.patient': { $elemMatch: { r: { $in: [patient(), patient()] } } } });
  for (let n = Math.floor(random() * 3); n > 0; n--) {
    conditions.push(
      pick<() => Filter>([
        () => ({ 'idx.code': { $elemMatch: { s: LOINC, c: pick(CODES) } } }),
        () => ({ 'idx.code': { $elemMatch: { c: { $in: [pick(CODES), pick(CODES)] } } } }),
        () => ({ 'idx.status': { $elemMatch: { c: random() < 0.5 ? 'final' : 'amended' } } }),
        () => ({ 'idx.patient': { $elemMatch: { r: patient() } } }),
      ])(),
    );
  }
  if (random() < 0.5) conditions.reverse();
  return conditions.length === 1 ? conditions[0] : { $and: conditions };
}

async function compare(seed: number, writeOnceTypes?: ReadonlySet<string>): Promise<void> {
  const random = seededRandom(seed);
  const layout = freshLayout();
  const write = indexWriter(layout, TYPE, writeOnceTypes);
  const current = new Map<string, IndexEntries>();
  let taken = 0;
  let matched = 0;
  for (let round = 0; round < 12; round++) {
    await write(randomRound(random, current, randomEntries, { steps: 40, ids: 150 }));
    const transaction = layout.env.useReadTransaction();
    try {
      for (let n = 0; n < 40; n++) {
        const filter = randomFilter(random);
        const label = JSON.stringify(filter);
        const evaluate = filterTest(filter);
        const expected = [...current].filter(([id, idx]) => evaluate({ id, type: TYPE, idx })).map(([id]) => id).sort();
        const conditions = pointConditions(filter)!;
        expect(conditions, label).toBeDefined();
        const found = pointMatches(layout, transaction, TYPE, conditions);
        // Taken whenever a condition has at most 8 keys (a patient's: about four here).
        if (!found) continue;
        taken++;
        matched += expected.length;
        expect(found.map((m) => m.id).sort(), label).toEqual(expected);
        // What matchingDocuments answers (through this path) is the same.
        expect((await matchingDocuments(layout, transaction, [TYPE], filter)).map((m) => m.id).sort(), label).toEqual(expected);
        // The default order, a first page: ids in order, or for one condition its keys' order (the listing of a paging snapshot).
        const listed = conditions.length === 1 ? (await listExactMatches(layout, transaction, [TYPE], filter, new Pacer()))!.map((r) => r.id) : expected;
        const page = pointMatches(layout, transaction, TYPE, conditions, { ordered: true, limit: 2 })!;
        expect(page.map((m) => m.id), label).toEqual(listed.slice(0, 2));
        // A sort path: its current entries, and the head of the current version.
        const sorted = pointMatches(layout, transaction, TYPE, conditions, { paths: ['idx.date.hi'] })!;
        for (const m of sorted) {
          expect(m.doc.idx, label).toEqual({ date: current.get(m.id)!.date });
          expect(m.head.d, label).toBeUndefined();
        }
      }
    } finally {
      transaction.done();
    }
  }
  // Most searches took this path, and found matches.
  expect(taken).toBeGreaterThan(300);
  expect(matched).toBeGreaterThan(150);
}

describe('embedded point lookups (every condition proven by a key, one with few keys)', () => {
  it('answers exactly what the filter evaluation answers, through updates and deletions, in the general path order', async () => {
    await compare(43);
  });

  it('answers the same over compact heads (entries decoded whole)', async () => {
    await compare(47, new Set([TYPE]));
  });

  it('leaves to the general path a search without a narrow condition, or on a parameter without keys', async () => {
    const layout = freshLayout();
    await indexWriter(layout)(Array.from({ length: 20 }, (_, i) => [`o${i}`, { code: [{ s: LOINC, c: '29463-7' }], patient: [{ r: `Patient/p${i % 2}` }] }]));
    const transaction = layout.env.useReadTransaction();
    try {
      // Ten keys for each patient, twenty for the code: no plan of at most 8 keys.
      const broad = { $and: [{ 'idx.patient': { $elemMatch: { r: 'Patient/p0' } } }, { 'idx.code': { $elemMatch: { s: LOINC, c: '29463-7' } } }] };
      expect(pointMatches(layout, transaction, TYPE, pointConditions(broad)!)).toBeUndefined();
      expect((await matchingDocuments(layout, transaction, [TYPE], broad)).length).toBe(10);
      const narrow = { 'idx.patient': { $elemMatch: { r: 'Patient/none' } } };
      expect(pointMatches(layout, transaction, TYPE, pointConditions(narrow)!)).toEqual([]);
      const unkeyed = { ...layout, unkeyed: new Map([[TYPE, new Set(['patient'])]]) };
      expect(pointMatches(unkeyed, transaction, TYPE, pointConditions(narrow)!)).toBeUndefined();
      // Conditions the keys do not prove at one point are not point conditions.
      expect(pointConditions({ 'idx.date': { $elemMatch: { lo: { $gte: '2024-01-01T00:00:00.000Z' } } } })).toBeUndefined();
      expect(pointConditions({ $and: [narrow, { id: 'o1' }] })).toBeUndefined();
    } finally {
      transaction.done();
    }
  });
});
