/**
 * Search criteria (R4 Subscription.criteria, a topic's query criteria, a
 * Backport filter) turned into a test of ONE resource version: the search
 * compiler compiles them once into the same filter document a search runs
 * (src/search), and mingo evaluates it over the version's own search document
 * `{ id, type, lastUpdated, idx }` — the index entries the write computed
 * anyway. So "matches the criteria" means exactly what a search with those
 * criteria would return, with no extra query per write.
 *
 * Criteria that need other resources (chains, `_has`, `near`: the compiler
 * resolves them with sub-queries against the store) are refused, as are the
 * result-shaping parameters (`_sort`, `_include`…), which mean nothing here.
 *
 * The index keys say which values a matching resource MUST carry (an exact
 * reference or token of one AND-ed parameter): the registry files the
 * subscription under them, so a write is compared only with the
 * subscriptions its own values could satisfy.
 */
import { Query } from 'mingo';
import type { IndexEntries } from '../store/resource-store.js';
import { FhirError } from '../errors.js';
import { CONTROL_PARAMETERS, type SearchCompiler, type SubQueryStore } from '../search/search-query.js';
import type { SearchParameterRegistry } from '../search/search-parameters.js';

export interface SearchDocument {
  id: string;
  type: string;
  lastUpdated: string;
  idx: IndexEntries;
}

export interface CompiledCriteria {
  resourceType: string;
  params: Array<[string, string]>;
  test(doc: SearchDocument): boolean;
  /** One parameter whose values a match must carry, as index keys (see indexKeysOf); undefined: none usable. */
  key?: { param: string; values: string[] };
}

/** Why criteria cannot be used (the caller names the element). */
export class CriteriaRefused extends Error {}

const NO_SUBQUERIES: SubQueryStore = {
  search: () => Promise.reject(new CriteriaRefused('chains, _has and near need other resources: they cannot be used to match one write')),
  distinct: () => Promise.reject(new CriteriaRefused('chains, _has and near need other resources: they cannot be used to match one write')),
};

/** Parses `Type?a=1&b=2` (R4 Subscription.criteria): the type and the parameters. */
export function splitCriteria(criteria: string): { resourceType: string; params: Array<[string, string]> } {
  const question = criteria.indexOf('?');
  const resourceType = question < 0 ? criteria : criteria.slice(0, question);
  const query = question < 0 ? '' : criteria.slice(question + 1);
  if (!/^[A-Z][A-Za-z]{1,63}$/.test(resourceType)) throw new CriteriaRefused(`'${resourceType}' is not a resource type (expected Type?param=value…)`);
  return { resourceType, params: [...new URLSearchParams(query)] };
}

/**
 * The index keys of a reference or token value as a subscription names it
 * (`Patient/123`, `system|code`, `code`), and as a resource's entries carry it:
 * both sides must produce the same string for the same value.
 */
function keysOfValue(type: string, value: string, baseUrl: string): string[] {
  if (type === 'reference') {
    const local = value.startsWith(`${baseUrl}/`) ? value.slice(baseUrl.length + 1) : value;
    return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(local) ? [`r:${local}`] : [];
  }
  if (type === 'token') {
    const bar = value.indexOf('|');
    if (bar < 0) return value ? [`c:${value}`] : [];
    const system = value.slice(0, bar);
    const code = value.slice(bar + 1);
    return code ? [system ? `sc:${system}|${code}` : `c:${code}`] : [];
  }
  return [];
}

/** The keys a resource's entries offer for one parameter (matched against keysOfValue). */
export function indexKeysOf(entries: unknown[] | undefined): string[] {
  const keys: string[] = [];
  for (const entry of entries ?? []) {
    if (!entry || typeof entry !== 'object') continue;
    const e = entry as { r?: string; s?: string; c?: string };
    if (typeof e.r === 'string') keys.push(`r:${e.r}`);
    if (typeof e.c === 'string') {
      keys.push(`c:${e.c}`);
      if (typeof e.s === 'string') keys.push(`sc:${e.s}|${e.c}`);
    }
  }
  return keys;
}

export class CriteriaCompiler {
  constructor(
    private readonly compiler: SearchCompiler,
    private readonly registry: SearchParameterRegistry,
    private readonly baseUrl: string,
  ) {}

  /** Compiles criteria on `resourceType`; throws CriteriaRefused with a reason a client can act on. */
  async compile(resourceType: string, params: Array<[string, string]>): Promise<CompiledCriteria> {
    for (const [name] of params) {
      const bare = name.split(':')[0];
      if (CONTROL_PARAMETERS.has(bare)) throw new CriteriaRefused(`'${name}' shapes search results; it cannot select notifications`);
      if (bare.includes('.') || bare === '_has' || bare.startsWith('_has')) throw new CriteriaRefused(`'${name}' needs other resources (chain or _has): it cannot be used to match one write`);
    }
    let filter: Record<string, unknown>;
    try {
      filter = (await this.compiler.parse([resourceType], params, true, NO_SUBQUERIES)).filter;
    } catch (error) {
      if (error instanceof CriteriaRefused) throw error;
      if (error instanceof FhirError) throw new CriteriaRefused(error.message);
      throw error;
    }
    const query = new Query(filter);
    return { resourceType, params, test: (doc) => query.test(doc as unknown as Record<string, unknown>), ...this.keyOf(resourceType, params) };
  }

  /** The most selective exact parameter: a reference first (a patient, a recipient), else a token. */
  private keyOf(resourceType: string, params: Array<[string, string]>): { key?: CompiledCriteria['key'] } {
    let best: CompiledCriteria['key'];
    let bestRank = 0;
    for (const [name, value] of params) {
      if (name.includes(':')) continue; // modifiers change what a value means
      const parameter = this.registry.get(resourceType, name);
      if (!parameter || (parameter.type !== 'reference' && parameter.type !== 'token')) continue;
      const values = value.split(',').map((v) => keysOfValue(parameter.type, v, this.baseUrl));
      if (values.some((k) => k.length === 0)) continue; // one OR-value without a key: the parameter cannot be required
      const rank = parameter.type === 'reference' ? 2 : 1;
      if (rank > bestRank) {
        best = { param: name, values: values.flat() };
        bestRank = rank;
      }
    }
    return best ? { key: best } : {};
  }
}
