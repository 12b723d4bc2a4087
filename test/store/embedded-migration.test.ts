/**
 * Migration of a data folder written by the old journal store (before LMDB) on
 * the first start of the new one. The fixture (fixtures/legacy-journal/) is a
 * real folder the old store wrote — compacted several times, so a snapshot and
 * a journal: 40 patients and 87 observations with updates, a resource moved
 * between patients, deletions (a guard holder among them), a re-creation, a
 * two-write transaction and a reindexed version — and expected.json holds what
 * the old store answered over it (every version, system history order, totals,
 * searches), recorded at the same time.
 */
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { openLayout } from '../../src/store/embedded/lmdb-layout.js';
import { GuardConflict, type StoredVersion } from '../../src/store/resource-store.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'legacy-journal');
const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as {
  versions: Record<string, StoredVersion>;
  systemHistoryOrder: string[];
  patientHistoryTotal: number;
  birthCityTours: string[];
  systolicOver180: string[];
  lefevre: string[];
};

const dirs: string[] = [];
const stores: EmbeddedStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function oldFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relais-migration-'));
  dirs.push(dir);
  for (const name of ['snapshot.jsonl', 'journal.jsonl']) copyFileSync(join(FIXTURE, name), join(dir, name));
  return dir;
}

async function opened(dir: string): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ directory: dir });
  await store.open();
  stores.push(store);
  return store;
}

async function expectSameAsTheOldStore(store: EmbeddedStore): Promise<void> {
  for (const [key, version] of Object.entries(expected.versions)) {
    const [type, id, versionId] = key.split('/');
    expect(await store.readVersion(type, id, Number(versionId)), key).toEqual(version);
  }
  const system = await store.history({ offset: 0, count: 100_000 });
  expect(system.versions.map((v) => `${v.resourceType}/${v.id}/${v.versionId}`)).toEqual(expected.systemHistoryOrder);
  expect((await store.history({ resourceType: 'Patient', offset: 0, count: 0 })).total).toBe(expected.patientHistoryTotal);
  const ids = async (types: string[], filter: Record<string, unknown>) => (await store.search({ resourceTypes: types, filter, offset: 0, count: 100, withTotal: true })).versions.map((v) => v.id);
  // The reindexed entries (birth-city, recorded in the journal after the last compaction) came along.
  expect(await ids(['Patient'], { 'idx.birth-city': { $elemMatch: { v: 'tours' } } })).toEqual(expected.birthCityTours);
  expect(await ids(['Observation'], { 'idx.value-quantity': { $elemMatch: { n: { $gte: 180 } } } })).toEqual(expected.systolicOver180);
  expect(await ids(['Patient'], { 'idx.family': { $elemMatch: { v: { $regex: '^lefe' } } } })).toEqual(expected.lefevre);
  expect(expected.birthCityTours).toEqual(['pat-1']);
  expect(expected.lefevre.length).toBeGreaterThan(3);
}

describe('migration of an old journal folder', () => {
  it('converts it on first start: every version, history order, index entries, guards; old files kept aside', async () => {
    const dir = oldFolder();
    // A crash during an unacknowledged write left a torn last line: the old store ignored it, so does the migration.
    appendFileSync(join(dir, 'journal.jsonl'), '1a2b3c4d {"seq":999,"ops":[{"kind":"put","resourceType":"Pat');
    let store = await opened(dir);
    await expectSameAsTheOldStore(store);
    // Guards: pat-0 still holds its conditional-create guard; pat-10's was released by its deletion.
    await expect(store.write([{ kind: 'put', resourceType: 'Patient', id: 'other', resource: { resourceType: 'Patient', id: 'other' }, guardKey: 'guard-0' }])).rejects.toBeInstanceOf(GuardConflict);
    expect((await store.write([{ kind: 'put', resourceType: 'Patient', id: 'other', resource: { resourceType: 'Patient', id: 'other' }, guardKey: 'guard-10' }]))[0].versionId).toBe(1);
    // Versions continue where the old store stopped, with later instants.
    const [next] = await store.write([{ kind: 'put', resourceType: 'Patient', id: 'pat-0', resource: { resourceType: 'Patient', id: 'pat-0' }, expect: 4 }]);
    expect(next.versionId).toBe(5);
    expect(next.lastUpdated > expected.versions[expected.systemHistoryOrder[0]].lastUpdated).toBe(true);
    // The old files were moved aside, not deleted; a restart does not migrate again.
    expect(existsSync(join(dir, 'journal.jsonl')) || existsSync(join(dir, 'snapshot.jsonl'))).toBe(false);
    const kept = readdirSync(dir).filter((name) => name.startsWith('legacy-journal-'));
    expect(kept).toHaveLength(1);
    expect(readdirSync(join(dir, kept[0])).sort()).toEqual(['journal.jsonl', 'snapshot.jsonl']);
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    store = await opened(dir);
    expect((await store.readCurrent('Patient', 'pat-0'))?.versionId).toBe(5);
    expect((await store.history({ offset: 0, count: 0 })).total).toBe(expected.systemHistoryOrder.length + 2);
  });

  it('starts over after a migration that was interrupted', async () => {
    const dir = oldFolder();
    // What a crash in the middle of a migration leaves: the state 'started' and part of the data.
    const layout = openLayout(dir);
    await layout.meta.put('legacyMigration', 'started');
    await layout.heads.put(['Patient', 'half-done'], { v: 1, lu: '2020-01-01T00:00:00.000Z' });
    await layout.env.close();
    const store = await opened(dir);
    await expectSameAsTheOldStore(store);
    expect(await store.readCurrent('Patient', 'half-done')).toBeUndefined();
  });

  it('refuses a folder whose journal is corrupt before its last line, changing nothing', async () => {
    const dir = oldFolder();
    const journal = join(dir, 'journal.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n');
    lines[1] = lines[1].replace('"Patient"', '"Patiens"'); // the CRC no longer matches
    writeFileSync(journal, lines.join('\n'));
    await expect(new EmbeddedStore({ directory: dir }).open()).rejects.toThrow(/corrupt line 2/);
    expect(readFileSync(journal, 'utf8')).toBe(lines.join('\n'));
    expect(existsSync(join(dir, 'relais.lock'))).toBe(false);
  });
});
