/**
 * Turns a search filter into the predicate the embedded store tests each
 * candidate with: mingo evaluates the filter, except for top-level conjuncts
 * that are long membership lists — `{ id: { $in: [...] } }` (`_has`, `near`,
 * page fetches) and `{ 'idx.<code>': { $elemMatch: { r: { $in: [...] } } } }`
 * (chains), token code lists `{ c: { $in }, s: { $in } }` in an $elemMatch (`:in`, `:below`,
 * `:above`) and $or/$nor of such conjuncts — which become Set lookups. mingo's `$in` walks its whole list for
 * every document tested, so thousands of ids tested against thousands of
 * candidates grew quadratically (a `_has` matching 14 k patients took seconds).
 * The semantics are the same: membership of a string in a list of strings.
 */
import { LRUCache } from 'lru-cache';
import { Context } from 'mingo/core';
import * as queryOperators from 'mingo/operators/query';
import { Query } from 'mingo/query';

type Filter = Record<string, unknown>;
type Predicate = (doc: Record<string, unknown>) => boolean;

/**
 * mingo's default `Query` copies its whole table of operators (about 200 expression, accumulator,
 * pipeline... operators) into a fresh context for every query compiled: a third of the CPU of a
 * one-patient search (profiled: `Context.init`). Filters here are written by the search compiler and
 * use query operators only (`$and`, `$or`, `$nor`, `$elemMatch`, `$in`, `$nin`, comparisons, `$regex`,
 * `$exists`), so queries are compiled against a context of those alone, which costs far less to copy
 * (57 → 32 µs to compile and test a two-condition filter, measured). The context itself is immutable.
 */
const QUERY_ONLY = Context.init({ query: queryOperators });
const compile = (filter: Filter) => new Query(filter, { idKey: '_id', context: QUERY_ONLY });

/** Lists shorter than this stay with mingo (its scan is as fast as a Set there). */
const SHORT_LIST = 32;

function stringList(value: unknown): string[] | undefined {
  if (!value || typeof value !== 'object' || Object.keys(value).length !== 1) return undefined;
  const list = (value as Filter).$in;
  return Array.isArray(list) && list.length >= SHORT_LIST && list.every((v) => typeof v === 'string') ? (list as string[]) : undefined;
}

/**
 * `{ c: { $in: [long list] }, s: { $in: [systems..., null?] } }` inside an $elemMatch (token
 * :in / :below / :above, written by src/search/terminology-modifiers.ts) → an entry test with
 * Sets; `null` in the systems list also accepts an entry without `s` (MongoDB's $in semantics).
 */
function codeMembership(cond: Filter): ((entry: Filter) => boolean) | undefined {
  const keys = Object.keys(cond);
  if (keys.length !== 2 || !keys.includes('c') || !keys.includes('s')) return undefined;
  const codes = stringList(cond.c);
  const systems = cond.s && typeof cond.s === 'object' && Object.keys(cond.s).length === 1 ? (cond.s as Filter).$in : undefined;
  if (!codes || !Array.isArray(systems) || !systems.every((s) => typeof s === 'string' || s === null)) return undefined;
  const codeSet = new Set(codes);
  const systemSet = new Set(systems.filter((s): s is string => typeof s === 'string'));
  const orAbsent = systems.includes(null);
  return (e) => typeof e.c === 'string' && codeSet.has(e.c) && (typeof e.s === 'string' ? systemSet.has(e.s) : orAbsent && (e.s === undefined || e.s === null));
}

/** A Set-based predicate for one conjunct, or undefined when mingo must evaluate it. */
function membership(conjunct: Filter): Predicate | undefined {
  const keys = Object.keys(conjunct);
  if (keys.length !== 1) return undefined;
  const [key] = keys;
  const value = conjunct[key];
  if ((key === '$or' || key === '$nor') && Array.isArray(value) && value.length > 0) {
    // Token :in over several systems is an $or of memberships, :not-in their $nor.
    const parts = (value as Filter[]).map((part) => (part && typeof part === 'object' ? membership(part) : undefined));
    if (parts.some((p) => p === undefined)) return undefined;
    const any = (doc: Record<string, unknown>) => parts.some((p) => p!(doc));
    return key === '$or' ? any : (doc) => !any(doc);
  }
  if (key === 'id') {
    const list = stringList(value);
    if (!list) return undefined;
    const ids = new Set(list);
    return (doc) => typeof doc.id === 'string' && ids.has(doc.id);
  }
  if (key.startsWith('idx.') && value && typeof value === 'object' && Object.keys(value).length === 1) {
    const cond = (value as Filter).$elemMatch;
    if (!cond || typeof cond !== 'object') return undefined;
    const code = key.slice(4);
    const entryTest = codeMembership(cond as Filter);
    if (entryTest) {
      return (doc) => {
        const entries = (doc.idx as Record<string, unknown> | undefined)?.[code];
        return Array.isArray(entries) && entries.some((e) => e !== null && typeof e === 'object' && entryTest(e as Filter));
      };
    }
    if (Object.keys(cond).length !== 1) return undefined;
    const list = stringList((cond as Filter).r);
    if (!list) return undefined;
    const refs = new Set(list);
    return (doc) => {
      const entries = (doc.idx as Record<string, unknown> | undefined)?.[code];
      return Array.isArray(entries) && entries.some((e) => e !== null && typeof e === 'object' && typeof (e as Filter).r === 'string' && refs.has((e as Filter).r as string));
    };
  }
  return undefined;
}

export function filterTest(filter: Filter): Predicate {
  const conjuncts: Filter[] = [];
  const flatten = (f: Filter) => {
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' && Array.isArray(value)) for (const part of value as Filter[]) flatten(part);
      else conjuncts.push({ [key]: value });
    }
  };
  flatten(filter);
  const native: Predicate[] = [];
  const rest: Filter[] = [];
  for (const conjunct of conjuncts) {
    const predicate = membership(conjunct);
    if (predicate) native.push(predicate);
    else rest.push(conjunct);
  }
  if (native.length === 0) {
    const query = compile(filter);
    return (doc) => query.test(doc);
  }
  const query = rest.length === 0 ? undefined : compile(rest.length === 1 ? rest[0] : { $and: rest });
  return (doc) => native.every((p) => p(doc)) && (query === undefined || query.test(doc));
}

/** Compiled tests kept (least recently used dropped beyond this many). */
const KEPT_TESTS = 256;
/** Filters with more nodes than this (long id or reference lists) are compiled each time: their text would be a large key. */
const KEPT_NODES_AT_MOST = 200;

/**
 * Compiled filter tests kept by the JSON text of their filter, a bounded LRU. The filters the
 * embedded store still evaluates after its keys have proven what they can (candidate-test.ts) are
 * the conditions shared by many searches — a date range, a status, a caller's access filter —
 * while what varies with each search (a patient reference) is proven by keys: compiling the same
 * date condition for every patient's search was the largest per-search cost left (profiled). Only
 * plain JSON values are kept (a RegExp, a Date, undefined or a non-finite number would not survive
 * the text, so two different filters could share it), and only small filters.
 */
export class FilterTests {
  private readonly compiled = new LRUCache<string, Predicate>({ max: KEPT_TESTS });

  get(filter: Filter): Predicate {
    if (!plainAndSmall(filter, { left: KEPT_NODES_AT_MOST })) return filterTest(filter);
    const text = JSON.stringify(filter);
    let test = this.compiled.get(text);
    if (!test) {
      test = filterTest(filter);
      this.compiled.set(text, test);
    }
    return test;
  }
}

/** True when `value` is made of strings, finite numbers, booleans, null, arrays and plain objects only, at most `budget.left` of them. */
function plainAndSmall(value: unknown, budget: { left: number }): boolean {
  if (--budget.left < 0) return false;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((item) => plainAndSmall(item, budget));
  if (typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return false;
  return Object.values(value as Filter).every((item) => plainAndSmall(item, budget));
}
