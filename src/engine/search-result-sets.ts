/**
 * Paging snapshots ("stored result set", as HAPI FHIR does): when a search
 * has more than one page, the ordered references of ALL its matches are taken
 * once and kept under a random cursor; next/previous links name the cursor and
 * an offset into it. Pages are therefore cut from one fixed list while other
 * clients write: no match is skipped or repeated across pages (R4 search page,
 * paging). A page shows each resource's *current* content; a resource deleted
 * since the snapshot is left out of its page. A store may keep the snapshot of
 * a first page itself, from the read that page came from, and list its matches
 * later (StoreQuery.keepSnapshot; the embedded store holds that LMDB read), so
 * that the first page costs in proportion to the page.
 *
 * Why not keyset paging: sort keys over multi-valued index entries (names,
 * dates) and updates that move a resource across the cursor would make a
 * stateless cursor skip or repeat resources; a snapshot of references is exact
 * for any _sort.
 *
 * Where they live: in the store (ResultSetStore, part of the store port), so
 * that every process sharing the store serves every cursor: the embedded store
 * keeps them in memory (its single process), the MongoDB store in the
 * `searchsets` collection (any Relais instance behind a load balancer can
 * serve the `next` link). Limits (ResultSetLimits, set from
 * SEARCH_RESULT_SET_IDLE_SECONDS and SEARCH_RESULT_SETS_MAX): a set expires
 * after IDLE without use (default 30 min), only the MAX most recently used
 * are kept (default 500), and an expired, evicted or unknown cursor is a 410
 * telling the client to run the search again.
 *
 * Owner: a cursor is usable only by the caller whose search made it (the
 * access layer names the caller, src/store/result-set-owner.ts); for anyone
 * else it is the same 410 as an unknown cursor, so nothing (not even the
 * number of matches) leaks through a shared link. The store keeps a hash of
 * the caller's name, not the name.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { MatchRef, ResourceStore, ResultSetSlice } from '../store/resource-store.js';
import { resultSetOwner } from '../store/result-set-owner.js';

/** 16 bytes in base64url: what every cursor this server makes looks like. */
const CURSOR = /^[A-Za-z0-9_-]{22}$/;

/** The owner a result set is kept for: the caller `store` acts for (hashed). */
export function resultSetOwnerKey(store: ResourceStore): string {
  const caller = resultSetOwner(store);
  return caller === undefined ? '' : createHash('sha256').update(caller).digest('base64url');
}

/**
 * A fresh cursor: the 16 bytes of a random UUID (122 random bits) in base64url. Every first page
 * of a search makes one; Node's randomUUID draws from a buffered pool of random bytes, where
 * randomBytes(16) asks the system each time (0.95 against 2.5 µs, and up to 5% of a one-patient
 * search's CPU in a profile on the loaded machine).
 */
export function newCursor(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

/**
 * What a first page asks the store to keep its snapshot under (StoreQuery.keepSnapshot). The cursor
 * and the owner's hash are made when the store reads them, which it does only when it keeps a
 * snapshot (a search longer than one page): a one-patient lookup makes neither (they were about 3%
 * of its CPU, profiled).
 */
export function snapshotToKeep(store: ResourceStore): { readonly cursor: string; readonly owner: string } {
  let cursor: string | undefined;
  let owner: string | undefined;
  return {
    get cursor() {
      return (cursor ??= newCursor());
    },
    get owner() {
      return (owner ??= resultSetOwnerKey(store));
    },
  };
}

/** Stores the ordered matches of a search for the caller `store` acts for; returns the cursor. */
export async function saveResultSet(store: ResourceStore, refs: readonly MatchRef[]): Promise<string> {
  const cursor = newCursor();
  await store.saveResultSet(cursor, resultSetOwnerKey(store), refs);
  return cursor;
}

/** refs[offset, offset + count) of a stored result set; undefined when it is unknown, expired or another caller's. */
export async function loadResultSet(store: ResourceStore, cursor: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
  if (!CURSOR.test(cursor)) return undefined;
  return store.loadResultSet(cursor, resultSetOwnerKey(store), offset, count);
}
