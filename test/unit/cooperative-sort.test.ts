/**
 * The embedded store sorts every match of an explicit _sort in slices
 * (src/store/embedded/cooperative-sort.ts): the order must be exactly
 * Array.sort's, and the sort must give the event loop turns on the way.
 */
import { describe, expect, it } from 'vitest';
import { cooperativeSort } from '../../src/store/embedded/cooperative-sort.js';
import { compareSortKeys } from '../../src/store/embedded/sort-keys.js';

/** A deterministic pseudo-random sequence (no flaky inputs). */
function* numbers(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2147483648;
    yield x;
  }
}

describe('cooperative sort', () => {
  it('orders exactly as Array.sort does, ties and missing keys included, at sizes around its run length', async () => {
    const sort = [{ direction: -1 as const }, { direction: 1 as const }];
    for (const size of [0, 1, 2, 4095, 4096, 4097, 10_000, 33_333]) {
      const random = numbers(size + 1);
      // Few distinct dates (many ties), some missing; the second key keeps insertion identity visible.
      const items = Array.from({ length: size }, (_, i) => {
        const n = random.next().value as number;
        return { i, keys: [n % 7 === 0 ? undefined : `2024-0${(n % 9) + 1}`, n % 3] };
      });
      const compare = (a: (typeof items)[number], b: (typeof items)[number]) => compareSortKeys(a.keys, b.keys, sort);
      const expected = [...items].sort(compare).map((item) => item.i);
      const sorted = await cooperativeSort([...items], compare, async () => {});
      expect(sorted.map((item) => item.i), `size ${size}`).toEqual(expected);
    }
  });

  it('gives the event loop a turn while it sorts many items', async () => {
    const items = Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 50_000);
    let turns = 0;
    let paces = 0;
    const ticking = setInterval(() => turns++, 0);
    // A pace that always yields (the store's Pacer yields once its 10 ms slice is used up).
    const sorted = await cooperativeSort(items, (a, b) => a - b, async () => {
      paces++;
      await new Promise((resolve) => setImmediate(resolve));
    });
    clearInterval(ticking);
    expect(sorted).toEqual(Array.from({ length: 50_000 }, (_, i) => i));
    expect(paces).toBeGreaterThan(50);
    expect(turns).toBeGreaterThan(0);
  });
});
