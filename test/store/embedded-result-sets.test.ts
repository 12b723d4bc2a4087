/**
 * Stored result sets (paging snapshots) of the embedded store: the shared
 * contract (test/store/result-sets-contract.ts), plus what is particular to
 * its in-memory representation (sets of one type, and of more than 256 types'
 * worth of type numbers are not possible in R4, so: mixed types in any order).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { MemoryResultSets } from '../../src/store/embedded/memory-result-sets.js';
import { describeResultSetContract, type ResultSetHarness } from './result-sets-contract.js';

describeResultSetContract(
  'embedded',
  (): ResultSetHarness => {
    const open: Array<{ store: EmbeddedStore; dir: string }> = [];
    return {
      async create(limits) {
        const dir = mkdtempSync(join(tmpdir(), 'relais-resultsets-'));
        const store = new EmbeddedStore({ directory: dir, resultSets: limits });
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

describe('embedded result sets: compact representation', () => {
  it('a single-type set and a set whose second type appears late give back the same refs', () => {
    const sets = new MemoryResultSets({ idleMs: 60_000, maxSets: 10 });
    const single = Array.from({ length: 50 }, (_, i) => ({ resourceType: 'Patient', id: `p${i}` }));
    const late = [...single, { resourceType: 'Observation', id: 'o1' }, { resourceType: 'Patient', id: 'p50' }];
    sets.save('single', 'o', single);
    sets.save('late', 'o', late);
    expect(sets.load('single', 'o', 0, 100)).toEqual({ total: 50, refs: single });
    expect(sets.load('late', 'o', 45, 100)).toEqual({ total: 52, refs: late.slice(45) });
  });
});
