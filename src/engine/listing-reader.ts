/**
 * What a composed listing reads through (EngineSession.listing): reads that
 * are not one search — a bulk export's scan of a type as of its transaction
 * time, $everything's compartment plus the resources it references — made of
 * the store's own queries, over the store view the access guard gives the
 * caller. Every query through it is restricted to what the caller may see
 * (matches, counts, distinct values, sub-queries of chains and `_has`, scans),
 * and the whole listing is audited once, naming the patients it returned.
 * Nothing here reads outside that view: there is no read by id.
 */
import type { ParsedSearch } from '../search/search-query.js';
import type { DistinctQuery, MatchRef, ResultSetSlice, ScanQuery, StoredVersion, StoreQuery, StoreQueryResult } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import { assertKnownType } from './resource-checks.js';
import { loadResultSet, saveResultSet } from './search-result-sets.js';

export interface ListingReader {
  /** Absolute base URL of the FHIR endpoint (fullUrls, links). */
  readonly baseUrl: string;
  /**
   * Search criteria over these types as a store filter (chains and `_has`
   * resolved within the caller's view); a malformed or unknown parameter is the
   * 400 a search would answer (`strict`: unknown parameters too).
   */
  compile(resourceTypes: readonly string[], params: Array<[string, string]>, strict: boolean): Promise<ParsedSearch>;
  search(query: StoreQuery): Promise<StoreQueryResult>;
  distinct(query: DistinctQuery, path: string): Promise<unknown[]>;
  scan(query: ScanQuery): AsyncIterable<StoredVersion>;
  /** Keeps ordered matches under a new cursor usable by this caller only (paging, see search-result-sets.ts). */
  saveResultSet(refs: readonly MatchRef[]): Promise<string>;
  loadResultSet(cursor: string, offset: number, count: number): Promise<ResultSetSlice | undefined>;
}

export function listingReader(ctx: EngineContext): ListingReader {
  const { store } = ctx;
  return {
    baseUrl: ctx.baseUrl,
    compile: (resourceTypes, params, strict) => {
      for (const type of resourceTypes) assertKnownType(ctx, type);
      return ctx.compiler.parse([...resourceTypes], params, strict, store);
    },
    search: (query) => store.search(query),
    distinct: (query, path) => store.distinct(query, path),
    scan: (query) => store.scan(query),
    saveResultSet: (refs) => saveResultSet(store, refs),
    loadResultSet: (cursor, offset, count) => loadResultSet(store, cursor, offset, count),
  };
}
