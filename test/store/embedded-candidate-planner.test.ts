/**
 * The embedded store's candidate planner (ordered LMDB index keys) proposes a
 * superset of the matches of range, token, reference and string conditions
 * (never misses one), across writes, updates and deletions — checked against a
 * brute-force evaluation of the same conditions over random entries — and only
 * the keys in range (it is an index, not a scan).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/network-dataset.js';
import { indexWriter, temporaryLayouts } from '../helpers/embedded-layouts.js';
import { exactPlan, isExactlyIndexed, planCandidates, planFor, type KeyReader } from '../../src/store/embedded/candidate-planner.js';
import { keyReader } from '../../src/store/embedded/document-reader.js';
import type { Pacer } from '../../src/store/embedded/pacer.js';
import { prefixRange } from '../../src/store/embedded/index-keys.js';
import type { Layout } from '../../src/store/embedded/lmdb-layout.js';
import type { IndexEntries } from '../../src/store/resource-store.js';

const seeded = seededRandom;

type Entry = { n: number; k: string; cn: number; lo: string; hi: string };
type Cond = Record<string, unknown>;

function entryMeets(entry: Entry, cond: Cond): boolean {
  for (const [field, ops] of Object.entries(cond)) {
    if (field === 'k') {
      if (entry.k !== ops) return false;
      continue;
    }
    const value = entry[field as keyof Entry];
    for (const [op, operand] of Object.entries(ops as Record<string, number | string>)) {
      if (op === '$gt' && !(value > operand)) return false;
      if (op === '$gte' && !(value >= operand)) return false;
      if (op === '$lt' && !(value < operand)) return false;
      if (op === '$lte' && !(value <= operand)) return false;
    }
  }
  return true;
}

const freshLayout = temporaryLayouts('relais-planner-');

/** Writes index entries of `code` (undefined: a deletion; code '*': the whole index as the only element) for ids, as the store's writer does, in one transaction. */
function writer(layout: Layout) {
  const write = indexWriter(layout);
  return (changes: Array<[string, Array<Record<string, unknown>> | undefined, string?]>) =>
    write(changes.map(([id, entries, code = 'value']) => [id, entries && (code === '*' ? (entries[0] as IndexEntries) : { [code]: entries })]));
}

const candidates = async (layout: Layout, cond: Cond, code = 'value') => planCandidates(keyReader(layout), 'Observation', { [`idx.${code}`]: { $elemMatch: cond } });

describe('embedded candidate planner', () => {
  it('never misses a match of number, canonical quantity and date ranges through writes, updates and deletes', async () => {
    const random = seeded(7);
    const layout = freshLayout();
    const write = writer(layout);
    const current = new Map<string, Entry[]>();
    const date = () => new Date(Date.UTC(1930 + Math.floor(random() * 95), Math.floor(random() * 12), 1 + Math.floor(random() * 28))).toISOString();
    const makeEntries = (): Entry[] =>
      Array.from({ length: 1 + Math.floor(random() * 3) }, () => {
        const lo = date();
        const n = Math.round(random() * 2000) / 10;
        return { n, k: random() < 0.5 ? 'g' : 'm', cn: n * 1000, lo, hi: lo.replace('T00:00:00.000Z', 'T23:59:59.999Z') };
      });
    const conditions = (): Cond[] => {
      const a = Math.round(random() * 2000) / 10;
      const b = Math.round(random() * 2000) / 10;
      const d = date();
      return [
        { n: { $gte: Math.min(a, b), $lt: Math.max(a, b) } },
        { n: { $gt: a } },
        { n: { $lte: a } },
        { k: 'g', cn: { $gt: a * 1000 } },
        { lo: { $lt: d } },
        { hi: { $gt: d } },
        { lo: { $gte: d }, hi: { $lte: d.slice(0, 4) + '-12-31T23:59:59.999Z' } },
        { lo: { $lte: d }, $or: [{ lo: { $lt: d } }, { hi: { $lte: d } }] },
      ];
    };
    let checked = 0;
    for (let round = 0; round < 60; round++) {
      const changes: Array<[string, Entry[] | undefined]> = [];
      for (let step = 0; step < 50; step++) {
        const id = `r${Math.floor(random() * 400)}`;
        const after = random() < 0.15 || !current.has(id) && random() < 0.05 ? undefined : makeEntries();
        if (!after && !current.has(id)) continue; // deleting nothing creates no version
        changes.push([id, after]);
        if (after) current.set(id, after);
        else current.delete(id);
      }
      await write(changes);
      for (const cond of conditions()) {
        const { $or, ...plain } = cond as Cond & { $or?: Cond[] };
        const expected = [...current].filter(([, entries]) => entries.some((e) => entryMeets(e, plain) && (!$or || $or.some((b) => entryMeets(e, b))))).map(([i]) => i);
        const found = await candidates(layout, cond);
        expect(found, JSON.stringify(cond)).toBeDefined();
        for (const match of expected) expect(found!.has(match), `${match} for ${JSON.stringify(cond)}`).toBe(true);
        checked += expected.length;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('proposes only the ids in range (it is an index, not a scan)', async () => {
    const layout = freshLayout();
    const write = writer(layout);
    await write(Array.from({ length: 2000 }, (_, i): [string, Entry[]] => [`o${i}`, [{ n: i } as Entry]]));
    expect((await candidates(layout, { n: { $gte: 100, $lt: 110 } }))?.size).toBe(10); // 100..109: a strict bound excludes its value
    expect((await candidates(layout, { n: { $gt: 100, $lte: 110 } }))?.size).toBe(10); // 101..110
    expect((await candidates(layout, { n: { $gt: 100, $gte: 100, $lt: 103 } }))?.size).toBe(2); // the tighter bound: strict on a tie
    await write([['o105', [{ n: 5000 } as Entry]]]);
    const after = (await candidates(layout, { n: { $gte: 100, $lt: 110 } }))!;
    expect(after.has('o105')).toBe(false);
    expect(after.size).toBe(9);
    expect((await candidates(layout, { n: { $gt: 4999 } }))?.has('o105')).toBe(true);
    await write([['o106', undefined]]);
    expect((await candidates(layout, { n: { $gte: 100, $lt: 110 } }))?.has('o106')).toBe(false);
    expect((await candidates(layout, { e: 'x' }))).toBeUndefined(); // nothing indexable: the store scans the type
  });

  it('finds references, codes, systems and string prefixes by key, and picks the narrowest conjunct', async () => {
    const layout = freshLayout();
    const write = writer(layout);
    const loinc = 'http://loinc.org';
    const family: Record<number, Array<Record<string, unknown>>> = { 1: [{ v: 'lefevre', e: 'Lefèvre' }], 2: [{ v: 'lefebvre', e: 'Lefebvre' }], 3: [{ v: 'martin', e: 'Martin' }] };
    await write(
      Array.from({ length: 300 }, (_, i): [string, Array<Record<string, unknown>>, string] => [
        `o${i}`,
        [{ code: [{ s: loinc, c: i % 3 === 0 ? '8480-6' : '8867-4' }], subject: [{ r: `Patient/p${i % 30}`, t: 'Patient', i: `p${i % 30}` }], ...(family[i] ? { family: family[i] } : {}) }],
        '*',
      ]),
    );
    expect((await candidates(layout, { r: 'Patient/p7' }, 'subject'))?.size).toBe(10);
    expect((await candidates(layout, { r: { $in: ['Patient/p7', 'Patient/p8'] } }, 'subject'))?.size).toBe(20);
    expect((await candidates(layout, { s: loinc, c: '8480-6' }, 'code'))?.size).toBe(100);
    expect((await candidates(layout, { c: { $in: ['8480-6'] } }, 'code'))?.size).toBe(100);
    expect((await candidates(layout, { s: loinc }, 'code'))?.size).toBe(300);
    expect([...(await candidates(layout, { v: { $regex: '^lefe' } }, 'family'))!].sort()).toEqual(['o1', 'o2']);
    expect([...(await candidates(layout, { v: 'martin' }, 'family'))!]).toEqual(['o3']);
    expect((await candidates(layout, { v: { $regex: 'fev' } }, 'family'))).toBeUndefined(); // not anchored: no prefix to read
    // A conjunction reads the narrowest part only: 10 subjects rather than 100 codes.
    const both = await planCandidates(keyReader(layout), 'Observation', { 'idx.code': { $elemMatch: { s: loinc, c: '8480-6' } }, 'idx.subject': { $elemMatch: { r: 'Patient/p7' } } });
    expect(both?.size).toBe(10);
    // An $or needs every branch indexable.
    expect((await planCandidates(keyReader(layout), 'Observation', { $or: [{ 'idx.subject': { $elemMatch: { r: 'Patient/p7' } } }, { id: 'o5' }] }))?.size).toBe(11);
    expect((await planCandidates(keyReader(layout), 'Observation', { $or: [{ 'idx.subject': { $elemMatch: { r: 'Patient/p7' } } }, { 'idx.code': { $exists: false } }] }))).toBeUndefined();
  });
});

describe('embedded candidate planner: tiny plans', () => {
  it('takes a plan of at most 8 keys without counting its rivals, and still proposes every match', async () => {
    for (const perSubject of [8, 9]) {
      const layout = freshLayout();
      const write = writer(layout);
      // perSubject observations for each of 5 subjects; one observation (o0, of subject p0) has the rare code.
      await write(
        Array.from({ length: 5 * perSubject }, (_, i): [string, Array<Record<string, unknown>>, string] => [
          `o${i}`,
          [{ code: [{ c: i === 0 ? 'rare' : 'common' }], subject: [{ r: `Patient/p${i % 5}` }] }],
          '*',
        ]),
      );
      const reader = keyReader(layout);
      const counted: string[] = [];
      const counting: KeyReader = {
        count: (range, limit) => (counted.push(String(range.start[1])), reader.count(range, limit)),
        collectIds: (range, into) => reader.collectIds(range, into),
        idsRead: (range) => reader.idsRead?.(range),
      };
      const subject = { 'idx.subject': { $elemMatch: { r: 'Patient/p0' } } };
      const rare = { 'idx.code': { $elemMatch: { c: 'rare' } } };
      const found = await planCandidates(counting, 'Observation', { $and: [subject, rare] });
      expect(found?.has('o0')).toBe(true);
      if (perSubject === 8) {
        // The subject's 8 keys are taken: the code's range is not read to learn it is narrower.
        expect(counted).toEqual(['subject']);
        expect(found?.size).toBe(8);
      } else {
        // 9 keys: the rival is counted, and its one key wins.
        expect(counted).toEqual(['subject', 'code']);
        expect([...found!]).toEqual(['o0']);
      }
    }
  });
});

describe('keyReader.count', () => {
  it('counts a range exactly up to its cap, and reports a broader range as cap + 1 without counting it to its end', async () => {
    const layout = freshLayout();
    const write = writer(layout);
    await write(Array.from({ length: 12_000 }, (_, i): [string, Array<Record<string, unknown>>, string] => [`o${String(i).padStart(5, '0')}`, [{ value: [{ n: i }], rank: [{ n: i % 1000 === 0 ? 1 : 0 }] }], '*']));
    const range = prefixRange(['Observation', 'value', 'n']);
    // Small limits read keys; a limit above READ_TO_COUNT counts natively.
    expect(await keyReader(layout).count(range, 100)).toBe(100);
    expect(await keyReader(layout).count(range, 20_000)).toBe(12_000);
    expect(await keyReader(layout).count(range, 10_000)).toBe(10_001);
    // With a cap below the range's size, a huge limit gets the lower bound cap + 1.
    expect(await keyReader(layout, undefined, 9_000).count(range, Number.MAX_SAFE_INTEGER)).toBe(9_001);
    expect(await keyReader(layout, undefined, 12_000).count(range, Number.MAX_SAFE_INTEGER)).toBe(12_000);
    // The planner still picks the narrower conjunct when the broad one is only bounded: 12 ranks ≥ 1 rather than 12,000 values ≥ 0.
    const both = { 'idx.value': { $elemMatch: { n: { $gte: 0 } } }, 'idx.rank': { $elemMatch: { n: { $gte: 1 } } } };
    expect((await planCandidates(keyReader(layout, undefined, 9_000), 'Observation', both))?.size).toBe(12);
  });

  it('skips a broad range in steps, with turns of the event loop between them, and counts the same at every step boundary', async () => {
    const layout = freshLayout();
    const write = writer(layout);
    await write(Array.from({ length: 20_000 }, (_, i): [string, Array<Record<string, unknown>>] => [`o${String(i).padStart(5, '0')}`, [{ n: i }]]));
    const range = prefixRange(['Observation', 'value', 'n']);
    // Caps around the steps of 8,192 keys: the reader's answer is cap + 1 above the range's size, its size otherwise.
    for (const cap of [8_191, 8_192, 8_193, 16_383, 16_384, 16_385, 19_999, 20_000, 20_001, 24_576]) {
      expect(await keyReader(layout, undefined, cap).count(range, Number.MAX_SAFE_INTEGER), `cap ${cap}`).toBe(cap < 20_000 ? cap + 1 : 20_000);
    }
    // A count that yields between its steps, within a read transaction, while writes land in those turns:
    // it counts the transaction's snapshot, neither the keys added nor those deleted meanwhile.
    let turns = 0;
    const concurrentWrites = () =>
      write([
        ...Array.from({ length: 5_000 }, (_, i): [string, Array<Record<string, unknown>>] => [`p${String(i).padStart(5, '0')}`, [{ n: 30_000 + i }]]),
        ...Array.from({ length: 3_000 }, (_, i): [string, undefined] => [`o${String(i).padStart(5, '0')}`, undefined]),
      ]);
    // The writes are committed in the count's first turn, before its second step.
    const pacer = { paceCostly: async () => (++turns === 1 ? concurrentWrites() : nextTurn()) } as unknown as Pacer;
    const transaction = layout.env.useReadTransaction();
    try {
      expect(await keyReader(layout, transaction, 30_000, pacer).count(range, Number.MAX_SAFE_INTEGER)).toBe(20_000);
    } finally {
      transaction.done();
    }
    expect(turns).toBeGreaterThanOrEqual(2);
    // The writes did land: a new count sees them.
    expect(await keyReader(layout, undefined, 30_000).count(range, Number.MAX_SAFE_INTEGER)).toBe(22_000);
  });
});

describe('exactPlan', () => {
  it('gives an exactly indexed filter the plan the counting planner makes of it, ranges in the same order', async () => {
    // The planner weighing every alternative with each count 0: its first alternative wins, as it did for these filters before exactPlan.
    const uncounted = { count: async () => 0, collectIds: () => undefined };
    const conditions: Array<[string, Cond]> = [
      ['subject', { r: 'Patient/p1' }],
      ['subject', { r: { $in: ['Patient/p2', 'Patient/p1'] } }],
      ['status', { c: 'final' }],
      ['status', { c: { $in: ['final', 'amended'] } }],
      ['identifier', { s: 'urn:oid:1.2.250.1.213.1.4.8', c: '1850775123456' }],
      ['identifier', { s: 'urn:oid:1.2.250.1.71.4.2.1', c: { $in: ['810002', '810001'] } }],
      ['family', { v: 'dupont' }],
      ['family', { v: { $regex: '^dup' } }],
      ['value', { n: { $gte: 3, $lt: 9 } }],
      ['value-quantity', { k: 'mm[Hg]', cn: { $gt: 175 } }],
      ['date', { lo: { $gte: '2024-01-01' } }],
      ['date', { hi: { $lt: '2024-01-01T00:00:00Z' } }],
    ];
    for (const [code, cond] of conditions) {
      const filter = { [`idx.${code}`]: { $elemMatch: cond } };
      expect(isExactlyIndexed(filter)).toBe(true);
      const planned = await planFor(uncounted, 'Observation', filter, undefined, false);
      expect(planned).toBeDefined();
      expect(exactPlan('Observation', filter)).toEqual(planned);
    }
  });
});
