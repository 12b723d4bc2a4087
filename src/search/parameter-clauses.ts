/**
 * One search value of one parameter type → the condition an index entry must
 * meet (the inside of an `$elemMatch`), following the R4 search page's
 * matching rules for each type, modifier and prefix. Client text only ever
 * ends up as a *value* (an equality operand, a range bound, or a regex that
 * was escaped first); the operators are chosen here.
 *
 * Entry shapes are documented in index-extractor.ts.
 */
import { errors } from '../errors.js';
import { dateFromQuery, rangeOfDateString } from './date-range.js';
import { normaliseText } from './normalise-text.js';
import { phoneticQueryKey } from './phonetic.js';
import { DECIMAL, escapeRegex, implicitHalfWidth, splitPipes, splitPrefix, unescapeValue, type Prefix } from './search-values.js';
import type { SearchParameter } from './search-parameters.js';
import { toCanonical, UCUM_SYSTEM } from './ucum.js';

export type Filter = Record<string, unknown>;

/**
 * What one value asks of the entries: `cond` must hold for one entry; with
 * `negate`, the resource must have the element but no entry meeting `cond`.
 */
export interface EntryCondition {
  cond: Filter;
  negate?: boolean;
}

export interface ClauseOptions {
  /** This server's base URL (absolute references under it are local). */
  baseUrl: string;
  /** The instant "ap" on dates is relative to (the R4 page: 10% of the gap to now). */
  now: number;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const TYPE_NAME = /^[A-Z][A-Za-z]+$/;

export function tokenCondition(value: string, rawName: string): EntryCondition {
  const parts = splitPipes(value);
  if (parts.length > 2) throw errors.invalidParameter(rawName, `A token is code, system|code, |code or system|, not '${value}'`);
  if (parts.length === 1) return { cond: { c: unescapeValue(value) } };
  const [system, code] = parts.map(unescapeValue);
  if (system === '' && code === '') throw errors.invalidParameter(rawName, `'|' alone is not a token`);
  if (system === '') return { cond: { s: { $exists: false }, c: code } };
  if (code === '') return { cond: { s: system } };
  return { cond: { s: system, c: code } };
}

export function tokenTextCondition(value: string): EntryCondition {
  return { cond: { t: { $regex: `^${escapeRegex(normaliseText(unescapeValue(value)))}` } } };
}

/** `identifier:of-type=system|code|value` (type coding system and code, then the identifier value). */
export function ofTypeCondition(value: string, rawName: string): EntryCondition {
  const parts = splitPipes(value).map(unescapeValue);
  if (parts.length !== 3 || parts.some((p) => p === '')) throw errors.invalidParameter(rawName, `:of-type takes system|code|value`);
  return { cond: { ts: parts[0], tc: parts[1], c: parts[2] } };
}

export function stringCondition(value: string, modifier: string | undefined, rawName: string): EntryCondition {
  const text = unescapeValue(value);
  if (modifier === 'exact') return { cond: { e: text } };
  const normalised = normaliseText(text);
  if (normalised === '') throw errors.invalidParameter(rawName, `'${value}' has no letters or digits to search for`);
  // :contains is a literal substring test: the escaped text cannot express anything but itself.
  if (modifier === 'contains') return { cond: { v: { $regex: escapeRegex(normalised) } } };
  if (modifier) throw errors.notSupported(`Modifier ':${modifier}' is not supported on string parameter '${rawName.split(':')[0]}'`);
  return { cond: { v: { $regex: `^${escapeRegex(normalised)}` } } };
}

/** `phonetic`: the FONEM key of the searched name (see phonetic.ts) equals a key of the resource's names. */
export function phoneticCondition(value: string, modifier: string | undefined, rawName: string): EntryCondition {
  if (modifier) throw errors.notSupported(`Modifier ':${modifier}' is not supported on the phonetic parameter`);
  const key = phoneticQueryKey(unescapeValue(value));
  if (key === '') throw errors.invalidParameter(rawName, `'${value}' has no letters to compare by sound`);
  return { cond: { v: key } };
}

export function uriCondition(value: string, modifier: string | undefined, rawName: string): EntryCondition {
  const uri = unescapeValue(value);
  if (!modifier) return { cond: { v: uri } };
  if (modifier === 'below') return { cond: { v: { $regex: `^${escapeRegex(uri)}` } } };
  if (modifier === 'above') {
    // Every ancestor of the value along '/' segments, the value itself included.
    const prefixes: string[] = [];
    const parts = uri.split('/');
    for (let i = parts.length; i >= 1; i--) {
      const prefix = parts.slice(0, i).join('/');
      if (prefix && !/^[a-z]+:\/?$/i.test(prefix)) prefixes.push(prefix);
    }
    return { cond: { v: { $in: prefixes } } };
  }
  throw errors.notSupported(`Modifier ':${modifier}' is not supported on uri parameter '${rawName.split(':')[0]}'`);
}

export function referenceCondition(
  value: string,
  modifier: string | undefined,
  parameter: SearchParameter,
  rawName: string,
  options: ClauseOptions,
): EntryCondition {
  const text = unescapeValue(value);
  if (modifier === 'identifier') {
    const parts = splitPipes(value).map(unescapeValue);
    if (parts.length === 1) return { cond: { c: parts[0] } };
    if (parts.length !== 2 || (parts[0] === '' && parts[1] === '')) throw errors.invalidParameter(rawName, `:identifier takes system|value or value`);
    const [system, code] = parts;
    if (system === '') return { cond: { s: { $exists: false }, c: code } };
    return { cond: { s: system, ...(code ? { c: code } : {}) } };
  }
  if (modifier && !TYPE_NAME.test(modifier)) throw errors.notSupported(`Modifier ':${modifier}' is not supported on reference parameter '${parameter.code}'`);
  if (modifier && parameter.targets && parameter.targets.length > 0 && !parameter.targets.includes(modifier)) {
    throw errors.invalidParameter(rawName, `'${parameter.code}' cannot refer to a ${modifier}`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(text)) {
    const own = `${options.baseUrl}/`;
    if (text.startsWith(own)) {
      const local = text.slice(own.length).replace(/\/_history\/.*$/, '');
      const typed = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(local);
      if (!typed) throw errors.invalidParameter(rawName, `'${text}' is not a resource URL of this server`);
      return { cond: { r: local } };
    }
    // Another server's resource, or a canonical URL (optionally |version).
    return { cond: { u: text.split('|')[0] } };
  }
  const typed = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(text);
  if (typed) {
    if (modifier && modifier !== typed[1]) throw errors.invalidParameter(rawName, `Type modifier ':${modifier}' contradicts '${text}'`);
    return { cond: { r: text } };
  }
  if (!FHIR_ID.test(text)) throw errors.invalidParameter(rawName, `'${text}' is not a reference, a Type/id or an id`);
  if (modifier) return { cond: { r: `${modifier}/${text}` } };
  const targets = parameter.targets ?? [];
  if (targets.length === 1) return { cond: { r: `${targets[0]}/${text}` } };
  return { cond: { i: text } };
}

/** Date prefixes over the entry's range [lo, hi] against the value's range [slo, shi] (R4 search page, date). */
export function dateCondition(value: string, rawName: string, options: ClauseOptions): EntryCondition {
  const [prefix, date] = splitPrefix(value);
  const range = rangeOfDateString(dateFromQuery(date));
  if (!range) throw errors.invalidParameter(rawName, `'${value}' is not a valid date search value (prefix then YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)`);
  const { lo: slo, hi: shi } = range;
  const within = { lo: { $gte: slo }, hi: { $lte: shi } };
  switch (prefix) {
    case 'eq':
      return { cond: within };
    case 'ne':
      return { cond: within, negate: true };
    case 'gt':
      return { cond: { hi: { $gt: shi } } };
    case 'lt':
      return { cond: { lo: { $lt: slo } } };
    case 'ge':
      return { cond: { $or: [{ hi: { $gt: shi } }, within] } };
    case 'le':
      // Both branches imply lo <= shi: stated on its own, it gives an index (type, lo, hi) a bound.
      return { cond: { lo: { $lte: shi }, $or: [{ lo: { $lt: slo } }, within] } };
    case 'sa':
      return { cond: { lo: { $gt: shi } } };
    case 'eb':
      return { cond: { hi: { $lt: slo } } };
    case 'ap': {
      const lo = Date.parse(slo);
      const hi = Date.parse(shi);
      const margin = Math.max(Math.abs(options.now - lo), Math.abs(options.now - hi)) * 0.1;
      return { cond: { lo: { $lte: new Date(hi + margin).toISOString() }, hi: { $gte: new Date(lo - margin).toISOString() } } };
    }
  }
}

/** Conditions on a numeric field `n` (with implicit precision for eq/ne) — shared by number and quantity. */
function numericCondition(prefix: Prefix, numberText: string, field: { n: string }, scale?: (x: number) => number): EntryCondition {
  const n = Number(numberText);
  const half = implicitHalfWidth(numberText);
  const conv = scale ?? ((x: number) => x);
  const lo = Math.min(conv(n - half), conv(n + half));
  const hi = Math.max(conv(n - half), conv(n + half));
  const value = conv(n);
  switch (prefix) {
    case 'eq':
      return { cond: { [field.n]: { $gte: lo, $lt: hi } } };
    case 'ne':
      return { cond: { [field.n]: { $gte: lo, $lt: hi } }, negate: true };
    case 'gt':
    case 'sa':
      return { cond: { [field.n]: { $gt: value } } };
    case 'lt':
    case 'eb':
      return { cond: { [field.n]: { $lt: value } } };
    case 'ge':
      return { cond: { [field.n]: { $gte: value } } };
    case 'le':
      return { cond: { [field.n]: { $lte: value } } };
    case 'ap': {
      // "ap": within 10% of the value (R4 search page, number), never narrower than the implicit precision.
      const margin = Math.max(Math.abs(value) * 0.1, (hi - lo) / 2);
      return { cond: { [field.n]: { $gte: value - margin, $lte: value + margin } } };
    }
  }
}

export function numberCondition(value: string, rawName: string): EntryCondition {
  const [prefix, text] = splitPrefix(value);
  if (!DECIMAL.test(text)) throw errors.invalidParameter(rawName, `'${value}' is not a number (optionally prefixed by eq, ne, gt, lt, ge, le, sa, eb or ap)`);
  return numericCondition(prefix, text, { n: 'n' });
}

/**
 * `[prefix]number|system|code`, `number||code` or `number`. With a UCUM unit,
 * the comparison happens on canonical values (5.4|…|mg finds 5400 ug), so
 * commensurable quantities written in other units match.
 */
export function quantityCondition(value: string, rawName: string): EntryCondition {
  const [prefix, rest] = splitPrefix(value);
  const parts = splitPipes(rest);
  if (parts.length !== 1 && parts.length !== 3) throw errors.invalidParameter(rawName, `A quantity is [prefix]number, number|system|code or number||code`);
  const text = parts[0];
  if (!DECIMAL.test(text)) throw errors.invalidParameter(rawName, `'${value}' does not start with a number`);
  if (parts.length === 1) return numericCondition(prefix, text, { n: 'n' });
  const system = unescapeValue(parts[1]);
  const code = unescapeValue(parts[2]);
  if (system === UCUM_SYSTEM && code) {
    const unit = toCanonical(1, code);
    if (unit) {
      const canonical = numericCondition(prefix, text, { n: 'cn' }, (x) => toCanonical(x, code)!.value);
      return { cond: { k: unit.key, ...canonical.cond }, ...(canonical.negate ? { negate: true } : {}) };
    }
  }
  const numeric = numericCondition(prefix, text, { n: 'n' });
  const unitCond: Filter = system ? { s: system, ...(code ? { c: code } : {}) } : code ? { $or: [{ c: code }, { u: code }] } : {};
  const cond = '$or' in unitCond ? { $and: [unitCond, numeric.cond] } : { ...unitCond, ...numeric.cond };
  return { cond, ...(numeric.negate ? { negate: true } : {}) };
}

/** Prefixes every field of a condition (through $and/$or) with `k<i>.` for a composite component. */
export function prefixCondition(cond: Filter, prefix: string): Filter {
  const result: Filter = {};
  for (const [key, value] of Object.entries(cond)) {
    if (key === '$or' || key === '$and') result[key] = (value as Filter[]).map((c) => prefixCondition(c, prefix));
    else result[`${prefix}.${key}`] = value;
  }
  return result;
}
