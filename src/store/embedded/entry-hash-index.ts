/**
 * An in-memory secondary index for the embedded store: for every resource
 * type, which ids hold a given reference (`r`), code (`c`), system|code
 * (`s`+`c`) or string value starting with given 1 to 3 characters (`v`, for
 * anchored starts-with searches) in any index entry, so that the commonest searches
 * (Observation?patient=…, Patient?identifier=system|value, chains and _has
 * turned into `$in`) test a handful of candidates instead of every resource.
 *
 * Range conditions (numbers, quantities, dates) go to the sorted index of
 * entry-range-index.ts when the hash keys leave many candidates.
 *
 * `candidates(filter)` is a conservative planner: it returns a SUPERSET of the
 * matching ids, or undefined when the filter has no indexable conjunct (then
 * the store scans the type). The filter is always evaluated in full afterwards,
 * so the planner can never change a result, only how many documents are tested.
 */
import type { IndexEntries } from '../resource-store.js';
import { EntryRangeIndex } from './entry-range-index.js';

type Filter = Record<string, unknown>;

/** Longest prefix kept for string values (a longer search prefix uses its first PREFIX_CHARS characters). */
const PREFIX_CHARS = 3;

function keysOf(index: IndexEntries | undefined): string[] {
  if (!index) return [];
  const keys: string[] = [];
  for (const [code, entries] of Object.entries(index)) {
    for (const entry of entries as Array<Record<string, unknown>>) {
      if (!entry || typeof entry !== 'object') continue;
      if (typeof entry.r === 'string') keys.push(`${code}\u0000r\u0000${entry.r}`);
      if (typeof entry.v === 'string') {
        for (let n = 1; n <= Math.min(PREFIX_CHARS, entry.v.length); n++) keys.push(`${code}\u0000p\u0000${entry.v.slice(0, n)}`);
      }
      if (typeof entry.c === 'string') {
        keys.push(`${code}\u0000c\u0000${entry.c}`);
        if (typeof entry.s === 'string') keys.push(`${code}\u0000sc\u0000${entry.s}\u0000${entry.c}`);
      }
    }
  }
  return keys;
}

export class EntryHashIndex {
  /** type → key → ids */
  private readonly byType = new Map<string, Map<string, Set<string>>>();
  /** Range searches on numbers, quantities and dates (see entry-range-index.ts). */
  private readonly ranges = new EntryRangeIndex();

  /** Below this many hash candidates, range lookups (which may collect many ids) are not worth trying. */
  private static readonly FEW = 256;

  update(resourceType: string, id: string, before: IndexEntries | undefined, after: IndexEntries | undefined): void {
    for (const code of new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})])) {
      this.ranges.update(resourceType, id, code, before?.[code] as unknown[] | undefined, after?.[code] as unknown[] | undefined);
    }
    let map = this.byType.get(resourceType);
    if (!map) this.byType.set(resourceType, (map = new Map()));
    for (const key of keysOf(before)) {
      const ids = map.get(key);
      if (ids) {
        ids.delete(id);
        if (ids.size === 0) map.delete(key);
      }
    }
    for (const key of keysOf(after)) {
      let ids = map.get(key);
      if (!ids) map.set(key, (ids = new Set()));
      ids.add(id);
    }
  }

  /** A superset of the ids of `resourceType` that can match `filter`, or undefined (scan). */
  candidates(resourceType: string, filter: Filter): Set<string> | undefined {
    const map = this.byType.get(resourceType) ?? new Map<string, Set<string>>();
    const hashed = this.plan(resourceType, map, filter, false);
    if (hashed && hashed.size <= EntryHashIndex.FEW) return hashed;
    const ranged = this.plan(resourceType, map, filter, true, hashed?.size ?? Infinity);
    return hashed && (!ranged || hashed.size <= ranged.size) ? hashed : ranged;
  }

  /** @param limit with ranges: only ranges holding fewer pairs than this are collected (a smaller set is known). */
  private plan(resourceType: string, map: Map<string, Set<string>>, filter: Filter, withRanges: boolean, limit = Infinity): Set<string> | undefined {
    let best: Set<string> | undefined;
    const consider = (set: Set<string> | undefined) => {
      if (set && (!best || set.size < best.size)) best = set;
    };
    for (const [key, value] of Object.entries(filter)) {
      if (key === '$and') for (const part of value as Filter[]) consider(this.plan(resourceType, map, part, withRanges, Math.min(limit, best?.size ?? Infinity)));
      else if (key === '$or') {
        const union = new Set<string>();
        let all = true;
        for (const part of value as Filter[]) {
          const set = this.plan(resourceType, map, part, withRanges, Infinity);
          if (!set) {
            all = false;
            break;
          }
          for (const id of set) union.add(id);
        }
        if (all) consider(union);
      } else if (key === 'id') consider(idSet(value));
      else if (key.startsWith('idx.') && value && typeof value === 'object' && '$elemMatch' in (value as Filter)) {
        const code = key.slice(4);
        const cond = (value as { $elemMatch: Filter }).$elemMatch;
        consider(this.elemMatch(map, code, cond));
        if (withRanges) consider(this.ranges.candidates(resourceType, code, cond, Math.min(limit, best?.size ?? Infinity)));
      }
    }
    return best;
  }

  private elemMatch(map: Map<string, Set<string>>, code: string, cond: Filter): Set<string> | undefined {
    const lookup = (key: string) => map.get(`${code}\u0000${key}`);
    const r = cond.r;
    if (typeof r === 'string') return lookup(`r\u0000${r}`) ?? new Set();
    if (r && typeof r === 'object' && Array.isArray((r as Filter).$in)) return unionOf(((r as Filter).$in as unknown[]).map((v) => lookup(`r\u0000${String(v)}`)));
    const v = cond.v as { $regex?: unknown } | undefined;
    if (v && typeof v === 'object' && typeof v.$regex === 'string') {
      const literal = anchoredLiteral(v.$regex);
      if (literal) return lookup(`p\u0000${literal.slice(0, PREFIX_CHARS)}`) ?? new Set();
    }
    const c = cond.c;
    if (c && typeof c === 'object' && Array.isArray((c as Filter).$in)) {
      // Token :in / :below / :above: one lookup per code (by system and code when the system is one string).
      const codes = (c as Filter).$in as unknown[];
      return unionOf(codes.map((code) => lookup(typeof cond.s === 'string' ? `sc\u0000${cond.s}\u0000${String(code)}` : `c\u0000${String(code)}`)));
    }
    if (typeof c !== 'string') return undefined;
    if (typeof cond.s === 'string') return lookup(`sc\u0000${cond.s}\u0000${c}`) ?? new Set();
    return lookup(`c\u0000${c}`) ?? new Set();
  }
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
  return literal.length > 0 ? literal : undefined;
}

function idSet(value: unknown): Set<string> | undefined {
  if (typeof value === 'string') return new Set([value]);
  if (value && typeof value === 'object' && Array.isArray((value as Filter).$in)) return new Set(((value as Filter).$in as unknown[]).map(String));
  return undefined;
}

function unionOf(sets: Array<Set<string> | undefined>): Set<string> {
  const union = new Set<string>();
  for (const set of sets) if (set) for (const id of set) union.add(id);
  return union;
}
