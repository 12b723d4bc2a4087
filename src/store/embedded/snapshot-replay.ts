/**
 * The matches of a paging snapshot released before its next page was asked for, rebuilt as of the
 * first page from the store's own history — so that releasing a snapshot costs nothing, and its
 * matches are listed only if a next page is ever asked for (held-snapshots.ts).
 *
 * Why it is exact: the store keeps every version with the index entries it was written with
 * (`versions`, `entries`) and a type history in commit order (`typeLog`, [type, lastUpdated, seq]:
 * lastUpdated grows with seq, see embedded-store.ts nextTimestamp). A snapshot is placed by the
 * last history entry it saw. A resource with no history entry after that place is unchanged since
 * the snapshot: its current keys and entries are those the snapshot saw. A resource with entries
 * after it is judged on the version it had then (versionIds are consecutive: the first version
 * written after the place, minus one; none when that is 0, or a deletion). So the snapshot's list
 * is the current matches without the changed resources, plus the changed resources that matched
 * then, put at the place they had then in the same order as the first page: the condition's key
 * order for an exactly indexed filter (key-order.ts; lmdb's compareKeys orders keys as LMDB does),
 * else the id. The one write that changes what a version matches without a history entry is a
 * reindex: a snapshot released before a reindex is not rebuilt (the store's caller answers 410,
 * as for an expired cursor).
 *
 * Cost: the current matches (as the listing of a held snapshot) plus one read per history entry
 * written to the types since the first page, paced like every read.
 */
import { compareKeys, type Transaction } from 'lmdb';
import type { IndexEntries, MatchRef } from '../resource-store.js';
import { isExactlyIndexed, planFor, type Plan } from './candidate-planner.js';
import { COUNT_AT_MOST, keyReader, matchingDocuments } from './document-reader.js';
import { filterTest } from './filter-test.js';
import { HIGHEST, indexKeysOf, type IndexKey } from './index-keys.js';
import type { Layout, LogKey } from './lmdb-layout.js';
import type { Pacer } from './pacer.js';

/** Where a read transaction stands in the store's history: the last log key it sees (undefined: none yet). */
export function historyPosition(layout: Layout, transaction: Transaction): LogKey | undefined {
  for (const key of layout.log.getKeys({ reverse: true, limit: 1, transaction })) return key;
  return undefined;
}

/** An item of the order: its id, and for key order the range it was met in and its first key there. */
interface Placed {
  id: string;
  range?: number;
  key?: IndexKey;
}

/** The refs of the matches of `filter` as they were at `position`, in the order of their first page. */
export async function replayMatches(layout: Layout, transaction: Transaction, resourceTypes: string[], filter: Record<string, unknown>, position: LogKey | undefined, pacer: Pacer): Promise<MatchRef[]> {
  const reader = keyReader(layout, transaction, COUNT_AT_MOST, pacer);
  const refs: MatchRef[] = [];
  for (const resourceType of [...resourceTypes].sort()) {
    const changed = await versionsAt(layout, transaction, resourceType, position, pacer);
    // Key order only where the type has keys for the condition (lmdb-layout.ts, UNKEYED_PARAMETERS), as the first page had it (document-reader.ts).
    const unkeyed = layout.unkeyed.get(resourceType);
    const plan = isExactlyIndexed(filter, unkeyed) ? await planFor(reader, resourceType, filter, unkeyed) : undefined;
    const current: Placed[] = [];
    if (plan) {
      const seen = new Set<string>();
      for (let range = 0; range < plan.ranges.length; range++) {
        const { start, end } = plan.ranges[range];
        for (const key of layout.keys.getKeys({ start, end, transaction })) {
          const id = String(key[key.length - 1]);
          if (!seen.has(id)) {
            seen.add(id);
            if (!changed.has(id)) current.push({ id, range, key });
          }
          await pacer.pace();
        }
      }
    } else {
      for (const match of await matchingDocuments(layout, transaction, [resourceType], filter, { ordered: true, refsOnly: true })) {
        if (!changed.has(match.id)) current.push({ id: match.id });
      }
    }
    const then: Placed[] = [];
    let test: ((doc: Record<string, unknown>) => boolean) | undefined;
    for (const [id, versionId] of changed) {
      await pacer.pace();
      if (versionId < 1) continue;
      const record = layout.versions.get([resourceType, id, versionId], { transaction });
      if (!record || record.d) continue;
      const idx: IndexEntries = layout.entries.get([resourceType, id, versionId], { transaction }) ?? {};
      if (plan) {
        const first = firstKeyIn(plan, indexKeysOf(resourceType, id, idx));
        if (first) then.push({ id, ...first });
      } else if ((test ??= filterTest(filter))({ id, type: resourceType, lastUpdated: record.lu, idx })) {
        then.push({ id });
      }
    }
    const order = plan ? byKey : byId;
    then.sort(order);
    // Both lists are in order: merged.
    let i = 0;
    for (const item of current) {
      while (i < then.length && order(then[i], item) < 0) refs.push({ resourceType, id: then[i++].id });
      refs.push({ resourceType, id: item.id });
    }
    while (i < then.length) refs.push({ resourceType, id: then[i++].id });
  }
  return refs;
}

/** For each resource of the type written after `position`: its versionId then (0: it did not exist). */
async function versionsAt(layout: Layout, transaction: Transaction, resourceType: string, position: LogKey | undefined, pacer: Pacer): Promise<Map<string, number>> {
  const changed = new Map<string, number>();
  const start = position ? [resourceType, position[0], position[1] + 1] : [resourceType];
  for (const { value } of layout.typeLog.getRange({ start: start as never, end: [resourceType, HIGHEST] as never, transaction })) {
    const [id, versionId] = value;
    const before = versionId - 1;
    const known = changed.get(id);
    if (known === undefined || before < known) changed.set(id, before);
    await pacer.pace();
  }
  return changed;
}

/** The first of `keys` inside the plan's ranges, in the order the ranges are read. */
function firstKeyIn(plan: Plan, keys: IndexKey[]): { range: number; key: IndexKey } | undefined {
  for (let range = 0; range < plan.ranges.length; range++) {
    const { start, end } = plan.ranges[range];
    let first: IndexKey | undefined;
    for (const key of keys) {
      if (compareKeys(key, start) >= 0 && compareKeys(key, end) < 0 && (!first || compareKeys(key, first) < 0)) first = key;
    }
    if (first) return { range, key: first };
  }
  return undefined;
}

function byKey(a: Placed, b: Placed): number {
  return a.range! - b.range! || compareKeys(a.key!, b.key!);
}

/** FHIR ids are ASCII: code-unit order is the heads' key order. */
function byId(a: Placed, b: Placed): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
