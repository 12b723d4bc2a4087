/**
 * The default order of a search with one exactly indexed condition (candidate-planner.ts,
 * isExactlyIndexed: a string equal to or starting with a text, a code, a system|code, a
 * reference): the order of the condition's index keys, i.e. by the matching value, then by id —
 * each resource at its first (smallest) matching key (never for a parameter its type has no keys
 * for, lmdb-layout.ts UNKEYED_PARAMETERS: the default order then). FHIR R4 fixes no order for a search
 * without `_sort` ("the order of the results is up to the server", search page, _sort), and
 * this one can be read straight from the keys: a first page reads the keys up to its end,
 * whereas the id order had to collect and sort every match first (a 3-letter `name` prefix at
 * 100,000 patients: thousands of candidates, given and family names, for a page of 20;
 * scripts/bench-search-scaling.ts). The listing of a paging snapshot reads the same keys in the
 * same snapshot, so the pages are cut from one list (held-snapshots.ts).
 *
 * A resource has several keys in a range when several of its values match (a family name and a
 * given name both starting with `mar`): it is kept at the first, later keys of the same id are
 * skipped. The read always starts at the range's start, so a set of the ids met so far decides
 * that; it holds at most the ids read, in proportion to the page for a first page.
 */
import type { Transaction } from 'lmdb';
import type { MatchRef } from '../resource-store.js';
import { isExactlyIndexed, planFor, type Plan } from './candidate-planner.js';
import { COUNT_AT_MOST, keyReader } from './document-reader.js';
import type { Layout } from './lmdb-layout.js';
import type { Pacer } from './pacer.js';

/** The ids of the plan's key ranges in key order (ranges one after the other), each id once. */
export function* distinctIdsInKeyOrder(layout: Layout, transaction: Transaction, plan: Plan): Generator<string> {
  const seen = new Set<string>();
  for (const id of plan.ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    yield id;
  }
  for (const range of plan.ranges) {
    for (const key of layout.keys.getKeys({ start: range.start, end: range.end, transaction })) {
      const id = String(key[key.length - 1]);
      if (seen.has(id)) continue;
      seen.add(id);
      yield id;
    }
  }
}

/** Keys read between two looks at the clock (pacer.ts) while listing. */
const KEYS_PER_PACE = 256;

/**
 * Every match of an exactly indexed `filter` as refs, in the order its first pages were read
 * (types in order, then key order), or undefined when the filter is not exactly indexed. The
 * listing of a held paging snapshot (held-snapshots.ts): from the keys alone — no head, entry or
 * body read — and without a per-match object or turn of the event loop (measured: the listing
 * through matchingDocuments cost about 2.3 ms of CPU for 1,400 matches, 1.6 µs a match, most of it
 * the per-match objects and awaits).
 */
export async function listExactMatches(layout: Layout, transaction: Transaction, resourceTypes: string[], filter: Record<string, unknown>, pacer: Pacer): Promise<MatchRef[] | undefined> {
  if (!isExactlyIndexed(filter)) return undefined;
  const reader = keyReader(layout, transaction, COUNT_AT_MOST, pacer);
  const refs: MatchRef[] = [];
  let read = 0;
  for (const resourceType of [...resourceTypes].sort()) {
    // A parameter the type has no keys for (lmdb-layout.ts) has no key order: the caller lists its matches otherwise.
    const unkeyed = layout.unkeyed.get(resourceType);
    if (unkeyed && !isExactlyIndexed(filter, unkeyed)) return undefined;
    const plan = await planFor(reader, resourceType, filter, unkeyed);
    if (!plan) return undefined;
    const seen = new Set<string>(plan.ids);
    for (const range of plan.ranges) {
      for (const key of layout.keys.getKeys({ start: range.start, end: range.end, transaction })) {
        seen.add(String(key[key.length - 1]));
        if (++read % KEYS_PER_PACE === 0) await pacer.paceCostly();
      }
    }
    // A Set iterates in insertion order: each id at its first key.
    for (const id of seen) refs.push({ resourceType, id });
  }
  return refs;
}
