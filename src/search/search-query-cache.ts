/**
 * Parsed searches kept by their text, so that a search repeated word for word (the same practitioner
 * looked up by RPPS, the same code list) is not parsed and compiled again: a parse costs 5 µs of CPU
 * for one identifier and 11 µs for one patient's weights (patient, code, _sort), a kept one 0.8 µs
 * (measured on the parse alone, under tsx; README, "Lookups, fifth pass").
 *
 * Only what depends on the text and the search parameters alone is kept: a parse that asked the
 * store anything (chains, `_has`, `near`), resolved a terminology modifier or read the clock (`ap`
 * on dates) is not (SearchCompiler tells, `cacheable`). The text is the client's, so the cache is
 * bounded in entries and in characters (lru-cache's `maxSize`; a text longer than a page of query
 * string is never kept), and everything kept is frozen, so that no reader can change what the next
 * search receives. It forgets everything when the registry's parameters change (`generation`).
 */
import { LRUCache } from 'lru-cache';
import type { ParsedSearch } from './search-query.js';

export interface SearchQueryCacheLimits {
  /** Most parsed searches kept. */
  entries: number;
  /** Most characters of search text kept in all (each entry is counted at four times its text: its filter's size follows the text). */
  chars: number;
  /** Longest search text kept. */
  longestText: number;
}

export const DEFAULT_SEARCH_QUERY_CACHE: SearchQueryCacheLimits = { entries: 1000, chars: 1_000_000, longestText: 2_000 };

export class SearchQueryCache {
  private readonly kept: LRUCache<string, ParsedSearch>;
  /** Texts seen once (only their keys): the next parse of one of them is kept. */
  private readonly seen: LRUCache<string, true>;
  private generation: number;

  constructor(
    private readonly generationOf: () => number,
    private readonly limits: SearchQueryCacheLimits = DEFAULT_SEARCH_QUERY_CACHE,
  ) {
    this.generation = generationOf();
    this.kept = new LRUCache<string, ParsedSearch>({ max: limits.entries, maxSize: limits.chars, sizeCalculation: (_value, key) => 4 * key.length + 1 });
    // Keys alone, at most `longestText` characters each: bounded by entries × longestText without sizing each.
    this.seen = new LRUCache<string, true>({ max: limits.entries });
  }

  /** The key of a parse, or undefined when it is not to be kept (too long, or paging with a cursor: never asked twice). */
  keyOf(resourceTypes: readonly string[], params: ReadonlyArray<readonly [string, string]>, strict: boolean): string | undefined {
    let key = `${strict ? 's' : 'l'}${resourceTypes.join(',')}`;
    for (const [name, value] of params) {
      if (name === '_cursor') return undefined;
      // Each name and value prefixed by its length: no two different lists of parameters make the same key.
      key += `\u0001${name.length}:${name}${value.length}:${value}`;
      if (key.length > this.limits.longestText) return undefined;
    }
    return key;
  }

  get(key: string): ParsedSearch | undefined {
    this.forgetIfStale();
    return this.kept.get(key);
  }

  /**
   * Keeps a parse the second time its text is seen: a search made once (most lookups of one patient)
   * is neither frozen nor stored, and a run of such searches cannot push out the ones that repeat.
   */
  set(key: string, parsed: ParsedSearch): void {
    this.forgetIfStale();
    if (!this.seen.delete(key)) {
      this.seen.set(key, true);
      return;
    }
    this.kept.set(key, deepFreeze(parsed));
  }

  get size(): number {
    return this.kept.size;
  }

  private forgetIfStale(): void {
    const now = this.generationOf();
    if (now === this.generation) return;
    this.kept.clear();
    this.seen.clear();
    this.generation = now;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
