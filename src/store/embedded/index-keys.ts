/**
 * The embedded store's search index as LMDB ordered keys: every index entry of
 * a current, live version becomes keys of the form
 *
 *   [resourceType, code, field, ...value, id]
 *
 * (values are null), so that one range read finds the ids holding a reference
 * (`r`), a code (`c`), a system|code (`sc`, which also answers a system alone),
 * a string (`v`: equality and, as a prefix range, the anchored starts-with the
 * search compiler writes), a number (`n`), a UCUM canonical value per unit key
 * (`cn`), the bounds of a date range (`lo`, `hi`) or the latitude of a position
 * (`lat`: the `near` box's latitude band; position-keys.ts). LMDB keeps them in
 * order (lmdb-js' ordered-binary keys: numbers in numeric order before
 * strings, strings in UTF-8 byte order), so range searches read only the keys in
 * the range. This replaces the in-heap hash and sorted-array indexes the store
 * had before LMDB: the same keys, on disk.
 *
 * Keys are limited to LMDB's 1978 bytes, so long strings are indexed by their
 * first MAX_VALUE_CHARS characters: a lookup then proposes a superset, which the
 * filter evaluation (filter-test.ts) narrows, as it does for every candidate.
 *
 * Some parameters of a type get no keys at all (UnkeyedParameters, the policy in
 * lmdb-layout.ts): their entries are still written, and a search on them is
 * answered by the filter evaluation, never by keys (candidate-planner.ts).
 */
import type { IndexEntries } from '../resource-store.js';

export type IndexKey = Array<string | number>;

/** Longest string kept in a key (UTF-8 up to 4 bytes a character, well under LMDB's 1978-byte key limit with the rest). */
export const MAX_VALUE_CHARS = 200;

/** Above every string a key can hold (ids are [A-Za-z0-9\-.]; values are UTF-8 text): the end of a prefix range. */
export const HIGHEST = '\u{10ffff}';

/**
 * The parameters of each type that get no search keys (lmdb-layout.ts, UNKEYED_PARAMETERS): the
 * writer writes none for them, and the planner, the key judge and key order never read keys of them
 * (folders written before hold such keys: they are left unread, and removed with their resource's
 * next write or by `relais reindex`).
 */
export type UnkeyedParameters = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The keys one resource's index entries contribute (duplicates removed), except those of the
 * `unkeyed` parameters (undefined: every parameter's, which is what a folder written before may
 * hold, and what a write removes).
 */
export function indexKeysOf(resourceType: string, id: string, index: IndexEntries | undefined, unkeyed?: ReadonlySet<string>): IndexKey[] {
  if (!index) return [];
  const seen = new Set<string>();
  const keys: IndexKey[] = [];
  const add = (key: IndexKey) => {
    const text = key.join('\u0001');
    if (seen.has(text)) return;
    seen.add(text);
    keys.push(key);
  };
  for (const [code, entries] of Object.entries(index)) {
    if (!Array.isArray(entries) || unkeyed?.has(code)) continue;
    for (const entry of entries as Array<Record<string, unknown>>) {
      if (!entry || typeof entry !== 'object') continue;
      if (typeof entry.r === 'string') add([resourceType, code, 'r', clip(entry.r), id]);
      if (typeof entry.v === 'string') add([resourceType, code, 'v', clip(entry.v), id]);
      if (typeof entry.c === 'string') {
        add([resourceType, code, 'c', clip(entry.c), id]);
        if (typeof entry.s === 'string') add([resourceType, code, 'sc', clip(entry.s), clip(entry.c), id]);
      } else if (typeof entry.s === 'string') add([resourceType, code, 'sc', clip(entry.s), '', id]);
      if (isNumber(entry.n)) add([resourceType, code, 'n', keyNumber(entry.n), id]);
      if (isNumber(entry.cn) && typeof entry.k === 'string') add([resourceType, code, 'cn', clip(entry.k), keyNumber(entry.cn), id]);
      // Dates are ISO instants kept as strings and compared as strings, exactly as the filter evaluation does.
      if (typeof entry.lo === 'string') add([resourceType, code, 'lo', clip(entry.lo), id]);
      if (typeof entry.hi === 'string') add([resourceType, code, 'hi', clip(entry.hi), id]);
      // A position's latitude (longitude in the entry only): a `near` box reads its latitude band, then judges the longitude.
      if (isNumber(entry.lat) && isNumber(entry.lon)) add([resourceType, code, 'lat', keyNumber(entry.lat), id]);
    }
  }
  return keys;
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/**
 * A number as keys hold it: -0 as 0. lmdb-js' ordered-binary writes -0 as something that sorts after
 * every number (among the strings: measured), so a key of -0 was outside every numeric range; the
 * filter evaluation compares -0 equal to 0. (Entries are stored as JSON, which writes -0 as 0.)
 */
function keyNumber(value: number): number {
  return value === 0 ? 0 : value;
}

/** Strings in keys: at most MAX_VALUE_CHARS characters, never a NUL (lmdb-js separates array elements with it). A lookup clips its text the same way. */
export function clip(text: string): string {
  const short = text.length > MAX_VALUE_CHARS ? text.slice(0, MAX_VALUE_CHARS) : text;
  return short.includes('\u0000') ? short.replace(/\u0000/g, ' ') : short;
}

/** A range of keys [start, end) to read. */
export interface KeyRange {
  start: IndexKey;
  end: IndexKey;
}

/** Every key starting with `prefix` (then an id, or more elements and an id). */
export function prefixRange(prefix: IndexKey): KeyRange {
  return { start: prefix, end: [...prefix, HIGHEST] };
}

/** Keys whose string element after `head` starts with `text` (a starts-with search). */
export function startsWithRange(head: IndexKey, text: string): KeyRange {
  return { start: [...head, clip(text)], end: [...head, `${clip(text)}${HIGHEST}`] };
}

/** A bound of a value range: its value and whether the value itself is excluded ($gt, $lt). */
export interface Bound {
  value: number | string;
  strict: boolean;
}

/**
 * Keys whose value element after `head` is within the bounds (a missing bound is open). A strict
 * bound excludes the keys of its value when the key holds that value whole (a number, or a string
 * shorter than MAX_VALUE_CHARS): the range is then exactly the values beyond it. A longer string is
 * compared clipped, and its range includes the clipped value (a superset).
 */
export function valueRange(head: IndexKey, lo: Bound | undefined, hi: Bound | undefined): KeyRange {
  const element = (bound: Bound) => (typeof bound.value === 'string' ? clip(bound.value) : keyNumber(bound.value));
  // Numbers sort before strings: an open numeric top ends at the first string; strings end below HIGHEST.
  // [...head, v] sorts before every [...head, v, id], and [...head, v, HIGHEST] after them.
  const start = lo === undefined ? head : lo.strict && heldWhole(lo.value) ? [...head, element(lo), HIGHEST] : [...head, element(lo)];
  const end = hi === undefined ? [...head, HIGHEST] : hi.strict && heldWhole(hi.value) ? [...head, element(hi)] : [...head, element(hi), HIGHEST];
  return { start, end };
}

/** True when a key holds this value exactly as the filter evaluation compares it (not clipped). */
export function heldWhole(value: number | string): boolean {
  return typeof value === 'number' ? Number.isFinite(value) : value.length < MAX_VALUE_CHARS && !value.includes('\u0000');
}
