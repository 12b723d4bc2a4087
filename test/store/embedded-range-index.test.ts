/**
 * The embedded store's sorted range index proposes a superset of the matches of
 * range conditions (never misses one), across adds, updates and deletions,
 * before and after its buffer is merged — checked against a brute-force
 * evaluation of the same conditions over random entries.
 */
import { describe, expect, it } from 'vitest';
import { EntryRangeIndex } from '../../src/store/embedded/entry-range-index.js';

function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

describe('embedded range index', () => {
  it('never misses a match of number, canonical quantity and date ranges through writes, updates and deletes', () => {
    const random = seeded(7);
    const index = new EntryRangeIndex();
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
    for (let step = 0; step < 3000; step++) {
      const id = `r${Math.floor(random() * 400)}`;
      const before = current.get(id);
      const roll = random();
      const after = roll < 0.15 ? undefined : makeEntries();
      index.update('Observation', id, 'value', before, after);
      if (after) current.set(id, after);
      else current.delete(id);
      if (step % 50 === 0) {
        for (const cond of conditions()) {
          const { $or, ...plain } = cond as Cond & { $or?: Cond[] };
          const expected = [...current].filter(([, entries]) => entries.some((e) => entryMeets(e, plain) && (!$or || $or.some((b) => entryMeets(e, b))))).map(([i]) => i);
          const candidates = index.candidates('Observation', 'value', cond);
          expect(candidates, JSON.stringify(cond)).toBeDefined();
          for (const match of expected) expect(candidates!.has(match), `${match} for ${JSON.stringify(cond)}`).toBe(true);
          checked += expected.length;
        }
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('proposes only the ids in range once merged (it is an index, not a scan)', () => {
    const index = new EntryRangeIndex();
    for (let i = 0; i < 2000; i++) index.update('Observation', `o${i}`, 'value', undefined, [{ n: i }]);
    expect(index.candidates('Observation', 'value', { n: { $gte: 100, $lt: 110 } })?.size).toBe(11); // inclusive bounds: 100..110
    index.update('Observation', 'o105', 'value', [{ n: 105 }], [{ n: 5000 }]);
    for (let i = 0; i < 500; i++) index.update('Observation', `p${i}`, 'value', undefined, [{ n: 10_000 + i }]); // forces a merge
    const after = index.candidates('Observation', 'value', { n: { $gte: 100, $lt: 110 } })!;
    expect(after.has('o105')).toBe(false);
    expect(after.size).toBe(10);
    expect(index.candidates('Observation', 'value', { n: { $gt: 4999 } })?.has('o105')).toBe(true);
    expect(index.candidates('Observation', 'value', { c: 'x' })).toBeUndefined(); // no range: the planner scans
    // A range holding at least `limit` pairs is not collected (the planner already has a smaller set).
    expect(index.candidates('Observation', 'value', { n: { $gte: 0 } }, 100)).toBeUndefined();
    expect(index.candidates('Observation', 'value', { n: { $gte: 0, $lt: 50 } }, 100)?.size).toBe(51);
  });
});
