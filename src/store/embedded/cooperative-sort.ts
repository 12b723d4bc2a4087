/**
 * Sorting every match of a search (an explicit _sort needs all of them in
 * order before the first page) without holding the event loop: Array.sort on a
 * million keyed matches ran about a second in one piece (issue 18's hostile
 * probe). Here runs of RUN items are sorted natively, then merged pairwise,
 * with `pace()` (which yields once its slice is used up: Pacer.paceCostly)
 * called between runs and every STEP items merged — not for each item: an
 * await per item would cost more than the sort. The order is exactly Array.sort's: both
 * are stable, and the comparators given here break every tie anyway (type, id).
 * Hand-written: no maintained library sorts in yielding steps.
 */
const RUN = 4096;
const STEP = 1024;

export async function cooperativeSort<T>(items: T[], compare: (a: T, b: T) => number, pace: () => Promise<void>): Promise<T[]> {
  if (items.length <= RUN) return items.sort(compare);
  let source = items;
  for (let start = 0; start < source.length; start += RUN) {
    const run = source.slice(start, start + RUN).sort(compare);
    for (let i = 0; i < run.length; i++) source[start + i] = run[i];
    await pace();
  }
  let target: T[] = new Array<T>(source.length);
  for (let width = RUN; width < source.length; width *= 2) {
    for (let left = 0; left < source.length; left += 2 * width) {
      const middle = Math.min(left + width, source.length);
      const end = Math.min(left + 2 * width, source.length);
      let i = left;
      let j = middle;
      let k = left;
      while (i < middle && j < end) {
        // `<= 0` takes the left one first on ties: stable.
        target[k++] = compare(source[i], source[j]) <= 0 ? source[i++] : source[j++];
        if (k % STEP === 0) await pace();
      }
      while (i < middle) target[k++] = source[i++];
      while (j < end) target[k++] = source[j++];
    }
    [source, target] = [target, source];
  }
  return source;
}
