/**
 * The MongoDB store's stored result sets (paging snapshots), in the
 * `searchsets` collection, so that a `next` link works on whichever Relais
 * process the load balancer picks.
 *
 * A set is one head document and its chunks:
 * - head `{ _id: <cursor>, owner, total, chunkSize, expiresAt }`;
 * - chunk n `{ _id: "<cursor>:<n>", refs: ["Type/id", ...], expiresAt }`, refs
 *   n·chunkSize to (n+1)·chunkSize - 1 of the set.
 * Chunking keeps each document far below MongoDB's 16 MB document limit (500k
 * refs of ~45 bytes would be ~22 MB in one) and lets a page read only the
 * chunks it spans. A cursor is 22 base64url characters, so the `_id` range
 * [cursor, cursor + ";") holds exactly its head and chunks (":" < ";"): one
 * updateMany restarts the idle time of the whole set.
 *
 * Writes: chunks first, then the head; a set is visible once its head exists,
 * and a head without one of its chunks counts as expired. Expiry: `expiresAt`
 * is moved to now + idleMs on use (at most once per `touchEveryMs`); a load
 * checks it. Cleanup: a TTL index on `expiresAt` where the server has one
 * (real MongoDB's TTL monitor runs once a minute), and in all cases, at most
 * once per `cleanupEveryMs`, a deleteMany of expired documents plus eviction of
 * the least recently used sets beyond `maxSets`, run by the next save. The
 * collection thus stays bounded on servers that accept a TTL index but never
 * apply it (mongo-java-server 1.47.0, the CI test server, lists the option and
 * ignores it) or refuse it.
 */
import type { Collection } from 'mongodb';
import type { MatchRef, ResultSetLimits, ResultSetSlice } from '../resource-store.js';
import type { StoreLog } from './mongo-store.js';

interface HeadDocument {
  _id: string;
  owner: string;
  total: number;
  chunkSize: number;
  expiresAt: Date;
}

interface ChunkDocument {
  _id: string;
  refs: string[];
  expiresAt: Date;
}

export type SearchSetDocument = HeadDocument | ChunkDocument;

export interface MongoResultSetOptions extends ResultSetLimits {
  /** Refs per chunk document (default 10,000: ~0.5 MB). */
  chunkSize?: number;
}

export const DEFAULT_CHUNK_SIZE = 10_000;
const TTL_INDEX = 'expiresAt_ttl';
const PLAIN_INDEX = 'expiresAt';

const chunkId = (cursor: string, n: number): string => `${cursor}:${n}`;
const isHead = (doc: SearchSetDocument): doc is HeadDocument => 'owner' in doc;

export class MongoResultSets {
  private readonly clock: () => number;
  private readonly chunkSize: number;
  private readonly touchEveryMs: number;
  private readonly cleanupEveryMs: number;
  private lastCleanup = 0;
  /** Whether open() left a TTL index on `expiresAt` (for logs and tests). */
  ttlIndex = false;

  constructor(
    private readonly collection: Collection<SearchSetDocument>,
    private readonly options: MongoResultSetOptions,
    private readonly log: StoreLog,
  ) {
    this.clock = options.clock ?? Date.now;
    this.chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK_SIZE);
    this.touchEveryMs = Math.min(60_000, options.idleMs / 10);
    this.cleanupEveryMs = Math.min(60_000, options.idleMs / 2);
  }

  /** Creates the expiry index: TTL where the server accepts one, else a plain index for the cleanup's deleteMany. */
  async createIndexes(): Promise<void> {
    try {
      await this.collection.createIndex({ expiresAt: 1 }, { name: TTL_INDEX, expireAfterSeconds: 0 });
      this.ttlIndex = true;
    } catch (error) {
      this.log.warn({ reason: (error as Error).message }, 'mongodb store: no TTL index on searchsets; expired paging snapshots are removed by periodic cleanup only');
      await this.collection.createIndex({ expiresAt: 1 }, { name: PLAIN_INDEX });
    }
  }

  async save(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    const now = this.clock();
    if (now - this.lastCleanup >= this.cleanupEveryMs) {
      this.lastCleanup = now;
      await this.cleanup(now);
    }
    const expiresAt = new Date(now + this.options.idleMs);
    const chunks: ChunkDocument[] = [];
    for (let start = 0, n = 0; start < refs.length; start += this.chunkSize, n++) {
      const end = Math.min(refs.length, start + this.chunkSize);
      const chunk = new Array<string>(end - start);
      for (let i = start; i < end; i++) chunk[i - start] = `${refs[i].resourceType}/${refs[i].id}`;
      chunks.push({ _id: chunkId(cursor, n), refs: chunk, expiresAt });
    }
    // Batches of chunks keep each insert message small whatever the chunk size.
    for (let i = 0; i < chunks.length; i += 16) await this.collection.insertMany(chunks.slice(i, i + 16), { ordered: true });
    await this.collection.insertOne({ _id: cursor, owner, total: refs.length, chunkSize: this.chunkSize, expiresAt });
  }

  async load(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
    const now = this.clock();
    // One read for the head and the chunks the page spans, assuming this process's chunk size
    // (a set saved with another, by a differently configured process, takes a second read).
    let docs = await this.collection.find({ _id: { $in: [cursor, ...this.chunkIdsFor(cursor, offset, count, this.chunkSize, undefined)] } }).toArray();
    const head = docs.find(isHead);
    if (!head || head.owner !== owner || head.expiresAt.getTime() <= now) return undefined;
    const wanted = this.chunkIdsFor(cursor, offset, count, head.chunkSize, head.total);
    if (head.chunkSize !== this.chunkSize) docs = await this.collection.find({ _id: { $in: wanted } }).toArray();
    const chunks = new Map(docs.filter((d): d is ChunkDocument => !isHead(d)).map((d) => [d._id, d]));
    const refs: MatchRef[] = [];
    const end = Math.min(head.total, offset + count);
    for (let i = offset; i < end; i++) {
      const chunk = chunks.get(chunkId(cursor, Math.floor(i / head.chunkSize)));
      // A chunk already removed (the TTL monitor works document by document): the set has expired.
      if (!chunk || chunk.expiresAt.getTime() <= now) return undefined;
      const ref = chunk.refs[i % head.chunkSize];
      const slash = ref.indexOf('/');
      refs.push({ resourceType: ref.slice(0, slash), id: ref.slice(slash + 1) });
    }
    const expiresAt = now + this.options.idleMs;
    if (expiresAt - head.expiresAt.getTime() >= this.touchEveryMs) {
      await this.collection.updateMany({ _id: { $gte: cursor, $lt: `${cursor};` }, expiresAt: { $gt: new Date(now) } }, { $set: { expiresAt: new Date(expiresAt) } });
    }
    return { total: head.total, refs };
  }

  /**
   * Before a save: removes expired documents, then the least recently used
   * sets beyond maxSets - 1, leaving room for the one being saved (as the
   * embedded store does). Heads and chunks of a set share one `expiresAt`, so
   * one deleteMany below a threshold removes whole sets. Sets saved between two
   * cleanups (by any process) can exceed maxSets until the next one.
   */
  private async cleanup(now: number): Promise<void> {
    try {
      await this.collection.deleteMany({ expiresAt: { $lte: new Date(now) } });
      const keep = this.options.maxSets - 1;
      if (keep <= 0) {
        await this.collection.deleteMany({});
        return;
      }
      const [oldestKept] = await this.collection
        .find({ owner: { $exists: true } }, { projection: { expiresAt: 1 }, sort: { expiresAt: -1 }, skip: keep - 1, limit: 1 })
        .toArray();
      if (oldestKept) await this.collection.deleteMany({ expiresAt: { $lt: oldestKept.expiresAt } });
    } catch (error) {
      // A failed cleanup only delays it; the search being served does not depend on it.
      this.log.warn({ reason: (error as Error).message }, 'mongodb store: searchsets cleanup failed; retried later');
    }
  }

  private chunkIdsFor(cursor: string, offset: number, count: number, chunkSize: number, total: number | undefined): string[] {
    const last = Math.max(offset, Math.min(total ?? Number.MAX_SAFE_INTEGER, offset + count) - 1);
    const ids: string[] = [];
    for (let n = Math.floor(offset / chunkSize); n <= Math.floor(last / chunkSize); n++) ids.push(chunkId(cursor, n));
    return ids;
  }
}
