/**
 * Parses FHIR search parameters (R4 search page) and compiles them into one
 * MongoDB filter document over the search document `{ id, lastUpdated, idx }`
 * that both stores evaluate. Client input only ever becomes *values* inside
 * operators this file chooses; a string never becomes an operator or an
 * unanchored regular expression.
 */
import { errors } from '../errors.js';
import { rangeOfDateString } from './date-range.js';
import { normaliseText } from './normalise-text.js';
import type { SearchParameter, SearchParameterRegistry } from './search-parameters.js';

export type Filter = Record<string, unknown>;

/** Result-shaping parameters: never turned into filters. */
export const CONTROL_PARAMETERS = new Set([
  '_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_contained', '_containedType', '_format', '_pretty', '_offset', '_cursor',
]);

export interface ParsedSearch {
  filter: Filter;
  /** The parameters that were used, as [name, value] pairs, for the self link. */
  used: Array<[string, string]>;
  /** Parameters ignored because unknown or unsupported (lenient handling). */
  ignored: string[];
  count?: number;
  offset: number;
  sort: Array<{ path: string; direction: 1 | -1 }>;
  total?: 'none' | 'estimate' | 'accurate';
  summary?: string;
  elements?: string[];
}

const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
type Prefix = (typeof PREFIXES)[number];

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Splits on commas not escaped by a backslash, then unescapes `\,` `\|` `\$` `\\`. */
export function splitOr(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[i + 1];
      i++;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Splits `system|code` on the first unescaped pipe. */
function splitPipe(value: string): [string, string] | undefined {
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '|') return [value.slice(0, i), value.slice(i + 1)];
  }
  return undefined;
}

function unescape(value: string): string {
  return value.replace(/\\([,|$\\])/g, '$1');
}

function splitPrefix(value: string): [Prefix, string] {
  const head = value.slice(0, 2);
  if ((PREFIXES as readonly string[]).includes(head) && value.length > 2 && /[0-9-]/.test(value[2])) return [head as Prefix, value.slice(2)];
  return ['eq', value];
}

function or(clauses: Filter[]): Filter {
  return clauses.length === 1 ? clauses[0] : { $or: clauses };
}

export class SearchCompiler {
  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly limits: { defaultCount: number; maxCount: number },
  ) {}

  /**
   * @param strict Prefer: handling=strict: unknown parameters are an error.
   */
  parse(resourceType: string | undefined, params: Array<[string, string]>, strict: boolean): ParsedSearch {
    const clauses: Filter[] = [];
    const used: Array<[string, string]> = [];
    const ignored: string[] = [];
    const result: ParsedSearch = { filter: {}, used, ignored, offset: 0, sort: [] };
    for (const [rawName, rawValue] of params) {
      const [name, modifier] = rawName.split(':', 2) as [string, string | undefined];
      if (CONTROL_PARAMETERS.has(name)) {
        this.parseControl(name, rawValue, result, resourceType);
        if (!['_format', '_pretty', '_cursor', '_offset'].includes(name)) used.push([rawName, rawValue]);
        continue;
      }
      const parameter = this.lookup(resourceType, name);
      if (!parameter || (parameter.type !== 'token' && parameter.type !== 'string' && parameter.type !== 'reference' && parameter.type !== 'date' && parameter.type !== 'uri' && parameter.type !== 'number' && parameter.type !== 'quantity')) {
        if (strict) throw errors.unknownParameter(rawName);
        ignored.push(rawName);
        continue;
      }
      clauses.push(this.compileParameter(parameter, name, modifier, rawValue, rawName));
      used.push([rawName, rawValue]);
    }
    result.filter = clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0] : { $and: clauses };
    return result;
  }

  private lookup(resourceType: string | undefined, code: string): SearchParameter | undefined {
    if (code === '_id') return { url: '', code, type: 'token' };
    if (code === '_lastUpdated') return { url: '', code, type: 'date' };
    if (!resourceType) return this.registry.get('Resource', code);
    return this.registry.get(resourceType, code);
  }

  private parseControl(name: string, value: string, result: ParsedSearch, resourceType: string | undefined): void {
    switch (name) {
      case '_count': {
        if (!/^\d+$/.test(value)) throw errors.invalidParameter('_count', `_count must be a non-negative integer, got '${value}'`);
        result.count = Math.min(Number(value), this.limits.maxCount);
        break;
      }
      case '_offset': {
        if (!/^\d+$/.test(value)) throw errors.invalidParameter('_offset', `_offset must be a non-negative integer`);
        result.offset = Number(value);
        break;
      }
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) throw errors.invalidParameter('_total', `_total must be none, estimate or accurate`);
        result.total = value as ParsedSearch['total'];
        break;
      case '_summary':
        if (!['true', 'false', 'text', 'data', 'count'].includes(value)) throw errors.invalidParameter('_summary', `_summary must be true, false, text, data or count`);
        result.summary = value;
        break;
      case '_elements':
        result.elements = value.split(',').map((e) => e.trim()).filter(Boolean);
        break;
      case '_sort':
        for (const key of value.split(',').map((k) => k.trim()).filter(Boolean)) {
          const direction = key.startsWith('-') ? -1 : 1;
          const code = key.replace(/^-/, '');
          if (code === '_id') result.sort.push({ path: 'id', direction });
          else if (code === '_lastUpdated') result.sort.push({ path: 'lastUpdated', direction });
          else {
            const parameter = this.lookup(resourceType, code);
            if (!parameter) throw errors.invalidParameter('_sort', `Unknown search parameter '${code}' in _sort`);
            const field = { string: 'v', token: 'c', reference: 'r', date: direction === 1 ? 'lo' : 'hi', number: 'n', quantity: 'n', uri: 'v' }[parameter.type as string];
            if (!field) throw errors.invalidParameter('_sort', `Cannot sort on '${code}' (type ${parameter.type})`);
            result.sort.push({ path: `idx.${code}.${field}`, direction });
          }
        }
        break;
      default:
        break; // _format, _pretty, _include...: handled by their own layers
    }
  }

  private compileParameter(parameter: SearchParameter, code: string, modifier: string | undefined, rawValue: string, rawName: string): Filter {
    const field = code === '_id' ? 'id' : code === '_lastUpdated' ? 'lastUpdated' : `idx.${code}`;
    if (modifier === 'missing') {
      if (rawValue !== 'true' && rawValue !== 'false') throw errors.invalidParameter(rawName, `:missing takes true or false`);
      return rawValue === 'true' ? { [field]: { $exists: false } } : { [field]: { $exists: true } };
    }
    const values = splitOr(rawValue);
    if (values.some((v) => v === '')) throw errors.invalidParameter(rawName, `Empty value in search parameter '${rawName}'`);
    if (modifier === 'not' && parameter.type === 'token') {
      // :not matches resources with no value equal to any of the given ones (missing included).
      return { $nor: values.map((v) => this.tokenClause(field, code, v, rawName)) };
    }
    const clauses = values.map((value) => {
      switch (parameter.type) {
        case 'token':
          if (modifier === 'text') return { [field]: { $elemMatch: { t: { $regex: `^${escapeRegex(normaliseText(unescape(value)))}` } } } };
          if (modifier === 'of-type') return this.ofTypeClause(field, value, rawName);
          if (modifier) throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on token parameters`);
          return this.tokenClause(field, code, value, rawName);
        case 'string':
          return this.stringClause(field, modifier, unescape(value), rawName);
        case 'reference':
          return this.referenceClause(field, modifier, unescape(value), rawName, parameter);
        case 'date':
          if (modifier) throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on date parameters`);
          return this.dateClause(field, code, value, rawName);
        case 'uri':
          return this.uriClause(field, modifier, unescape(value), rawName);
        case 'number':
        case 'quantity':
          if (modifier) throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on ${parameter.type} parameters`);
          return this.numberClause(field, value, rawName, parameter.type === 'quantity');
        default:
          throw errors.invalidParameter(rawName, `Unsupported parameter type ${parameter.type}`);
      }
    });
    return or(clauses);
  }

  private tokenClause(field: string, code: string, value: string, rawName: string): Filter {
    if (code === '_id') return { id: unescape(value) };
    const pipe = splitPipe(value);
    if (!pipe) return { [field]: { $elemMatch: { c: unescape(value) } } };
    const [system, tokenCode] = pipe.map(unescape);
    if (system === '' && tokenCode === '') throw errors.invalidParameter(rawName, `'|' alone is not a token`);
    if (system === '') return { [field]: { $elemMatch: { s: { $exists: false }, c: tokenCode } } };
    if (tokenCode === '') return { [field]: { $elemMatch: { s: system } } };
    return { [field]: { $elemMatch: { s: system, c: tokenCode } } };
  }

  private ofTypeClause(field: string, value: string, rawName: string): Filter {
    const parts = value.split('|').map(unescape);
    if (parts.length !== 3 || parts.some((p) => p === '')) throw errors.invalidParameter(rawName, `:of-type takes system|code|value`);
    return { [field]: { $elemMatch: { ts: parts[0], tc: parts[1], c: parts[2] } } };
  }

  private stringClause(field: string, modifier: string | undefined, value: string, rawName: string): Filter {
    if (modifier === 'exact') return { [field]: { $elemMatch: { e: value } } };
    const normalised = normaliseText(value);
    if (modifier === 'contains') return { [field]: { $elemMatch: { v: { $regex: escapeRegex(normalised) } } } };
    if (modifier) throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on string parameters`);
    // Starts-with on any word boundary of the normalised value would be wider than the spec: anchor at the start.
    return { [field]: { $elemMatch: { v: { $regex: `^${escapeRegex(normalised)}` } } } };
  }

  private referenceClause(field: string, modifier: string | undefined, value: string, rawName: string, parameter: SearchParameter): Filter {
    if (modifier === 'identifier') {
      const pipe = splitPipe(value);
      if (!pipe) return { [field]: { $elemMatch: { c: value } } };
      const [system, code] = pipe;
      return { [field]: { $elemMatch: { ...(system ? { s: system } : {}), ...(code ? { c: code } : {}) } } };
    }
    if (modifier && !/^[A-Z][A-Za-z]+$/.test(modifier)) throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on reference parameters`);
    if (/^https?:\/\//.test(value) || value.startsWith('urn:')) {
      const match = /\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
      const clauses: Filter[] = [{ [field]: { $elemMatch: { u: value } } }];
      if (match) clauses.push({ [field]: { $elemMatch: { r: `${match[1]}/${match[2]}` } } });
      return or(clauses);
    }
    const typed = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(value);
    if (typed) {
      if (modifier && modifier !== typed[1]) throw errors.invalidParameter(rawName, `Type modifier ':${modifier}' contradicts '${value}'`);
      return { [field]: { $elemMatch: { r: value } } };
    }
    if (!/^[A-Za-z0-9\-.]{1,64}$/.test(value)) throw errors.invalidParameter(rawName, `'${value}' is not a reference, a Type/id or an id`);
    if (modifier) return { [field]: { $elemMatch: { r: `${modifier}/${value}` } } };
    const targets = parameter.targets ?? [];
    if (targets.length === 1) return { [field]: { $elemMatch: { r: `${targets[0]}/${value}` } } };
    return { [field]: { $elemMatch: { i: value } } };
  }

  private dateClause(field: string, code: string, value: string, rawName: string): Filter {
    const [prefix, date] = splitPrefix(value);
    const range = rangeOfDateString(date);
    if (!range) throw errors.invalidParameter(rawName, `'${value}' is not a valid date search value`);
    const { lo: slo, hi: shi } = range;
    if (code === '_lastUpdated') {
      // lastUpdated is a single instant: its range is [t, t].
      const instant = (c: Filter) => ({ lastUpdated: c });
      switch (prefix) {
        case 'eq': return instant({ $gte: slo, $lte: shi });
        case 'ne': return { $or: [instant({ $lt: slo }), instant({ $gt: shi })] };
        case 'gt': case 'sa': return instant({ $gt: shi });
        case 'lt': case 'eb': return instant({ $lt: slo });
        case 'ge': return instant({ $gte: slo });
        case 'le': return instant({ $lte: shi });
        case 'ap': return instant(this.approximateRange(slo, shi));
      }
    }
    const match = (c: Filter) => ({ [field]: { $elemMatch: c } });
    switch (prefix) {
      case 'eq': return match({ lo: { $gte: slo }, hi: { $lte: shi } });
      case 'ne': return { $nor: [match({ lo: { $gte: slo }, hi: { $lte: shi } })], [field]: { $exists: true } };
      case 'gt': return match({ hi: { $gt: shi } });
      case 'lt': return match({ lo: { $lt: slo } });
      case 'ge': return { $or: [match({ hi: { $gt: shi } }), match({ lo: { $gte: slo }, hi: { $lte: shi } })] };
      case 'le': return { $or: [match({ lo: { $lt: slo } }), match({ lo: { $gte: slo }, hi: { $lte: shi } })] };
      case 'sa': return match({ lo: { $gt: shi } });
      case 'eb': return match({ hi: { $lt: slo } });
      case 'ap': {
        const r = this.approximateRange(slo, shi) as { $gte: string; $lte: string };
        return match({ lo: { $lte: r.$lte }, hi: { $gte: r.$gte } });
      }
    }
  }

  /** "ap": within 10% of the distance between the value and now (R4 search page). */
  private approximateRange(slo: string, shi: string): Filter {
    const now = Date.now();
    const lo = Date.parse(slo);
    const hi = Date.parse(shi);
    const margin = Math.max(Math.abs(now - lo), Math.abs(now - hi)) * 0.1;
    return { $gte: new Date(lo - margin).toISOString(), $lte: new Date(hi + margin).toISOString() };
  }

  private uriClause(field: string, modifier: string | undefined, value: string, rawName: string): Filter {
    if (!modifier) return { [field]: { $elemMatch: { v: value } } };
    if (modifier === 'below') return { [field]: { $elemMatch: { v: { $regex: `^${escapeRegex(value)}` } } } };
    if (modifier === 'above') {
      // Every prefix of the value ending at a path segment.
      const prefixes: string[] = [];
      const parts = value.split('/');
      for (let i = parts.length; i >= 3; i--) prefixes.push(parts.slice(0, i).join('/'));
      return { [field]: { $elemMatch: { v: { $in: prefixes } } } };
    }
    throw errors.invalidParameter(rawName, `Modifier ':${modifier}' is not supported on uri parameters`);
  }

  private numberClause(field: string, value: string, rawName: string, isQuantity: boolean): Filter {
    const [prefix, rest] = splitPrefix(value);
    let numberText = rest;
    const unitFilter: Filter = {};
    if (isQuantity) {
      const parts = rest.split('|');
      numberText = parts[0];
      if (parts.length === 3) {
        if (parts[1]) unitFilter.s = unescape(parts[1]);
        if (parts[2]) unitFilter.c = unescape(parts[2]);
      } else if (parts.length !== 1) throw errors.invalidParameter(rawName, `A quantity is number, number|system|code or number||code`);
    }
    if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(numberText)) throw errors.invalidParameter(rawName, `'${value}' is not a number`);
    const n = Number(numberText);
    const decimals = numberText.includes('.') ? numberText.split('.')[1].replace(/[eE].*/, '').length : 0;
    const half = 0.5 * 10 ** -decimals;
    const match = (c: Filter) => ({ [field]: { $elemMatch: { ...c, ...unitFilter } } });
    switch (prefix) {
      case 'eq': return match({ n: { $gte: n - half, $lt: n + half } });
      case 'ne': return { $nor: [match({ n: { $gte: n - half, $lt: n + half } })], [field]: { $exists: true } };
      case 'gt': case 'sa': return match({ n: { $gt: n } });
      case 'lt': case 'eb': return match({ n: { $lt: n } });
      case 'ge': return match({ n: { $gte: n } });
      case 'le': return match({ n: { $lte: n } });
      case 'ap': {
        const margin = Math.abs(n) * 0.1;
        return match({ n: { $gte: n - margin, $lte: n + margin } });
      }
    }
  }
}
