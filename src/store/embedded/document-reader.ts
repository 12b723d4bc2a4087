/**
 * Reads for the embedded store's search and distinct: the current, live
 * versions of some types whose search document `{ id, type, lastUpdated, idx }`
 * matches a filter. Candidates come from the ordered index keys
 * (candidate-planner.ts), or from every head of the type when the filter has no
 * indexable part; each candidate's document is then tested in full
 * (filter-test.ts, mingo). The document holds the entries of the parameters the
 * filter (and the sort or distinct path) names, read from the per-parameter
 * copy of the current entries: a filter cannot depend on the others, and
 * decoding all of a resource's entries (about 1.3 KB of JSON for an
 * Observation) was most of the time a search spent per candidate (profiled).
 * Bodies are not read here: only the page's.
 *
 * All its reads use one explicit LMDB read transaction, so they see one
 * snapshot even though the loop over candidates yields to the event loop
 * (pacer.ts) when it runs long.
 */
import type { Transaction } from 'lmdb';
import type { IndexEntries } from '../resource-store.js';
import { planCandidates, type KeyReader } from './candidate-planner.js';
import { filterTest } from './filter-test.js';
import { HIGHEST } from './index-keys.js';
import type { HeadRecord, Layout } from './lmdb-layout.js';
import { Pacer } from './pacer.js';

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

export function keyReader(layout: Layout, transaction?: Transaction): KeyReader {
  const inTxn = transaction ? { transaction } : {};
  return {
    count(range, limit) {
      if (limit > READ_TO_COUNT) return layout.keys.getKeysCount({ start: range.start, end: range.end, ...inTxn });
      let n = 0;
      for (const _ of layout.keys.getKeys({ start: range.start, end: range.end, limit, ...inTxn })) n++;
      return n;
    },
    collectIds(range, into) {
      for (const key of layout.keys.getKeys({ start: range.start, end: range.end, ...inTxn })) into.add(String(key[key.length - 1]));
    },
  };
}

/** The parameter codes a filter or path names (`idx.<code>...`), or undefined when it names `idx` as a whole. */
export function namedCodes(filter: unknown, paths: string[] = [], into = new Set<string>()): Set<string> | undefined {
  for (const path of paths) {
    if (path === 'idx') return undefined;
    if (path.startsWith('idx.')) into.add(path.slice(4).split('.')[0]);
  }
  if (Array.isArray(filter)) {
    for (const item of filter) if (!namedCodes(item, [], into)) return undefined;
  } else if (filter && typeof filter === 'object') {
    for (const [key, value] of Object.entries(filter)) {
      if (key === 'idx') return undefined;
      if (key.startsWith('idx.')) into.add(key.slice(4).split('.')[0]);
      else if (!namedCodes(value, [], into)) return undefined;
    }
  }
  return into;
}

function isEmptyType(layout: Layout, transaction: Transaction, resourceType: string): boolean {
  for (const _ of layout.heads.getKeys({ start: [resourceType], end: [resourceType, HIGHEST], limit: 1, transaction })) return false;
  return true;
}

/**
 * The current, non-deleted documents of `resourceTypes` that match `filter`, read within `transaction`;
 * `paths` (sort keys, a distinct path) name more entries the documents must hold.
 */
export async function matchingDocuments(layout: Layout, transaction: Transaction, resourceTypes: string[], filter: Record<string, unknown>, paths: string[] = []): Promise<MatchedDocument[]> {
  const test = filterTest(filter);
  const reader = keyReader(layout, transaction);
  const inTxn = { transaction };
  const codes = namedCodes(filter, paths);
  const pacer = new Pacer();
  const matches: MatchedDocument[] = [];
  for (const resourceType of resourceTypes) {
    // A system-level search names every type, most of them empty here: planning the filter of a
    // restricted caller (hundreds of key ranges) for each of them held the event loop 0.5–3 s
    // (issue 18's hostile probe, a hospital's `GET /fhir?...`); one key lookup skips an empty type.
    if (isEmptyType(layout, transaction, resourceType)) continue;
    await pacer.paceCostly();
    const entriesOf = (id: string, head: HeadRecord): IndexEntries => {
      if (!codes) return layout.entries.get([resourceType, id, head.v], inTxn) ?? {};
      const idx: IndexEntries = {};
      for (const code of codes) {
        const entries = layout.current.get([resourceType, id, code], inTxn);
        if (entries) idx[code] = entries;
      }
      return idx;
    };
    const consider = (id: string, head: HeadRecord | undefined) => {
      if (!head || head.d) return;
      const doc = { id, type: resourceType, lastUpdated: head.lu, idx: entriesOf(id, head) };
      if (test(doc)) matches.push({ resourceType, id, head, doc });
    };
    const candidates = planCandidates(reader, resourceType, filter);
    await pacer.paceCostly();
    if (candidates) {
      for (const id of candidates) {
        consider(id, layout.heads.get([resourceType, id], inTxn));
        await pacer.pace();
      }
    } else {
      for (const { key, value } of layout.heads.getRange({ start: [resourceType], end: [resourceType, HIGHEST], ...inTxn })) {
        consider(key[1], value);
        await pacer.pace();
      }
    }
  }
  return matches;
}
