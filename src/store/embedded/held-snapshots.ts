/**
 * Paging snapshots taken lazily: the first page of a search in the default order reads only the
 * matches up to the page's end (document-reader.ts), and instead of listing every match right away
 * the store keeps the LMDB read transaction that page was read in — LMDB's own snapshot of the
 * whole store at that moment. When the next page is asked for while it is held, the matches are
 * listed from it; the list is then exactly the one the first page was cut from (the same
 * snapshot), so paging keeps its guarantee (no match twice or missing across pages, R4 search
 * page), while a first page costs in proportion to the page (issue 17: a name-prefix search at
 * 100,000 patients).
 *
 * Held briefly and few (HOLD_MS, MAX_HELD): while a read transaction is open LMDB cannot reuse the
 * pages that later commits free, so the file grows by what is written meanwhile, and each
 * transaction takes a reader slot (LMDB's table has 126; transactions started between the same two
 * commits share one; the 127th distinct one fails with MDB_READERS_FULL, measured).
 *
 * Released, not listed: a snapshot held for HOLD_MS, or pushed out by newer ones, is released to
 * its place in the store's history (snapshot-replay.ts) — the last history entry it saw — at the
 * cost of one key read, and its matches are rebuilt as of that place only if a next page is ever
 * asked for. Listing every released snapshot (as this did before) cost every broad first page a
 * second read of all its matches (the listing), in a queue that grew without bound when first
 * pages came faster than listings ran (1,488 waiting after 1,500 first pages of a 3-letter name
 * prefix at 100,000 patients, each holding its transaction). Released snapshots are kept as long as
 * the stored result sets would be (the store's idle time and count limits). A failure of a listing
 * only loses the cursor (its next page is the 410 asking the client to search again), never a write.
 */
import type { Transaction } from 'lmdb';
import type { ResultSetLimits } from '../resource-store.js';
import type { LogKey } from './lmdb-layout.js';

/** Longest a snapshot is held before it is released to its place in the history. */
export const HOLD_MS = 10_000;
/** Most snapshots held at once; beyond, the oldest is released. */
export const MAX_HELD = 32;

export interface HeldSnapshot {
  cursor: string;
  owner: string;
  resourceTypes: string[];
  filter: Record<string, unknown>;
  transaction: Transaction;
  /** The store's count of reindexes as the transaction began (a reindex rewrites entries without history). */
  reindexes: number;
  heldAt: number;
}

/** A snapshot whose transaction was released: where it stood in the history. */
export interface ReleasedSnapshot {
  cursor: string;
  owner: string;
  resourceTypes: string[];
  filter: Record<string, unknown>;
  position: LogKey | undefined;
  reindexes: number;
  releasedAt: number;
}

export interface SnapshotListing {
  /** Lists the matches of a held snapshot within its transaction and saves them as a result set. */
  list(held: HeldSnapshot): Promise<void>;
  /** Where a held snapshot's transaction stands in the history. */
  locate(held: HeldSnapshot): LogKey | undefined;
  /** Rebuilds the matches of a released snapshot and saves them as a result set (or not: its cursor is then unknown). */
  replay(released: ReleasedSnapshot): Promise<void>;
}

export class HeldSnapshots {
  /** Insertion order: oldest first. */
  private readonly held = new Map<string, HeldSnapshot>();
  /** Insertion order: oldest first. */
  private readonly released = new Map<string, ReleasedSnapshot>();
  /** Listings under way (a next page waits for its own). */
  private readonly listing = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly listings: SnapshotListing,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly limits: Pick<ResultSetLimits, 'idleMs' | 'maxSets'>,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.expire(), HOLD_MS / 2);
    this.timer.unref();
  }

  hold(snapshot: Omit<HeldSnapshot, 'heldAt'>): void {
    if (this.closed) {
      // The store is closing: nothing will be asked of it any more.
      end(snapshot.transaction);
      return;
    }
    this.held.set(snapshot.cursor, { ...snapshot, heldAt: this.clock() });
    if (this.held.size > MAX_HELD) this.release(this.held.values().next().value as HeldSnapshot);
  }

  /**
   * Before reading a stored result set: when `cursor` is held or released for `owner`, its matches
   * are listed now. Another owner's cursor is left alone (the load then answers as for an unknown cursor).
   */
  async settle(cursor: string, owner: string): Promise<void> {
    const held = this.held.get(cursor);
    const released = this.released.get(cursor);
    if ((held && held.owner !== owner) || (released && released.owner !== owner)) return;
    if (held) return this.start(cursor, this.listings.list(held).finally(() => end(held.transaction)));
    if (released) return this.start(cursor, this.listings.replay(released));
    await this.listing.get(cursor);
  }

  /** Releases every held snapshot now, as the end of its hold time would (benchmarks: to count what a first page leaves to do). */
  async releaseAll(): Promise<void> {
    for (const held of [...this.held.values()]) this.release(held);
    await Promise.allSettled([...this.listing.values()]);
  }

  /** Lists every held snapshot (before the environment they read is closed). */
  async settleAll(): Promise<void> {
    await Promise.allSettled([...this.held.values()].map((held) => this.settle(held.cursor, held.owner)));
    await Promise.allSettled([...this.listing.values()]);
  }

  /** Forgets every held and released snapshot (at close: a restart forgets cursors anyway). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const held of this.held.values()) end(held.transaction);
    this.held.clear();
    this.released.clear();
  }

  private expire(): void {
    const now = this.clock();
    for (const held of this.held.values()) if (held.heldAt <= now - HOLD_MS) this.release(held);
    for (const released of this.released.values()) if (released.releasedAt <= now - this.limits.idleMs) this.released.delete(released.cursor);
  }

  /** Ends a held snapshot's transaction, keeping its place in the history (a key read; on failure the cursor is lost). */
  private release(held: HeldSnapshot): void {
    this.held.delete(held.cursor);
    try {
      const position = this.listings.locate(held);
      this.released.set(held.cursor, { cursor: held.cursor, owner: held.owner, resourceTypes: held.resourceTypes, filter: held.filter, position, reindexes: held.reindexes, releasedAt: this.clock() });
      for (const oldest of this.released.keys()) {
        if (this.released.size <= this.limits.maxSets) break;
        this.released.delete(oldest);
      }
    } catch {
      // The environment is closing: the cursor is forgotten.
    } finally {
      end(held.transaction);
    }
  }

  private start(cursor: string, listing: Promise<void>): Promise<void> {
    this.held.delete(cursor);
    this.released.delete(cursor);
    const run = this.track(listing.catch(() => undefined).finally(() => this.listing.delete(cursor)));
    this.listing.set(cursor, run);
    return run;
  }
}

/** Ends a read transaction; one whose environment has closed meanwhile is already ended. */
function end(transaction: Transaction): void {
  try {
    transaction.done();
  } catch {
    // "The transaction is already closed": the environment closed it.
  }
}
