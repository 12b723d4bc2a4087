/**
 * The embedded store's one-patient lookups: a search whose every condition its keys prove at one
 * point (candidate-planner.ts, keyProof kind `point`: a reference, a code, a system|code, a string,
 * or a short list of these), at least one of which has few keys — one patient's weights
 * (`patient=…&code=…`), open encounters (`patient=…&status=…`), active care plans, and one
 * identifier (a practitioner by RPPS: one key). Such a search is answered here, synchronously,
 * instead of by matchingDocuments' general path (or its exact path for one condition, whose range
 * it read through a generator and a set):
 *
 * - its plan is the first condition with at most FEW keys, read with that limit: the planner of the
 *   general path reaches the same plan for these filters (a plan of at most FEW keys is taken
 *   unchallenged there too), through a chain of asynchronous steps that counted a broad condition
 *   listed first up to 4,097 keys before looking at the narrow one;
 * - each candidate is judged by one key lookup per other condition, as the general path's judge
 *   does (candidate-test.ts), without building that judge, its closures or the filter's evaluation;
 * - its head and the entries a sort names are read for the matches only, as there.
 *
 * The answer is the general path's: the same matches (keys exist only for current, live versions;
 * a key `[type, ...prefix, id]` exists exactly when the condition holds, candidate-test.ts), in the
 * same order when the default order is asked (ids in order, or the keys' order for one condition:
 * key-order.ts), with the same entries. test/store/embedded-point-lookup.test.ts compares both with
 * the filter evaluation over random writes. Anything else (several types, a condition on a parameter
 * without keys, no condition with few keys, listing refs or ids only) is left to the general path,
 * after at most FEW + 1 keys read per condition.
 *
 * Why: the weights search cost 1.6–1.8× the in-heap indexes' CPU (docs/figures-embedded-store.md,
 * "Lookups, sixth pass"), much of the difference in per-search work around its 13 LMDB reads: in a
 * loop over one store, matchingDocuments took 50 µs for it, 36 µs here, of which about 28 µs are the
 * reads themselves (docs/performance.md, "Lookups, seventh pass").
 */
import type { Transaction } from 'lmdb';
import type { IndexEntries } from '../resource-store.js';
import { keyProof } from './candidate-planner.js';
import { conjunctsOf, namedCodes } from './candidate-test.js';
import type { MatchedDocument } from './document-reader.js';
import { HIGHEST, type IndexKey } from './index-keys.js';
import type { HeadRecord, Layout } from './lmdb-layout.js';

/** A condition with at most this many keys makes the plan (the general planner's UNCHALLENGED: such a plan is never challenged there either). */
const FEW = 8;

/** The key prefixes (without the type) of each condition of `filter`, when every one is proven at one point by keys; else undefined. */
export function pointConditions(filter: Record<string, unknown>): IndexKey[][] | undefined {
  const conditions: IndexKey[][] = [];
  for (const { key, value } of conjunctsOf(filter)) {
    const proof = keyProof(key, value);
    if (proof?.kind !== 'point') return undefined;
    conditions.push(proof.prefixes);
  }
  return conditions.length > 0 ? conditions : undefined;
}

export interface PointOptions {
  /** Sort keys: the entries the matches' documents must hold (as MatchOptions.paths). */
  paths?: string[];
  /** The default order (ids in order; the keys' order for one condition), up to `limit` matches. */
  ordered?: boolean;
  limit?: number;
}

/**
 * The matches of `conditions` (pointConditions) among the current, live resources of `resourceType`,
 * or undefined when none of the conditions has at most FEW keys or one names a parameter the type has
 * no keys for (the general path then answers).
 */
export function pointMatches(layout: Layout, transaction: Transaction, resourceType: string, conditions: IndexKey[][], options: PointOptions = {}): MatchedDocument[] | undefined {
  const unkeyed = layout.unkeyed.get(resourceType);
  if (unkeyed && conditions.some((prefixes) => prefixes.some((prefix) => unkeyed.has(prefix[0] as string)))) return undefined;
  let planned = -1;
  let candidates: string[] | undefined;
  for (let i = 0; i < conditions.length && !candidates; i++) {
    candidates = fewIds(layout, transaction, resourceType, conditions[i]);
    planned = i;
  }
  if (!candidates) return undefined;
  // One condition in the default order: its keys' order (key-order.ts), as read; several: ids in order, as the general path sorts its candidates.
  if (options.ordered && conditions.length > 1) candidates.sort();
  const others = conditions.filter((_, i) => i !== planned).map((prefixes) => prefixes.map((prefix) => [resourceType, ...prefix, '']));
  const codes = options.paths?.length ? namedCodes({}, options.paths) : NO_CODES;
  const limit = options.ordered && options.limit !== undefined ? options.limit : Number.POSITIVE_INFINITY;
  const inTxn = { transaction };
  const matches: MatchedDocument[] = [];
  for (const id of candidates) {
    if (matches.length >= limit) break;
    if (!others.every((keys) => keys.some((key) => ((key[key.length - 1] = id), layout.keys.get(key, inTxn) !== undefined)))) continue;
    const head = layout.heads.get([resourceType, id], inTxn);
    if (!head || head.d) continue;
    matches.push({ resourceType, id, head, doc: { id, type: resourceType, lastUpdated: head.lu, idx: currentEntries(layout, inTxn, resourceType, id, head, codes) } });
  }
  return matches;
}

const NO_CODES: ReadonlySet<string> = new Set();

/** The distinct ids of the keys of `prefixes` (one range each, in order), or undefined when they hold more than FEW keys. */
function fewIds(layout: Layout, transaction: Transaction, resourceType: string, prefixes: IndexKey[]): string[] | undefined {
  const ids: string[] = [];
  let read = 0;
  for (const prefix of prefixes) {
    const start = [resourceType, ...prefix];
    for (const key of layout.keys.getKeys({ start, end: [...start, HIGHEST], limit: FEW + 1 - read, transaction })) {
      if (++read > FEW) return undefined;
      const id = String(key[key.length - 1]);
      if (!ids.includes(id)) ids.push(id);
    }
  }
  return ids;
}

/**
 * The current entries of the parameters `codes` (undefined: all of them) of a live head: from the
 * per-parameter copies, or decoded whole for a compact head (lmdb-layout.ts), which has none.
 */
export function currentEntries(layout: Layout, inTxn: { transaction: Transaction }, resourceType: string, id: string, head: HeadRecord, codes: ReadonlySet<string> | undefined): IndexEntries {
  if (codes && codes.size === 0) return {};
  if (!codes || head.c) {
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
}
