/**
 * Reads for the embedded store's search and distinct: the current, live
 * versions of some types whose search document `{ id, type, lastUpdated, idx }`
 * matches a filter. Candidates come from the ordered index keys
 * (candidate-planner.ts), or from every head of the type when the filter has no
 * indexable part; each candidate's document is then tested in full
 * (filter-test.ts, mingo). Bodies are not read here: only the page's.
 *
 * Runs synchronously, so all its reads see one LMDB snapshot (lmdb-js renews
 * its read transaction between event turns, never within one).
 */
import type { IndexEntries } from '../resource-store.js';
import { planCandidates, type KeyReader } from './candidate-planner.js';
import { filterTest } from './filter-test.js';
import { HIGHEST } from './index-keys.js';
import type { HeadRecord, Layout } from './lmdb-layout.js';

export interface MatchedDocument {
  resourceType: string;
  id: string;
  head: HeadRecord;
  doc: { id: string; type: string; lastUpdated: string; idx: IndexEntries };
}

/**
 * lmdb-js counts a range natively (about 50 ns a key, measured) but ignores a limit there; reading keys
 * stops at the limit but decodes each (about 350 ns). So: read up to a small limit, count natively beyond.
 */
const READ_TO_COUNT = 8192;

export function keyReader(layout: Layout): KeyReader {
  return {
    count(range, limit) {
      if (limit > READ_TO_COUNT) return layout.keys.getKeysCount({ start: range.start, end: range.end });
      let n = 0;
      for (const _ of layout.keys.getKeys({ start: range.start, end: range.end, limit })) n++;
      return n;
    },
    collectIds(range, into) {
      for (const key of layout.keys.getKeys({ start: range.start, end: range.end })) into.add(String(key[key.length - 1]));
    },
  };
}

/** The current, non-deleted documents of `resourceTypes` that match `filter`. */
export function matchingDocuments(layout: Layout, resourceTypes: string[], filter: Record<string, unknown>): MatchedDocument[] {
  const test = filterTest(filter);
  const reader = keyReader(layout);
  const matches: MatchedDocument[] = [];
  for (const resourceType of resourceTypes) {
    const consider = (id: string, head: HeadRecord | undefined) => {
      if (!head || head.d) return;
      const doc = { id, type: resourceType, lastUpdated: head.lu, idx: layout.entries.get([resourceType, id, head.v]) ?? {} };
      if (test(doc)) matches.push({ resourceType, id, head, doc });
    };
    const candidates = planCandidates(reader, resourceType, filter);
    if (candidates) {
      for (const id of candidates) consider(id, layout.heads.get([resourceType, id]));
    } else {
      for (const { key, value } of layout.heads.getRange({ start: [resourceType], end: [resourceType, HIGHEST] })) consider(key[1], value);
    }
  }
  return matches;
}
