/**
 * Paging snapshots taken lazily: the first page of a search in the default order reads only the
 * matches up to the page's end (document-reader.ts), and instead of listing every match right away
 * the store keeps the LMDB read transaction that page was read in — LMDB's own snapshot of the
 * whole store at that moment — and lists the matches from it only when they are needed: when the
 * next page is asked for, when HOLD_MS have passed, or when more than MAX_HELD are held. The list
 * is then exactly the one the first page was cut from (the same snapshot), so paging keeps its
 * guarantee (no match twice or missing across pages, R4 search page), while a first page costs in
 * proportion to the page (issue 17: a name-prefix search at 100,000 patients).
 *
 * Why bounded, and briefly: while a read transaction is open LMDB cannot reuse the pages that later
 * commits free, so the file grows by what is written meanwhile; ten seconds of writes is a bounded
 * cost. Each held snapshot also occupies a reader slot (LMDB's default table has 126; transactions
 * started between the same two commits share one).
 *
 * The listing of a snapshot runs in the background on expiry (one at a time, pausing for the event
 * loop as every search does); a failure only loses the cursor (its next page is the 410 asking the
 * client to search again), never a write. The background queue is bounded too (MAX_QUEUED): each
 * listing waiting in it still holds its read transaction, and broad first pages arriving faster
 * than their listings run made it grow without bound (measured: 1,488 listings waiting after
 * 1,500 first pages of a 3-letter name prefix at 100,000 patients, their work done only after the
 * searches that caused it). Beyond the bound, the search that pushes a snapshot out waits for its
 * listing: the cost lands on the searches that cause it, and open transactions stay bounded.
 */
import type { Transaction } from 'lmdb';

/** Longest a snapshot is held before its matches are listed. */
export const HOLD_MS = 10_000;
/** Most snapshots held at once; beyond, the oldest is listed. */
export const MAX_HELD = 32;
/** Most listings waiting in the background; beyond, the search that pushes one out waits for it. */
export const MAX_QUEUED = 32;

export interface HeldSnapshot {
  cursor: string;
  owner: string;
  resourceTypes: string[];
  filter: Record<string, unknown>;
  transaction: Transaction;
  heldAt: number;
}

/** Lists the matches of a held snapshot within its transaction and saves them as a result set. */
export type ListSnapshot = (held: HeldSnapshot) => Promise<void>;

export class HeldSnapshots {
  /** Insertion order: oldest first. */
  private readonly held = new Map<string, HeldSnapshot>();
  /** Listings under way (a next page waits for its own). */
  private readonly listing = new Map<string, Promise<void>>();
  private queue: Promise<void> = Promise.resolve();
  /** Listings queued in the background and not yet done. */
  private queued = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly list: ListSnapshot,
    private readonly track: <T>(promise: Promise<T>) => Promise<T>,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.expire(), HOLD_MS / 2);
    this.timer.unref();
  }

  /** Holds a snapshot; the promise settles at once, or, when the background queue is full, once the listing this pushed out is done. */
  hold(snapshot: Omit<HeldSnapshot, 'heldAt'>): Promise<void> {
    if (this.closed) {
      // The store is closing: nothing will be asked of it any more.
      release({ ...snapshot, heldAt: 0 });
      return Promise.resolve();
    }
    this.held.set(snapshot.cursor, { ...snapshot, heldAt: this.clock() });
    if (this.held.size <= MAX_HELD) return Promise.resolve();
    const listed = this.listInBackground(this.held.keys().next().value as string);
    return this.queued > MAX_QUEUED ? listed : Promise.resolve();
  }

  /**
   * Before reading a stored result set: when `cursor` is held for `owner`, its matches are listed
   * now. Another owner's cursor is left alone (the load then answers as for an unknown cursor).
   */
  async settle(cursor: string, owner: string): Promise<void> {
    const held = this.held.get(cursor);
    if (held && held.owner !== owner) return;
    await (held ? this.start(held) : this.listing.get(cursor));
  }

  /** Lists every held snapshot (before the environment they read is closed). */
  async settleAll(): Promise<void> {
    await Promise.allSettled([...this.held.values()].map((held) => this.start(held)));
    await Promise.allSettled([...this.listing.values()]);
  }

  /** Forgets every held snapshot (at close: a restart forgets cursors anyway). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const held of this.held.values()) release(held);
    this.held.clear();
  }

  private expire(): void {
    const cutoff = this.clock() - HOLD_MS;
    for (const held of this.held.values()) if (held.heldAt <= cutoff) this.listInBackground(held.cursor);
  }

  /** Queues the listing of a held snapshot; the promise settles (never rejects) once it is done. */
  private listInBackground(cursor: string): Promise<void> {
    const held = this.held.get(cursor);
    if (!held) return Promise.resolve();
    this.held.delete(cursor);
    // One background listing at a time (each may hold a large array of matches); tracked from now, so
    // that closing the store waits for it.
    this.queued++;
    const run = this.track(this.queue.then(() => this.run(held)).finally(() => this.queued--));
    this.queue = run;
    this.listing.set(cursor, run);
    return run;
  }

  private start(held: HeldSnapshot): Promise<void> {
    this.held.delete(held.cursor);
    const run = this.run(held);
    this.listing.set(held.cursor, run);
    return run;
  }

  private run(held: HeldSnapshot): Promise<void> {
    return this.track(
      this.list(held)
        .catch(() => undefined)
        .finally(() => {
          release(held);
          this.listing.delete(held.cursor);
        }),
    );
  }
}

/** Ends a held read transaction; one whose environment has closed meanwhile is already ended. */
function release(held: HeldSnapshot): void {
  try {
    held.transaction.done();
  } catch {
    // "The transaction is already closed": the environment closed it.
  }
}
