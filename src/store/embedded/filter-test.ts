/**
 * Turns a search filter into the predicate the embedded store tests each
 * candidate with: mingo evaluates the filter, except for top-level conjuncts
 * that are long membership lists — `{ id: { $in: [...] } }` (`_has`, `near`,
 * page fetches) and `{ 'idx.<code>': { $elemMatch: { r: { $in: [...] } } } }`
 * (chains), token code lists `{ c: { $in }, s: { $in } }` in an $elemMatch (`:in`, `:below`,
 * `:above`) and $or/$nor of such conjuncts — which become Set lookups. mingo's `$in` walks its whole list for
 * every document tested, so thousands of ids tested against thousands of
 * candidates grew quadratically (a `_has` matching 14 k patients took seconds).
 * The semantics are the same: membership of a string in a list of strings. Comparisons on an
 * entry's fields in an $elemMatch (date, number and quantity prefixes) are evaluated natively
 * too, with mingo's type bracketing (see comparisons).
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

/** The comparison operators evaluated natively (comparisons), as mingo evaluates them on one value of the operand's type. */
const COMPARISONS: Record<string, (a: string | number, b: string | number) => boolean> = {
  $gt: (a, b) => a > b,
  $gte: (a, b) => a >= b,
  $lt: (a, b) => a < b,
  $lte: (a, b) => a <= b,
};

/** Field names the search compiler writes in an entry condition (`lo`, `hi`, `n`, `cn`…): plain own properties. */
const ENTRY_FIELD = /^[a-z][a-z0-9]*$/i;

/** An entry test that answers true or false, or undefined when the entry's shape is one mingo must judge. */
type EntryTest = (entry: Record<string, unknown>) => boolean | undefined;

/**
 * The comparisons on an index entry's fields inside an $elemMatch — `{ hi: { $gt: … } }`,
 * `{ lo: { $gte: …, $lt: … } }`, `$or`/`$and` of such (date, number and quantity prefixes, written by
 * src/search/parameter-clauses.ts) — as a plain test, or undefined when the condition holds anything
 * else. mingo's answer, for the values an entry holds: a comparison holds when the field's value has
 * the operand's type (string or number: mingo's `typeOf` bracketing) and compares as `<`/`>` do
 * (mingo's `simpleCmp`); a missing field or another type fails it. A field holding an array (which
 * mingo would unwrap) is left to mingo: the test answers undefined. Evaluating these through mingo was
 * most of the CPU of judging a date-range candidate (family + birthdate range, profiled), and mingo's
 * generic path is slowest in a process that has run few searches (bench-search's warm-up of three).
 */
function comparisons(cond: Filter): EntryTest | undefined {
  const keys = Object.keys(cond);
  if (keys.length === 0) return undefined;
  const parts: EntryTest[] = [];
  for (const key of keys) {
    const value = cond[key];
    if (key === '$or' || key === '$and') {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      const branches: EntryTest[] = [];
      for (const branch of value) {
        const test = branch && typeof branch === 'object' && !Array.isArray(branch) ? comparisons(branch as Filter) : undefined;
        if (!test) return undefined;
        branches.push(test);
      }
      parts.push(key === '$or' ? anyOf(branches) : allOf(branches));
      continue;
    }
    if (!ENTRY_FIELD.test(key) || !value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    const ops = Object.entries(value as Filter);
    if (ops.length === 0) return undefined;
    const checks: Array<{ compare: (a: string | number, b: string | number) => boolean; operand: string | number; type: 'string' | 'number' }> = [];
    for (const [op, operand] of ops) {
      const compare = COMPARISONS[op];
      if (!Object.hasOwn(COMPARISONS, op) || !(typeof operand === 'string' || (typeof operand === 'number' && Number.isFinite(operand)))) return undefined;
      checks.push({ compare, operand, type: typeof operand as 'string' | 'number' });
    }
    parts.push((entry) => {
      const field = Object.hasOwn(entry, key) ? entry[key] : undefined;
      if (Array.isArray(field)) return undefined;
      for (const { compare, operand, type } of checks) if (typeof field !== type || !compare(field as string | number, operand)) return false;
      return true;
    });
  }
  return allOf(parts);
}

/** True when every test does; undefined as soon as one cannot tell (before any false). */
function allOf(tests: EntryTest[]): EntryTest {
  return (entry) => {
    for (const test of tests) {
      const answer = test(entry);
      if (answer !== true) return answer;
    }
    return true;
  };
}

/** True when one test does; undefined as soon as one cannot tell (before any true). */
function anyOf(tests: EntryTest[]): EntryTest {
  return (entry) => {
    for (const test of tests) {
      const answer = test(entry);
      if (answer !== false) return answer;
    }
    return false;
  };
}

/**
 * `{ 'idx.<code>': { $elemMatch: <comparisons> } }` as a predicate: some entry passes the comparisons
 * ($elemMatch: a non-empty array of them). An entry that is not a plain object, or a shape the test
 * cannot tell, sends the document to mingo, compiled on first need.
 */
function entryComparisons(code: string, conjunct: Filter, test: EntryTest): Predicate {
  let viaMingo: Query | undefined;
  return (doc) => {
    const idx = doc.idx;
    const entries = idx !== null && typeof idx === 'object' && !Array.isArray(idx) ? (idx as Record<string, unknown>)[code] : null;
    // No entry of the parameter: no element to match. Anything but an array of entries: mingo's answer.
    if (entries === undefined) return false;
    if (!Array.isArray(entries)) return (viaMingo ??= compile(conjunct)).test(doc);
    for (const entry of entries) {
      const answer = entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? test(entry as Record<string, unknown>) : undefined;
      if (answer === undefined) return (viaMingo ??= compile(conjunct)).test(doc);
      if (answer) return true;
    }
    return false;
  };
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
    const compared = comparisons(cond as Filter);
    if (compared) return entryComparisons(code, conjunct, compared);
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
