/**
 * Which ids of a type can match a search filter, read from the ordered index
 * keys (index-keys.ts) instead of testing every resource of the type.
 *
 * A conservative planner: it returns a SUPERSET of the matching ids, or
 * undefined when the filter has no indexable conjunct (the store then scans
 * the type). Each candidate is then judged on every condition
 * (candidate-test.ts), by key lookups or the filter evaluation, except the one
 * conjunct whose key ranges made the plan when those hold exactly its matches
 * (keyProof): so the plan decides how many documents are read, never a result.
 *
 * Each indexable conjunct becomes one or more key ranges; the ranges are
 * counted first (LMDB counts keys without decoding them, and the count stops
 * at the smallest candidate set found so far), and only the narrowest plan is
 * read.
 *
 * The parameters a type has no keys for (lmdb-layout.ts, UNKEYED_PARAMETERS; `unkeyed` below) are
 * never planned nor proven by keys: their keys may exist in a folder written before the policy, not
 * for what is written since, so reading them would miss matches. Their conditions are evaluated.
 */
import { clip, heldWhole as keyHoldsWhole, HIGHEST, MAX_VALUE_CHARS, prefixRange, startsWithRange, valueRange, type Bound, type IndexKey, type KeyRange } from './index-keys.js';

type Filter = Record<string, unknown>;

/** What the planner needs from the key store. */
export interface KeyReader {
  /**
   * How many keys are in the range, counting at most `limit` (more than that: any number above it).
   * A reader may stop counting a very broad range early and report a lower bound above its own cap
   * (document-reader.ts, COUNT_AT_MOST): plans are then compared on that bound. Asynchronous: a
   * reader may give the event loop turns while it counts (pacer.ts).
   */
  count(range: KeyRange, limit: number): Promise<number>;
  /** Adds the id (last key element) of every key in the range. */
  collectIds(range: KeyRange, into: Set<string>): void;
  /** The ids of a range `count` has already read to its end (the planner's narrow plans), so that they are not read twice. */
  idsRead?(range: KeyRange): readonly string[] | undefined;
}

/** Below this many keys a plan is taken without counting broader ones in full. */
const NARROW = 4096;

/** A way to find candidates: the union of known ids and the ids of key ranges (read by the caller). */
export interface Plan {
  /** Keys (or ids) it would read, at most the limit it was counted against. */
  size: number;
  ids: string[];
  ranges: KeyRange[];
  /**
   * The top-level conjunct (`{ [key]: value }` of the filter or of one of its `$and` parts, the same
   * `value` object) whose condition alone made this plan, when one did (not an `$or` union): its
   * candidates are exactly that conjunct's matches when the conjunct is exactly indexed (keyProof).
   */
  source?: { key: string; value: unknown };
}

/**
 * The narrowest plan for the ids of `resourceType` that can match `filter`, or undefined (scan the type).
 * `unkeyed`: the type's parameters without keys; `exact`: isExactlyIndexed(filter, unkeyed), when the caller knows it.
 */
export async function planFor(reader: KeyReader, resourceType: string, filter: Filter, unkeyed?: ReadonlySet<string>, exact = isExactlyIndexed(filter, unkeyed)): Promise<Plan | undefined> {
  // A single condition has no rival plan to be compared with: its keys need not be counted first.
  if (exact) return exactPlan(resourceType, filter);
  // First look for a narrow plan only, so that a broad conjunct listed first (a common code) is not
  // counted in full when a selective one (a patient reference) follows; then accept any.
  return (await planFilter(reader, resourceType, filter, NARROW, unkeyed)) ?? planFilter(reader, resourceType, filter, Number.MAX_SAFE_INTEGER, unkeyed);
}

/**
 * The plan of an exactly indexed filter (isExactlyIndexed: one `idx.<code>` conjunct its keys prove), made
 * without counting anything: it has no rival, so it is the first key ranges planEntry would consider for
 * its condition (entryAlternatives), as planFilter would make it with every count 0 — synchronously, where
 * that chain of asynchronous steps cost about 4 µs of a one-identifier lookup's CPU (measured in a loop
 * under tsx, before this function; README, "Lookups, sixth pass"). Undefined when the filter is not one
 * `$elemMatch` on a parameter (the caller checked isExactlyIndexed, so it is).
 */
export function exactPlan(resourceType: string, filter: Filter): Plan | undefined {
  const names = Object.keys(filter);
  if (names.length !== 1 || !names[0].startsWith('idx.')) return undefined;
  const key = names[0];
  const value = filter[key];
  const cond = value && typeof value === 'object' ? (value as Filter).$elemMatch : undefined;
  if (!cond || typeof cond !== 'object' || Array.isArray(cond)) return undefined;
  const first = entryAlternatives([resourceType, key.slice(4)], cond as Filter)[0];
  return first ? { size: 0, ids: [], ranges: first, source: { key, value } } : undefined;
}

/** A superset of the ids of `resourceType` that can match `filter`, or undefined (scan the type). */
export async function planCandidates(reader: KeyReader, resourceType: string, filter: Filter, unkeyed?: ReadonlySet<string>): Promise<Set<string> | undefined> {
  const plan = await planFor(reader, resourceType, filter, unkeyed);
  if (!plan) return undefined;
  const ids = new Set<string>(plan.ids);
  for (const range of plan.ranges) {
    const read = reader.idsRead?.(range);
    if (read) for (const id of read) ids.add(id);
    else reader.collectIds(range, ids);
  }
  return ids;
}

/**
 * True when the ids of the plan's key ranges are exactly the matches of `filter` (not a superset), so
 * that testing each candidate would change nothing: the filter is one conjunct whose keys prove it
 * (keyProof). Keys exist only for current, live versions, so such a candidate is a match.
 */
export function isExactlyIndexed(filter: Filter, unkeyed?: ReadonlySet<string>): boolean {
  const names = Object.keys(filter);
  return names.length === 1 && names[0].startsWith('idx.') && keyProof(names[0], filter[names[0]], unkeyed) !== undefined;
}

/** How the index keys prove one conjunct `{ [key]: value }` of a filter, for a candidate id. */
export type KeyProof =
  /** A key `[type, ...prefix, id]` exists for one of the prefixes (given without the type) exactly when the conjunct holds. */
  | { kind: 'point'; prefixes: IndexKey[] }
  /** The conjunct holds exactly for the ids of its key range (a starts-with, a comparison): proven when that range made the plan. */
  | { kind: 'range' };

const ASCII = /^[\x01-\x7f]*$/;

/** Lists longer than this are proven by the filter evaluation (a Set), not one key lookup per element. */
const POINTS_AT_MOST = 8;

/**
 * How the keys prove the conjunct `{ [key]: value }`, or undefined when they cannot (the filter
 * evaluation must then test it): an `$elemMatch` on one parameter with a single condition the keys
 * hold whole — a string equal to (`v`) or starting with (`v: { $regex: '^…' }`) a text, a code with or
 * without its system (`c`, `s` + `c`), a reference (`r`), a short `$in` list of codes or references,
 * or comparisons on one number (`n`), canonical quantity in one unit (`k` + `cn`) or date bound (`lo`,
 * `hi`), whose key range (index-keys.ts, valueRange) holds exactly the values within the bounds.
 * index-keys.ts keeps each entry's string clipped to MAX_VALUE_CHARS characters (NUL as a space): a
 * string the keys hold whole is shorter than that for an equality (a clipped key of a longer
 * value would equal a text of exactly MAX_VALUE_CHARS), at most that for a starts-with, and has no
 * NUL (FHIR strings cannot hold one: structure-validator.ts refuses control characters, so no entry
 * has a NUL that a key would hold as a space). The `s` + `c` key pairs the system and code of one
 * entry, as the `$elemMatch` does. A parameter of `unkeyed` (without keys) has no proof.
 */
export function keyProof(key: string, value: unknown, unkeyed?: ReadonlySet<string>): KeyProof | undefined {
  if (!key.startsWith('idx.') || !value || typeof value !== 'object' || Object.keys(value).length !== 1) return undefined;
  const code = key.slice(4);
  if (unkeyed?.has(code)) return undefined;
  const cond = (value as Filter).$elemMatch;
  if (!cond || typeof cond !== 'object' || Array.isArray(cond)) return undefined;
  const fields = Object.keys(cond).sort().join(',');
  const c = cond as Filter;
  const points = (field: string, list: string[] | undefined): KeyProof | undefined => (list ? { kind: 'point', prefixes: list.map((text) => [code, field, text]) } : undefined);
  // A comparison on one number or date field (or on a canonical quantity within its unit): the key range is exactly its matches.
  if (fields === 'n') return boundsOf(c.n, 'number', true) ? { kind: 'range' } : undefined;
  if (fields === 'cn,k') return heldWhole(c.k) && boundsOf(c.cn, 'number', true) ? { kind: 'range' } : undefined;
  if (fields === 'lo' || fields === 'hi') {
    const bounds = boundsOf(c[fields], 'string', true);
    // ASCII bounds (dates): keys order strings by UTF-8 bytes, the evaluation by UTF-16 units, which agree whenever one side is ASCII.
    return bounds && bounds.every((bound) => bound === undefined || (keyHoldsWhole(bound.value) && ASCII.test(bound.value as string))) ? { kind: 'range' } : undefined;
  }
  if (fields === 'r') return points('r', texts(c.r));
  if (fields === 'c') return points('c', texts(c.c));
  if (fields === 'c,s') {
    const codes = texts(c.c);
    return heldWhole(c.s) && codes ? { kind: 'point', prefixes: codes.map((text) => [code, 'sc', c.s as string, text]) } : undefined;
  }
  if (fields !== 'v') return undefined;
  if (heldWhole(c.v)) return { kind: 'point', prefixes: [[code, 'v', c.v]] };
  const v = c.v as Filter | undefined;
  if (!v || typeof v !== 'object' || Object.keys(v).length !== 1 || typeof v.$regex !== 'string') return undefined;
  const literal = anchoredLiteral(v.$regex);
  return literal !== undefined && literal.length <= MAX_VALUE_CHARS && !literal.includes('\u0000') ? { kind: 'range' } : undefined;
}

/** A text a key holds whole, for an equality (keyProof). */
function heldWhole(text: unknown): text is string {
  return typeof text === 'string' && text.length > 0 && text.length < MAX_VALUE_CHARS && !text.includes('\u0000');
}

/** The texts of a string or of a short `$in` list of strings, when a key holds every one whole. */
function texts(operand: unknown): string[] | undefined {
  if (heldWhole(operand)) return [operand];
  const list = inList(operand);
  return list && list.length > 0 && list.length <= POINTS_AT_MOST && list.every(heldWhole) ? (list as string[]) : undefined;
}

/**
 * A plan of at most this many keys is taken without counting its rivals: reading another range to learn
 * whether it is narrower (a cursor opened, keys decoded) cost more than judging so few candidates by
 * key lookups (one patient's weights, `patient=…&code=…`: 6 candidates, and 7 keys of the code read to
 * find it broader; profiled). Plans are alternatives, each a superset of the matches: which one is
 * read changes the work, never the answer.
 */
const UNCHALLENGED = 8;

async function rangesPlan(reader: KeyReader, ranges: KeyRange[], limit: number): Promise<Plan | undefined> {
  // (`limit` is the size to beat, or what is left of the bound in a union: too small either way.)
  if (limit <= UNCHALLENGED) return undefined;
  let size = 0;
  for (const range of ranges) {
    size += await reader.count(range, limit - size + 1);
    if (size > limit) return undefined;
  }
  return { size, ids: [], ranges };
}

/** The union of branch plans (an $or). */
function unionPlan(branches: Plan[], size: number): Plan {
  // (no source: a union is no single conjunct's plan)
  return { size, ids: branches.flatMap((b) => b.ids), ranges: branches.flatMap((b) => b.ranges) };
}

function better(best: Plan | undefined, candidate: Plan | undefined): Plan | undefined {
  return candidate && (!best || candidate.size < best.size) ? candidate : best;
}

/** The narrowest plan for a filter (a conjunction of its keys), under `limit` keys, or undefined; the parameters of `unkeyed` are not planned. */
async function planFilter(reader: KeyReader, resourceType: string, filter: Filter, limit: number, unkeyed: ReadonlySet<string> | undefined): Promise<Plan | undefined> {
  let best: Plan | undefined;
  const bound = () => Math.min(limit, best ? best.size : limit);
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and' && Array.isArray(value)) {
      for (const part of value as Filter[]) best = better(best, await planFilter(reader, resourceType, part, bound(), unkeyed));
    } else if (key === '$or' && Array.isArray(value) && value.length > 0) {
      // Every branch must be indexable, and together under the bound.
      const branches: Plan[] = [];
      let size = 0;
      for (const part of value as Filter[]) {
        const branch = await planFilter(reader, resourceType, part, bound() - size, unkeyed);
        if (!branch) break;
        branches.push(branch);
        size += branch.size;
      }
      if (branches.length === value.length) best = better(best, unionPlan(branches, size));
    } else if (key === 'id') {
      const ids = idList(value);
      if (ids && ids.length <= bound()) best = better(best, { size: ids.length, ids, ranges: [], source: { key, value } });
    } else if (key.startsWith('idx.') && !unkeyed?.has(key.slice(4)) && value && typeof value === 'object' && '$elemMatch' in (value as Filter)) {
      const cond = (value as { $elemMatch: unknown }).$elemMatch;
      const plan = cond && typeof cond === 'object' ? await planEntry(reader, [resourceType, key.slice(4)], cond as Filter, bound()) : undefined;
      if (plan) best = better(best, { ...plan, source: { key, value } });
    }
  }
  return best;
}

/** The narrowest plan for one `$elemMatch` condition on the entries of a parameter (`head` = [type, code]). */
async function planEntry(reader: KeyReader, head: IndexKey, cond: Filter, limit: number): Promise<Plan | undefined> {
  let best: Plan | undefined;
  const bound = () => Math.min(limit, best ? best.size : limit);
  for (const ranges of entryAlternatives(head, cond)) best = better(best, await rangesPlan(reader, ranges, bound()));

  // Inside the entry condition: an $and part is a superset on its own; an $or needs every branch (dates ge/le).
  if (Array.isArray(cond.$and)) for (const part of cond.$and as Filter[]) best = better(best, await planEntry(reader, head, part, bound()));
  if (Array.isArray(cond.$or) && cond.$or.length > 0) {
    const branches: Plan[] = [];
    let size = 0;
    for (const part of cond.$or as Filter[]) {
      const branch = await planEntry(reader, head, part, bound() - size);
      if (!branch) break;
      branches.push(branch);
      size += branch.size;
    }
    if (branches.length === cond.$or.length) best = better(best, unionPlan(branches, size));
  }
  return best;
}

/**
 * The key ranges of each field of one `$elemMatch` condition that can find its candidates, each list an
 * alternative (a superset of the condition's matches on its own), in the order planEntry weighs them
 * (`$and` and `$or` inside the condition aside: planEntry plans those).
 */
function entryAlternatives(head: IndexKey, cond: Filter): KeyRange[][] {
  const alternatives: KeyRange[][] = [];
  // Texts are looked up as the keys hold them, clipped (a longer text then reads a superset).
  const r = cond.r;
  if (typeof r === 'string') alternatives.push([prefixRange([...head, 'r', clip(r)])]);
  else if (inList(r)) alternatives.push(inList(r)!.map((ref) => prefixRange([...head, 'r', clip(String(ref))])));

  const v = cond.v;
  if (typeof v === 'string') alternatives.push([prefixRange([...head, 'v', clip(v)])]);
  else if (v && typeof v === 'object' && typeof (v as Filter).$regex === 'string' && !(v as Filter).$options) {
    const literal = anchoredLiteral((v as Filter).$regex as string);
    if (literal) alternatives.push([startsWithRange([...head, 'v'], literal)]);
  }

  const c = cond.c;
  const system = typeof cond.s === 'string' ? cond.s : undefined;
  const codes = typeof c === 'string' ? [c] : inList(c)?.map(String);
  if (codes) alternatives.push(codes.map((code) => prefixRange(system !== undefined ? [...head, 'sc', clip(system), clip(code)] : [...head, 'c', clip(code)])));
  else if (system !== undefined && c === undefined) alternatives.push([prefixRange([...head, 'sc', clip(system)])]);

  const n = boundsOf(cond.n, 'number');
  if (n) alternatives.push([valueRange([...head, 'n'], n[0], n[1])]);
  const cn = typeof cond.k === 'string' ? boundsOf(cond.cn, 'number') : undefined;
  if (cn) alternatives.push([valueRange([...head, 'cn', clip(cond.k as string)], cn[0], cn[1])]);
  for (const field of ['lo', 'hi'] as const) {
    const range = boundsOf(cond[field], 'string');
    if (range) alternatives.push([valueRange([...head, field], range[0], range[1])]);
  }
  // A position's latitude band (a `near` box, search-query.ts): the keys hold the latitude of entries with both
  // coordinates (index-keys.ts), a superset of the box; the longitude is judged on the candidates' entries.
  const lat = boundsOf(cond.lat, 'number');
  if (lat) alternatives.push([valueRange([...head, 'lat'], lat[0], lat[1])]);
  return alternatives;
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

/** [lo, hi] from a condition's comparison operators (the tighter of each side), or undefined when it has none (or an operand of another kind, or another operator when `only` is set). */
function boundsOf(condition: unknown, kind: 'number' | 'string', only = false): [Bound | undefined, Bound | undefined] | undefined {
  if (!condition || typeof condition !== 'object') return undefined;
  let lo: Bound | undefined;
  let hi: Bound | undefined;
  for (const [op, operand] of Object.entries(condition as Filter)) {
    if (op !== '$gt' && op !== '$gte' && op !== '$lt' && op !== '$lte') {
      if (only) return undefined;
      continue;
    }
    // An operand of another type compares differently: leave such a condition to the scan.
    if (typeof operand !== kind || (kind === 'number' && !Number.isFinite(operand))) return undefined;
    const value = operand as number | string;
    const strict = op === '$gt' || op === '$lt';
    if (op === '$gt' || op === '$gte') lo = tighter(lo, { value, strict }, 1);
    else hi = tighter(hi, { value, strict }, -1);
  }
  return lo === undefined && hi === undefined ? undefined : [lo, hi];
}

/** The tighter of two bounds on one side (direction 1: lower bounds, -1: upper), strict winning a tie. */
function tighter(current: Bound | undefined, next: Bound, direction: 1 | -1): Bound {
  if (!current) return next;
  if (next.value === current.value) return { value: next.value, strict: current.strict || next.strict };
  return (next.value > current.value) === (direction === 1) ? next : current;
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
