/**
 * The embedded store's stored result sets (paging snapshots), in LMDB rather
 * than in the heap: a set of a million matches costs the heap nothing while it
 * waits for its next page.
 *
 * They live in an environment of their own (`result-sets/` in the data folder),
 * opened without fsync and emptied at every start: one process only ever serves
 * an embedded store (the data folder's lock, relais.lock), so a restart forgets
 * every cursor anyway (the client gets the 410 asking it to search again), and
 * paging snapshots are not acknowledged writes that must survive a crash. Keeping
 * them out of the resources' environment also keeps their churn (a set written,
 * read a few times, dropped) off the durable commits.
 *
 * Layout: `sets` cursor → { owner, total, types, used }, `lru` [used, cursor] → null
 * (least recently used first), `chunks` [cursor, n] → { ids, t? } of RESULT_SET_CHUNK refs each
 * (`t`, the index into `types` of each ref, only when the set has several types).
 * Bounded like the in-memory sets were: a set expires once unused for `idleMs`, and
 * at most `maxSets` are kept, the least recently used dropped first.
 *
 * While the disk refuses writes (full disk...), a set that cannot be written is
 * kept in memory instead (at most FALLBACK_SETS of them, FALLBACK_REFS references
 * in all, least recently saved dropped first), so that searches — reads — still
 * page while writes get their 503.
 */
import { rmSync } from 'node:fs';
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import type { MatchRef, ResultSetLimits, ResultSetSlice } from '../resource-store.js';
import { Pacer } from './pacer.js';
import { settleQuietly } from './storage-faults.js';

/** References per chunk record (about 10 KiB): a page reads one or two. */
export const RESULT_SET_CHUNK = 1000;
const FALLBACK_SETS = 50;
const FALLBACK_REFS = 2_000_000;

interface SetHead {
  owner: string;
  total: number;
  types: string[];
  used: number;
}

interface Chunk {
  ids: string[];
  t?: number[];
}

export class LmdbResultSets {
  private readonly env: RootDatabase;
  private readonly sets: Database<SetHead, string>;
  private readonly lru: Database<null, [number, string]>;
  private readonly chunks: Database<Chunk, [string, number]>;
  private readonly clock: () => number;
  /** Sets that could not be written (see above), insertion order = oldest first. */
  private readonly fallback = new Map<string, { owner: string; refs: readonly MatchRef[]; used: number }>();

  constructor(
    private readonly path: string,
    private readonly limits: ResultSetLimits,
    private readonly chunk = RESULT_SET_CHUNK,
  ) {
    this.clock = limits.clock ?? Date.now;
    rmSync(path, { recursive: true, force: true });
    // noSync: disposable data (see above); eventTurnBatching off: see lmdb-layout.ts.
    // One large map reserved (address space, not disk): see MAP_SIZE in lmdb-layout.ts.
    this.env = open({ path, noSync: true, overlappingSync: false, eventTurnBatching: false, noReadAhead: true, mapSize: 64 * 1024 ** 3, maxDbs: 4 } as RootDatabaseOptionsWithPath);
    this.sets = this.env.openDB({ name: 'sets' });
    this.lru = this.env.openDB({ name: 'lru' });
    this.chunks = this.env.openDB({ name: 'chunks' });
  }

  async save(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    try {
      await this.write(cursor, owner, refs);
    } catch (error) {
      settleQuietly(error);
      this.keepInMemory(cursor, owner, refs);
    }
  }

  private keepInMemory(cursor: string, owner: string, refs: readonly MatchRef[]): void {
    this.fallback.set(cursor, { owner, refs, used: this.clock() });
    let total = 0;
    for (const set of this.fallback.values()) total += set.refs.length;
    for (const [oldest, set] of this.fallback) {
      if (this.fallback.size <= FALLBACK_SETS && total <= FALLBACK_REFS) break;
      this.fallback.delete(oldest);
      total -= set.refs.length;
    }
  }

  private async write(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    await this.evict();
    const types: string[] = [];
    const typeNumbers = new Map<string, number>();
    // Encoding a chunk is synchronous (msgpackr): a set of millions of refs gives the event loop turns between chunks,
    // and while its types are listed (13–18 ms in one piece for 600,000 refs, CPU-profiled).
    const pacer = new Pacer();
    for (let i = 0; i < refs.length; i++) {
      const type = refs[i].resourceType;
      if (!typeNumbers.has(type)) typeNumbers.set(type, types.push(type) - 1);
      if ((i & 4095) === 4095) await pacer.paceCostly();
    }
    const used = this.clock();
    const writes: Array<Promise<boolean>> = [];
    for (let start = 0; start < refs.length; start += this.chunk) {
      const slice = refs.slice(start, start + this.chunk);
      const chunk: Chunk = { ids: slice.map((r) => r.id), ...(types.length > 1 ? { t: slice.map((r) => typeNumbers.get(r.resourceType)!) } : {}) };
      const write = this.chunks.put([cursor, start / this.chunk], chunk);
      // A failed put may settle while this loop waits for its turn: handled here, reported by Promise.all below.
      write.catch(() => undefined);
      writes.push(write);
      await pacer.paceCostly();
    }
    writes.push(this.lru.put([used, cursor], null));
    writes.push(this.sets.put(cursor, { owner, total: refs.length, types, used }));
    await Promise.all(writes);
  }

  async load(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
    const kept = this.fallback.get(cursor);
    if (kept) {
      const now = this.clock();
      if (kept.owner !== owner) return undefined;
      if (now - kept.used > this.limits.idleMs) {
        this.fallback.delete(cursor);
        return undefined;
      }
      kept.used = now;
      return { total: kept.refs.length, refs: kept.refs.slice(offset, offset + count) };
    }
    const head = this.sets.get(cursor);
    if (!head || head.owner !== owner) return undefined;
    const now = this.clock();
    if (now - head.used > this.limits.idleMs) {
      this.dropQuietly(cursor, head);
      return undefined;
    }
    const refs: MatchRef[] = [];
    const end = Math.min(head.total, offset + count);
    for (let n = Math.floor(offset / this.chunk); n * this.chunk < end; n++) {
      const chunk = this.chunks.get([cursor, n]);
      if (!chunk) return undefined; // dropped meanwhile
      for (let i = Math.max(offset, n * this.chunk); i < Math.min(end, (n + 1) * this.chunk); i++) {
        const at = i - n * this.chunk;
        refs.push({ resourceType: head.types[chunk.t ? chunk.t[at] : 0], id: chunk.ids[at] });
      }
    }
    // Its idle time starts again (a touch that cannot be written, on a full disk, only makes the set expire sooner).
    await Promise.all([this.lru.remove([head.used, cursor]), this.lru.put([now, cursor], null), this.sets.put(cursor, { ...head, used: now })]).catch(ignore);
    return { total: head.total, refs };
  }

  /** Drops the sets unused for longer than idleMs; returns how many. */
  async sweep(): Promise<number> {
    const cutoff = this.clock() - this.limits.idleMs;
    for (const [cursor, set] of this.fallback) if (set.used < cutoff) this.fallback.delete(cursor);
    const expired: string[] = [];
    for (const key of this.lru.getKeys({ end: [cutoff] })) expired.push(key[1]);
    await Promise.all(expired.map((cursor) => this.drop(cursor)));
    return expired.length;
  }

  async close(): Promise<void> {
    await this.env.close();
    rmSync(this.path, { recursive: true, force: true });
  }

  /** Expired sets first, then the least recently used until there is room for one more. */
  private async evict(): Promise<void> {
    await this.sweep();
    const excess = this.sets.getKeysCount() - this.limits.maxSets + 1;
    if (excess <= 0) return;
    const oldest: string[] = [];
    for (const key of this.lru.getKeys({ limit: excess })) oldest.push(key[1]);
    await Promise.all(oldest.map((cursor) => this.drop(cursor)));
  }

  private async drop(cursor: string, head = this.sets.get(cursor)): Promise<void> {
    const writes: Array<Promise<boolean>> = [this.sets.remove(cursor)];
    if (head) writes.push(this.lru.remove([head.used, cursor]));
    for (const key of this.chunks.getKeys({ start: [cursor], end: [cursor, Number.MAX_SAFE_INTEGER] })) writes.push(this.chunks.remove(key));
    await Promise.all(writes);
  }

  private dropQuietly(cursor: string, head: SetHead): void {
    this.drop(cursor, head).catch(ignore);
  }
}

/** A failed write of disposable paging data changes nothing a client relies on (its cause is still consumed). */
function ignore(error: unknown): void {
  settleQuietly(error);
}
