/**
 * How the embedded store judges a search candidate: the conditions its index keys prove are
 * checked as key lookups, without decoding entries or evaluating the filter, and only the rest is
 * evaluated (filter-test.ts) on the entries of the parameters that rest names.
 *
 * A filter is a conjunction (its top-level keys and `$and` parts). Each conjunct is one of:
 * - proven by a key (candidate-planner.ts, keyProof): a reference, a code, a system|code, a string
 *   equal to a text, or a short list of these — `[type, ...prefix, id]` exists exactly when the
 *   current, live version of the candidate holds such an entry (index-keys.ts; the writer replaces a
 *   resource's keys with each version and removes them with a deletion, in the same transaction);
 * - proven by the plan: the conjunct whose key range made the candidates (Plan.source) when that
 *   range holds exactly its matches (a starts-with, or any of the above);
 * - an `id` condition: the candidate's id is in its list;
 * - anything else: evaluated on the candidate's entries, as every conjunct was before.
 * A one-patient lookup (`patient=…&code=…`) is then a handful of key lookups per candidate: the
 * profile of such a search had about 45% of its CPU in compiling and running the filter evaluation.
 *
 * The semantics are those of the filter evaluation: the keys hold the same strings the entries do,
 * whole (keyProof admits only strings a key cannot have clipped), and the `s` + `c` key pairs one
 * entry's system and code as `$elemMatch` pairs them (test/store/embedded-candidate-test.test.ts
 * checks every judgement against the full evaluation, through updates and deletions).
 *
 * A parameter its type has no keys for (lmdb-layout.ts, UNKEYED_PARAMETERS) is never proven by a key:
 * its conjuncts are evaluated on the entries.
 */
import { keyProof, type KeyProof, type Plan } from './candidate-planner.js';
import { filterTest, type FilterTests } from './filter-test.js';
import type { IndexKey } from './index-keys.js';

type Filter = Record<string, unknown>;
type Doc = Record<string, unknown> & { id: string };

/** Whether a key of the search index exists (read within the search's transaction). */
export type KeyExists = (key: IndexKey) => boolean;

interface Conjunct {
  key: string;
  value: unknown;
  proof: KeyProof | undefined;
  /** For an `id` conjunct: the ids it accepts. */
  ids?: ReadonlySet<string>;
}

/** The judgement of candidates that came from one plan (or from no plan: a walk over the type's heads). */
export interface CandidateJudge {
  /** Every conjunct is proven by keys, ids or the plan: a candidate that passes `passesKeys` is a match, its entries unread. */
  keysOnly: boolean;
  /** The parameter codes whose entries `passesEntries` reads (undefined: all of them). */
  codes: Set<string> | undefined;
  /** `passesEntries` reads some entries and neither the document's `lastUpdated` nor `idx` as a whole: it can judge entries read before the head. */
  entriesFirst: boolean;
  /** The conjuncts proven by an id list or a key lookup. */
  passesKeys(resourceType: string, id: string): boolean;
  /** The other conjuncts, evaluated on `{ id, type, lastUpdated, idx }` holding the entries of `codes`. */
  passesEntries(doc: Doc): boolean;
}

/** The conjuncts `{ [key]: value }` of a filter: its keys, with `$and` parts flattened. */
export function conjunctsOf(filter: Filter, into: Array<{ key: string; value: unknown }> = []): Array<{ key: string; value: unknown }> {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value) && value.every((part) => part && typeof part === 'object' && !Array.isArray(part))) {
      for (const part of value as Filter[]) conjunctsOf(part, into);
    } else into.push({ key, value });
  }
  return into;
}

/** The ids an `id` conjunct accepts (a string or an `$in` of strings), else undefined. */
function idsOf(value: unknown): ReadonlySet<string> | undefined {
  if (typeof value === 'string') return new Set([value]);
  if (!value || typeof value !== 'object' || Object.keys(value).length !== 1) return undefined;
  const list = (value as Filter).$in;
  return Array.isArray(list) && list.every((id) => typeof id === 'string') ? new Set(list as string[]) : undefined;
}

/**
 * The judges of one search's filter: one per plan source (the conjunct a plan's candidates prove)
 * and key policy (`unkeyed`, the parameters of the type read without keys), made once per search and
 * shared by the types it reads (keys are prefixed with the type at lookup). `paths` are what else the
 * documents must hold (sort keys, a distinct path); `tests` keeps compiled evaluations across searches.
 */
export function candidateJudges(filter: Filter, exists: KeyExists, paths: string[] = [], tests?: FilterTests): (plan: Plan | undefined, unkeyed?: ReadonlySet<string>) => CandidateJudge {
  const conjuncts: Conjunct[] = conjunctsOf(filter).map(({ key, value }) => {
    const ids = key === 'id' ? idsOf(value) : undefined;
    return { key, value, proof: ids ? undefined : keyProof(key, value), ...(ids ? { ids } : {}) };
  });
  const judges = new Map<ReadonlySet<string> | undefined, Map<number, CandidateJudge>>();
  return (plan, unkeyed) => {
    // The conjunct the plan's candidates came from, when its candidates are exactly its matches (never an unkeyed one: not planned).
    const source = plan?.source;
    const proven = source ? conjuncts.findIndex((c) => c.key === source.key && c.value === source.value && (c.ids !== undefined || c.proof !== undefined)) : -1;
    let byProven = judges.get(unkeyed);
    if (!byProven) judges.set(unkeyed, (byProven = new Map()));
    let judge = byProven.get(proven);
    if (!judge) {
      const judged = conjuncts.filter((_, i) => i !== proven).map((c) => (c.proof && unkeyed?.has(c.key.slice(4)) ? { ...c, proof: undefined } : c));
      judge = makeJudge(judged, exists, paths, tests);
      byProven.set(proven, judge);
    }
    return judge;
  };
}

function makeJudge(conjuncts: Conjunct[], exists: KeyExists, paths: string[], tests: FilterTests | undefined): CandidateJudge {
  const idSets = conjuncts.filter((c) => c.ids).map((c) => c.ids!);
  const points = conjuncts.filter((c) => c.proof?.kind === 'point').map((c) => (c.proof as { prefixes: IndexKey[] }).prefixes);
  const rest = conjuncts.filter((c) => !c.ids && c.proof?.kind !== 'point');
  const residual: Filter | undefined = rest.length === 0 ? undefined : rest.length === 1 ? { [rest[0].key]: rest[0].value } : { $and: rest.map((c) => ({ [c.key]: c.value })) };
  return new ConjunctJudge(idSets, points, residual, exists, paths, tests);
}

/**
 * A judge as a class rather than an object of closures: one is made per search and plan (run under tsx,
 * as the benchmarks are, each named closure made per call costs about 0.3 µs: esbuild's keepNames).
 */
class ConjunctJudge implements CandidateJudge {
  readonly keysOnly: boolean;
  readonly codes: Set<string> | undefined;
  readonly entriesFirst: boolean;
  /** Compiled when a candidate first needs it (a search whose candidates all fail the keys compiles nothing). */
  private compiled: ((doc: Doc) => boolean) | undefined;

  constructor(
    private readonly idSets: ReadonlySet<string>[],
    private readonly points: IndexKey[][],
    private readonly residual: Filter | undefined,
    private readonly exists: KeyExists,
    paths: string[],
    private readonly tests: FilterTests | undefined,
  ) {
    this.keysOnly = residual === undefined;
    this.codes = residual === undefined && paths.length === 0 ? new Set<string>() : namedCodes(residual ?? {}, paths);
    this.entriesFirst = residual !== undefined && this.codes !== undefined && this.codes.size > 0 && !names(residual, 'lastUpdated');
  }

  passesKeys(resourceType: string, id: string): boolean {
    for (const ids of this.idSets) if (!ids.has(id)) return false;
    for (const prefixes of this.points) if (!prefixes.some((prefix) => this.exists([resourceType, ...prefix, id]))) return false;
    return true;
  }

  passesEntries(doc: Doc): boolean {
    if (this.residual === undefined) return true;
    this.compiled ??= this.tests ? this.tests.get(this.residual) : filterTest(this.residual);
    return this.compiled(doc);
  }
}

/** True when `key` is a key anywhere in the filter. */
function names(filter: unknown, key: string): boolean {
  if (Array.isArray(filter)) return filter.some((item) => names(item, key));
  if (!filter || typeof filter !== 'object') return false;
  return Object.entries(filter).some(([k, value]) => k === key || names(value, key));
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
