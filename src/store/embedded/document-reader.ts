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
import { isExactlyIndexed, planFor, type KeyReader } from './candidate-planner.js';
import { filterTest } from './filter-test.js';
import { HIGHEST, type KeyRange } from './index-keys.js';
import type { HeadRecord, Layout } from './lmdb-layout.js';
import { distinctIdsInKeyOrder } from './key-order.js';
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

/**
 * A range is counted to its end only when it holds at most this many keys. Counting a broad range in
 * full (a value range over every Observation at 1,000,000 resources) was one native call of 0.3–1.2 s
 * on the event loop when its pages had to be read back under a memory limit (bench-search, 1 M, in a
 * 1.5 GiB cgroup). lmdb-js skips an `offset` natively without decoding, so "more than N keys?" costs N
 * native steps at most: a broader range reports N + 1, a lower bound the planner compares like a size.
 */
export const COUNT_AT_MOST = 100_000;

export function keyReader(layout: Layout, transaction?: Transaction, countAtMost = COUNT_AT_MOST): KeyReader {
  const inTxn = transaction ? { transaction } : {};
  /** True when the range holds more than `n` keys (a key exists at offset n). */
  const holdsMoreThan = (range: KeyRange, n: number): boolean => {
    for (const _ of layout.keys.getKeys({ start: range.start, end: range.end, offset: n, limit: 1, ...inTxn })) return true;
    return false;
  };
  return {
    count(range, limit) {
      if (limit <= READ_TO_COUNT) {
        let n = 0;
        for (const _ of layout.keys.getKeys({ start: range.start, end: range.end, limit, ...inTxn })) n++;
        return n;
      }
      const bound = Math.min(limit, countAtMost);
      if (holdsMoreThan(range, bound)) return bound + 1;
      return layout.keys.getKeysCount({ start: range.start, end: range.end, ...inTxn });
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

/** filterTest compiles a mingo query: only when a candidate is to be tested. */
function lazyTest(filter: Record<string, unknown>): (doc: Record<string, unknown>) => boolean {
  let compiled: ((doc: Record<string, unknown>) => boolean) | undefined;
  return (doc) => (compiled ??= filterTest(filter))(doc);
}

/** No head at all for this type (never written). */
function isEmptyType(layout: Layout, transaction: Transaction, resourceType: string): boolean {
  for (const _ of layout.heads.getKeys({ start: [resourceType], end: [resourceType, HIGHEST], limit: 1, transaction })) return false;
  return true;
}

export interface MatchOptions {
  /** Sort keys, a distinct path: more entries the documents must hold. */
  paths?: string[];
  /**
   * Return the matches in the default order and stop once `limit` are found: the first page of a
   * search costs in proportion to the page, not to the number of matches (issue 17). The default
   * order is type, then id; within a type, the matches of one exactly indexed condition come in its
   * keys' order instead (value, then id: key-order.ts).
   */
  ordered?: boolean;
  limit?: number;
  /** Only type, id and head are needed (paging snapshots): an exactly indexed filter is then answered from its keys alone. */
  idsOnly?: boolean;
  /** Only type and id are needed (listing a held snapshot): with an exactly indexed filter, heads are not read either (`head` is then NO_HEAD). */
  refsOnly?: boolean;
}

/** The head of a match read with `refsOnly` from keys alone (keys exist only for current, live versions). */
export const NO_HEAD: HeadRecord = { v: 0, lu: '' };

/**
 * Above this many candidates, an ordered read walks the type's heads in id order (keeping the
 * candidates whose id is in the set) instead of sorting the candidates: sorting a million ids is one
 * synchronous call of about a second on the event loop, the walk yields every few milliseconds.
 */
const SORT_AT_MOST = 50_000;

/** The bounded walk in id order (see walkInOrder) is tried for pages of at most this many matches… */
const WALK_PAGE_AT_MOST = 1000;
/** …when a condition has more candidates than this… */
const BROAD = 4096;
/** …and gives up, after WALK_FIRST heads, while fewer than one head in WALK_PER_MATCH matched. */
const WALK_PER_MATCH = 32;
const WALK_FIRST = 64;

/** The current, non-deleted documents of `resourceTypes` that match `filter`, read within `transaction`. */
export async function matchingDocuments(layout: Layout, transaction: Transaction, resourceTypes: string[], filter: Record<string, unknown>, options: MatchOptions = {}): Promise<MatchedDocument[]> {
  const test = lazyTest(filter);
  const reader = keyReader(layout, transaction);
  const inTxn = { transaction };
  const codes = namedCodes(filter, options.paths ?? []);
  const limit = options.ordered && options.limit !== undefined ? options.limit : Number.POSITIVE_INFINITY;
  // Answered from the keys alone: no entries to decode, no test (candidate-planner.ts).
  // Keys exist only for current, live versions: an exactly indexed filter needs no test, hence no entries decoded.
  const exact = !options.paths?.length && isExactlyIndexed(filter);
  const fromKeys = exact && options.refsOnly === true;
  const pacer = new Pacer();
  const matches: MatchedDocument[] = [];
  const types = options.ordered ? [...resourceTypes].sort() : resourceTypes;
  for (const resourceType of types) {
    if (matches.length >= limit) break;
    // A system-level search names every type, most of them empty here: planning the filter of a
    // restricted caller (hundreds of key ranges) for each of them held the event loop 0.5–3 s
    // (issue 18's hostile probe, a hospital's `GET /fhir?...`); one key lookup skips an empty type.
    if (isEmptyType(layout, transaction, resourceType)) continue;
    await pacer.paceCostly();
    const entriesOf = (id: string, head: HeadRecord, tested = !exact): IndexEntries => {
      if (!tested) return {};
      if (!codes || head.c) {
        // A compact head (lmdb-layout.ts) has no per-parameter copies: its entries are decoded whole.
        const all = layout.entries.get([resourceType, id, head.v], inTxn) ?? {};
        if (!codes) return all;
        const idx: IndexEntries = {};
        for (const code of codes) if (all[code]) idx[code] = all[code];
        return idx;
      }
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
      if (exact || test(doc)) matches.push({ resourceType, id, head, doc });
    };
    /**
     * A broad condition (a gender, a status: half of the type) has more candidates than a first page
     * needs by far: walking the heads in id order and testing each finds the page's matches after a
     * few dozen, where collecting and sorting the candidates costs in proportion to all of them. So
     * when a page is wanted and the candidates pass BROAD, a bounded walk is tried (it succeeds when
     * at least one head in WALK_PER_MATCH matches); if it does not fill the page, its matches are
     * dropped and the candidates are read as usual.
     */
    const walkInOrder = async (wanted: number): Promise<boolean> => {
      const before = matches.length;
      let walked = 0;
      for (const { key, value } of layout.heads.getRange({ start: [resourceType], end: [resourceType, HIGHEST], ...inTxn })) {
        const found = matches.length - before;
        if (found >= wanted) return true;
        // Too sparse for a walk (fewer than one match in WALK_PER_MATCH heads after a first stretch): give up. A walk of
        // 32 heads per match (about 5 µs each) costs less than collecting and sorting more than BROAD candidates (about 0.4 µs a key) once
        // these are a few times BROAD: the larger the type, the more the walk wins.
        if (++walked > WALK_FIRST && found * WALK_PER_MATCH < walked) {
          matches.length = before;
          return false;
        }
        // Tested in full, even when the filter is exactly indexed (a head is not a key of the condition).
        if (value && !value.d) {
          const doc = { id: key[1], type: resourceType, lastUpdated: value.lu, idx: entriesOf(key[1], value, true) };
          if (test(doc)) matches.push({ resourceType, id: key[1], head: value, doc });
        }
        await pacer.pace();
      }
      // The whole type was walked: every match is in.
      return true;
    };
    const wanted = limit - matches.length;
    const mayWalk = options.ordered === true && !fromKeys && wanted <= WALK_PAGE_AT_MOST;
    const plan = planFor(reader, resourceType, filter);
    await pacer.paceCostly();
    if (plan && exact && options.ordered) {
      // One exactly indexed condition: its matches in the keys' order (key-order.ts), read up to the page's end.
      for (const id of distinctIdsInKeyOrder(layout, transaction, plan)) {
        if (matches.length >= limit) break;
        if (fromKeys) matches.push({ resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx: {} } });
        else consider(id, layout.heads.get([resourceType, id], inTxn));
        await pacer.pace();
      }
      continue;
    }
    let candidates: Set<string> | undefined;
    if (plan) {
      const collect = async (cap: number): Promise<boolean> => {
        candidates = new Set(plan.ids);
        for (const range of plan.ranges) {
          for (const key of layout.keys.getKeys({ start: range.start, end: range.end, ...inTxn })) {
            candidates.add(String(key[key.length - 1]));
            if (candidates.size > cap) return false;
            await pacer.pace();
          }
        }
        return true;
      };
      if (!(await collect(mayWalk ? BROAD : Number.POSITIVE_INFINITY))) {
        if (await walkInOrder(wanted)) continue;
        await collect(Number.POSITIVE_INFINITY);
      }
    }
    if (candidates && !(options.ordered && candidates.size > SORT_AT_MOST)) {
      const ids = options.ordered ? [...candidates].sort() : candidates;
      for (const id of ids) {
        if (matches.length >= limit) break;
        if (fromKeys) matches.push({ resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx: {} } });
        else consider(id, layout.heads.get([resourceType, id], inTxn));
        await pacer.pace();
      }
    } else {
      // Every head of the type, in id order (the heads' keys are ordered).
      for (const { key, value } of layout.heads.getRange({ start: [resourceType], end: [resourceType, HIGHEST], ...inTxn })) {
        if (matches.length >= limit) break;
        if (!candidates || candidates.has(key[1])) consider(key[1], value);
        await pacer.pace();
      }
    }
  }
  return matches;
}
