/**
 * The embedded store's lazily listed paging snapshots (held-snapshots.ts): a search asked to keep
 * its snapshot (StoreQuery.keepSnapshot) returns its first page at once and lists the rest later
 * from the very LMDB read the page was cut from — so writes made in between (a match deleted, a
 * new match, a match changed so it no longer matches) change nothing in the snapshot — whether the
 * listing happens at the next page, after the hold time, or because too many are held; another
 * owner's load does not list it. Both the exactly indexed path (keys alone) and the tested path
 * (a filter with two conditions) are covered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { HOLD_MS, MAX_HELD } from '../../src/store/embedded/held-snapshots.js';
import type { Patient } from 'fhir/r4';
import type { StoreQuery, WriteOperation } from '../../src/store/resource-store.js';

const dirs: string[] = [];
const stores: EmbeddedStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

let now = 1_000_000;
async function fresh(): Promise<EmbeddedStore> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-held-'));
  dirs.push(dir);
  const store = new EmbeddedStore({ directory: dir, resultSets: { idleMs: 10 * HOLD_MS, maxSets: 100, clock: () => now } });
  await store.open();
  stores.push(store);
  return store;
}

const patient = (id: string, family: string, gender = 'female'): WriteOperation => ({
  kind: 'put',
  resourceType: 'Patient',
  id,
  resource: { resourceType: 'Patient', id, name: [{ family }], gender } as Patient,
  index: { family: [{ v: family.toLowerCase() }], gender: [{ c: gender }] },
});

const ids = (n: number) => Array.from({ length: n }, (_, i) => `p${String(i).padStart(3, '0')}`);

async function load(store: EmbeddedStore, cursor: string, owner = 'me'): Promise<string[] | undefined> {
  const slice = await store.loadResultSet(cursor, owner, 0, 1000);
  return slice?.refs.map((r) => r.id);
}

describe('paging snapshots kept from the first page read', () => {
  const filters: Array<[string, Record<string, unknown>]> = [
    ['exactly indexed (keys alone)', { 'idx.family': { $elemMatch: { v: { $regex: '^mart' } } } }],
    ['tested (two conditions)', { $and: [{ 'idx.family': { $elemMatch: { v: { $regex: '^mart' } } } }, { 'idx.gender': { $elemMatch: { c: 'female' } } }] }],
  ];
  for (const [name, filter] of filters) {
    it(`${name}: the snapshot is the state the first page was read in, whatever is written after`, async () => {
      const store = await fresh();
      const all = ids(60);
      await store.write(all.map((id) => patient(id, 'Martin')));
      await store.write([patient('zz-other', 'Dupont')]);
      const query: StoreQuery = { resourceTypes: ['Patient'], filter, offset: 0, count: 11, withTotal: false, keepSnapshot: { cursor: 'c1', owner: 'me' } };
      const first = await store.search(query);
      expect(first.snapshotKept).toBe(true);
      expect(first.versions.map((v) => v.id)).toEqual(all.slice(0, 11));
      // After the page: a match deleted, one changed so it no longer matches, a new match (first in id order).
      await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p030' }]);
      await store.write([patient('p031', 'Dupont')]);
      await store.write([patient('a-new', 'Martin')]);
      // Another owner's load neither reads nor lists it.
      expect(await load(store, 'c1', 'someone else')).toBeUndefined();
      expect(await load(store, 'c1')).toEqual(all);
      // Listed once: a second load reads the same stored set.
      expect(await load(store, 'c1')).toEqual(all);
      // A fresh search sees the writes.
      const again = await store.search({ ...query, keepSnapshot: { cursor: 'c2', owner: 'me' } });
      expect(again.versions[0].id).toBe('a-new');
      const current = await load(store, 'c2');
      expect(current).toContain('a-new');
      expect(current).not.toContain('p030');
      expect(current).not.toContain('p031');
    });
  }

  it('a page that is not full keeps nothing', async () => {
    const store = await fresh();
    await store.write(ids(5).map((id) => patient(id, 'Martin')));
    const result = await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 6, withTotal: false, keepSnapshot: { cursor: 'c', owner: 'me' } });
    expect(result.snapshotKept).toBeUndefined();
    expect(await load(store, 'c')).toBeUndefined();
  });

  it('listed in the background once held for the hold time, or when too many are held; still the first read state', async () => {
    const store = await fresh();
    const all = ids(30);
    await store.write(all.map((id) => patient(id, 'Martin')));
    const search = (cursor: string) => store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 3, withTotal: false, keepSnapshot: { cursor, owner: 'me' } });
    await search('expiring');
    for (let n = 0; n < MAX_HELD + 1; n++) await search(`crowd-${n}`);
    await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p000' }]);
    // The hold time passes: the periodic check lists what was held (the store's timer runs every HOLD_MS / 2).
    now += HOLD_MS + 1;
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2 + 500));
    for (const cursor of ['expiring', 'crowd-0', `crowd-${MAX_HELD}`]) expect(await load(store, cursor)).toEqual(all);
  }, 20_000);

  it('an explicit sort keeps its snapshot at once, with the total', async () => {
    const store = await fresh();
    await store.write(ids(10).map((id) => patient(id, 'Martin')));
    const result = await store.search({ resourceTypes: ['Patient'], filter: {}, sort: [{ path: 'id', direction: -1 }], offset: 0, count: 4, withTotal: false, keepSnapshot: { cursor: 's', owner: 'me' } });
    expect(result).toMatchObject({ snapshotKept: true, total: 10 });
    expect(await load(store, 's')).toEqual(ids(10).reverse());
  });

  it('an explicit sort of thousands of matches (its copies paced) keeps the order and the state it was read in, writes landing meanwhile', async () => {
    const store = await fresh();
    const n = 12_000; // the order's copy and the snapshot's refs give the pacer a look every 4,096 matches
    const id = (i: number) => `q${String(i).padStart(5, '0')}`;
    const family = (i: number) => `F${String((i * 7919) % 97).padStart(2, '0')}`;
    for (let start = 0; start < n; start += 2000) await store.write(Array.from({ length: 2000 }, (_, k) => patient(id(start + k), family(start + k))));
    // Family descending, then type and id ascending (the store's tie-breakers).
    const expected = Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => (family(a) === family(b) ? (id(a) < id(b) ? -1 : 1) : family(a) < family(b) ? 1 : -1))
      .map(id);
    const searching = store.search({ resourceTypes: ['Patient'], filter: {}, sort: [{ path: 'idx.family.v', direction: -1 }], offset: 0, count: 25, withTotal: false, keepSnapshot: { cursor: 'big', owner: 'me' } });
    // Written while the search reads (in its turns, if it yields before they commit): none of it is seen.
    await Promise.all([store.write([patient('a-new', 'Zzz')]), store.write([{ kind: 'delete', resourceType: 'Patient', id: expected[0] }])]);
    const result = await searching;
    expect(result).toMatchObject({ snapshotKept: true, total: n });
    expect(result.versions.map((v) => v.id)).toEqual(expected.slice(0, 25));
    const snapshot = await store.loadResultSet('big', 'me', 0, n + 10);
    expect(snapshot?.refs.map((r) => r.id)).toEqual(expected);
  }, 60_000);
});

describe('first pages of broad conditions (a walk in id order, else the candidates)', () => {
  it('a condition matching most of the type, and the same with a rare second condition: the same pages as a full read', async () => {
    const store = await fresh();
    const n = 9000;
    const all = Array.from({ length: n }, (_, i) => `q${String((i * 7919) % n).padStart(5, '0')}`);
    const num = (id: string) => Number(id.slice(1));
    for (let start = 0; start < all.length; start += 500) {
      await store.write(all.slice(start, start + 500).map((id) => patient(id, num(id) % 300 === 1 ? 'Rare' : 'Martin', num(id) % 3 ? 'female' : 'male')));
    }
    const sorted = [...all].sort();
    const page = async (filter: Record<string, unknown>, offset: number) =>
      (await store.search({ resourceTypes: ['Patient'], filter, offset, count: 21, withTotal: false })).versions.map((v) => v.id);
    const female = { 'idx.gender': { $elemMatch: { c: 'female' } }, 'idx.family': { $exists: true } };
    // An unanchored pattern is not indexed: the 6,000 female candidates are the plan, 1 in 200 of them matches.
    const rare = { 'idx.gender': { $elemMatch: { c: 'female' } }, 'idx.family': { $elemMatch: { v: { $regex: 'ra' } } } };
    const femaleIds = sorted.filter((id) => num(id) % 3 !== 0);
    expect(await page(female, 0)).toEqual(femaleIds.slice(0, 21));
    expect(await page(female, 100)).toEqual(femaleIds.slice(100, 121));
    // Exactly indexed and broad: the walk tests each head in full.
    expect(await page({ 'idx.gender': { $elemMatch: { c: 'female' } } }, 0)).toEqual(femaleIds.slice(0, 21));
    expect(await page({ 'idx.gender': { $elemMatch: { c: 'male' } } }, 0)).toEqual(sorted.filter((id) => num(id) % 3 === 0).slice(0, 21));
    const rareIds = sorted.filter((id) => num(id) % 300 === 1);
    expect(rareIds.length).toBe(30);
    expect(await page(rare, 0)).toEqual(rareIds.slice(0, 21));
    expect(await page(rare, 21)).toEqual(rareIds.slice(21));
  }, 60_000);
});

describe('one exactly indexed condition: its matches in key order (key-order.ts)', () => {
  // `name` holds family and given names: a prefix can match two values of one patient.
  const named = (id: string, names: string[]): WriteOperation => ({
    kind: 'put',
    resourceType: 'Patient',
    id,
    resource: { resourceType: 'Patient', id } as Patient,
    index: { name: names.map((v) => ({ v })) },
  });
  const prefix = { 'idx.name': { $elemMatch: { v: { $regex: '^mar' } } } };

  it('by value then id, each match once (at its first key), pages and the listed snapshot the same list, writes after the page unseen', async () => {
    const store = await fresh();
    await store.write([
      named('a', ['martin', 'marie']),
      named('b', ['marchand']),
      named('c', ['dupont', 'marc']),
      named('d', ['marty', 'maria']),
      named('e', ['leroy']),
      named('f', ['martin']),
      named('g', ['marc', 'martin']),
    ]);
    // Keys: marc c, marc g, marchand b, maria d, marie a, martin a (met), martin f, martin g (met), marty d (met).
    const expected = ['c', 'g', 'b', 'd', 'a', 'f'];
    const page = async (offset: number, count: number) =>
      (await store.search({ resourceTypes: ['Patient'], filter: prefix, offset, count, withTotal: false })).versions.map((v) => v.id);
    expect(await page(0, 10)).toEqual(expected);
    expect([...(await page(0, 2)), ...(await page(2, 2)), ...(await page(4, 2))]).toEqual(expected);
    const counted = await store.search({ resourceTypes: ['Patient'], filter: prefix, offset: 0, count: 3, withTotal: true });
    expect(counted).toMatchObject({ total: 6 });
    expect(counted.versions.map((v) => v.id)).toEqual(expected.slice(0, 3));

    const first = await store.search({ resourceTypes: ['Patient'], filter: prefix, offset: 0, count: 3, withTotal: false, keepSnapshot: { cursor: 'k', owner: 'me' } });
    expect(first.snapshotKept).toBe(true);
    expect(first.versions.map((v) => v.id)).toEqual(expected.slice(0, 3));
    // After the first page: a match gone, one whose smallest matching value moves ahead, a new one first in key order.
    await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'f' }]);
    await store.write([named('a', ['maraa'])]);
    await store.write([named('h', ['mar'])]);
    expect(await load(store, 'k')).toEqual(expected);
    const now = ['h', 'a', 'c', 'g', 'b', 'd'];
    expect(await page(0, 10)).toEqual(now);

    // Released (pushed out) before its next page, then changed: rebuilt in the same key order.
    await store.search({ resourceTypes: ['Patient'], filter: prefix, offset: 0, count: 2, withTotal: false, keepSnapshot: { cursor: 'k2', owner: 'me' } });
    for (let n = 0; n < MAX_HELD; n++) await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 2, withTotal: false, keepSnapshot: { cursor: `crowd-${n}`, owner: 'me' } });
    await store.write([named('c', ['zz'])]);
    await store.write([named('b', ['marz'])]);
    await store.write([named('e', ['marb'])]);
    expect(await page(0, 10)).toEqual(['h', 'a', 'e', 'g', 'd', 'b']);
    expect(await load(store, 'k2')).toEqual(now);
  });
});

describe('snapshots released before their next page: rebuilt from the history as of the first page (snapshot-replay.ts)', () => {
  const named = (id: string, names: string[], gender = 'female'): WriteOperation => ({
    kind: 'put',
    resourceType: 'Patient',
    id,
    resource: { resourceType: 'Patient', id, gender } as Patient,
    index: { name: names.map((v) => ({ v })), gender: [{ c: gender }] },
  });
  const filters: Array<[string, Record<string, unknown>]> = [
    ['exactly indexed (key order)', { 'idx.name': { $elemMatch: { v: { $regex: '^mar' } } } }],
    ['tested (id order)', { $and: [{ 'idx.name': { $elemMatch: { v: { $regex: '^mar' } } } }, { 'idx.gender': { $elemMatch: { c: 'female' } } }] }],
  ];
  for (const [name, filter] of filters) {
    it(`${name}: pushed out, then every kind of write, then the next page: the first page's list`, async () => {
      const store = await fresh();
      const start = ids(40).map((id, i) => named(id, i % 3 === 0 ? ['dupont', `mar${String(40 - i).padStart(2, '0')}`] : i % 3 === 1 ? [`mar${i % 7}`] : ['leroy']));
      await store.write(start);
      // Versions before the first page, so that the place in the history is not the start.
      await store.write([named('p001', ['marz', 'maraa'])]);
      const everything = async () => (await store.search({ resourceTypes: ['Patient'], filter, offset: 0, count: 1000, withTotal: true })).versions.map((v) => v.id);
      const before = await everything();
      expect(before.length).toBeGreaterThan(20);
      const first = await store.search({ resourceTypes: ['Patient'], filter, offset: 0, count: 5, withTotal: false, keepSnapshot: { cursor: 'r1', owner: 'me' } });
      expect(first.versions.map((v) => v.id)).toEqual(before.slice(0, 5));
      // Pushed out by newer first pages: released to its place in the history, not listed.
      for (let n = 0; n < MAX_HELD; n++) await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 2, withTotal: false, keepSnapshot: { cursor: `crowd-${n}`, owner: 'me' } });
      await store.write([{ kind: 'delete', resourceType: 'Patient', id: before[0] }]); // a match deleted
      await store.write([named(before[1], ['leroy'])]); // no longer a match
      await store.write([named(before[2], ['maaaa-no', 'marzz'])]); // still a match, its first key moves to the end
      await store.write([named('a-new', ['mar'])]); // a new match, first in either order
      await store.write([named('p002', ['mara'])]); // not a match then, a match now
      await store.write([named(before[3], ['zz'])]);
      await store.write([named(before[3], ['mar00'])]); // changed twice, a match then and now
      await store.write([{ kind: 'delete', resourceType: 'Patient', id: before[4] }]);
      await store.write([named(before[4], ['mar99'])]); // deleted and created again
      await store.write([named('p038', ['leroy', 'x'])]); // unrelated
      const after = await everything();
      expect(after).not.toEqual(before);
      expect(await load(store, 'r1', 'someone else')).toBeUndefined();
      expect(await load(store, 'r1')).toEqual(before);
      // Listed once: the same list again.
      expect(await load(store, 'r1')).toEqual(before);
    });
  }

  it('a snapshot released before a reindex is not rebuilt (its cursor is unknown: the client searches again)', async () => {
    const store = await fresh();
    await store.write(ids(12).map((id) => named(id, ['martin'])));
    const query = (cursor: string): StoreQuery => ({ resourceTypes: ['Patient'], filter: { 'idx.name': { $elemMatch: { v: { $regex: '^mar' } } } }, offset: 0, count: 3, withTotal: false, keepSnapshot: { cursor, owner: 'me' } });
    await store.search(query('before-reindex'));
    for (let n = 0; n < MAX_HELD; n++) await store.search({ ...query(`crowd-${n}`), filter: {} });
    await store.reindex([{ resourceType: 'Patient', id: 'p000', versionId: 1, index: { name: [{ v: 'leroy' }] } }]);
    expect(await load(store, 'before-reindex')).toBeUndefined();
    await store.search(query('after-reindex'));
    for (let n = 0; n < MAX_HELD; n++) await store.search({ ...query(`crowd2-${n}`), filter: {} });
    expect(await load(store, 'after-reindex')).toEqual(ids(12).slice(1));
  });
});
