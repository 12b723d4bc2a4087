/**
 * The stored result sets (paging snapshots) part of the store port, one suite
 * for every store: slices across chunk boundaries (the harness builds the
 * store with a tiny chunk size where the store chunks), owners, idle expiry
 * (a fake clock, no waiting), the least-recently-used cap.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MatchRef, ResourceStore, ResultSetLimits } from '../../src/store/resource-store.js';

export interface ResultSetHarness {
  /** A new, empty, opened store with these limits (and a chunk size of 3 where the store chunks). */
  create(limits: ResultSetLimits): Promise<ResourceStore>;
  /** A second instance over the same data (another process); only for stores several processes share. */
  sibling?(limits: ResultSetLimits): Promise<ResourceStore>;
  dispose(): Promise<void>;
}

const IDLE = 1000;

/** Matches of several types, in a fixed order that is not the types' order. */
function matches(n: number): MatchRef[] {
  const types = ['Patient', 'Observation', 'Encounter'];
  return Array.from({ length: n }, (_, i) => ({ resourceType: types[(i * 7) % 3], id: `r-${String(i).padStart(4, '0')}` }));
}

const cursorOf = (n: number): string => `cursor${String(n).padStart(16, '0')}`;

export function describeResultSetContract(name: string, harness: () => ResultSetHarness, shared: boolean): void {
  describe(`stored result sets: ${name}`, () => {
    let h: ResultSetHarness | undefined;
    let now = 1_700_000_000_000;
    const limits = (maxSets = 100): ResultSetLimits => ({ idleMs: IDLE, maxSets, clock: () => now });
    const open = (maxSets?: number) => {
      h ??= harness();
      return h.create(limits(maxSets));
    };
    afterEach(async () => {
      await h?.dispose();
      h = undefined;
    });

    it('gives back any slice of the refs in their order, with the total, across chunk boundaries', async () => {
      const store = await open();
      const refs = matches(17);
      await store.saveResultSet(cursorOf(1), 'owner-a', refs);
      for (const [offset, count] of [[0, 17], [0, 3], [2, 2], [2, 5], [3, 3], [5, 7], [15, 10], [16, 1]]) {
        expect(await store.loadResultSet(cursorOf(1), 'owner-a', offset, count)).toEqual({ total: 17, refs: refs.slice(offset, offset + count) });
      }
      expect(await store.loadResultSet(cursorOf(1), 'owner-a', 17, 5)).toEqual({ total: 17, refs: [] });
    });

    it('answers unknown, and another owner\'s cursor, alike: undefined', async () => {
      const store = await open();
      await store.saveResultSet(cursorOf(2), 'owner-a', matches(5));
      expect(await store.loadResultSet(cursorOf(2), 'owner-b', 0, 5)).toBeUndefined();
      expect(await store.loadResultSet(cursorOf(2), '', 0, 5)).toBeUndefined();
      expect(await store.loadResultSet(cursorOf(3), 'owner-a', 0, 5)).toBeUndefined();
      // The failed attempts changed nothing for the owner.
      expect((await store.loadResultSet(cursorOf(2), 'owner-a', 0, 5))?.total).toBe(5);
    });

    it('expires a set after the idle time without use; each use restarts it', async () => {
      const store = await open();
      const start = now;
      await store.saveResultSet(cursorOf(4), 'o', matches(10));
      await store.saveResultSet(cursorOf(5), 'o', matches(10));
      now = start + 800;
      expect((await store.loadResultSet(cursorOf(4), 'o', 4, 3))?.refs).toHaveLength(3);
      now = start + 1600; // 1600 after saving, 800 after its last use
      expect((await store.loadResultSet(cursorOf(4), 'o', 0, 3))?.total).toBe(10);
      expect(await store.loadResultSet(cursorOf(5), 'o', 0, 3)).toBeUndefined();
      now = start + 2700;
      expect(await store.loadResultSet(cursorOf(4), 'o', 0, 3)).toBeUndefined();
      now = start;
    });

    it('keeps at most maxSets, evicting the least recently used', async () => {
      const store = await open(2);
      const start = now;
      await store.saveResultSet(cursorOf(6), 'o', matches(4)); // A
      now = start + 100;
      await store.saveResultSet(cursorOf(7), 'o', matches(4)); // B
      now = start + 300;
      expect(await store.loadResultSet(cursorOf(6), 'o', 0, 1)).toBeDefined(); // A used: B is now the least recent
      now = start + 400;
      await store.saveResultSet(cursorOf(8), 'o', matches(4)); // C
      now = start + 600;
      await store.saveResultSet(cursorOf(9), 'o', matches(4)); // D
      expect(await store.loadResultSet(cursorOf(7), 'o', 0, 1)).toBeUndefined();
      expect(await store.loadResultSet(cursorOf(6), 'o', 0, 1)).toBeUndefined();
      expect((await store.loadResultSet(cursorOf(8), 'o', 0, 4))?.refs).toEqual(matches(4));
      expect((await store.loadResultSet(cursorOf(9), 'o', 0, 4))?.refs).toEqual(matches(4));
      now = start;
    });

    it.runIf(shared)('a set saved through one instance is read through another sharing the store', async () => {
      const first = await open();
      const second = await h!.sibling!(limits());
      const refs = matches(11);
      await first.saveResultSet(cursorOf(10), 'o', refs);
      expect(await second.loadResultSet(cursorOf(10), 'o', 4, 5)).toEqual({ total: 11, refs: refs.slice(4, 9) });
      expect(await second.loadResultSet(cursorOf(10), 'other', 4, 5)).toBeUndefined();
    });
  });
}
