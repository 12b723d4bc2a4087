/**
 * Stored result sets (paging snapshots) of the embedded store: the shared
 * contract (test/store/result-sets-contract.ts, with chunks of 3 references so
 * slices cross chunk boundaries), plus what is particular to keeping them in
 * LMDB: sets of one type or whose second type appears late give back the same
 * refs, a set costs the heap nothing while it waits, and a restart forgets them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { describeResultSetContract, type ResultSetHarness } from './result-sets-contract.js';

describeResultSetContract(
  'embedded',
  (): ResultSetHarness => {
    const open: Array<{ store: EmbeddedStore; dir: string }> = [];
    return {
      async create(limits) {
        const dir = mkdtempSync(join(tmpdir(), 'relais-resultsets-'));
        const store = new EmbeddedStore({ directory: dir, resultSets: limits, resultSetChunkSize: 3 });
        await store.open();
        open.push({ store, dir });
        return store;
      },
      async dispose() {
        for (const { store, dir } of open.splice(0)) {
          await store.close();
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  },
  false,
);

describe('embedded result sets in LMDB', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const fresh = async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-resultsets-'));
    dirs.push(dir);
    const store = new EmbeddedStore({ directory: dir, resultSets: { idleMs: 60_000, maxSets: 10 } });
    await store.open();
    return { store, dir };
  };

  it('a single-type set and a set whose second type appears late give back the same refs', async () => {
    const { store } = await fresh();
    const single = Array.from({ length: 2500 }, (_, i) => ({ resourceType: 'Patient', id: `p${i}` }));
    const late = [...single, { resourceType: 'Observation', id: 'o1' }, { resourceType: 'Patient', id: 'p2500' }];
    await store.saveResultSet('single', 'o', single);
    await store.saveResultSet('late', 'o', late);
    expect(await store.loadResultSet('single', 'o', 0, 3000)).toEqual({ total: 2500, refs: single });
    expect(await store.loadResultSet('late', 'o', 995, 2000)).toEqual({ total: 2502, refs: late.slice(995, 2995) });
    await store.close();
  });

  it('is forgotten by a restart (one process serves an embedded store: the client searches again)', async () => {
    const { store, dir } = await fresh();
    await store.saveResultSet('c', 'o', [{ resourceType: 'Patient', id: 'p1' }]);
    expect((await store.loadResultSet('c', 'o', 0, 1))?.total).toBe(1);
    await store.close();
    const again = new EmbeddedStore({ directory: dir });
    await again.open();
    expect(await again.loadResultSet('c', 'o', 0, 1)).toBeUndefined();
    await again.close();
  });
});
