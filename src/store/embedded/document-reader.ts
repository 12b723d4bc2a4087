/**
 * Reads for the embedded store's search and distinct: the current, live
 * versions of some types whose search document `{ id, type, lastUpdated, idx }`
 * matches a filter. Candidates come from the ordered index keys
 * (candidate-planner.ts), or from every head of the type when the filter has no
 * indexable part; each candidate is then judged (candidate-test.ts): the
 * conditions its index keys prove by key lookups, the rest by the filter
 * evaluation (filter-test.ts, mingo) on a document holding the entries of the
 * parameters that rest (and the sort or distinct path) names, read from the per-parameter
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
import { exactPlan, isExactlyIndexed, planFor, type KeyReader, type Plan } from './candidate-planner.js';
import { candidateJudges, type CandidateJudge } from './candidate-test.js';
import type { FilterTests } from './filter-test.js';
import { HIGHEST, type KeyRange } from './index-keys.js';
import type { HeadRecord, Layout } from './lmdb-layout.js';
import { distinctIdsInKeyOrder } from './key-order.js';
import { Pacer } from './pacer.js';
import { currentEntries, pointConditions, pointMatches } from './point-lookup.js';

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

/**
 * Keys skipped natively in one call while looking for the end of a broad range. One skip of
 * COUNT_AT_MOST keys held the event loop 90–125 ms at 1,000,000 resources when its pages were cold
 * (the systolic type scan, CPU-profiled in bench-search's query phase); in steps of this many keys the
 * pacer gets a look between two steps (about 10 ms each when cold, well under 1 ms when warm).
 */
const SKIP_STEP = 8192;

export function keyReader(layout: Layout, transaction?: Transaction, countAtMost = COUNT_AT_MOST, pacer = new Pacer()): KeyReader {
  return new TransactionKeyReader(layout, transaction ? { transaction } : {}, countAtMost, pacer);
}

/**
 * keyReader's reader: a class rather than an object of closures, so that a search makes one object and
 * no functions (run under tsx, as the benchmarks are, each named closure made per call costs about
 * 0.3 µs: esbuild's keepNames names it with Object.defineProperty; measured in a loop).
 */
class TransactionKeyReader implements KeyReader {
  /** The ids of the ranges counted by reading them whole (at most READ_TO_COUNT each, for this reader's one search). */
  private readonly read = new Map<KeyRange, string[]>();

  constructor(
    private readonly layout: Layout,
    private readonly inTxn: { transaction?: Transaction },
    private readonly countAtMost: number,
    private readonly pacer: Pacer,
  ) {}

  /**
   * True when the range holds more than `n` keys (a key exists at offset n), skipped natively in steps
   * (SKIP_STEP), each from the key the last one reached, with a turn for the event loop between them.
   */
  private async holdsMoreThan(range: KeyRange, n: number): Promise<boolean> {
    let start = range.start;
    for (let left = n; ; ) {
      const step = Math.min(left, SKIP_STEP);
      let reached: KeyRange['start'] | undefined;
      for (const key of this.layout.keys.getKeys({ start, end: range.end, offset: step, limit: 1, ...this.inTxn })) reached = key as KeyRange['start'];
      if (reached === undefined) return false;
      left -= step;
      if (left === 0) return true;
      // The key reached is at offset 0 of the next step (start is inclusive).
      start = reached;
      await this.pacer.paceCostly();
    }
  }

  async count(range: KeyRange, limit: number): Promise<number> {
    if (limit <= READ_TO_COUNT) {
      const ids: string[] = [];
      for (const key of this.layout.keys.getKeys({ start: range.start, end: range.end, limit, ...this.inTxn })) ids.push(String(key[key.length - 1]));
      if (ids.length < limit) this.read.set(range, ids);
      return ids.length;
    }
    const bound = Math.min(limit, this.countAtMost);
    if (await this.holdsMoreThan(range, bound)) return bound + 1;
    // At most `bound` keys, whose pages the skip has just read: one native count.
    return this.layout.keys.getKeysCount({ start: range.start, end: range.end, ...this.inTxn });
  }

  collectIds(range: KeyRange, into: Set<string>): void {
    for (const key of this.layout.keys.getKeys({ start: range.start, end: range.end, ...this.inTxn })) into.add(String(key[key.length - 1]));
  }

  idsRead(range: KeyRange): readonly string[] | undefined {
    return this.read.get(range);
  }
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
  /**
   * Only the documents' entries of `paths` are needed (distinct: a chain's or `_has`'s sub-query): a
   * candidate whose keys prove the whole filter is read from the per-parameter copies of its current
   * entries, its head unread (`head` is then NO_HEAD and `lastUpdated` empty). Those copies exist only
   * for a live current version (unit-writer.ts writes and removes them with the keys): a candidate
   * with none of them is read through its head as before (a compact head, no such entry, deleted).
   */
  entriesOnly?: boolean;
  /** Compiled filter evaluations kept across searches (the store's). */
  tests?: FilterTests;
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
  // Conditions each proven at one point by keys, one of them with few keys (one patient's weights, a
  // practitioner by RPPS): point-lookup.ts, synchronously, in the order the paths below would give.
  if (resourceTypes.length === 1 && !options.refsOnly && !options.idsOnly && !options.entriesOnly) {
    const conditions = pointConditions(filter);
    const found = conditions && pointMatches(layout, transaction, resourceTypes[0], conditions, options);
    if (found) return found;
  }
  const pacer = new Pacer();
  // Known once for the search (it is the same for every type): keyProof twice per type was measurable in a one-key lookup.
  const exact = isExactlyIndexed(filter);
  if (exact && options.ordered && !options.paths?.length) {
    const found = await exactMatchesInKeyOrder(layout, transaction, resourceTypes, filter, options, pacer);
    if (found) return found;
  }
  const reader = keyReader(layout, transaction, COUNT_AT_MOST, pacer);
  const inTxn = { transaction };
  // Conditions the index keys prove are judged by key lookups, the rest on the entries it names (candidate-test.ts).
  const judgeFor = candidateJudges(filter, (key) => layout.keys.get(key, inTxn) !== undefined, options.paths ?? [], options.tests);
  const limit = options.ordered && options.limit !== undefined ? options.limit : Number.POSITIVE_INFINITY;
  const matches: MatchedDocument[] = [];
  const types = options.ordered && resourceTypes.length > 1 ? [...resourceTypes].sort() : resourceTypes;
  for (const resourceType of types) {
    if (matches.length >= limit) break;
    // A system-level search names every type, most of them empty here: planning the filter of a
    // restricted caller (hundreds of key ranges) for each of them held the event loop 0.5–3 s
    // (issue 18's hostile probe, a hospital's `GET /fhir?...`); one key lookup skips an empty type.
    // (A search of one type plans it anyway: an empty type's ranges are empty.)
    if (types.length > 1 && isEmptyType(layout, transaction, resourceType)) continue;
    await pacer.paceCostly();
    // The parameters this type has no keys for (lmdb-layout.ts, UNKEYED_PARAMETERS) are evaluated, never read from keys.
    const unkeyed = layout.unkeyed.get(resourceType);
    const exactHere = unkeyed ? isExactlyIndexed(filter, unkeyed) : exact;
    // The candidates' judgement and reads for this type (a class: no closures made per type and search).
    const reads = new TypeReads(layout, inTxn, resourceType, () => judgeFor(undefined, unkeyed));
    const wanted = limit - matches.length;
    const plan = await planFor(reader, resourceType, filter, unkeyed, exactHere);
    const planned = judgeFor(plan, unkeyed);
    // Listing refs only, from key ranges (live, current versions) that prove every condition: heads are not read either.
    const fromKeys = options.refsOnly === true && plan !== undefined && plan.ids.length === 0 && planned.keysOnly;
    const mayWalk = options.ordered === true && !fromKeys && wanted <= WALK_PAGE_AT_MOST;
    const fromEntries = options.entriesOnly === true && !fromKeys && planned.keysOnly && planned.codes !== undefined && planned.codes.size > 0;
    await pacer.paceCostly();
    if (plan && options.ordered && exactHere) {
      // One exactly indexed condition: its matches in the keys' order (key-order.ts), read up to the page's end.
      for (const id of distinctIdsInKeyOrder(layout, transaction, plan)) {
        if (matches.length >= limit) break;
        if (fromKeys) matches.push({ resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx: {} } });
        else {
          const match = reads.judged(planned, id, layout.heads.get([resourceType, id], inTxn));
          if (match) matches.push(match);
        }
        await pacer.pace();
      }
      continue;
    }
    let candidates: Set<string> | undefined;
    if (plan) {
      const collect = async (cap: number): Promise<boolean> => {
        candidates = new Set(plan.ids);
        for (const range of plan.ranges) {
          const read = reader.idsRead?.(range);
          if (read) {
            for (const id of read) candidates.add(id);
            if (candidates.size > cap) return false;
            continue;
          }
          for (const key of layout.keys.getKeys({ start: range.start, end: range.end, ...inTxn })) {
            candidates.add(String(key[key.length - 1]));
            if (candidates.size > cap) return false;
            await pacer.pace();
          }
        }
        return true;
      };
      if (!(await collect(mayWalk ? BROAD : Number.POSITIVE_INFINITY))) {
        if (await reads.walkInOrder(matches, wanted, pacer)) continue;
        await collect(Number.POSITIVE_INFINITY);
      }
    }
    if (candidates && !(options.ordered && candidates.size > SORT_AT_MOST)) {
      const ids = options.ordered ? [...candidates].sort() : candidates;
      for (const id of ids) {
        if (matches.length >= limit) break;
        if (fromKeys) {
          if (planned.passesKeys(resourceType, id)) matches.push({ resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx: {} } });
        } else if (fromEntries) {
          const match = reads.judgedFromEntries(planned, id);
          if (match) matches.push(match);
        } else {
          const match = reads.judgedCandidate(planned, id);
          if (match) matches.push(match);
        }
        await pacer.pace();
      }
    } else {
      // Every head of the type, in id order (the heads' keys are ordered): the plan's candidates, or all of them.
      const judge = candidates ? planned : reads.unplanned();
      for (const { key, value } of layout.heads.getRange({ start: [resourceType], end: [resourceType, HIGHEST], ...inTxn })) {
        if (matches.length >= limit) break;
        if (!candidates || candidates.has(key[1])) {
          const match = reads.judged(judge, key[1], value);
          if (match) matches.push(match);
        }
        await pacer.pace();
      }
    }
  }
  return matches;
}

/**
 * How matchingDocuments judges and reads the candidates of one type: methods of one object per type
 * and search rather than a dozen closures made for each (run under tsx, as the benchmarks are, each
 * named closure made per call costs about 0.3 µs: esbuild's keepNames names it with
 * Object.defineProperty; measured in a loop).
 */
class TypeReads {
  /** Heads not proposed by a plan (a walk, a scan) prove no condition: every one is judged (the judge made only when one is read). */
  private unplannedJudge: CandidateJudge | undefined;

  constructor(
    private readonly layout: Layout,
    private readonly inTxn: { transaction: Transaction },
    private readonly resourceType: string,
    private readonly makeUnplanned: () => CandidateJudge,
  ) {}

  unplanned(): CandidateJudge {
    return (this.unplannedJudge ??= this.makeUnplanned());
  }

  private entriesOf(id: string, head: HeadRecord, codes: Set<string> | undefined): IndexEntries {
    return currentEntries(this.layout, this.inTxn, this.resourceType, id, head, codes);
  }

  /** The document of a live head when `judge` finds it a match, else undefined. */
  judged(judge: CandidateJudge, id: string, head: HeadRecord | undefined): MatchedDocument | undefined {
    return head && !head.d && judge.passesKeys(this.resourceType, id) ? this.judgedOnEntries(judge, id, head) : undefined;
  }

  /** As `judged`, for a candidate whose keys `judge` has already found passing. */
  private judgedOnEntries(judge: CandidateJudge, id: string, head: HeadRecord | undefined): MatchedDocument | undefined {
    if (!head || head.d) return undefined;
    const resourceType = this.resourceType;
    const doc = { id, type: resourceType, lastUpdated: head.lu, idx: this.entriesOf(id, head, judge.codes) };
    return judge.passesEntries(doc) ? { resourceType, id, head, doc } : undefined;
  }

  private head(id: string): HeadRecord | undefined {
    return this.layout.heads.get([this.resourceType, id], this.inTxn);
  }

  /**
   * The per-parameter copies of `codes`' current entries, or undefined when there is none. They exist
   * only for a live current version (unit-writer.ts writes and removes them with the keys, in the same
   * transaction): a candidate without any is read through its head (a compact head, no such entry, deleted).
   */
  private copiesOf(id: string, codes: Set<string>): IndexEntries | undefined {
    let idx: IndexEntries | undefined;
    for (const code of codes) {
      const entries = this.layout.current.get([this.resourceType, id, code], this.inTxn);
      if (entries) (idx ??= {})[code] = entries;
    }
    return idx;
  }

  /** As `judged`, for `entriesOnly` reads of candidates the keys prove whole: the head read only when no copy of the entries is found. */
  judgedFromEntries(judge: CandidateJudge, id: string): MatchedDocument | undefined {
    if (!judge.passesKeys(this.resourceType, id)) return undefined;
    const idx = this.copiesOf(id, judge.codes!);
    const resourceType = this.resourceType;
    return idx ? { resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx } } : this.judgedOnEntries(judge, id, this.head(id));
  }

  /**
   * A planned candidate: as `judged`, but when the judge can (entriesFirst) its entries are read and
   * judged before its head, which is read for the matches only (family + birthdate range: most
   * candidates fail the date, and decoding their heads was a sixth of the search's CPU, profiled).
   * Its keys are looked up before anything is decoded: one patient's weights (`patient=…&code=…`)
   * has a candidate per observation of the patient, most of another code, whose heads were read
   * only to be refused by the code's key.
   */
  judgedCandidate(judge: CandidateJudge, id: string): MatchedDocument | undefined {
    const resourceType = this.resourceType;
    if (!judge.passesKeys(resourceType, id)) return undefined;
    if (!judge.entriesFirst) return this.judgedOnEntries(judge, id, this.head(id));
    const idx = this.copiesOf(id, judge.codes!);
    if (!idx) return this.judgedOnEntries(judge, id, this.head(id));
    if (!judge.passesEntries({ id, type: resourceType, lastUpdated: '', idx })) return undefined;
    const head = this.head(id);
    return head && !head.d ? { resourceType, id, head, doc: { id, type: resourceType, lastUpdated: head.lu, idx } } : undefined;
  }

  /**
   * A broad condition (a gender, a status: half of the type) has more candidates than a first page
   * needs by far: walking the heads in id order and testing each finds the page's matches after a
   * few dozen, where collecting and sorting the candidates costs in proportion to all of them. So
   * when a page is wanted and the candidates pass BROAD, a bounded walk is tried (it succeeds when
   * at least one head in WALK_PER_MATCH matches); if it does not fill the page, its matches are
   * dropped (from `matches`) and the candidates are read as usual.
   */
  async walkInOrder(matches: MatchedDocument[], wanted: number, pacer: Pacer): Promise<boolean> {
    const before = matches.length;
    let walked = 0;
    for (const { key, value } of this.layout.heads.getRange({ start: [this.resourceType], end: [this.resourceType, HIGHEST], ...this.inTxn })) {
      const found = matches.length - before;
      if (found >= wanted) return true;
      // Too sparse for a walk (fewer than one match in WALK_PER_MATCH heads after a first stretch): give up. A walk of
      // 32 heads per match (about 5 µs each) costs less than collecting and sorting more than BROAD candidates (about 0.4 µs a key) once
      // these are a few times BROAD: the larger the type, the more the walk wins.
      if (++walked > WALK_FIRST && found * WALK_PER_MATCH < walked) {
        matches.length = before;
        return false;
      }
      // Judged on every condition, even the plan's (a head is not a key of the condition).
      const match = this.judged(this.unplanned(), key[1], value);
      if (match) matches.push(match);
      await pacer.pace();
    }
    // The whole type was walked: every match is in.
    return true;
  }
}

/**
 * The matches of an exactly indexed filter (candidate-planner.ts, isExactlyIndexed: one condition its
 * keys prove, an identifier, a code, a reference, a string or its start) in key order (key-order.ts), up
 * to the page's end, for a read that wants no entries (no sort path): what matchingDocuments' ordered
 * read of such a filter does, without what it makes for judging candidates, which an exact filter never
 * needs — the keys prove the whole filter, so a key's id is a match when its head is live (keys exist
 * only for current, live versions; the head is read as there, for its version). A patient by INS or a
 * practitioner by RPPS is one key and one head: per search, the general path built a key reader,
 * the filter's judges (each conjunct's keyProof again), a dozen closures per type and its plan
 * through a chain of asynchronous steps, for one candidate (about 10 µs of such a lookup's CPU,
 * measured in loops under tsx; README, "Lookups, sixth pass"). Undefined, before anything is read,
 * when a type has the filter's parameter unkeyed (lmdb-layout.ts) or no plan: the general path then
 * reads the search.
 */
async function exactMatchesInKeyOrder(layout: Layout, transaction: Transaction, resourceTypes: string[], filter: Record<string, unknown>, options: MatchOptions, pacer: Pacer): Promise<MatchedDocument[] | undefined> {
  const types = resourceTypes.length > 1 ? [...resourceTypes].sort() : resourceTypes;
  const plans: Plan[] = [];
  for (const resourceType of types) {
    const unkeyed = layout.unkeyed.get(resourceType);
    if (unkeyed && !isExactlyIndexed(filter, unkeyed)) return undefined;
    const plan = exactPlan(resourceType, filter);
    if (!plan) return undefined;
    plans.push(plan);
  }
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const inTxn = { transaction };
  const matches: MatchedDocument[] = [];
  for (let t = 0; t < types.length && matches.length < limit; t++) {
    const resourceType = types[t];
    // As matchingDocuments: one key lookup skips an empty type of a system-level search.
    if (types.length > 1 && isEmptyType(layout, transaction, resourceType)) continue;
    await pacer.paceCostly();
    for (const id of distinctIdsInKeyOrder(layout, transaction, plans[t])) {
      if (matches.length >= limit) break;
      if (options.refsOnly) matches.push({ resourceType, id, head: NO_HEAD, doc: { id, type: resourceType, lastUpdated: '', idx: {} } });
      else {
        const head = layout.heads.get([resourceType, id], inTxn);
        if (head && !head.d) matches.push({ resourceType, id, head, doc: { id, type: resourceType, lastUpdated: head.lu, idx: {} } });
      }
      await pacer.pace();
    }
  }
  return matches;
}
