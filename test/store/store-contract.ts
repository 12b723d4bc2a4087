/**
 * The store contract: one suite, run against every ResourceStore (embedded and
 * MongoDB), covering what the engine relies on: versions, expectations,
 * history, conditional-create guards, all-or-nothing writes (or their clean
 * refusal), search over the index entries, and concurrency.
 *
 * Index entries are written by hand in the shapes src/search/index-extractor.ts
 * documents, and filters in the shapes src/search/search-query.ts produces, so
 * the suite tests the store alone.
 */
import type { Patient, Resource } from 'fhir/r4';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AtomicWriteUnavailable } from '../../src/errors.js';
import {
  GuardConflict,
  VersionConflict,
  type IndexEntries,
  type ResourceStore,
  type StoredVersion,
  type WriteOperation,
} from '../../src/store/resource-store.js';

export interface StoreHarness {
  /** A new, empty, opened store. */
  create(): Promise<ResourceStore>;
  /** Closes `store` and opens a fresh instance over the same data (a restart). */
  restart(store: ResourceStore): Promise<ResourceStore>;
  /**
   * A second opened instance over the same data, used at the same time as the
   * first (another process). Only for stores that several processes can share.
   */
  sibling?(store: ResourceStore): Promise<ResourceStore>;
  /** Closes every store it created and removes their data. */
  dispose(): Promise<void>;
}

const patient = (id: string, family = 'Martin'): Patient => ({ resourceType: 'Patient', id, name: [{ family }] });

function put(resource: Resource, extra: Partial<WriteOperation> = {}, index: IndexEntries = {}): WriteOperation {
  return { kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index, ...extra };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the write to fail');
}

export function describeStoreContract(name: string, harness: () => StoreHarness): void {
  describe(`store contract: ${name}`, () => {
    let h: StoreHarness;
    const open = async () => {
      h ??= harness();
      return h.create();
    };
    afterEach(async () => {
      await h?.dispose();
    });
    afterAll(async () => {
      await h?.dispose();
    });

    describe('versions', () => {
      it('creates version 1 with server-owned meta, then numbers each write', async () => {
        const store = await open();
        const [v1] = await store.write([put(patient('p1'), { expect: 'absent' })]);
        expect(v1).toMatchObject({ resourceType: 'Patient', id: 'p1', versionId: 1, deleted: false });
        expect(v1.resource?.meta).toMatchObject({ versionId: '1', lastUpdated: v1.lastUpdated });
        expect(new Date(v1.lastUpdated).toISOString()).toBe(v1.lastUpdated);
        const [v2] = await store.write([put(patient('p1', 'Durand'), { expect: 1 })]);
        expect(v2.versionId).toBe(2);
        expect(v2.lastUpdated > v1.lastUpdated).toBe(true);
        expect(await store.readCurrent('Patient', 'p1')).toEqual(v2);
        expect((await store.readVersion('Patient', 'p1', 1))?.resource).toMatchObject({ name: [{ family: 'Martin' }], meta: { versionId: '1' } });
        expect((await store.readVersion('Patient', 'p1', 2))?.resource).toMatchObject({ name: [{ family: 'Durand' }], meta: { versionId: '2' } });
        expect(await store.readVersion('Patient', 'p1', 3)).toBeUndefined();
        expect(await store.readCurrent('Patient', 'nobody')).toBeUndefined();
      });

      it('keeps the body as given (key order, nested values) apart from meta', async () => {
        const store = await open();
        const body = {
          resourceType: 'Observation',
          id: 'o1',
          meta: { profile: ['http://example.org/p'] },
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
          valueQuantity: { value: 72.5, unit: '/min' },
          extension: [{ url: 'http://example.org/x', valueBoolean: false }],
        } as Resource;
        const [v] = await store.write([put(body)]);
        const read = (await store.readCurrent('Observation', 'o1'))!.resource!;
        expect(Object.keys(read)).toEqual(['resourceType', 'id', 'meta', 'status', 'code', 'valueQuantity', 'extension']);
        expect(read).toEqual({ ...body, meta: { profile: ['http://example.org/p'], versionId: '1', lastUpdated: v.lastUpdated } });
      });

      it('deletes by writing a deleted version; deleting nothing writes nothing', async () => {
        const store = await open();
        await store.write([put(patient('p1'))]);
        const [deleted] = await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p1' }]);
        expect(deleted).toMatchObject({ versionId: 2, deleted: true });
        expect(deleted.resource).toBeUndefined();
        expect(await store.readCurrent('Patient', 'p1')).toMatchObject({ versionId: 2, deleted: true });
        expect(await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p1' }])).toEqual([]);
        expect(await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'never' }])).toEqual([]);
        // A deleted resource counts as absent: it can be created again, continuing its versions.
        const [again] = await store.write([put(patient('p1'), { expect: 'absent' })]);
        expect(again.versionId).toBe(3);
      });
    });

    describe('expectations', () => {
      it('refuses a create-if-absent on a live resource, naming the current version', async () => {
        const store = await open();
        await store.write([put(patient('p1'))]);
        const error = await rejection(store.write([put(patient('p1'), { expect: 'absent' })]));
        expect(error).toBeInstanceOf(VersionConflict);
        expect(error).toMatchObject({ expected: 'absent', actual: 1 });
        expect((await store.readCurrent('Patient', 'p1'))!.versionId).toBe(1);
      });

      it('refuses a write expecting another version, or expecting a version of nothing', async () => {
        const store = await open();
        await store.write([put(patient('p1'))]);
        await store.write([put(patient('p1'))]);
        expect(await rejection(store.write([put(patient('p1'), { expect: 1 })]))).toMatchObject({ name: 'VersionConflict', expected: 1, actual: 2 });
        expect(await rejection(store.write([put(patient('p9'), { expect: 1 })]))).toMatchObject({ name: 'VersionConflict', actual: undefined });
        await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p1' }]);
        // After a delete nothing is live: expecting version 3 (the deleted one) fails.
        expect(await rejection(store.write([put(patient('p1'), { expect: 3 })]))).toBeInstanceOf(VersionConflict);
        expect(await rejection(store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p1', expect: 2 }]))).toBeInstanceOf(VersionConflict);
        expect((await store.readCurrent('Patient', 'p1'))!.versionId).toBe(3);
      });
    });

    describe('history', () => {
      async function seed(store: ResourceStore): Promise<StoredVersion[]> {
        const written: StoredVersion[] = [];
        for (const op of [
          put(patient('a')),
          put({ resourceType: 'Observation', id: 'o', status: 'final', code: {} } as Resource),
          put(patient('a', 'B')),
          put(patient('b')),
          { kind: 'delete', resourceType: 'Patient', id: 'a' } as WriteOperation,
          put(patient('b', 'C')),
        ]) {
          written.push(...(await store.write([op])));
          // Distinct instants, so the expected order does not depend on tie-breaking.
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
        return written;
      }
      const ids = (versions: StoredVersion[]) => versions.map((v) => `${v.resourceType}/${v.id}/${v.versionId}`);

      it('lists instance, type and system history newest first, with totals', async () => {
        const store = await open();
        await seed(store);
        const instance = await store.history({ resourceType: 'Patient', id: 'a', offset: 0, count: 10 });
        expect(ids(instance.versions)).toEqual(['Patient/a/3', 'Patient/a/2', 'Patient/a/1']);
        expect(instance.total).toBe(3);
        expect(instance.versions[0]).toMatchObject({ deleted: true });
        const type = await store.history({ resourceType: 'Patient', offset: 0, count: 10 });
        expect(ids(type.versions)).toEqual(['Patient/b/2', 'Patient/a/3', 'Patient/b/1', 'Patient/a/2', 'Patient/a/1']);
        const system = await store.history({ offset: 0, count: 10 });
        expect(ids(system.versions)).toEqual(['Patient/b/2', 'Patient/a/3', 'Patient/b/1', 'Patient/a/2', 'Observation/o/1', 'Patient/a/1']);
        expect(system.total).toBe(6);
      });

      it('pages with offset/count, filters with since (strictly after) and at (at or before)', async () => {
        const store = await open();
        const written = await seed(store);
        const page = await store.history({ offset: 2, count: 2 });
        expect(ids(page.versions)).toEqual(['Patient/b/1', 'Patient/a/2']);
        expect(page.total).toBe(6);
        const since = await store.history({ since: written[2].lastUpdated, offset: 0, count: 10 });
        expect(ids(since.versions)).toEqual(['Patient/b/2', 'Patient/a/3', 'Patient/b/1']);
        const at = await store.history({ at: written[3].lastUpdated, offset: 0, count: 10 });
        expect(ids(at.versions)).toEqual(['Patient/b/1', 'Patient/a/2', 'Observation/o/1', 'Patient/a/1']);
        const window = await store.history({ resourceType: 'Patient', since: written[0].lastUpdated, at: written[4].lastUpdated, offset: 0, count: 10 });
        expect(ids(window.versions)).toEqual(['Patient/a/3', 'Patient/b/1', 'Patient/a/2']);
        const totalOnly = await store.history({ resourceType: 'Patient', id: 'b', offset: 0, count: 0 });
        expect(totalOnly).toEqual({ versions: [], total: 2 });
      });

      it('filters versions on the index entries written with each version (a deletion: those it deleted), across reindex and restart', async () => {
        let store = await open();
        const subject = (patientId: string): IndexEntries => ({ subject: [{ r: `Patient/${patientId}`, t: 'Patient', i: patientId }] });
        const obs = (id: string): Resource => ({ resourceType: 'Observation', id, status: 'final', code: {} }) as Resource;
        const step = async (op: WriteOperation) => {
          await store.write([op]);
          await new Promise((resolve) => setTimeout(resolve, 3));
        };
        await step(put(obs('o1'), {}, subject('A'))); // o1/1: A
        await step(put(obs('o2'), {}, subject('B'))); // o2/1: B
        await step(put(obs('o1'), {}, subject('B'))); // o1/2: moved to B
        await step(put(obs('o2'), {}, subject('A'))); // o2/2: moved to A
        await step({ kind: 'delete', resourceType: 'Observation', id: 'o2' }); // o2/3: deletion of A's o2/2
        await step(put(obs('o3'))); // o3/1: no entries
        await step(put(patient('A')));
        const ofA = { 'idx.subject': { $elemMatch: { t: 'Patient', i: { $in: ['A'] } } } };
        const check = async (label: string) => {
          const page = await store.history({ resourceType: 'Observation', filter: ofA, offset: 0, count: 10 });
          expect(ids(page.versions), label).toEqual(['Observation/o2/3', 'Observation/o2/2', 'Observation/o1/1']);
          expect(page.total, label).toBe(3);
          // Paging and a total-only query count the filtered versions only.
          const second = await store.history({ resourceType: 'Observation', filter: ofA, offset: 1, count: 1 });
          expect(ids(second.versions), label).toEqual(['Observation/o2/2']);
          expect((await store.history({ resourceType: 'Observation', filter: ofA, offset: 0, count: 0 })).total, label).toBe(3);
          // System level, several types named in the filter (history's _type), instance level too.
          const system = await store.history({ filter: { $or: [{ type: 'Patient', id: { $in: ['A'] } }, { $and: [{ type: 'Observation' }, ofA] }] }, offset: 0, count: 10 });
          expect(ids(system.versions), label).toEqual(['Patient/A/1', 'Observation/o2/3', 'Observation/o2/2', 'Observation/o1/1']);
          const instance = await store.history({ resourceType: 'Observation', id: 'o1', filter: ofA, offset: 0, count: 10 });
          expect(ids(instance.versions), label).toEqual(['Observation/o1/1']);
          // A filter asking nothing of idx keeps versions without entries.
          expect((await store.history({ filter: { type: { $in: ['Observation'] } }, offset: 0, count: 10 })).total, label).toBe(6);
        };
        await check('after the writes');
        // Reindexing the current version changes what its own history record is filtered on.
        expect(await store.reindex([{ resourceType: 'Observation', id: 'o3', versionId: 1, index: subject('A') }])).toBe(1);
        const afterReindex = await store.history({ resourceType: 'Observation', filter: ofA, offset: 0, count: 10 });
        expect(ids(afterReindex.versions)).toEqual(['Observation/o3/1', 'Observation/o2/3', 'Observation/o2/2', 'Observation/o1/1']);
        store = await h.restart(store);
        expect(ids((await store.history({ resourceType: 'Observation', filter: ofA, offset: 0, count: 10 })).versions)).toEqual(ids(afterReindex.versions));
      });
    });

    describe('conditional-create guards', () => {
      it('lets one live resource hold a guard; a take-over must name the holder', async () => {
        const store = await open();
        await store.write([put(patient('first'), { expect: 'absent', guardKey: 'G' })]);
        const error = await rejection(store.write([put(patient('second'), { expect: 'absent', guardKey: 'G' })]));
        expect(error).toBeInstanceOf(GuardConflict);
        expect(error).toMatchObject({ guardKey: 'G', holder: { resourceType: 'Patient', id: 'first' } });
        expect(await store.readCurrent('Patient', 'second')).toBeUndefined();
        // Naming someone else is not enough.
        expect(
          await rejection(store.write([put(patient('second'), { expect: 'absent', guardKey: 'G', takeOverGuardFrom: { resourceType: 'Patient', id: 'other' } })])),
        ).toBeInstanceOf(GuardConflict);
        const [taken] = await store.write([
          put(patient('second'), { expect: 'absent', guardKey: 'G', takeOverGuardFrom: { resourceType: 'Patient', id: 'first' } }),
        ]);
        expect(taken.id).toBe('second');
        expect(await rejection(store.write([put(patient('third'), { guardKey: 'G' })]))).toMatchObject({ holder: { id: 'second' } });
        // The holder may write again with its own guard.
        await store.write([put(patient('second', 'X'), { expect: 1, guardKey: 'G' })]);
      });

      it('releases the guard when its holder is deleted', async () => {
        const store = await open();
        await store.write([put(patient('first'), { guardKey: 'G' })]);
        await store.write([put(patient('first', 'Updated'))]); // an update without guardKey keeps holding it
        expect(await rejection(store.write([put(patient('second'), { guardKey: 'G' })]))).toBeInstanceOf(GuardConflict);
        await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'first' }]);
        const [second] = await store.write([put(patient('second'), { expect: 'absent', guardKey: 'G' })]);
        expect(second.versionId).toBe(1);
      });
    });

    describe('writes of several operations', () => {
      it('applies them all or none, or refuses them cleanly before writing anything', async () => {
        const store = await open();
        await store.write([put(patient('existing'))]);
        const ops = [put(patient('n1'), { expect: 'absent' }), put(patient('existing'), { expect: 'absent' })];
        const error = await rejection(store.write(ops));
        if (store.capabilities.atomicMultiWrite) expect(error).toBeInstanceOf(VersionConflict);
        else expect(error).toBeInstanceOf(AtomicWriteUnavailable);
        expect(await store.readCurrent('Patient', 'n1')).toBeUndefined();
        expect((await store.history({ offset: 0, count: 10 })).total).toBe(1);

        const good = [put(patient('n1'), { expect: 'absent' }), put(patient('existing', 'New'), { expect: 1 }), { kind: 'delete', resourceType: 'Patient', id: 'ghost' } as WriteOperation];
        if (store.capabilities.atomicMultiWrite) {
          const versions = await store.write(good);
          expect(versions.map((v) => `${v.id}/${v.versionId}`)).toEqual(['n1/1', 'existing/2']);
          expect(versions[0].lastUpdated).toBe(versions[1].lastUpdated);
        } else {
          const refusal = await rejection(store.write(good));
          expect(refusal).toBeInstanceOf(AtomicWriteUnavailable);
          expect(refusal).toMatchObject({ status: 400, issues: [{ code: 'not-supported' }] });
          expect(await store.readCurrent('Patient', 'n1')).toBeUndefined();
          expect((await store.readCurrent('Patient', 'existing'))!.versionId).toBe(1);
        }
      });
    });

    describe('search over index entries', () => {
      const docs: Array<[string, string, IndexEntries]> = [
        ['Patient', 'p1', {
          identifier: [{ s: 'urn:oid:1.2.250.1.213.1.4.8', c: '1800175123456' }],
          family: [{ v: 'dupont', e: 'Dupont' }],
          given: [{ v: 'jean', e: 'Jean' }, { v: 'pierre', e: 'Pierre' }],
          birthdate: [{ lo: '1950-03-01T00:00:00.000Z', hi: '1950-03-01T23:59:59.999Z' }],
          gender: [{ s: 'http://hl7.org/fhir/administrative-gender', c: 'male' }],
        }],
        ['Patient', 'p2', {
          identifier: [{ s: 'urn:oid:1.2.250.1.213.1.4.8', c: '2690275987654' }, { c: 'local-7' }],
          family: [{ v: 'durand', e: 'Durand' }],
          given: [{ v: 'marie', e: 'Marie' }],
          birthdate: [{ lo: '1969-02-01T00:00:00.000Z', hi: '1969-02-01T23:59:59.999Z' }],
          gender: [{ s: 'http://hl7.org/fhir/administrative-gender', c: 'female' }],
        }],
        ['Patient', 'p3', {
          family: [{ v: 'dupond', e: 'Dupond' }],
          gender: [{ s: 'http://hl7.org/fhir/administrative-gender', c: 'female' }],
        }],
        ['Observation', 'o1', { subject: [{ r: 'Patient/p1', t: 'Patient', i: 'p1' }], code: [{ s: 'http://loinc.org', c: '8867-4' }] }],
        ['Observation', 'o2', { subject: [{ r: 'Patient/p2', t: 'Patient', i: 'p2' }], code: [{ s: 'http://loinc.org', c: '8310-5' }], 'value-quantity': [{ n: 37.5, lo: 37.45, hi: 37.55 }] }],
      ];
      let store: ResourceStore;
      const find = async (resourceTypes: string[], filter: Record<string, unknown>, extra: { sort?: Array<{ path: string; direction: 1 | -1 }>; offset?: number; count?: number } = {}) => {
        const result = await store.search({ resourceTypes, filter, offset: extra.offset ?? 0, count: extra.count ?? 50, withTotal: true, ...(extra.sort ? { sort: extra.sort } : {}) });
        return { ids: result.versions.map((v) => v.id), total: result.total };
      };
      async function seeded(): Promise<ResourceStore> {
        store = await open();
        for (const [type, id, index] of docs) {
          await store.write([put({ resourceType: type, id } as Resource, {}, index)]);
        }
        // A deleted resource never matches, whatever its last index entries were.
        await store.write([put(patient('gone'), {}, { family: [{ v: 'dupont', e: 'Dupont' }] })]);
        await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'gone' }]);
        return store;
      }

      it('matches tokens with $elemMatch on system and code, code alone, or no system', async () => {
        await seeded();
        const nir = 'urn:oid:1.2.250.1.213.1.4.8';
        expect(await find(['Patient'], { 'idx.identifier': { $elemMatch: { s: nir, c: '1800175123456' } } })).toEqual({ ids: ['p1'], total: 1 });
        expect((await find(['Patient'], { 'idx.identifier': { $elemMatch: { s: nir } } })).ids).toEqual(['p1', 'p2']);
        expect((await find(['Patient'], { 'idx.identifier': { $elemMatch: { c: 'local-7' } } })).ids).toEqual(['p2']);
        expect((await find(['Patient'], { 'idx.identifier': { $elemMatch: { s: { $exists: false }, c: 'local-7' } } })).ids).toEqual(['p2']);
        // $elemMatch binds system and code to the same entry.
        expect((await find(['Patient'], { 'idx.identifier': { $elemMatch: { s: nir, c: 'local-7' } } })).ids).toEqual([]);
        expect((await find(['Patient'], { 'idx.gender': { $elemMatch: { c: { $in: ['male', 'other'] } } } })).ids).toEqual(['p1']);
      });

      it('matches strings with anchored and contained regular expressions, and exact values', async () => {
        await seeded();
        // Without a sort the order is the store's (R4 orders results only on _sort): the embedded store gives one exactly
        // indexed condition in its keys' order (value, then id), here p3 ('dupond') before p1 ('dupont').
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: '^dupon' } } } })).ids.sort()).toEqual(['p1', 'p3']);
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: '^upon' } } } })).ids).toEqual([]);
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: 'pont' } } } })).ids).toEqual(['p1']);
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { e: 'Dupond' } } })).ids).toEqual(['p3']);
        expect((await find(['Patient'], { 'idx.given': { $elemMatch: { v: { $regex: '^pi' } } } })).ids).toEqual(['p1']);
        // Escaped metacharacters stay literal.
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: '^dup\\.nt' } } } })).ids).toEqual([]);
      });

      it('combines with $or, $and, $nor and $exists; filters on id and lastUpdated', async () => {
        await seeded();
        const female = { 'idx.gender': { $elemMatch: { c: 'female' } } };
        const dupon = { 'idx.family': { $elemMatch: { v: { $regex: '^dupon' } } } };
        expect((await find(['Patient'], { $or: [{ 'idx.given': { $elemMatch: { v: 'marie' } } }, { id: 'p3' }] })).ids).toEqual(['p2', 'p3']);
        expect((await find(['Patient'], { $and: [female, dupon] })).ids).toEqual(['p3']);
        expect((await find(['Patient'], { $nor: [female] })).ids).toEqual(['p1']);
        expect((await find(['Patient'], { 'idx.identifier': { $exists: false } })).ids).toEqual(['p3']);
        expect((await find(['Patient'], { 'idx.identifier': { $exists: true } })).ids).toEqual(['p1', 'p2']);
        // The compiler's "ne" shape: a $nor beside a positional condition.
        expect((await find(['Patient'], { $nor: [{ 'idx.birthdate': { $elemMatch: { lo: { $gte: '1950-03-01T00:00:00.000Z' }, hi: { $lte: '1950-03-01T23:59:59.999Z' } } } }], 'idx.birthdate': { $exists: true } })).ids).toEqual(['p2']);
        expect((await find(['Patient'], { id: 'p2' })).ids).toEqual(['p2']);
        const all = await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 50, withTotal: false });
        const p2 = all.versions.find((v) => v.id === 'p2')!;
        expect((await find(['Patient'], { lastUpdated: { $gte: p2.lastUpdated, $lte: p2.lastUpdated } })).ids).toEqual(['p2']);
        expect(all.total).toBeUndefined();
      });

      it('matches dates, numbers and references, across several types', async () => {
        await seeded();
        expect((await find(['Patient'], { 'idx.birthdate': { $elemMatch: { hi: { $lt: '1960-01-01T00:00:00.000Z' } } } })).ids).toEqual(['p1']);
        expect((await find(['Observation'], { 'idx.value-quantity': { $elemMatch: { n: { $gte: 37.45, $lt: 37.55 } } } })).ids).toEqual(['o2']);
        expect((await find(['Observation'], { 'idx.subject': { $elemMatch: { r: 'Patient/p1' } } })).ids).toEqual(['o1']);
        expect((await find(['Observation'], { 'idx.subject': { $elemMatch: { i: { $in: ['p1', 'p2'] } } } })).ids).toEqual(['o1', 'o2']);
        // Several types: type then id order by default; deleted resources never match.
        expect(await find(['Patient', 'Observation'], {})).toEqual({ ids: ['o1', 'o2', 'p1', 'p2', 'p3'], total: 5 });
        expect(await find(['Encounter'], {})).toEqual({ ids: [], total: 0 });
      });

      it('sorts by index entries (missing values last, both ways), pages with offset/count and counts the total', async () => {
        await seeded();
        const byFamily = (direction: 1 | -1) => find(['Patient'], {}, { sort: [{ path: 'idx.family.v', direction }] });
        expect((await byFamily(1)).ids).toEqual(['p3', 'p1', 'p2']);
        expect((await byFamily(-1)).ids).toEqual(['p2', 'p1', 'p3']);
        // Multi-valued: ascending takes the smallest value, descending the largest; p3 has no given name.
        expect((await find(['Patient'], {}, { sort: [{ path: 'idx.given.v', direction: 1 }] })).ids).toEqual(['p1', 'p2', 'p3']);
        expect((await find(['Patient'], {}, { sort: [{ path: 'idx.given.v', direction: -1 }] })).ids).toEqual(['p1', 'p2', 'p3']);
        expect((await find(['Patient'], {}, { sort: [{ path: 'idx.birthdate.lo', direction: -1 }] })).ids).toEqual(['p2', 'p1', 'p3']);
        expect((await find(['Patient'], {}, { sort: [{ path: 'idx.identifier.c', direction: 1 }] })).ids).toEqual(['p1', 'p2', 'p3']);
        expect((await find(['Patient'], {}, { sort: [{ path: 'id', direction: -1 }] })).ids).toEqual(['p3', 'p2', 'p1']);
        expect((await find(['Patient'], {}, { sort: [{ path: 'lastUpdated', direction: -1 }] })).ids).toEqual(['p3', 'p2', 'p1']);
        // Paging keeps the total of all matches.
        expect(await find(['Patient'], {}, { sort: [{ path: 'idx.family.v', direction: 1 }], offset: 1, count: 1 })).toEqual({ ids: ['p1'], total: 3 });
        expect(await find(['Patient'], {}, { offset: 2, count: 5 })).toEqual({ ids: ['p3'], total: 3 });
        expect(await find(['Patient'], {}, { offset: 9, count: 5 })).toEqual({ ids: [], total: 3 });
        const onlyTotal = await store.search({ resourceTypes: ['Patient'], filter: { 'idx.gender': { $elemMatch: { c: 'female' } } }, offset: 0, count: 0, withTotal: true });
        expect(onlyTotal).toEqual({ versions: [], total: 2 });
      });

      it('lists the distinct values at a path of the matching documents (chains, _has)', async () => {
        await seeded();
        const refs = await store.distinct({ resourceTypes: ['Observation'], filter: {} }, 'idx.subject.r');
        expect([...refs].sort()).toEqual(['Patient/p1', 'Patient/p2']);
        const ids = await store.distinct({ resourceTypes: ['Patient'], filter: { 'idx.gender': { $elemMatch: { c: 'female' } } } }, 'id');
        expect([...ids].sort()).toEqual(['p2', 'p3']);
        expect(await store.distinct({ resourceTypes: ['Patient'], filter: { id: 'gone' } }, 'id')).toEqual([]);
      });

      it('reindexes current versions without creating versions, skipping stale ones', async () => {
        await seeded();
        const applied = await store.reindex([
          { resourceType: 'Patient', id: 'p3', versionId: 1, index: { family: [{ v: 'dupond', e: 'Dupond' }], 'birth-city': [{ v: 'brest', e: 'Brest' }] } },
          { resourceType: 'Patient', id: 'p2', versionId: 7, index: {} },
          { resourceType: 'Patient', id: 'gone', versionId: 2, index: { family: [{ v: 'x', e: 'x' }] } },
        ]);
        expect(applied).toBe(1);
        expect((await find(['Patient'], { 'idx.birth-city': { $elemMatch: { v: { $regex: '^bre' } } } })).ids).toEqual(['p3']);
        expect((await find(['Patient'], { 'idx.gender': { $elemMatch: { c: 'female' } } })).ids).toEqual(['p2']);
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: 'x' } } })).ids).toEqual([]);
        expect((await store.readCurrent('Patient', 'p3'))!.versionId).toBe(1);
        expect((await store.history({ resourceType: 'Patient', id: 'p3', offset: 0, count: 5 })).total).toBe(1);
      });

      it('returns full current versions, never the index entries', async () => {
        await seeded();
        await store.write([put(patient('p1', 'Dupont-Neuf'), { expect: 1 }, { family: [{ v: 'dupont neuf', e: 'Dupont-Neuf' }] })]);
        const { versions } = await store.search({ resourceTypes: ['Patient'], filter: { id: 'p1' }, offset: 0, count: 5, withTotal: false });
        expect(versions).toHaveLength(1);
        expect(versions[0]).toEqual(await store.readCurrent('Patient', 'p1'));
        expect(versions[0]).not.toHaveProperty('idx');
        // The new version's entries replaced the old ones.
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { e: 'Dupont' } } })).ids).toEqual([]);
        expect((await find(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: '^dupont n' } } } })).ids).toEqual(['p1']);
      });
    });

    describe('change stamps (exact caches of what some types hold)', () => {
      // Both harnesses count Consent and CareTeam (MongoDB: changeCountedTypes).
      const consent = (id: string, status = 'active'): Resource => ({ resourceType: 'Consent', id, status } as Resource);

      it('changes once a write of a counted type is acknowledged, and only then', async () => {
        const store = await open();
        const before = await store.changeStamp(['Consent', 'CareTeam']);
        expect(await store.changeStamp(['Consent', 'CareTeam'])).toBe(before);
        await store.write([put(patient('p1'))]);
        expect(await store.changeStamp(['Consent', 'CareTeam'])).toBe(before);
        await store.write([put(consent('c1'))]);
        const afterPut = await store.changeStamp(['Consent', 'CareTeam']);
        expect(afterPut).not.toBe(before);
        expect(await store.changeStamp(['CareTeam'])).toBe(await store.changeStamp(['CareTeam']));
        await store.write([{ kind: 'delete', resourceType: 'Consent', id: 'c1' }]);
        const afterDelete = await store.changeStamp(['Consent', 'CareTeam']);
        expect(afterDelete).not.toBe(afterPut);
        await store.reindex([{ resourceType: 'CareTeam', id: 'none', versionId: 1, index: {} }]);
        expect(await store.changeStamp(['Consent'])).toBe(await store.changeStamp(['Consent']));
      });

      it('a refused write changes nothing; every acknowledged one of several writers does', async () => {
        const store = await open();
        await store.write([put(consent('c1'))]);
        const before = await store.changeStamp(['Consent']);
        await rejection(store.write([put(consent('c1'), { expect: 7 })]));
        expect(await store.changeStamp(['Consent'])).toBe(before);
        const seen = new Set([before]);
        for (let i = 0; i < 5; i++) {
          await store.write([put(consent(`c-${i}`))]);
          seen.add(await store.changeStamp(['Consent']));
        }
        expect(seen.size).toBe(6);
      });

      it('another process sharing the store sees the change before the write is acknowledged to its writer', async () => {
        const store = await open();
        if (!h.sibling) return;
        const other = await h.sibling(store);
        const before = await other.changeStamp(['CareTeam']);
        await store.write([put({ resourceType: 'CareTeam', id: 't1', status: 'active' } as Resource)]);
        expect(await other.changeStamp(['CareTeam'])).not.toBe(before);
      });
    });

    describe('scan (bulk reads)', () => {
      const subject = (patientId: string): IndexEntries => ({ subject: [{ r: `Patient/${patientId}`, t: 'Patient', i: patientId }] });
      const obs = (id: string, note = ''): Resource => ({ resourceType: 'Observation', id, status: 'final', code: { text: note } }) as Resource;
      const ofA = { 'idx.subject': { $elemMatch: { t: 'Patient', i: { $in: ['A'] } } } };
      const pause = () => new Promise((resolve) => setTimeout(resolve, 3));
      // The instant of the newest commit: a store may date commits ahead of the wall clock under load (distinct instants).
      const newestCommit = async (store: ResourceStore) => (await store.history({ offset: 0, count: 1 })).versions[0].lastUpdated;
      async function collect(store: ResourceStore, query: Parameters<ResourceStore['scan']>[0]): Promise<string[]> {
        const out: string[] = [];
        for await (const v of store.scan(query)) out.push(`${v.id}/${v.versionId}${v.deleted ? ' deleted' : ''}`);
        return out;
      }

      it('visits every current resource of a type once, in ascending id order, resumable after an id', async () => {
        const store = await open();
        // More than one page of the MongoDB store's scan (500 heads), in a non-sorted write order.
        const ids = Array.from({ length: 620 }, (_, i) => `o-${String((i * 7919) % 620).padStart(5, '0')}`);
        for (let i = 0; i < ids.length; i += 100) await Promise.all(ids.slice(i, i + 100).map((id) => store.write([put(obs(id), {}, subject('A'))])));
        await store.write([put(patient('A'))]);
        await store.write([{ kind: 'delete', resourceType: 'Observation', id: 'o-00010' }]);
        const all = await collect(store, { resourceType: 'Observation', filter: {} });
        const expected = [...ids].sort().filter((id) => id !== 'o-00010').map((id) => `${id}/1`);
        expect(all).toEqual(expected);
        // Resuming after an id (present or not) continues exactly there.
        const idOf = (e: string) => e.split('/')[0];
        expect(await collect(store, { resourceType: 'Observation', filter: {}, after: 'o-00300' })).toEqual(expected.filter((e) => idOf(e) > 'o-00300'));
        expect(await collect(store, { resourceType: 'Observation', filter: {}, after: 'o-00300x' })).toEqual(expected.filter((e) => idOf(e) > 'o-00300x'));
        // Bodies are the stored current versions.
        for await (const v of store.scan({ resourceType: 'Patient', filter: {} })) expect(v).toEqual(await store.readCurrent('Patient', 'A'));
      });

      it('reads each resource as it was at asOf, judged on that version\'s own index entries; deletions when asked', async () => {
        const store = await open();
        await store.write([put(obs('o1', 'v1'), {}, subject('A'))]);
        await store.write([put(obs('o2', 'v1'), {}, subject('A'))]);
        await store.write([put(obs('o3', 'v1'), {}, subject('B'))]);
        await store.write([put(obs('o4', 'v1'), {}, subject('A'))]);
        await store.write([{ kind: 'delete', resourceType: 'Observation', id: 'o4' }]); // deleted before asOf
        const asOf = await newestCommit(store);
        await pause();
        await store.write([put(obs('o1', 'v2'), {}, subject('A'))]); // changed after asOf
        await store.write([put(obs('o2', 'v2'), {}, subject('B'))]); // moved to B after asOf
        await store.write([put(obs('o3', 'v2'), {}, subject('A'))]); // moved to A after asOf
        await store.write([put(obs('o5', 'v1'), {}, subject('A'))]); // created after asOf
        await store.write([{ kind: 'delete', resourceType: 'Observation', id: 'o1' }]); // deleted after asOf
        expect(await collect(store, { resourceType: 'Observation', filter: ofA, asOf })).toEqual(['o1/1', 'o2/1']);
        const bodies: string[] = [];
        for await (const v of store.scan({ resourceType: 'Observation', filter: ofA, asOf })) bodies.push((v.resource as unknown as { code: { text: string } }).code.text);
        expect(bodies).toEqual(['v1', 'v1']);
        expect(await collect(store, { resourceType: 'Observation', filter: ofA })).toEqual(['o3/2', 'o5/1']);
        expect(await collect(store, { resourceType: 'Observation', filter: {}, asOf })).toEqual(['o1/1', 'o2/1', 'o3/1']);
        // Deletions: judged on the entries of the version they deleted; lastUpdated filters apply to the version read.
        expect(await collect(store, { resourceType: 'Observation', filter: ofA, asOf, includeDeleted: true })).toEqual(['o1/1', 'o2/1', 'o4/2 deleted']);
        expect(await collect(store, { resourceType: 'Observation', filter: ofA, includeDeleted: true })).toEqual(['o1/3 deleted', 'o3/2', 'o4/2 deleted', 'o5/1']);
        expect(await collect(store, { resourceType: 'Observation', filter: { lastUpdated: { $gt: asOf } }, includeDeleted: true })).toEqual(['o1/3 deleted', 'o2/2', 'o3/2', 'o5/1']);
      });

      it('visits each resource once while others write, and stops cleanly when the consumer stops', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        for (let i = 0; i < 600; i += 50) await Promise.all(Array.from({ length: 50 }, (_, k) => store.write([put(obs(`w-${String(i + k).padStart(4, '0')}`), {}, subject('A'))])));
        const asOf = await newestCommit(store);
        const seen: string[] = [];
        let writes = 0;
        for await (const v of store.scan({ resourceType: 'Observation', filter: ofA, asOf })) {
          seen.push(v.id);
          expect(v.versionId).toBe(1);
          // Rewrite resources ahead of and behind the scan, from another instance when there is one.
          if (seen.length % 40 === 0) {
            const writer = others[0] ?? store;
            const ahead = `w-${String(Math.min(599, seen.length + 30)).padStart(4, '0')}`;
            const behind = `w-${String(seen.length - 20).padStart(4, '0')}`;
            await writer.write([put(obs(ahead, 'moved'), {}, subject('B'))]);
            await writer.write([{ kind: 'delete', resourceType: 'Observation', id: behind }]);
            writes += 2;
          }
        }
        expect(writes).toBeGreaterThan(20);
        expect(seen).toEqual(Array.from({ length: 600 }, (_, i) => `w-${String(i).padStart(4, '0')}`));
        // Breaking out of the iteration releases it; a later scan works as before.
        let taken = 0;
        for await (const _v of store.scan({ resourceType: 'Observation', filter: {} })) if (++taken === 3) break;
        expect(taken).toBe(3);
        expect((await collect(store, { resourceType: 'Observation', filter: ofA, asOf })).length).toBe(600);
      });
    });

    describe('concurrency', () => {
      it('50 concurrent guarded creates of different ids: exactly one succeeds', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        const stores = [store, ...others];
        const results = await Promise.allSettled(
          Array.from({ length: 50 }, (_, i) =>
            stores[i % stores.length].write([put(patient(`c${i}`), { expect: 'absent', guardKey: 'same-criteria' }, { family: [{ v: 'martin', e: 'Martin' }] })]),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(GuardConflict);
        const { total } = await store.search({ resourceTypes: ['Patient'], filter: {}, offset: 0, count: 0, withTotal: true });
        expect(total).toBe(1);
      });

      it('20 concurrent creates of one new id, each expecting it absent: one winner, the others conflict', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        const stores = [store, ...others];
        // A write in flight first, so that on a store with group commit the 20 wait and are checked in one batch.
        const first = store.write([put(patient('first'))]);
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => stores[i % stores.length].write([put(patient('new', `W${i}`), { expect: 'absent' })])),
        );
        await first;
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'VersionConflict', expected: 'absent', actual: 1 });
        expect((await store.readCurrent('Patient', 'new'))!.versionId).toBe(1);
      });

      it('20 concurrent writes expecting the same version: one winner, the others conflict', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        const stores = [store, ...others];
        await store.write([put(patient('p'))]);
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, i) => stores[i % stores.length].write([put(patient('p', `W${i}`), { expect: 1 })])),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'VersionConflict', expected: 1, actual: 2 });
        expect((await store.readCurrent('Patient', 'p'))!.versionId).toBe(2);
        expect((await store.history({ resourceType: 'Patient', id: 'p', offset: 0, count: 50 })).total).toBe(2);
      });

      it('20 concurrent unconditional writes: 20 distinct consecutive versions, all in history', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        const stores = [store, ...others];
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length].write([put(patient('p', `W${i}`))])));
        const versionIds = results.map(([v]) => v.versionId).sort((a, b) => a - b);
        expect(versionIds).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        const history = await store.history({ resourceType: 'Patient', id: 'p', offset: 0, count: 50 });
        expect(history.versions.map((v) => v.versionId)).toEqual(Array.from({ length: 20 }, (_, i) => 20 - i));
        // Each version's body is the one its writer sent.
        for (const [v] of results) expect((await store.readVersion('Patient', 'p', v.versionId))?.resource).toEqual(v.resource);
      });
    });

    describe('outbox (notifications committed with their write)', () => {
      const note = (queue: string, n: number) => ({ queue, data: { n } });

      it('numbers each queue 1, 2, 3… in commit order, with the version that committed each record', async () => {
        const store = await open();
        await store.write([put(patient('p1'), { outbox: [note('s1', 1), note('s2', 1)] })]);
        await store.write([put(patient('p1', 'Petit'), { outbox: [note('s1', 2)] })]);
        await store.write([put(patient('p2'))]);
        await store.write([put(patient('p2', 'Durand'), { outbox: [note('s1', 3)] })]);
        const s1 = await store.readOutbox('s1', 0, 10);
        expect(s1.map((e) => [e.seq, e.data.n, e.id, e.versionId])).toEqual([
          [1, 1, 'p1', 1],
          [2, 2, 'p1', 2],
          [3, 3, 'p2', 2],
        ]);
        expect(s1[1].committedAt).toBe((await store.readVersion('Patient', 'p1', 2))!.lastUpdated);
        expect((await store.readOutbox('s2', 0, 10)).map((e) => e.seq)).toEqual([1]);
        expect((await store.readOutbox('s1', 1, 1)).map((e) => e.seq)).toEqual([2]);
        expect(await store.outboxState('s1')).toEqual({ queue: 's1', head: 3, acked: 0 });
        expect(await store.outboxState('unknown')).toEqual({ queue: 'unknown', head: 0, acked: 0 });
      });

      it('records nothing for a write that fails its expectation', async () => {
        const store = await open();
        await store.write([put(patient('p1'))]);
        expect(await rejection(store.write([put(patient('p1'), { expect: 'absent', outbox: [note('s1', 1)] })]))).toBeInstanceOf(VersionConflict);
        expect(await rejection(store.write([put(patient('p9'), { expect: 4, outbox: [note('s1', 1)] })]))).toBeInstanceOf(VersionConflict);
        expect(await store.readOutbox('s1', 0, 10)).toEqual([]);
        expect((await store.outboxBacklog()).map((q) => q.queue)).not.toContain('s1');
      });

      it('acknowledges, trims and drops; the backlog lists queues with undelivered entries', async () => {
        const store = await open();
        for (let i = 1; i <= 4; i++) await store.write([put(patient(`p${i}`), { outbox: [note('s1', i)] })]);
        await store.write([put(patient('q'), { outbox: [note('s2', 1)] })]);
        expect((await store.outboxBacklog()).map((q) => q.queue).sort()).toEqual(['s1', 's2']);
        // What is undelivered, numbered or not yet (the queue depth of /metrics), before anyone reads.
        const undelivered = async () => Object.fromEntries((await store.outboxBacklog()).map((q) => [q.queue, q.head - q.acked + (q.unnumbered ?? 0)]));
        expect(await undelivered()).toEqual({ s1: 4, s2: 1 });
        await store.readOutbox('s1', 0, 10);
        await store.ackOutbox('s1', 3);
        await store.ackOutbox('s1', 2); // never backwards
        expect(await store.outboxState('s1')).toEqual({ queue: 's1', head: 4, acked: 3 });
        expect(await undelivered()).toEqual({ s1: 1, s2: 1 });
        await store.trimOutbox('s1', 2);
        expect((await store.readOutbox('s1', 0, 10)).map((e) => e.seq)).toEqual([3, 4]);
        await store.ackOutbox('s1', 4);
        await store.readOutbox('s2', 0, 10);
        expect((await store.outboxBacklog()).map((q) => q.queue)).toEqual(['s2']);
        await store.dropOutbox('s2');
        expect(await store.outboxBacklog()).toEqual([]);
        expect(await store.readOutbox('s2', 0, 10)).toEqual([]);
        // Numbers go on after a trim.
        await store.write([put(patient('p5'), { outbox: [note('s1', 5)] })]);
        expect((await store.readOutbox('s1', 4, 10)).map((e) => e.seq)).toEqual([5]);
      });

      it('keeps entries, numbers and acknowledgements across a restart', async () => {
        let store = await open();
        await store.write([put(patient('p1'), { outbox: [note('s1', 1)] })]);
        await store.write([put(patient('p2'), { outbox: [note('s1', 2)] })]);
        await store.readOutbox('s1', 0, 10);
        await store.ackOutbox('s1', 1);
        store = await h.restart(store);
        expect(await store.outboxState('s1')).toEqual({ queue: 's1', head: 2, acked: 1 });
        expect((await store.readOutbox('s1', 1, 10)).map((e) => [e.seq, e.data.n])).toEqual([[2, 2]]);
        await store.write([put(patient('p3'), { outbox: [note('s1', 3)] })]);
        expect((await store.readOutbox('s1', 0, 10)).map((e) => e.seq)).toEqual([1, 2, 3]);
      });

      it('a lease has one holder at a time, until it is released or runs out', async () => {
        const store = await open();
        const other = h.sibling ? await h.sibling(store) : store;
        expect(await store.leaseOutbox('s1', 'A', 60_000)).toBe(true);
        expect(await other.leaseOutbox('s1', 'B', 60_000)).toBe(false);
        expect(await store.leaseOutbox('s1', 'A', 60_000)).toBe(true); // renewal
        await store.releaseOutbox('s1', 'A');
        expect(await other.leaseOutbox('s1', 'B', 1)).toBe(true);
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(await store.leaseOutbox('s1', 'A', 60_000)).toBe(true); // B's ran out
      });

      it('concurrent writers (and processes) feeding one queue: every record numbered once, no gaps', async () => {
        const store = await open();
        const others = h.sibling ? [await h.sibling(store)] : [];
        const stores = [store, ...others];
        await Promise.all(Array.from({ length: 30 }, (_, i) => stores[i % stores.length].write([put(patient(`c${i}`), { outbox: [note('s1', i)] })])));
        // Readers on both sides number concurrently too.
        await Promise.all(stores.map((s) => s.readOutbox('s1', 0, 100)));
        const entries = await store.readOutbox('s1', 0, 100);
        expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
        expect(new Set(entries.map((e) => e.data.n)).size).toBe(30);
      });
    });

    describe('durability', () => {
      it('finds every version, guard and index entry again after a restart', async () => {
        let store = await open();
        await store.write([put(patient('p1'), { guardKey: 'G' }, { family: [{ v: 'martin', e: 'Martin' }] })]);
        await store.write([put(patient('p1', 'Petit'), { expect: 1 }, { family: [{ v: 'petit', e: 'Petit' }] })]);
        await store.write([put(patient('p2'))]);
        await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p2' }]);
        store = await h.restart(store);
        expect((await store.readCurrent('Patient', 'p1'))?.resource).toMatchObject({ name: [{ family: 'Petit' }], meta: { versionId: '2' } });
        expect((await store.readVersion('Patient', 'p1', 1))?.resource).toMatchObject({ name: [{ family: 'Martin' }] });
        expect(await store.readCurrent('Patient', 'p2')).toMatchObject({ deleted: true, versionId: 2 });
        expect((await store.history({ offset: 0, count: 10 })).total).toBe(4);
        expect((await find2(store, { 'idx.family': { $elemMatch: { v: 'petit' } } }))).toEqual(['p1']);
        expect(await rejection(store.write([put(patient('p3'), { guardKey: 'G' })]))).toBeInstanceOf(GuardConflict);
        const [v3] = await store.write([put(patient('p1'), { expect: 2 })]);
        expect(v3.versionId).toBe(3);
      });
    });
  });
}

async function find2(store: ResourceStore, filter: Record<string, unknown>): Promise<string[]> {
  const { versions } = await store.search({ resourceTypes: ['Patient'], filter, offset: 0, count: 10, withTotal: false });
  return versions.map((v) => v.id);
}
