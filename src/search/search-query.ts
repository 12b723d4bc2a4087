/**
 * Parses FHIR search parameters (R4 search page) and compiles them into one
 * MongoDB filter document over the search document
 * `{ id, type, lastUpdated, idx }` that every store evaluates.
 *
 * Chains, reverse chains (`_has`) and `near` are resolved here as
 * sub-queries through the store port (`distinct`, `search`) that return ids
 * or references, turned into `$in` clauses: the store never needs joins
 * ($lookup), which FerretDB and mongo-java-server lack.
 *
 * Client input only ever becomes *values* inside operators chosen in this
 * file and in parameter-clauses.ts; a string never becomes an operator or an
 * unanchored, unescaped regular expression.
 */
import { errors } from '../errors.js';
import type { ResourceStore } from '../store/resource-store.js';
import { boundingBox, distanceMetres, parseNear } from './near.js';
import {
  dateCondition,
  numberCondition,
  ofTypeCondition,
  phoneticCondition,
  prefixCondition,
  quantityCondition,
  referenceCondition,
  stringCondition,
  tokenCondition,
  tokenTextCondition,
  uriCondition,
  type ClauseOptions,
  type EntryCondition,
  type Filter,
} from './parameter-clauses.js';
import type { SearchParameter, SearchParameterRegistry } from './search-parameters.js';
import { splitOr } from './search-values.js';
import { FULL_TEXT_PARAMETERS, fullTextCondition } from './full-text.js';
import { TERMINOLOGY_MODIFIERS, TerminologyModifiers } from './terminology-modifiers.js';
import type { TerminologyService } from '../validation/terminology.js';
import { SearchQueryCache, type SearchQueryCacheLimits } from './search-query-cache.js';

export type { Filter } from './parameter-clauses.js';
export { splitOr } from './search-values.js';

/** Result-shaping parameters: never turned into filters. */
export const CONTROL_PARAMETERS = new Set(['_count', '_sort', '_total', '_summary', '_elements', '_include', '_revinclude', '_format', '_pretty', '_cursor', '_offset']);

/** Parameters that are read by other layers and never reported as used or ignored. */
const TRANSPORT_PARAMETERS = new Set(['_format', '_pretty', '_cursor', '_offset']);

/** Most ids or references one chain, `_has` or `near` sub-query may produce before the search is refused as too costly. */
export const MAX_SUBQUERY_RESULTS = 200_000;

export interface IncludeSpec {
  /** The type whose references are followed (`*` = any). */
  sourceType: string;
  /** The reference parameter (`*` = every reference parameter of sourceType). */
  code: string;
  targetType?: string;
  iterate: boolean;
}

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
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Paging: the stored result set a next/previous link points into. */
  cursor?: string;
}

/** What the compiler needs from a store to resolve sub-queries (a narrow view of the port). */
export type SubQueryStore = Pick<ResourceStore, 'search' | 'distinct'>;

/**
 * What one parse carries, and whether its result is the text's alone (cacheable): it is not once the
 * parse asked the store (a sub-query), a terminology service or the clock (`ap`), whose answers may
 * differ next time. A class rather than closures made per parse: they showed in a profile of a
 * one-patient search (their creation, under tsx's keepNames, and their garbage).
 */
class ParseScope implements SubQueryStore, ClauseOptions {
  cacheable = true;
  private clock: number | undefined;

  constructor(
    readonly strict: boolean,
    private readonly subQueries: SubQueryStore,
    readonly ignored: string[],
    readonly baseUrl: string,
  ) {}

  get store(): SubQueryStore {
    return this;
  }

  get options(): ClauseOptions {
    return this;
  }

  get now(): number {
    this.cacheable = false;
    return (this.clock ??= Date.now());
  }

  search(query: Parameters<SubQueryStore['search']>[0]): ReturnType<SubQueryStore['search']> {
    this.cacheable = false;
    return this.subQueries.search(query);
  }

  distinct(query: Parameters<SubQueryStore['distinct']>[0], path: string): ReturnType<SubQueryStore['distinct']> {
    this.cacheable = false;
    return this.subQueries.distinct(query, path);
  }
}

type Scope = ParseScope;

/** Parameters with a value of their own that are not search criteria on the index. */
const RESOURCE_FIELDS: Record<string, { type: SearchParameter['type']; field: string }> = {
  _id: { type: 'token', field: 'id' },
  _lastUpdated: { type: 'date', field: 'lastUpdated' },
};

const SORT_FIELD: Partial<Record<SearchParameter['type'], string>> = { string: 'v', token: 'c', reference: 'r', number: 'n', quantity: 'n', uri: 'v' };

export class SearchCompiler {
  private readonly terminologyModifiers: TerminologyModifiers;
  private readonly parsed: SearchQueryCache;

  /**
   * @param terminology resolves the token modifiers :in, :not-in, :below and :above (without it they are refused).
   * @param indexed whether a type's parameter really gets index entries (IndexExtractor.indexedCodes): one that
   *   does not is reported as unsupported instead of matching nothing.
   */
  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly limits: { defaultCount: number; maxCount: number; baseUrl?: string; maxSortKeys?: number; maxIncludes?: number },
    terminology?: TerminologyService,
    private readonly indexed?: (resourceType: string, code: string) => boolean,
    cacheLimits?: SearchQueryCacheLimits,
  ) {
    this.terminologyModifiers = new TerminologyModifiers(terminology, (limits.baseUrl ?? '').replace(/\/$/, ''));
    this.parsed = new SearchQueryCache(() => registry.generation, cacheLimits);
  }

  /**
   * @param resourceTypes the types searched (one for a type search; several or all for a system search)
   * @param strict Prefer: handling=strict: unknown parameters are an error.
   * @param store resolves chains, `_has` and `near` (sub-queries returning ids).
   */
  async parse(resourceTypes: string[], params: Array<[string, string]>, strict: boolean, store: SubQueryStore): Promise<Readonly<ParsedSearch>> {
    const key = this.parsed.keyOf(resourceTypes, params, strict);
    const kept = key === undefined ? undefined : this.parsed.get(key);
    if (kept) return kept;
    const { result, cacheable } = await this.parseAfresh(resourceTypes, params, strict, store);
    if (key !== undefined && cacheable) this.parsed.set(key, result);
    return result;
  }

  private async parseAfresh(resourceTypes: string[], params: Array<[string, string]>, strict: boolean, store: SubQueryStore): Promise<{ result: ParsedSearch; cacheable: boolean }> {
    const clauses: Filter[] = [];
    const used: Array<[string, string]> = [];
    const ignored: string[] = [];
    const result: ParsedSearch = { filter: {}, used, ignored, offset: 0, sort: [], include: [], revinclude: [] };
    const scope = new ParseScope(strict, store, ignored, (this.limits.baseUrl ?? '').replace(/\/$/, ''));
    for (const [rawName, rawValue] of params) {
      const bare = rawName.split(':')[0];
      if (CONTROL_PARAMETERS.has(bare)) {
        const kept = this.parseControl(rawName, rawValue, result, resourceTypes, scope);
        if (kept && !TRANSPORT_PARAMETERS.has(bare)) used.push([rawName, rawValue]);
        continue;
      }
      const clause = await this.compileCriterion(scope, resourceTypes, rawName, rawValue);
      if (clause === undefined) continue;
      clauses.push(clause);
      used.push([rawName, rawValue]);
    }
    result.filter = clauses.length === 0 ? {} : clauses.length === 1 ? clauses[0] : { $and: clauses };
    return { result, cacheable: scope.cacheable };
  }

  /** The parameter `code` on every one of `types` (they must agree on its type), or undefined. */
  private lookup(types: string[], code: string): SearchParameter | undefined {
    const own = RESOURCE_FIELDS[code];
    if (own) return { url: '', code, type: own.type };
    const candidates = types.length === 0 ? [this.registry.get('Resource', code)] : types.map((t) => this.registry.get(t, code));
    const first = candidates[0];
    if (!first || candidates.some((c) => !c || c.type !== first.type)) return undefined;
    if (candidates.length > 1 && first.type === 'composite') return undefined;
    return first;
  }

  private unknown(scope: Scope, rawName: string, reason?: string): undefined {
    if (scope.strict) throw reason ? errors.notSupported(reason) : errors.unknownParameter(rawName);
    scope.ignored.push(rawName);
    return undefined;
  }

  /** One `name=value` criterion (possibly chained or reversed) → a filter, or undefined when ignored. */
  private async compileCriterion(scope: Scope, types: string[], rawName: string, rawValue: string): Promise<Filter | undefined> {
    if (rawName.startsWith('_has:')) return this.compileHas(scope, types, rawName, rawValue);
    const dot = rawName.indexOf('.');
    if (dot > 0) return this.compileChain(scope, types, rawName, rawName.slice(0, dot), rawName.slice(dot + 1), rawValue);
    const [code, modifier, extra] = rawName.split(':');
    if (extra !== undefined) throw errors.invalidParameter(rawName, `'${rawName}' has more than one modifier`);
    if (code === '_has') throw errors.invalidParameter(rawName, `_has takes the form _has:Type:reference:parameter`);
    const parameter = this.lookup(types, code);
    if (!parameter) return this.unknown(scope, rawName);
    // A parameter this server defines but cannot evaluate (no FHIRPath expression, like _query or _filter,
    // or one fhirpath.js cannot compile) is reported, never answered with a silently empty result.
    if (!this.isSearchable(types, parameter, code)) return this.unknown(scope, rawName, `Search parameter '${code}' is not supported by this server`);
    return this.compileParameter(scope, parameter, code, modifier, rawValue, rawName);
  }

  private isSearchable(types: string[], parameter: SearchParameter, code: string): boolean {
    if (RESOURCE_FIELDS[code] || FULL_TEXT_PARAMETERS.has(code) || code === 'near') return true;
    if (!parameter.expression || parameter.type === 'special') return false;
    return !this.indexed || types.every((t) => this.indexed!(t, code));
  }

  /** `_has:Type:reference:criterion=value` (nested _has allowed in the criterion). */
  private async compileHas(scope: Scope, types: string[], rawName: string, rawValue: string): Promise<Filter | undefined> {
    const match = /^_has:([A-Za-z]+):([A-Za-z0-9_-]+):(.+)$/.exec(rawName);
    if (!match) throw errors.invalidParameter(rawName, `_has takes the form _has:Type:reference:parameter`);
    const [, sourceType, referenceCode, inner] = match;
    if (!this.registry.isKnownType(sourceType)) throw errors.invalidParameter(rawName, `Unknown resource type '${sourceType}' in _has`);
    const reference = this.registry.get(sourceType, referenceCode);
    if (!reference || reference.type !== 'reference') return this.unknown(scope, rawName);
    const innerFilter = await this.compileCriterion(scope, [sourceType], inner, rawValue);
    if (innerFilter === undefined) return undefined;
    const references = (await scope.store.distinct({ resourceTypes: [sourceType], filter: innerFilter }, `idx.${referenceCode}.r`)) as string[];
    tooCostly(references.length, rawName);
    const ids: string[] = [];
    for (const ref of references) {
      const slash = ref.indexOf('/');
      const type = ref.slice(0, slash);
      if (types.length === 0 || types.includes(type)) ids.push(ref.slice(slash + 1));
    }
    return { id: { $in: [...new Set(ids)] } };
  }

  /** `ref[:Type].rest=value`: resolve `rest` on each target type, then match references to what it found. */
  private async compileChain(scope: Scope, types: string[], rawName: string, head: string, tail: string, rawValue: string): Promise<Filter | undefined> {
    const [code, typeModifier, extra] = head.split(':');
    if (extra !== undefined) throw errors.invalidParameter(rawName, `A chained parameter takes at most a type modifier`);
    const parameter = this.lookup(types, code);
    if (!parameter) return this.unknown(scope, rawName);
    if (parameter.type !== 'reference') throw errors.invalidParameter(rawName, `'${code}' is not a reference parameter and cannot be chained`);
    if (typeModifier && !this.registry.isKnownType(typeModifier)) throw errors.invalidParameter(rawName, `Unknown resource type '${typeModifier}' in chain`);
    const tailCode = tail.split('.')[0].split(':')[0];
    const targets = typeModifier ? [typeModifier] : (parameter.targets ?? this.registry.typesWith(tailCode)).filter((t) => tailCode.startsWith('_') || this.registry.get(t, tailCode));
    if (targets.length === 0) return this.unknown(scope, rawName);
    const references: string[] = [];
    for (const target of targets) {
      const innerFilter = await this.compileCriterion(scope, [target], tail, rawValue);
      if (innerFilter === undefined) return undefined;
      const ids = (await scope.store.distinct({ resourceTypes: [target], filter: innerFilter }, 'id')) as string[];
      for (const id of ids) references.push(`${target}/${id}`);
      tooCostly(references.length, rawName);
    }
    return { [`idx.${code}`]: { $elemMatch: { r: { $in: references } } } };
  }

  private async compileParameter(scope: Scope, parameter: SearchParameter, code: string, modifier: string | undefined, rawValue: string, rawName: string): Promise<Filter> {
    const resourceField = RESOURCE_FIELDS[code]?.field;
    const field = resourceField ?? `idx.${code}`;
    if (modifier === 'missing') {
      if (rawValue !== 'true' && rawValue !== 'false') throw errors.invalidParameter(rawName, `:missing takes true or false`);
      return { [field]: { $exists: rawValue === 'false' } };
    }
    const values = splitOr(rawValue);
    if (values.some((v) => v === '')) throw errors.invalidParameter(rawName, `Empty value in search parameter '${rawName}'`);
    if (code === 'near') {
      if (modifier) throw errors.notSupported(`Modifier ':${modifier}' is not supported on near`);
      return this.compileNear(scope, values, rawName);
    }
    if (FULL_TEXT_PARAMETERS.has(code)) {
      if (modifier) throw errors.notSupported(`Modifier ':${modifier}' is not supported on ${code}`);
      const conditions = values.map((v) => {
        const cond = fullTextCondition(v);
        if (!cond) throw errors.invalidParameter(rawName, `'${v}' has no letters or digits to search for`);
        return { [field]: { $elemMatch: cond } };
      });
      return conditions.length === 1 ? conditions[0] : { $or: conditions };
    }
    if (code === '_id') {
      if (modifier && modifier !== 'not') throw errors.notSupported(`Modifier ':${modifier}' is not supported on _id`);
      if (values.some((v) => /(^|[^\\])\|/.test(v))) throw errors.invalidParameter(rawName, `_id takes resource ids, not system|code tokens`);
    }
    if (parameter.type === 'token' && modifier !== undefined && TERMINOLOGY_MODIFIERS.has(modifier) && resourceField === undefined) {
      scope.cacheable = false; // a value set's expansion can change
      return this.terminologyModifiers.filter(field, modifier, values, rawName, scope.store);
    }
    if (parameter.type === 'token' && modifier === 'not') {
      // :not — "resources that do not have a matching item", those without the element included.
      const conditions = values.map((v) => tokenCondition(v, rawName));
      return { $nor: conditions.map((c) => this.wrap(field, resourceField !== undefined, c)) };
    }
    const conditions = values.map((value) => this.condition(parameter, modifier, value, rawName, scope.options));
    const clauses = conditions.map((c) => this.wrap(field, resourceField !== undefined, c));
    return clauses.length === 1 ? clauses[0] : { $or: clauses };
  }

  /** A condition on one entry → a filter on the document. */
  private wrap(field: string, isResourceField: boolean, condition: EntryCondition): Filter {
    const positive = isResourceField ? onScalar(field, condition.cond) : { [field]: { $elemMatch: condition.cond } };
    if (!condition.negate) return positive;
    // ne: the resource has a value, and none of its values meets the condition.
    return { $and: [{ [field]: { $exists: true } }, { $nor: [positive] }] };
  }

  private condition(parameter: SearchParameter, modifier: string | undefined, value: string, rawName: string, options: ClauseOptions): EntryCondition {
    const code = parameter.code;
    const noModifier = () => {
      if (modifier) throw errors.notSupported(`Modifier ':${modifier}' is not supported on ${parameter.type} parameter '${code}'`);
    };
    switch (parameter.type) {
      case 'token':
        if (modifier === 'text') return tokenTextCondition(value);
        if (modifier === 'of-type') return ofTypeCondition(value, rawName);
        noModifier();
        return tokenCondition(value, rawName);
      case 'string':
        return code === 'phonetic' ? phoneticCondition(value, modifier, rawName) : stringCondition(value, modifier, rawName);
      case 'reference':
        return referenceCondition(value, modifier, parameter, rawName, options);
      case 'date':
        noModifier();
        return dateCondition(value, rawName, options);
      case 'number':
        noModifier();
        return numberCondition(value, rawName);
      case 'quantity':
        noModifier();
        return quantityCondition(value, rawName);
      case 'uri':
        return uriCondition(value, modifier, rawName);
      case 'composite':
        noModifier();
        return this.compositeCondition(parameter, value, rawName, options);
      default:
        throw errors.notSupported(`Search parameter '${code}' (type ${parameter.type}) is not supported`);
    }
  }

  /** `code$value` (R4 search page, composite): each part against its component, in the same entry. */
  private compositeCondition(parameter: SearchParameter, value: string, rawName: string, options: ClauseOptions): EntryCondition {
    const parts = splitUnescaped(value, '$');
    const components = parameter.component ?? [];
    if (parts.length !== components.length) throw errors.invalidParameter(rawName, `'${parameter.code}' takes ${components.length} values separated by '$'`);
    const cond: Filter = {};
    const all: Filter[] = [];
    components.forEach((component, index) => {
      const componentParameter = this.registry.byCanonical(component.definition);
      if (!componentParameter) throw errors.notSupported(`Composite '${parameter.code}' has an unknown component`);
      const part = this.condition(componentParameter, undefined, parts[index], rawName, options);
      if (part.negate) throw errors.invalidParameter(rawName, `The 'ne' prefix is not supported inside a composite value`);
      all.push(prefixCondition(part.cond, `k${index}`));
    });
    // Plain field conditions merge into one entry condition; ones with their own $or/$and are ANDed.
    const combined: Filter[] = [];
    for (const c of all) {
      if (Object.keys(c).some((k) => k.startsWith('$'))) combined.push(c);
      else Object.assign(cond, c);
    }
    return { cond: combined.length > 0 ? { ...cond, $and: combined } : cond };
  }

  /** near: bounding box on the index (any store), then exact great-circle distance on the candidates. */
  private async compileNear(scope: Scope, values: string[], rawName: string): Promise<Filter> {
    const ids = new Set<string>();
    for (const value of values) {
      const near = parseNear(value, rawName);
      const box = boundingBox(near);
      const lonRanges = box.lonMin < -180
        ? [[box.lonMin + 360, 180], [-180, box.lonMax]]
        : box.lonMax > 180
          ? [[box.lonMin, 180], [-180, box.lonMax - 360]]
          : [[box.lonMin, box.lonMax]];
      const filter = {
        $or: lonRanges.map(([lo, hi]) => ({ 'idx.near': { $elemMatch: { lat: { $gte: box.latMin, $lte: box.latMax }, lon: { $gte: lo, $lte: hi } } } })),
      };
      const { versions } = await scope.store.search({ resourceTypes: ['Location'], filter, offset: 0, count: MAX_SUBQUERY_RESULTS + 1, withTotal: false });
      tooCostly(versions.length, rawName);
      for (const version of versions) {
        const position = (version.resource as { position?: { latitude?: number; longitude?: number } } | undefined)?.position;
        if (typeof position?.latitude !== 'number' || typeof position.longitude !== 'number') continue;
        if (distanceMetres(near, { lat: position.latitude, lon: position.longitude }) <= near.metres) ids.add(version.id);
      }
    }
    return { id: { $in: [...ids] } };
  }

  /** @returns whether the parameter is reported in the self link. */
  private parseControl(rawName: string, value: string, result: ParsedSearch, resourceTypes: string[], scope: Scope): boolean {
    const [name, modifier] = rawName.split(':');
    if (modifier && name !== '_include' && name !== '_revinclude') throw errors.invalidParameter(rawName, `${name} takes no modifier`);
    switch (name) {
      case '_count': {
        if (!/^\d{1,9}$/.test(value)) throw errors.invalidParameter('_count', `_count must be a non-negative integer, got '${value}'`);
        result.count = Math.min(Number(value), this.limits.maxCount);
        return true;
      }
      case '_offset': {
        if (!/^\d{1,9}$/.test(value)) throw errors.invalidParameter('_offset', `_offset must be a non-negative integer`);
        result.offset = Number(value);
        return true;
      }
      case '_cursor':
        if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw errors.invalidParameter('_cursor', `'_cursor' is not a paging cursor of this server`);
        result.cursor = value;
        return true;
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) throw errors.invalidParameter('_total', `_total must be none, estimate or accurate`);
        result.total = value as ParsedSearch['total'];
        return true;
      case '_summary':
        if (!['true', 'false', 'text', 'data', 'count'].includes(value)) throw errors.invalidParameter('_summary', `_summary must be true, false, text, data or count`);
        result.summary = value;
        return true;
      case '_elements':
        result.elements = value.split(',').map((e) => e.trim()).filter(Boolean);
        if (result.elements.some((e) => !/^[A-Za-z][A-Za-z0-9.]*$/.test(e))) throw errors.invalidParameter('_elements', `_elements takes element names separated by commas`);
        return true;
      case '_sort':
        this.parseSort(value, result, resourceTypes);
        return true;
      case '_include':
      case '_revinclude':
        return this.parseInclude(name, modifier, value, result, scope, rawName);
      default:
        return false; // _format, _pretty: handled by the HTTP layer
    }
  }

  private parseSort(value: string, result: ParsedSearch, resourceTypes: string[]): void {
    const keys = value.split(',').map((k) => k.trim());
    // Each key adds a comparison to every sort step: unbounded, 500 keys blocked the event loop for 45 s (issue 18).
    const maxKeys = this.limits.maxSortKeys ?? 5;
    if (result.sort.length + keys.length > maxKeys) throw errors.overLimit(`_sort takes at most ${maxKeys} keys (LIMIT_SORT_KEYS)`, ['_sort']);
    for (const key of keys) {
      if (!key) throw errors.invalidParameter('_sort', `Empty key in _sort`);
      const direction = key.startsWith('-') ? -1 : 1;
      const code = key.replace(/^-/, '');
      if (code === '_id') result.sort.push({ path: 'id', direction });
      else if (code === '_lastUpdated') result.sort.push({ path: 'lastUpdated', direction });
      else {
        const parameter = this.lookup(resourceTypes, code);
        if (!parameter) throw errors.invalidParameter('_sort', `Unknown search parameter '${code}' in _sort`);
        // A date range sorts by its start ascending and by its end descending (MongoDB's min/max of arrays).
        const field = parameter.type === 'date' ? (direction === 1 ? 'lo' : 'hi') : SORT_FIELD[parameter.type];
        if (!field) throw errors.invalidParameter('_sort', `Cannot sort on '${code}' (type ${parameter.type})`);
        result.sort.push({ path: `idx.${code}.${field}`, direction });
      }
    }
  }

  /** `_include=Source:param[:Target]`, `_include=*`, `_include=Source:*`, with `:iterate`. */
  private parseInclude(name: '_include' | '_revinclude', modifier: string | undefined, value: string, result: ParsedSearch, scope: Scope, rawName: string): boolean {
    if (modifier && modifier !== 'iterate' && modifier !== 'recurse') throw errors.invalidParameter(rawName, `${name} takes only the :iterate modifier`);
    const iterate = modifier !== undefined;
    const list = name === '_include' ? result.include : result.revinclude;
    // Each spec is a store query per round: bound how many one search may ask for.
    const maxIncludes = this.limits.maxIncludes ?? 20;
    if (result.include.length + result.revinclude.length + value.split(',').length > maxIncludes) {
      throw errors.overLimit(`a search takes at most ${maxIncludes} _include and _revinclude targets in all (LIMIT_INCLUDES)`, [rawName]);
    }
    for (const item of value.split(',')) {
      if (item === '*') {
        list.push({ sourceType: '*', code: '*', iterate });
        continue;
      }
      const [sourceType, code, targetType, extra] = item.split(':');
      if (!sourceType || !code || extra !== undefined || !this.registry.isKnownType(sourceType) || (targetType !== undefined && !this.registry.isKnownType(targetType))) {
        throw errors.invalidParameter(rawName, `${name} takes SourceType:parameter[:TargetType] or *, not '${item}'`);
      }
      if (code !== '*') {
        const parameter = this.registry.get(sourceType, code);
        if (!parameter || parameter.type !== 'reference') {
          this.unknown(scope, `${rawName}=${item}`);
          return false;
        }
      }
      list.push({ sourceType, code, ...(targetType ? { targetType } : {}), iterate });
    }
    return true;
  }
}

function tooCostly(count: number, rawName: string): void {
  if (count > MAX_SUBQUERY_RESULTS) {
    throw errors.searchTooCostly(`'${rawName}' matches more than ${MAX_SUBQUERY_RESULTS} resources; add criteria to narrow it`);
  }
}

/** An entry condition written on `lo`/`hi`/`c` applied to a scalar top-level field (id, lastUpdated). */
function onScalar(field: string, cond: Filter): Filter {
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(cond)) {
    if (key === '$or' || key === '$and') parts.push({ [key]: (value as Filter[]).map((c) => onScalar(field, c)) });
    else parts.push({ [field]: value }); // c (an id), lo and hi (an instant is its own range)
  }
  return parts.length === 1 ? parts[0] : { $and: parts };
}

function splitUnescaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === separator) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}
