/**
 * What an explicit _sort over N matches costs the embedded store, and how long
 * it holds the event loop: Array.sort of the keyed matches in one piece (the
 * store before issue 18's change) against cooperativeSort with the store's
 * Pacer, on the same keys, in the same process. The hold is the longest gap
 * seen by a 1 ms interval timer while each sort runs. A measurement, not a test:
 *
 *   nice -n 10 npx tsx scripts/bench-sort-holds.ts --matches 1000000
 */
import { Pacer } from '../src/store/embedded/pacer.js';
import { cooperativeSort } from '../src/store/embedded/cooperative-sort.js';
import { compareSortKeys } from '../src/store/embedded/sort-keys.js';
import { parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { matches: 1_000_000, rounds: 2 });
const n = flags.matches;
// Keys as the store builds them for `_sort=-date` (then type, id): a date string, the type, the id.
const sort = [{ direction: -1 as const }, { direction: 1 as const }, { direction: 1 as const }];
const keyed = () => Array.from({ length: n }, (_, i) => ({ i, keys: [`2024-${String((i * 7919) % 12 + 1).padStart(2, '0')}-${String((i * 104729) % 28 + 1).padStart(2, '0')}T08:00:00Z`, 'Observation', `obs-${(i * 2654435761) % n}`] }));
const compare = (a: { keys: unknown[] }, b: { keys: unknown[] }) => compareSortKeys(a.keys, b.keys, sort);

/** Runs `work` while a 1 ms timer notes the longest gap between its ticks. */
async function holding(work: () => Promise<unknown> | unknown): Promise<{ ms: number; longestGapMs: number }> {
  let last = performance.now();
  let longestGapMs = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestGapMs = Math.max(longestGapMs, now - last);
    last = now;
  }, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  last = performance.now();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 5));
  clearInterval(ticker);
  return { ms, longestGapMs };
}

console.log(`${n} matches, Node ${process.version}, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (let round = 1; round <= flags.rounds; round++) {
  const one = keyed();
  const native = await holding(() => one.sort(compare));
  const two = keyed();
  const pacer = new Pacer();
  let sorted: typeof two = [];
  const sliced = await holding(async () => (sorted = await cooperativeSort(two, compare, () => pacer.paceCostly())));
  const same = sorted.every((item, k) => item.i === one[k].i);
  console.log(
    `round ${round}: Array.sort ${native.ms.toFixed(0)} ms, longest hold ${native.longestGapMs.toFixed(0)} ms | cooperativeSort ${sliced.ms.toFixed(0)} ms (× ${(sliced.ms / native.ms).toFixed(2)}), longest hold ${sliced.longestGapMs.toFixed(0)} ms | same order: ${same}`,
  );
}
