/**
 * The embedded store judges search candidates partly from its index keys (candidate-test.ts): a
 * condition the keys prove is checked by key lookups, without the filter evaluation. Checked here
 * against the filter evaluation itself (filter-test.ts) over random resources written, updated and
 * deleted in many commits: every search answers exactly the resources whose current entries match —
 * a resource whose entries no longer match (updated), a deleted one, two conditions on one entry that
 * hold on two different entries, an equality on a text the keys hold clipped, strict and inclusive
 * bounds on the values they compare, -0, a filter only partly provable by keys — in every way the store reads (candidates, ordered first pages and walks, listing
 * from keys alone, entries read before heads, a distinct's entries), over ordinary and compact heads, and for
 * parameters without keys (lmdb-layout.ts, UNKEYED_PARAMETERS) over keys written before the policy and after it.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../scripts/network-dataset.js';
import { indexWriter, randomRound, temporaryLayouts } from '../helpers/embedded-layouts.js';
import { isExactlyIndexed, keyProof } from '../../src/store/embedded/candidate-planner.js';
import { matchingDocuments } from '../../src/store/embedded/document-reader.js';
import { listExactMatches } from '../../src/store/embedded/key-order.js';
import { Pacer } from '../../src/store/embedded/pacer.js';
import { historyPosition, replayMatches } from '../../src/store/embedded/snapshot-replay.js';
import { filterTest } from '../../src/store/embedded/filter-test.js';
import { MAX_VALUE_CHARS } from '../../src/store/embedded/index-keys.js';
import type { Layout } from '../../src/store/embedded/lmdb-layout.js';
import type { IndexEntries } from '../../src/store/resource-store.js';

const seeded = seededRandom;

const freshLayout = temporaryLayouts('relais-candidate-test-');

type Filter = Record<string, unknown>;
const TYPE = 'Observation';
const LONG = 'x'.repeat(MAX_VALUE_CHARS + 50);
/** A text the keys hold exactly as they hold LONG clipped: an equality on it must not match LONG. */
const LONG_CLIPPED = LONG.slice(0, MAX_VALUE_CHARS);
const SYSTEMS = ['http://loinc.org', 'http://snomed.info/sct'];
const CODES = ['8480-6', '8867-4', '29463-7'];
const FAMILIES = ['martin', 'martinez', 'marty', 'dupont', LONG, LONG_CLIPPED];
const NUMBERS = [-1, -0, 0, 0.5, 1, 39.5, 40];
const UNITS = ['Cel', 'K'];
const DATES = ['2021-06-30T23:59:59.999Z', '2022-01-01T00:00:00.000Z', '2022-06-30T23:59:59.999Z', '2023-03-01T00:00:00.000Z'];
const COMPARISONS = ['$gt', '$gte', '$lt', '$lte'];

function randomEntries(random: () => number): IndexEntries {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const some = <T>(make: () => T) => Array.from({ length: 1 + Math.floor(random() * 2) }, make);
  const index: IndexEntries = {
    // One or two codings: a condition on system and code must hold on one of them, not across both.
    code: some(() => (random() < 0.15 ? { c: pick(CODES) } : { s: pick(SYSTEMS), c: pick(CODES) })),
    status: [{ c: random() < 0.5 ? 'final' : 'amended' }],
    date: [{ lo: `202${Math.floor(random() * 5)}-01-01T00:00:00.000Z`, hi: `202${Math.floor(random() * 5)}-06-30T23:59:59.999Z` }],
    // Numbers on the bounds the conditions use, -0 among them (the evaluation compares it equal to 0).
    value: some(() => {
      const n = pick(NUMBERS);
      return { n, k: pick(UNITS), cn: n * 10 };
    }),
  };
  if (random() < 0.8) index.subject = some(() => ({ r: `Patient/p${Math.floor(random() * 12)}` }));
  if (random() < 0.7) index.family = [{ v: pick(FAMILIES) }];
  return index;
}

/** Each round writes to up to 30 of 120 resources (randomRound, test/helpers/embedded-layouts.ts). */
const ROUND = { steps: 30, ids: 120 };

/** Conjuncts of every kind: proven by a key, by a plan's range, by an id list, and only by the evaluation. */
function randomConjunct(random: () => number): Filter {
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const patient = () => `Patient/p${Math.floor(random() * 13)}`;
  return pick<() => Filter>([
    () => ({ 'idx.subject': { $elemMatch: { r: patient() } } }),
    () => ({ 'idx.subject': { $elemMatch: { r: { $in: [patient(), patient()] } } } }),
    () => ({ 'idx.code': { $elemMatch: { s: pick(SYSTEMS), c: pick(CODES) } } }),
    () => ({ 'idx.code': { $elemMatch: { s: pick(SYSTEMS), c: { $in: [pick(CODES), pick(CODES)] } } } }),
    () => ({ 'idx.code': { $elemMatch: { c: pick(CODES) } } }),
    () => ({ 'idx.status': { $elemMatch: { c: random() < 0.5 ? 'final' : 'amended' } } }),
    () => ({ 'idx.family': { $elemMatch: { v: pick(FAMILIES) } } }),
    () => ({ 'idx.family': { $elemMatch: { v: { $regex: `^${pick(['mart', 'marti', 'dup', 'x'.repeat(MAX_VALUE_CHARS)])}` } } } }),
    () => ({ id: { $in: Array.from({ length: 1 + Math.floor(random() * 30) }, () => `o${Math.floor(random() * 120)}`) } }),
    () => ({ 'idx.date': { $elemMatch: { $or: [{ hi: { $gt: '2022-03-01T00:00:00.000Z' } }, { lo: { $gte: '2021-01-01T00:00:00.000Z' }, hi: { $lte: '2021-12-31T23:59:59.999Z' } }] } } }),
    () => ({ 'idx.value': { $elemMatch: { n: { [pick(COMPARISONS)]: pick(NUMBERS) } } } }),
    () => ({ 'idx.value': { $elemMatch: { n: { [pick(['$gt', '$gte'])]: pick(NUMBERS), [pick(['$lt', '$lte'])]: pick(NUMBERS) } } } }),
    () => ({ 'idx.value': { $elemMatch: { k: pick(UNITS), cn: { [pick(COMPARISONS)]: pick(NUMBERS) * 10 } } } }),
    () => ({ 'idx.date': { $elemMatch: { hi: { [pick(COMPARISONS)]: pick(DATES) } } } }),
    () => ({ 'idx.date': { $elemMatch: { lo: { [pick(['$gt', '$gte'])]: pick(DATES), [pick(['$lt', '$lte'])]: pick(DATES) } } } }),
    () => ({ 'idx.date': { $elemMatch: { lo: { $gte: pick(DATES) }, hi: { $lte: pick(DATES) } } } }),
    () => ({ 'idx.subject': { $exists: false } }),
    () => ({ $or: [{ 'idx.status': { $elemMatch: { c: 'amended' } } }, { 'idx.subject': { $elemMatch: { r: patient() } } }] }),
  ])();
}

function randomFilter(random: () => number): Filter {
  const conjuncts = Array.from({ length: 1 + Math.floor(random() * 3) }, () => randomConjunct(random));
  if (conjuncts.length === 1) return conjuncts[0];
  // Both ways a conjunction is written: `$and` parts and several keys of one object.
  const keys = new Set(conjuncts.flatMap((c) => Object.keys(c)));
  return random() < 0.5 || keys.size < conjuncts.length ? { $and: conjuncts } : Object.assign({}, ...conjuncts);
}

describe('embedded candidate judgement (keys proving conditions)', () => {
  it('answers exactly what the filter evaluation answers, through updates and deletions, in every read path', async () => {
    await compareEveryReadPath(seeded(19), 25, undefined, 2000);
  });

  it('answers the same over compact heads (write-once types: entries decoded whole, no per-parameter copies)', async () => {
    await compareEveryReadPath(seeded(29), 6, new Set([TYPE]), 400);
  });

  it('answers the same for parameters without keys (lmdb-layout.ts, UNKEYED_PARAMETERS), over keys written before the policy and after it', async () => {
    // status and code unkeyed: the first rounds are written with their keys (a folder from before), the later ones without.
    await compareEveryReadPath(seeded(31), 8, undefined, 1000, { unkeyed: new Set(['status', 'code']), keyedRounds: 3 });
    await compareEveryReadPath(seeded(37), 6, new Set([TYPE]), 400, { unkeyed: new Set(['status', 'code', 'family']), keyedRounds: 2 });
  });

  it('rebuilds a released snapshot exactly as its first page listed it for parameters without keys, over keys written before the policy and after it', async () => {
    await compareReplays(seeded(41), { unkeyed: new Set(['status', 'code', 'family']), keyedRounds: 4 });
  });

  it('rebuilds a released snapshot from the history exactly as its first page listed it, for every kind of filter', async () => {
    await compareReplays(seeded(23));
  });

  it('takes as proven by keys only conditions the keys hold whole', () => {
    const cond = (c: Filter) => ({ $elemMatch: c });
    expect(keyProof('idx.subject', cond({ r: 'Patient/1' }))).toEqual({ kind: 'point', prefixes: [['subject', 'r', 'Patient/1']] });
    expect(keyProof('idx.code', cond({ s: 'http://loinc.org', c: '8480-6' }))).toEqual({ kind: 'point', prefixes: [['code', 'sc', 'http://loinc.org', '8480-6']] });
    expect(keyProof('idx.family', cond({ v: { $regex: '^mart' } }))).toEqual({ kind: 'range' });
    // A key keeps MAX_VALUE_CHARS characters: equal to such a text is not proven (a longer value has the same key).
    expect(keyProof('idx.family', cond({ v: LONG_CLIPPED }))).toBeUndefined();
    expect(keyProof('idx.family', cond({ v: { $regex: '^' + LONG_CLIPPED } }))).toEqual({ kind: 'range' });
    expect(keyProof('idx.family', cond({ v: { $regex: '^' + LONG } }))).toBeUndefined();
    // Anything more than one whole condition is left to the evaluation.
    expect(keyProof('idx.family', cond({ v: { $regex: '^mart', $options: 'i' } }))).toBeUndefined();
    expect(keyProof('idx.subject', cond({ r: 'Patient/1', t: 'Patient' }))).toBeUndefined();
    expect(keyProof('idx.subject', cond({ r: { $in: Array.from({ length: 9 }, (_, i) => `Patient/${i}`) } }))).toBeUndefined();
    // Comparisons: one number field, a canonical quantity in one unit, one ASCII date bound.
    expect(keyProof('idx.value', cond({ n: { $gt: 3, $lte: 7 } }))).toEqual({ kind: 'range' });
    expect(keyProof('idx.value', cond({ k: 'g', cn: { $gte: 3 } }))).toEqual({ kind: 'range' });
    expect(keyProof('idx.date', cond({ hi: { $gt: '2024-01-01T23:59:59.999Z' } }))).toEqual({ kind: 'range' });
    expect(keyProof('idx.value', cond({ n: { $gt: 3, $ne: 5 } }))).toBeUndefined();
    expect(keyProof('idx.value', cond({ n: { $gt: '3' } }))).toBeUndefined();
    expect(keyProof('idx.value', cond({ cn: { $gte: 3 } }))).toBeUndefined();
    expect(keyProof('idx.date', cond({ lo: { $gte: '2024-01-01' }, hi: { $lte: '2024-12-31' } }))).toBeUndefined(); // two fields of one entry
    expect(keyProof('idx.date', cond({ lo: { $gte: 'é' } }))).toBeUndefined(); // keys order UTF-8 bytes, the evaluation UTF-16 units
    expect(keyProof('idx.date', cond({ lo: { $gt: LONG_CLIPPED } }))).toBeUndefined();
    expect(keyProof('idx.subject', { $exists: true })).toBeUndefined();
  });
});

/** Random writes in `rounds` commits, 40 random filters after each, every read path compared with the filter evaluation. */
async function compareEveryReadPath(random: () => number, rounds: number, writeOnceTypes: ReadonlySet<string> | undefined, minMatched: number, policy?: Unkeyed): Promise<void> {
  const { layout, writing, writeRound } = layoutsFor(policy);
  const write = indexWriter(writing, TYPE, writeOnceTypes);
  const current = new Map<string, IndexEntries>();
  let compared = 0;
  let matched = 0;
  for (let round = 0; round < rounds; round++) {
    writeRound(round);
    await write(randomRound(random, current, randomEntries, ROUND));
    const transaction = layout.env.useReadTransaction();
    try {
      for (let n = 0; n < 40; n++) {
        const filter = randomFilter(random);
        const evaluate = filterTest(filter);
        const expected = [...current].filter(([id, idx]) => evaluate({ id, type: TYPE, idx })).map(([id]) => id).sort();
        const label = JSON.stringify(filter);
        const found = await matchingDocuments(layout, transaction, [TYPE], filter);
        expect(found.map((m) => m.id).sort(), label).toEqual(expected);
        // A held snapshot's listing: refs only, from keys alone when they prove every condition; in the
        // default order — id order, or key order for one exactly indexed condition (key-order.ts).
        const refs = await matchingDocuments(layout, transaction, [TYPE], filter, { ordered: true, refsOnly: true });
        const exact = isExactlyIndexed(filter, layout.unkeyed.get(TYPE));
        if (exact) expect(refs.map((m) => m.id).sort(), label).toEqual(expected);
        else expect(refs.map((m) => m.id), label).toEqual(expected);
        // The store lists an exactly indexed snapshot from its keys: the same list.
        const listed = await listExactMatches(layout, transaction, [TYPE], filter, new Pacer());
        expect(listed === undefined, label).toBe(!exact);
        if (listed) expect(listed.map((r) => r.id), label).toEqual(refs.map((m) => m.id));
        // The default order, a first page (small enough to walk the heads when candidates are many): the listing's start.
        const page = await matchingDocuments(layout, transaction, [TYPE], filter, { ordered: true, limit: 3 });
        expect(page.map((m) => m.id), label).toEqual(refs.slice(0, 3).map((m) => m.id));
        // A sort path: its entries are read even when the keys prove every condition.
        const sorted = await matchingDocuments(layout, transaction, [TYPE], filter, { paths: ['idx.date.hi'] });
        for (const m of sorted) expect(m.doc.idx.date, label).toEqual(current.get(m.id)!.date);
        // A distinct's read (entriesOnly): the same matches, each with its current entries of the path,
        // read from the per-parameter copies when the keys prove every condition (a deleted or updated
        // resource's old copies must not answer).
        const entriesOnly = await matchingDocuments(layout, transaction, [TYPE], filter, { paths: ['idx.date'], entriesOnly: true });
        expect(entriesOnly.map((m) => m.id).sort(), label).toEqual(expected);
        for (const m of entriesOnly) expect(m.doc.idx.date, label).toEqual(current.get(m.id)!.date);
        compared++;
        matched += expected.length;
      }
    } finally {
      transaction.done();
    }
  }
  expect(compared).toBe(rounds * 40);
  expect(matched).toBeGreaterThan(minMatched);
}

/** Key policy of a comparison: these parameters of TYPE without keys, written with their keys in the first `keyedRounds` rounds (a folder from before the policy). */
interface Unkeyed {
  unkeyed: ReadonlySet<string>;
  keyedRounds: number;
}

/**
 * A layout reading under the policy, and the one its writer writes through, over the same environment
 * (one writer: versions and history go on): `writeRound(round)` sets its policy for that round's writes.
 */
function layoutsFor(policy: Unkeyed | undefined): { layout: Layout; writing: Layout; writeRound: (round: number) => void } {
  const fresh = freshLayout();
  const unkeyed = policy ? new Map([[TYPE, policy.unkeyed]]) : fresh.unkeyed;
  const writing = { ...fresh };
  return { layout: { ...fresh, unkeyed }, writing, writeRound: (round) => (writing.unkeyed = round < (policy?.keyedRounds ?? 0) ? fresh.unkeyed : unkeyed) };
}

/**
 * snapshot-replay.ts: the list as of a past place in the history, in the first page's order (key order
 * for one exactly indexed condition, else id order), after any writes since.
 */
async function compareReplays(random: () => number, policy?: Unkeyed): Promise<void> {
  const { layout, writing, writeRound } = layoutsFor(policy);
  const write = indexWriter(writing);
  const current = new Map<string, IndexEntries>();
  const snapshots: Array<{ round: number; position: ReturnType<typeof historyPosition>; filter: Filter; listed: string[] }> = [];
  let checked = 0;
  for (let round = 0; round < 12; round++) {
    writeRound(round);
    await write(randomRound(random, current, randomEntries, ROUND));
    const transaction = layout.env.useReadTransaction();
    try {
      // Snapshots of earlier rounds, rebuilt now (one to three rounds of writes since).
      for (const snapshot of snapshots.filter((s) => s.round < round)) {
        const rebuilt = await replayMatches(layout, transaction, [TYPE], snapshot.filter, snapshot.position, new Pacer());
        expect(rebuilt.map((r) => r.id), JSON.stringify(snapshot.filter)).toEqual(snapshot.listed);
        checked++;
      }
      snapshots.splice(0, snapshots.length, ...snapshots.filter((s) => s.round > round - 3));
      const position = historyPosition(layout, transaction);
      for (let n = 0; n < 15; n++) {
        const filter = randomFilter(random);
        const listed = await matchingDocuments(layout, transaction, [TYPE], filter, { ordered: true, refsOnly: true });
        snapshots.push({ round, position, filter, listed: listed.map((m) => m.id) });
      }
    } finally {
      transaction.done();
    }
  }
  expect(checked).toBeGreaterThan(400);
}
