/**
 * The embedded store's journal on disk: what a restart does with a torn last
 * line (dropped: it was never acknowledged), a corrupt line in the middle
 * (refuses to start: skipping it would lose acknowledged writes), and a
 * journal compacted into a snapshot (every version and the history kept).
 */
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import type { StoredVersion, WriteOperation } from '../../src/store/resource-store.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relais-journal-'));
  folders.push(dir);
  return dir;
}

function put(id: string, family: string, expect?: WriteOperation['expect']): WriteOperation {
  const resource: Patient = { resourceType: 'Patient', id, name: [{ family }] };
  return { kind: 'put', resourceType: 'Patient', id, resource, index: { family: [family.toLowerCase()] }, ...(expect !== undefined ? { expect } : {}) };
}

async function openStore(directory: string, compactAfterBytes?: number): Promise<EmbeddedStore> {
  const store = new EmbeddedStore({ directory, ...(compactAfterBytes ? { compactAfterBytes } : {}) });
  await store.open();
  return store;
}

/** Everything a client could observe of a store: every version of every id, and system history. */
async function snapshotOf(store: EmbeddedStore, ids: string[]): Promise<{ versions: Record<string, StoredVersion[]>; history: string[] }> {
  const versions: Record<string, StoredVersion[]> = {};
  for (const id of ids) {
    const current = await store.readCurrent('Patient', id);
    const all: StoredVersion[] = [];
    for (let v = 1; v <= (current?.versionId ?? 0); v++) all.push((await store.readVersion('Patient', id, v))!);
    versions[id] = all;
  }
  const page = await store.history({ offset: 0, count: 100_000 });
  return { versions, history: page.versions.map((v) => `${v.id}/${v.versionId}/${v.lastUpdated}/${v.deleted}`) };
}

describe('embedded journal recovery', () => {
  it('drops a torn last line (an unacknowledged write) and keeps everything before it', async () => {
    const dir = folder();
    const store = await openStore(dir);
    await store.write([put('a', 'Alpha')]);
    await store.write([put('a', 'Alpha2', 1)]);
    await store.write([put('b', 'Beta')]);
    const before = await snapshotOf(store, ['a', 'b']);
    await store.close();
    const journal = join(dir, 'journal.jsonl');
    const size = statSync(journal).size;
    // A crash in the middle of an append: half a line, no newline.
    appendFileSync(journal, '1a2b3c4d {"seq":99,"ops":[{"kind":"put","resourceType":"Patient","id":"c"');

    const reopened = await openStore(dir);
    expect(await snapshotOf(reopened, ['a', 'b'])).toEqual(before);
    expect(await reopened.readCurrent('Patient', 'c')).toBeUndefined();
    expect(statSync(journal).size).toBe(size);
    // The store keeps working after the cut, and the next restart sees the new write.
    const [next] = await reopened.write([put('c', 'Gamma')]);
    expect(next.versionId).toBe(1);
    await reopened.close();
    const third = await openStore(dir);
    expect((await third.readCurrent('Patient', 'c'))?.resource).toMatchObject({ name: [{ family: 'Gamma' }] });
    await third.close();
  });

  it('drops a last line whose checksum does not match (torn inside the line)', async () => {
    const dir = folder();
    const store = await openStore(dir);
    await store.write([put('a', 'Alpha')]);
    await store.write([put('b', 'Beta')]);
    await store.close();
    const journal = join(dir, 'journal.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    writeFileSync(journal, `${lines[0]}\n${lines[1].slice(0, -5)}XXXXX\n`);
    const reopened = await openStore(dir);
    expect(await reopened.readCurrent('Patient', 'a')).toBeDefined();
    expect(await reopened.readCurrent('Patient', 'b')).toBeUndefined();
    await reopened.close();
  });

  it('refuses to start when a line in the middle is corrupt', async () => {
    const dir = folder();
    const store = await openStore(dir);
    for (const id of ['a', 'b', 'c']) await store.write([put(id, id.toUpperCase())]);
    await store.close();
    const journal = join(dir, 'journal.jsonl');
    const lines = readFileSync(journal, 'utf8').split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    // Flip one character inside the second record's JSON: its CRC no longer matches.
    lines[1] = lines[1].replace('"B"', '"X"');
    writeFileSync(journal, `${lines.join('\n')}\n`);
    const reopened = new EmbeddedStore({ directory: dir });
    await expect(reopened.open()).rejects.toThrow(/corrupt journal line/);
    expect(reopened.isReady()).toBe(false);
    // The evidence is left untouched for an operator.
    expect(readFileSync(journal, 'utf8')).toBe(`${lines.join('\n')}\n`);
  });

  it('compaction into a snapshot keeps every version, deletions and the history order across restarts', async () => {
    const dir = folder();
    const store = await openStore(dir, 4096);
    const ids = Array.from({ length: 12 }, (_, i) => `p${i}`);
    for (const id of ids) await store.write([put(id, `${id}-v1`)]);
    for (let round = 2; round <= 6; round++) {
      for (const id of ids) await store.write([put(id, `${id}-v${round}-${'x'.repeat(200)}`, round - 1)]);
    }
    await store.write([{ kind: 'delete', resourceType: 'Patient', id: 'p3', expect: 6 }]);
    await store.write([put('p3', 'p3-back')]);
    // Compaction happened (a snapshot exists and the journal stayed small).
    expect(existsSync(join(dir, 'snapshot.jsonl'))).toBe(true);
    expect(statSync(join(dir, 'journal.jsonl')).size).toBeLessThan(4096 + 2048);
    const before = await snapshotOf(store, ids);
    expect(before.versions.p3.map((v) => v.deleted)).toEqual([false, false, false, false, false, false, true, false]);
    expect(before.history).toHaveLength(12 * 6 + 2);

    // Filtered history judges each version on its own index entries; a deletion on those it deleted.
    const v6 = `p3-v6-${'x'.repeat(200)}`;
    const filtered = async (s: EmbeddedStore) =>
      (await s.history({ resourceType: 'Patient', filter: { 'idx.family': { $in: ['p3-v1', v6] } }, offset: 0, count: 100 })).versions.map((v) => `${v.id}/${v.versionId}`);
    expect(await filtered(store)).toEqual(['p3/7', 'p3/6', 'p3/1']);
    await store.close();

    const reopened = await openStore(dir, 4096);
    expect(await snapshotOf(reopened, ids)).toEqual(before);
    // The snapshot kept every version's entries.
    expect(await filtered(reopened)).toEqual(['p3/7', 'p3/6', 'p3/1']);
    // Search documents (the index of current versions) came back too.
    const found = await reopened.search({ resourceTypes: ['Patient'], filter: { 'idx.family': 'p3-back' }, offset: 0, count: 10, withTotal: true });
    expect(found.versions.map((v) => v.id)).toEqual(['p3']);
    // Writes continue with the right version numbers, and survive another restart.
    const [next] = await reopened.write([put('p0', 'p0-v7', 6)]);
    expect(next.versionId).toBe(7);
    await reopened.close();
    const third = await openStore(dir, 4096);
    expect((await third.readCurrent('Patient', 'p0'))?.versionId).toBe(7);
    expect((await third.history({ offset: 0, count: 100_000 })).total).toBe(12 * 6 + 3);
    await third.close();
  });
});
