/**
 * Which ids of a type can match a search filter, read from the ordered index
 * keys (index-keys.ts) instead of testing every resource of the type.
 *
 * A conservative planner: it returns a SUPERSET of the matching ids, or
 * undefined when the filter has no indexable conjunct (the store then scans
 * the type). The filter is always evaluated in full afterwards, so the planner
 * can never change a result, only how many documents are read and tested.
 *
 * Each indexable conjunct becomes one or more key ranges; the ranges are
 * counted first (LMDB counts keys without decoding them, and the count stops
 * at the smallest candidate set found so far), and only the narrowest plan is
 * read. Strict bounds are read inclusively (a superset).
 */
import { HIGHEST, MAX_VALUE_CHARS, prefixRange, startsWithRange, valueRange, type IndexKey, type KeyRange } from './index-keys.js';

type Filter = Record<string, unknown>;

/** What the planner needs from the key store. */
export interface KeyReader {
  /**
   * How many keys are in the range, counting at most `limit` (more than that: any number above it).
   * A reader may stop counting a very broad range early and report a lower bound above its own cap
   * (document-reader.ts, COUNT_AT_MOST): plans are then compared on that bound.
   */
  count(range: KeyRange, limit: number): number;
  /** Adds the id (last key element) of every key in the range. */
  collectIds(range: KeyRange, into: Set<string>): void;
}

/** Below this many keys a plan is taken without counting broader ones in full. */
const NARROW = 4096;

/** A way to find candidates: the union of known ids and the ids of key ranges (read by the caller). */
export interface Plan {
  /** Keys (or ids) it would read, at most the limit it was counted against. */
  size: number;
  ids: string[];
  ranges: KeyRange[];
}

/** The narrowest plan for the ids of `resourceType` that can match `filter`, or undefined (scan the type). */
export function planFor(reader: KeyReader, resourceType: string, filter: Filter): Plan | undefined {
  // A single condition has no rival plan to be compared with: its keys need not be counted first.
  if (isExactlyIndexed(filter)) return planFilter({ ...reader, count: () => 0 }, resourceType, filter, Number.MAX_SAFE_INTEGER);
  // First look for a narrow plan only, so that a broad conjunct listed first (a common code) is not
  // counted in full when a selective one (a patient reference) follows; then accept any.
  return planFilter(reader, resourceType, filter, NARROW) ?? planFilter(reader, resourceType, filter, Number.MAX_SAFE_INTEGER);
}

/** A superset of the ids of `resourceType` that can match `filter`, or undefined (scan the type). */
export function planCandidates(reader: KeyReader, resourceType: string, filter: Filter): Set<string> | undefined {
  const plan = planFor(reader, resourceType, filter);
  if (!plan) return undefined;
  const ids = new Set<string>(plan.ids);
  for (const range of plan.ranges) reader.collectIds(range, ids);
  return ids;
}

/**
 * True when the ids of the plan's key ranges are exactly the matches of `filter` (not a superset), so
 * that testing each candidate would change nothing: the filter is one `$elemMatch` on one parameter
 * with a single string condition the keys hold whole — a string equal to or starting with a text
 * (`v`), a code with or without its system (`c`, `s`+`c`), a reference (`r`) — no longer than a key
 * keeps (index-keys.ts clips longer strings, and a clipped key proposes a superset). Keys exist only
 * for current, live versions, so such a candidate is a match.
 */
export function isExactlyIndexed(filter: Filter): boolean {
  const names = Object.keys(filter);
  if (names.length !== 1 || !names[0].startsWith('idx.')) return false;
  const value = filter[names[0]];
  if (!value || typeof value !== 'object' || Object.keys(value).length !== 1) return false;
  const cond = (value as Filter).$elemMatch;
  if (!cond || typeof cond !== 'object' || Array.isArray(cond)) return false;
  const fields = Object.keys(cond).sort().join(',');
  const whole = (text: unknown) => typeof text === 'string' && text.length > 0 && text.length <= MAX_VALUE_CHARS && !text.includes('\u0000');
  const c = cond as Filter;
  if (fields === 'r' || fields === 'c') return whole(c[fields]);
  if (fields === 'c,s') return whole(c.c) && whole(c.s);
  if (fields !== 'v') return false;
  if (whole(c.v)) return true;
  const v = c.v as Filter | undefined;
  if (!v || typeof v !== 'object' || Object.keys(v).length !== 1 || typeof v.$regex !== 'string') return false;
  const literal = anchoredLiteral(v.$regex);
  return literal !== undefined && whole(literal);
}

function rangesPlan(reader: KeyReader, ranges: KeyRange[], limit: number): Plan | undefined {
  let size = 0;
  for (const range of ranges) {
    size += reader.count(range, limit - size + 1);
    if (size > limit) return undefined;
  }
  return { size, ids: [], ranges };
}

/** The union of branch plans (an $or). */
function unionPlan(branches: Plan[], size: number): Plan {
  return { size, ids: branches.flatMap((b) => b.ids), ranges: branches.flatMap((b) => b.ranges) };
}

function better(best: Plan | undefined, candidate: Plan | undefined): Plan | undefined {
  return candidate && (!best || candidate.size < best.size) ? candidate : best;
}

/** The narrowest plan for a filter (a conjunction of its keys), under `limit` keys, or undefined. */
function planFilter(reader: KeyReader, resourceType: string, filter: Filter, limit: number): Plan | undefined {
  let best: Plan | undefined;
  const bound = () => Math.min(limit, best ? best.size : limit);
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value as Filter[]) best = better(best, planFilter(reader, resourceType, part, bound()));
    } else if (key === '$or' && Array.isArray(value) && value.length > 0) {
      // Every branch must be indexable, and together under the bound.
      const branches: Plan[] = [];
      let size = 0;
      for (const part of value as Filter[]) {
        const branch = planFilter(reader, resourceType, part, bound() - size);
        if (!branch) break;
        branches.push(branch);
        size += branch.size;
      }
      if (branches.length === value.length) best = better(best, unionPlan(branches, size));
    } else if (key === 'id') {
      const ids = idList(value);
      if (ids && ids.length <= bound()) best = better(best, { size: ids.length, ids, ranges: [] });
    } else if (key.startsWith('idx.') && value && typeof value === 'object' && '$elemMatch' in (value as Filter)) {
      const cond = (value as { $elemMatch: unknown }).$elemMatch;
      if (cond && typeof cond === 'object') best = better(best, planEntry(reader, [resourceType, key.slice(4)], cond as Filter, bound()));
    }
  }
  return best;
}

/** The narrowest plan for one `$elemMatch` condition on the entries of a parameter (`head` = [type, code]). */
function planEntry(reader: KeyReader, head: IndexKey, cond: Filter, limit: number): Plan | undefined {
  let best: Plan | undefined;
  const consider = (ranges: KeyRange[] | undefined) => {
    if (ranges) best = better(best, rangesPlan(reader, ranges, Math.min(limit, best ? best.size : limit)));
  };
  const bound = () => Math.min(limit, best ? best.size : limit);

  const r = cond.r;
  if (typeof r === 'string') consider([prefixRange([...head, 'r', r])]);
  else if (inList(r)) consider(inList(r)!.map((ref) => prefixRange([...head, 'r', String(ref)])));

  const v = cond.v;
  if (typeof v === 'string') consider([prefixRange([...head, 'v', v])]);
  else if (v && typeof v === 'object' && typeof (v as Filter).$regex === 'string' && !(v as Filter).$options) {
    const literal = anchoredLiteral((v as Filter).$regex as string);
    if (literal) consider([startsWithRange([...head, 'v'], literal)]);
  }

  const c = cond.c;
  const system = typeof cond.s === 'string' ? cond.s : undefined;
  const codes = typeof c === 'string' ? [c] : inList(c)?.map(String);
  if (codes) consider(codes.map((code) => prefixRange(system !== undefined ? [...head, 'sc', system, code] : [...head, 'c', code])));
  else if (system !== undefined && c === undefined) consider([prefixRange([...head, 'sc', system])]);

  const n = boundsOf(cond.n, 'number');
  if (n) consider([valueRange([...head, 'n'], n[0], n[1])]);
  const cn = typeof cond.k === 'string' ? boundsOf(cond.cn, 'number') : undefined;
  if (cn) consider([valueRange([...head, 'cn', cond.k as string], cn[0], cn[1])]);
  for (const field of ['lo', 'hi'] as const) {
    const range = boundsOf(cond[field], 'string');
    if (range) consider([valueRange([...head, field], range[0], range[1])]);
  }

  // Inside the entry condition: an $and part is a superset on its own; an $or needs every branch (dates ge/le).
  if (Array.isArray(cond.$and)) for (const part of cond.$and as Filter[]) best = better(best, planEntry(reader, head, part, bound()));
  if (Array.isArray(cond.$or) && cond.$or.length > 0) {
    const branches: Plan[] = [];
    let size = 0;
    for (const part of cond.$or as Filter[]) {
      const branch = planEntry(reader, head, part, bound() - size);
      if (!branch) break;
      branches.push(branch);
      size += branch.size;
    }
    if (branches.length === cond.$or.length) best = better(best, unionPlan(branches, size));
  }
  return best;
}

/** The list of `{ $in: [...] }` (strings or numbers only), else undefined. */
function inList(value: unknown): Array<string | number> | undefined {
  if (!value || typeof value !== 'object' || Object.keys(value).length !== 1) return undefined;
  const list = (value as Filter).$in;
  return Array.isArray(list) && list.every((v) => typeof v === 'string' || typeof v === 'number') ? (list as Array<string | number>) : undefined;
}

function idList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return [value];
  return inList(value)?.map(String);
}

/** [lo, hi] from a condition's comparison operators, or undefined when it has none (or an operand of another kind). */
function boundsOf(condition: unknown, kind: 'number' | 'string'): [number | string | undefined, number | string | undefined] | undefined {
  if (!condition || typeof condition !== 'object') return undefined;
  let lo: number | string | undefined;
  let hi: number | string | undefined;
  for (const [op, operand] of Object.entries(condition as Filter)) {
    if (op !== '$gt' && op !== '$gte' && op !== '$lt' && op !== '$lte') continue;
    // An operand of another type compares differently: leave such a condition to the scan.
    if (typeof operand !== kind || (kind === 'number' && !Number.isFinite(operand))) return undefined;
    const value = operand as number | string;
    if (op === '$gt' || op === '$gte') lo = lo === undefined || value > lo ? value : lo;
    else hi = hi === undefined || value < hi ? value : hi;
  }
  return lo === undefined && hi === undefined ? undefined : [lo, hi];
}

/** The literal text of `^<escaped literal>` (as the search compiler writes starts-with), else undefined. */
function anchoredLiteral(regex: string): string | undefined {
  if (!regex.startsWith('^')) return undefined;
  let literal = '';
  for (let i = 1; i < regex.length; i++) {
    const ch = regex[i];
    if (ch === '\\') {
      if (i + 1 >= regex.length || /[A-Za-z0-9]/.test(regex[i + 1])) return undefined; // \d, \w...: not a literal
      literal += regex[++i];
    } else if ('.*+?^${}()|[]'.includes(ch)) return undefined;
    else literal += ch;
  }
  return literal.length > 0 && !literal.includes(HIGHEST) ? literal : undefined;
}
