/**
 * Paging snapshots ("stored result set", as HAPI FHIR does): when a search
 * has more than one page, the ordered references of ALL its matches are taken
 * once and kept under a random cursor; next/previous links name the cursor and
 * an offset into it. Pages are therefore cut from one fixed list while other
 * clients write: no match is skipped or repeated across pages (R4 search page,
 * paging). A page shows each resource's *current* content; a resource deleted
 * since the snapshot is left out of its page.
 *
 * Why not keyset paging: sort keys over multi-valued index entries (names,
 * dates) and updates that move a resource across the cursor would make a
 * stateless cursor skip or repeat resources; a snapshot of references is exact
 * for any _sort. The cost is memory (two short strings per match) and that a
 * cursor lives in one process: it expires after IDLE_MS without use, only the
 * most recent MAX_SETS are kept, and an expired cursor is a 410 telling the
 * client to run the search again. Several server instances behind a load
 * balancer need sticky sessions for paging (documented in the README).
 */
import { randomBytes } from 'node:crypto';
import { underlyingStore } from '../store/underlying-store.js';

export interface ResultSet {
  refs: Array<{ resourceType: string; id: string }>;
  lastUsed: number;
}

const IDLE_MS = 30 * 60_000;
const MAX_SETS = 500;

export class SearchResultSets {
  private readonly sets = new Map<string, ResultSet>();

  constructor(private readonly clock: () => number = Date.now) {}

  create(refs: ResultSet['refs']): string {
    this.evict();
    const cursor = randomBytes(16).toString('base64url');
    this.sets.set(cursor, { refs, lastUsed: this.clock() });
    return cursor;
  }

  get(cursor: string): ResultSet | undefined {
    const set = this.sets.get(cursor);
    if (!set) return undefined;
    if (this.clock() - set.lastUsed > IDLE_MS) {
      this.sets.delete(cursor);
      return undefined;
    }
    set.lastUsed = this.clock();
    // Map order is insertion order: re-inserting keeps the most recently used last.
    this.sets.delete(cursor);
    this.sets.set(cursor, set);
    return set;
  }

  private evict(): void {
    const now = this.clock();
    for (const [cursor, set] of this.sets) if (now - set.lastUsed > IDLE_MS) this.sets.delete(cursor);
    while (this.sets.size >= MAX_SETS) this.sets.delete(this.sets.keys().next().value!);
  }
}

/**
 * One registry of result sets per store instance (and so per server context):
 * kept beside the store rather than in EngineContext so that every context
 * builder gets paging without wiring, and two test servers never share cursors.
 */
const byStore = new WeakMap<object, SearchResultSets>();

export function resultSetsFor(wrapped: object): SearchResultSets {
  const store = underlyingStore(wrapped);
  let sets = byStore.get(store);
  if (!sets) byStore.set(store, (sets = new SearchResultSets()));
  return sets;
}
