/**
 * The MongoDB store: the production persistence, shared by any number of
 * Relais processes (they keep no state of their own that matters).
 *
 * Correctness across processes rests on the database only:
 * - a version is committed by a conditional replace of the current-version
 *   document filtered on the version that was read (compare-and-set), or by an
 *   insert that the `_id` makes unique; a writer that loses re-reads and decides
 *   again, so two writes never produce the same versionId and `expect` checks
 *   (If-Match, create-if-absent) have no read-then-write race;
 * - history documents are unique on (type, id, versionId);
 * - conditional-create guards are documents keyed by the guard (see guards.ts).
 *
 * Where the deployment has multi-document transactions (replica set, sharded
 * cluster, detected at open), every write runs in one, so current version,
 * history and guards change together and several operations are all-or-nothing.
 * Without them a single operation is applied in ordered steps (guard claim,
 * current version, history, guard settle) each of which later writers can
 * recover from, and a write of several operations is refused with
 * AtomicWriteUnavailable before anything is written.
 */
import { randomUUID } from 'node:crypto';
import { MongoClient, type ClientSession, type Collection, type Db, type Document, type ReadConcernLevel, type W } from 'mongodb';
import { AtomicWriteUnavailable } from '../../errors.js';
import {
  VersionConflict,
  type HistoryPage,
  type HistoryQuery,
  type DistinctQuery,
  type IndexUpdate,
  type MatchRef,
  type OutboxEntry,
  type OutboxQueueState,
  type ResourceStore,
  type ResultSetSlice,
  type ScanQuery,
  type StoreCapabilities,
  type StoreQuery,
  type StoreQueryResult,
  type StoredVersion,
  type WriteOperation,
  DEFAULT_RESULT_SET_LIMITS,
} from '../resource-store.js';
import { MongoResultSets, type MongoResultSetOptions, type SearchSetDocument } from './mongo-result-sets.js';
import { probeDeployment, type DeploymentFacts } from './deployment.js';
import {
  VERSION_PROJECTION,
  historyDocumentOf,
  resourceKey,
  storedVersionOf,
  versionKey,
  withVersionMeta,
  type CurrentDocument,
  type GuardDocument,
  type HistoryDocument,
} from './documents.js';
import { claimGuard, releaseGuard, settleGuard } from './guards.js';
import { historyIndexes, resourceIndexes, staleSearchIndexes } from './index-plan.js';
import { isDuplicateKey, TransactionRace } from './mongo-errors.js';
import { MongoOutbox, pendingDocumentsOf, type OutboxDocument, type OutboxQueueDocument, type PendingOutboxDocument, type WithOutbox } from './mongo-outbox.js';

/** Structured logging the store needs (pino's signature). */
export interface StoreLog {
  info(details: Record<string, unknown>, message: string): void;
  warn(details: Record<string, unknown>, message: string): void;
}

export interface MongoStoreOptions {
  uri: string;
  /** Database name; defaults to the one in the URI, else "relais". */
  database?: string;
  /** Write concern of every write (durable by default: majority, journaled). */
  writeConcern?: { w: W; journal: boolean; wtimeoutMS: number };
  /** Read concern of reads outside transactions; reads always go to the primary. */
  readConcern?: ReadConcernLevel;
  /** 'off' ignores transactions even where available (to exercise the standalone path). */
  transactions?: 'auto' | 'off';
  serverSelectionTimeoutMS?: number;
  log?: StoreLog;
  /** Paging snapshots in the `searchsets` collection (mongo-result-sets.ts). */
  resultSets?: MongoResultSetOptions;
  /**
   * Types whose writes are counted in the `changes` collection, for changeStamp (the port):
   * one counter document per type, incremented in the write's own transaction (or, without
   * transactions, once the write is applied and before it is acknowledged). Only these, because
   * a counter is one document every writer of its type updates: counting AuditEvent or
   * Observation would make all their concurrent transactions conflict on it.
   */
  changeCountedTypes?: readonly string[];
}

/** A writer that keeps losing compare-and-set races gives up after this many tries. */
const MAX_WRITE_ATTEMPTS = 50;
const MAX_TRANSACTION_ATTEMPTS = 20;
/** Current documents read per round trip of a scan (bulk export). */
const SCAN_PAGE = 500;
/** Bodies per batch of a scan's body cursor: with the 16 MiB cap of a server batch, what a scan holds at once. */
const SCAN_BATCH = 32;

const silentLog: StoreLog = { info() {}, warn() {} };

function databaseNameOf(uri: string): string | undefined {
  const match = /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(uri);
  return match ? decodeURIComponent(match[1]) : undefined;
}

/** Strictly later than the previous version of the same resource, so its versions stay in time order. */
function nextInstant(now: number, previous: string | undefined): string {
  const after = previous ? Date.parse(previous) + 1 : 0;
  return new Date(Math.max(now, after)).toISOString();
}

export class MongoStore implements ResourceStore {
  readonly capabilities: StoreCapabilities = { name: 'mongodb', atomicMultiWrite: false };
  /** What open() found out about the deployment. */
  deployment: DeploymentFacts | undefined;

  private readonly client: MongoClient;
  private readonly databaseName: string;
  private readonly log: StoreLog;
  private readonly transactionsWanted: boolean;
  private db!: Db;
  private resources!: Collection<CurrentDocument>;
  private history_!: Collection<HistoryDocument>;
  private guards!: Collection<GuardDocument>;
  private searchSets!: Collection<SearchSetDocument>;
  private changes!: Collection<{ _id: string; n: number }>;
  private readonly counted: ReadonlySet<string>;
  /** Stored result sets (set by open()). */
  resultSets!: MongoResultSets;
  /** The notification outbox (set by open(); mongo-outbox.ts). */
  private outbox!: MongoOutbox;
  private outboxCollections: Collection<Document>[] = [];
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(private readonly options: MongoStoreOptions) {
    const writeConcern = options.writeConcern ?? { w: 'majority', journal: true, wtimeoutMS: 10_000 };
    this.client = new MongoClient(options.uri, {
      writeConcern,
      readConcern: { level: options.readConcern ?? 'local' },
      // Reads go to the primary, which has applied every acknowledged write: a
      // process (and every other process) reads its own writes.
      readPreference: 'primary',
      ignoreUndefined: true,
      serverSelectionTimeoutMS: options.serverSelectionTimeoutMS ?? 10_000,
      appName: 'relais',
    });
    this.databaseName = options.database ?? databaseNameOf(options.uri) ?? 'relais';
    this.log = options.log ?? silentLog;
    this.transactionsWanted = options.transactions !== 'off';
    this.counted = new Set(options.changeCountedTypes ?? []);
  }

  async open(): Promise<void> {
    await this.client.connect();
    this.db = this.client.db(this.databaseName);
    this.resources = this.db.collection<CurrentDocument>('resources');
    this.history_ = this.db.collection<HistoryDocument>('history');
    this.guards = this.db.collection<GuardDocument>('guards');
    this.searchSets = this.db.collection<SearchSetDocument>('searchsets');
    this.changes = this.db.collection<{ _id: string; n: number }>('changes');
    this.resultSets = new MongoResultSets(this.searchSets, this.options.resultSets ?? DEFAULT_RESULT_SET_LIMITS, this.log);
    const numbered = this.db.collection<OutboxDocument>('outbox');
    const pending = this.db.collection<PendingOutboxDocument>('outboxpending');
    const queues = this.db.collection<OutboxQueueDocument>('outboxqueues');
    this.outboxCollections = [numbered, pending, queues] as unknown as Collection<Document>[];
    this.outbox = new MongoOutbox(numbered, pending, queues, this.resources as Collection<WithOutbox>);
    const facts = await probeDeployment(this.db);
    this.deployment = facts;
    this.capabilities.atomicMultiWrite = facts.transactions && this.transactionsWanted;
    // Same names and keys at every start: createIndexes is then a no-op (after dropping what an older plan left).
    // (listIndexes on a collection not created yet fails with NamespaceNotFound, code 26: nothing to drop.)
    const existing = await this.resources.indexes().catch((error: { code?: number }) => {
      if (error.code === 26) return [];
      throw error;
    });
    for (const name of staleSearchIndexes(existing)) await this.resources.dropIndex(name);
    await this.resources.createIndexes(resourceIndexes());
    await this.history_.createIndexes(historyIndexes());
    await this.resultSets.createIndexes();
    await this.outbox.createIndexes();
    // The counters exist before any write needs them (a collection cannot be created inside a transaction before MongoDB 4.4).
    for (const type of this.counted) await this.changes.updateOne({ _id: type }, { $setOnInsert: { n: 0 } }, { upsert: true });
    const details = {
      database: this.databaseName,
      topology: facts.topology,
      serverVersion: facts.version,
      maxWireVersion: facts.maxWireVersion,
      transactions: facts.transactions,
      atomicMultiWrite: this.capabilities.atomicMultiWrite,
      searchSetsTtlIndex: this.resultSets.ttlIndex,
    };
    if (this.capabilities.atomicMultiWrite) {
      this.log.info(details, 'mongodb store: multi-document transactions available; every write is atomic across current version, history and guards');
    } else {
      this.log.warn(
        details,
        facts.transactions
          ? 'mongodb store: transactions disabled by configuration; writes of several resources (transaction bundles) are refused'
          : 'mongodb store: this deployment has no multi-document transactions (standalone server); single writes stay atomic per resource, writes of several resources (transaction bundles) are refused',
      );
    }
    this.state = 'open';
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    await this.client.close();
  }

  isReady(): boolean {
    return this.state === 'open';
  }

  /** Drops the store's collections (test isolation only). */
  async dropAll(): Promise<void> {
    for (const collection of [this.resources, this.history_, this.guards, this.searchSets, this.changes, ...this.outboxCollections]) await collection.drop().catch(() => undefined);
  }

  async saveResultSet(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    this.assertOpen();
    await this.resultSets.save(cursor, owner, refs);
  }

  async loadResultSet(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
    this.assertOpen();
    return this.resultSets.load(cursor, owner, offset, count);
  }

  // --- outbox (mongo-outbox.ts) -------------------------------------------

  async readOutbox(queue: string, after: number, limit: number): Promise<OutboxEntry[]> {
    this.assertOpen();
    return this.outbox.read(queue, after, limit);
  }

  async outboxBacklog(): Promise<OutboxQueueState[]> {
    this.assertOpen();
    return this.outbox.backlog();
  }

  async outboxState(queue: string): Promise<OutboxQueueState> {
    this.assertOpen();
    return this.outbox.state(queue);
  }

  async leaseOutbox(queue: string, holder: string, ttlMs: number): Promise<boolean> {
    this.assertOpen();
    return this.outbox.lease(queue, holder, ttlMs);
  }

  async releaseOutbox(queue: string, holder: string): Promise<void> {
    this.assertOpen();
    await this.outbox.release(queue, holder);
  }

  async ackOutbox(queue: string, seq: number): Promise<void> {
    this.assertOpen();
    await this.outbox.ack(queue, seq);
  }

  async trimOutbox(queue: string, upTo: number): Promise<void> {
    this.assertOpen();
    await this.outbox.trim(queue, upTo);
  }

  async dropOutbox(queue: string): Promise<void> {
    this.assertOpen();
    await this.outbox.drop(queue);
  }

  async readCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    this.assertOpen();
    const doc = await this.resources.findOne({ _id: resourceKey(resourceType, id) }, { projection: VERSION_PROJECTION });
    return doc ? storedVersionOf(doc) : undefined;
  }

  async readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    this.assertOpen();
    const doc = await this.history_.findOne({ _id: versionKey(resourceType, id, versionId) });
    if (doc) return storedVersionOf(doc);
    // Without transactions, a writer that died between its two steps leaves the
    // current version not yet copied to history: it is still readable here.
    const current = await this.readCurrent(resourceType, id);
    return current?.versionId === versionId ? current : undefined;
  }

  async write(operations: WriteOperation[]): Promise<StoredVersion[]> {
    this.assertOpen();
    if (operations.length === 0) return [];
    if (this.capabilities.atomicMultiWrite) return this.writeInTransaction(operations);
    if (operations.length > 1) throw new AtomicWriteUnavailable(this.capabilities.name);
    const version = await this.applyOperation(operations[0], Date.now(), undefined);
    // Applied and visible: counted before it is acknowledged (a process dying in between leaves
    // an unacknowledged write uncounted; the next counted write of its type counts it).
    if (version) await this.countChanges([operations[0].resourceType], undefined);
    return version ? [version] : [];
  }

  async changeStamp(resourceTypes: readonly string[]): Promise<string> {
    this.assertOpen();
    if (resourceTypes.some((type) => !this.counted.has(type))) return `uncounted:${randomUUID()}`;
    const counters = await this.changes.find({ _id: { $in: [...resourceTypes] } }).toArray();
    const byType = new Map(counters.map((c) => [c._id, c.n]));
    return resourceTypes.map((type) => byType.get(type) ?? 0).join(',');
  }

  /** Increments the change counter of each counted type among `resourceTypes` (in the session's transaction, if any). */
  private async countChanges(resourceTypes: Iterable<string>, session: ClientSession | undefined): Promise<void> {
    for (const type of new Set(resourceTypes)) {
      if (this.counted.has(type)) await this.changes.updateOne({ _id: type }, { $inc: { n: 1 } }, { upsert: true, session });
    }
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    this.assertOpen();
    const filter: Document = {};
    if (query.resourceType) filter.type = query.resourceType;
    if (query.id !== undefined) filter.id = query.id;
    if (query.since || query.at) {
      filter.lastUpdated = { ...(query.since ? { $gt: query.since } : {}), ...(query.at ? { $lte: query.at } : {}) };
    }
    // A filter (access policy, _type) is evaluated on each version's own `idx`, as a residual
    // condition after the (type, lastUpdated) index has bounded the scan.
    const where: Document = query.filter && Object.keys(query.filter).length > 0 ? { $and: [filter, query.filter] } : filter;
    // Newest first, as the R4 http page requires for history.
    const sort: Document = query.id !== undefined ? { versionId: -1 } : { lastUpdated: -1, _id: -1 };
    const [total, docs] = await Promise.all([
      this.history_.countDocuments(where),
      query.count > 0 ? this.history_.find(where, { projection: VERSION_PROJECTION }).sort(sort).skip(query.offset).limit(query.count).toArray() : Promise.resolve([]),
    ]);
    return { total, versions: docs.map(storedVersionOf) };
  }

  async search(query: StoreQuery): Promise<StoreQueryResult> {
    this.assertOpen();
    const filter = this.searchFilter(query.resourceTypes, query.filter);
    const [total, docs] = await Promise.all([
      query.withTotal ? this.resources.countDocuments(filter) : Promise.resolve(undefined),
      query.count > 0 ? this.page(filter, query) : Promise.resolve([]),
    ]);
    return { versions: docs.map(storedVersionOf), ...(total !== undefined ? { total } : {}) };
  }

  /**
   * Distinct values at a dotted path of the matching search documents (MongoDB
   * `distinct` flattens arrays, as the port asks). Chains and _has use it.
   */
  async distinct(query: DistinctQuery, path: string): Promise<unknown[]> {
    this.assertOpen();
    // Only documents that have a value there: MongoDB's distinct skips the others anyway, and
    // mongo-java-server fails to encode the "missing" value it would otherwise return (closing the connection).
    const filter = this.searchFilter(query.resourceTypes, { $and: [{ [path]: { $exists: true } }, query.filter] });
    return this.resources.distinct(path, filter);
  }

  /** New index entries for current versions, each only if still that version. */
  async reindex(updates: IndexUpdate[]): Promise<number> {
    this.assertOpen();
    if (updates.length === 0) return 0;
    const result = await this.resources.bulkWrite(
      updates.map((u) => ({
        updateOne: { filter: { _id: resourceKey(u.resourceType, u.id), versionId: u.versionId, deleted: false }, update: { $set: { idx: u.index } } },
      })),
      { ordered: false },
    );
    // The current version's history record is filtered (history of restricted callers) on the same entries.
    await this.history_.bulkWrite(
      updates.map((u) => ({ updateOne: { filter: { _id: versionKey(u.resourceType, u.id, u.versionId), deleted: false }, update: { $set: { idx: u.index } } } })),
      { ordered: false },
    );
    await this.countChanges(updates.map((u) => u.resourceType), undefined);
    return result.matchedCount;
  }

  /**
   * A scan reads pages of SCAN_PAGE heads in (type, id) order (index type_id),
   * without bodies, resuming after the last id, so no server cursor stays open
   * between pages. A head current at `asOf` that matches is then streamed with
   * its body through a cursor of small batches (memory bounded by a batch, not
   * by the page); one changed after `asOf` (or a deletion, when asked for) is
   * judged on its history document of that time, whose `idx` is the version's
   * own (see documents.ts).
   */
  async *scan(query: ScanQuery): AsyncIterable<StoredVersion> {
    this.assertOpen();
    const { asOf, resourceType } = query;
    const userFilter = Object.keys(query.filter).length > 0 ? [query.filter] : [];
    const currentMatches: Document = { $and: [{ deleted: false }, ...(asOf ? [{ lastUpdated: { $lte: asOf } }] : []), ...userFilter] };
    const branches: Document[] = [currentMatches];
    if (asOf) branches.push({ lastUpdated: { $gt: asOf } });
    if (query.includeDeleted) branches.push({ deleted: true, ...(asOf ? { lastUpdated: { $lte: asOf } } : {}) });
    const { resource: _body, ...meta } = VERSION_PROJECTION;
    let after = query.after;
    for (;;) {
      const where: Document = { type: resourceType, ...(after !== undefined ? { id: { $gt: after } } : {}), $or: branches };
      const heads = await this.resources.find(where, { projection: meta }).sort({ type: 1, id: 1 }).limit(SCAN_PAGE).toArray();
      if (heads.length === 0) return;
      // Heads to judge on a history document: changed after asOf, or deleted.
      const historical = new Map<string, StoredVersion | undefined>();
      for (const head of heads) {
        if (asOf && head.lastUpdated > asOf) historical.set(head.id, await this.versionAt(head.type, head.id, asOf, query));
        else if (head.deleted) historical.set(head.id, await this.judged(versionKey(head.type, head.id, head.versionId), query));
      }
      const current = heads.filter((h) => !historical.has(h.id)).map((h) => h.id);
      const bodies =
        current.length > 0
          ? this.resources.find({ $and: [{ type: resourceType, id: { $in: current } }, currentMatches] }, { projection: VERSION_PROJECTION, batchSize: SCAN_BATCH }).sort({ type: 1, id: 1 })
          : undefined;
      let next = bodies ? await bodies.next() : null;
      try {
        for (const head of heads) {
          if (historical.has(head.id)) {
            const version = historical.get(head.id);
            if (version) yield version;
            continue;
          }
          if (next && next.id === head.id) {
            yield storedVersionOf(next);
            next = await bodies!.next();
            continue;
          }
          // Written between the page of heads and the read of its body: judged on the version of asOf.
          if (asOf) {
            const version = await this.versionAt(resourceType, head.id, asOf, query);
            if (version) yield version;
          }
        }
      } finally {
        await bodies?.close();
      }
      if (heads.length < SCAN_PAGE) return;
      after = heads[heads.length - 1].id;
    }
  }

  /** The version of a resource current at `asOf`, if it exists, is wanted (deletions only if asked) and matches the filter. */
  private async versionAt(type: string, id: string, asOf: string, query: ScanQuery): Promise<StoredVersion | undefined> {
    const [old] = await this.history_.find({ type, id, lastUpdated: { $lte: asOf } }, { projection: { _id: 1, deleted: 1 } }).sort({ versionId: -1 }).limit(1).toArray();
    if (!old || (old.deleted && !query.includeDeleted)) return undefined;
    return this.judged(old._id, query);
  }

  /** The history document `key` as a version, if it matches the scan's filter (evaluated on its own idx). */
  private async judged(key: string, query: ScanQuery): Promise<StoredVersion | undefined> {
    const where: Document = Object.keys(query.filter).length > 0 ? { $and: [{ _id: key }, query.filter] } : { _id: key };
    const doc = await this.history_.findOne(where, { projection: VERSION_PROJECTION });
    return doc ? storedVersionOf(doc) : undefined;
  }

  private searchFilter(resourceTypes: string[], filter: Record<string, unknown>): Document {
    const base: Document = { type: resourceTypes.length === 1 ? resourceTypes[0] : { $in: resourceTypes }, deleted: false };
    return Object.keys(filter).length === 0 ? base : { $and: [base, filter] };
  }

  // --- search paging ------------------------------------------------------

  private page(filter: Document, query: StoreQuery): Promise<CurrentDocument[]> {
    // Callers that only need identities and versions (paging snapshots) say so: skip the bodies.
    const { resource: _resource, ...withoutBody } = VERSION_PROJECTION;
    const projection: Document = query.idsOnly ? withoutBody : VERSION_PROJECTION;
    const sort = [...(query.sort ?? [])];
    for (const path of ['type', 'id']) if (!sort.some((s) => s.path === path)) sort.push({ path, direction: 1 });
    const multiValued = sort.map((s) => s.path.startsWith('idx.'));
    if (!multiValued.some(Boolean)) {
      const spec: Document = {};
      for (const s of sort) spec[s.path] = s.direction;
      return this.resources.find(filter, { projection }).sort(spec).skip(query.offset).limit(query.count).toArray();
    }
    // MongoDB sorts documents without a value first in ascending order; the port
    // (and the embedded store) put them last in both directions. A computed
    // "has a value" key ahead of each index path restores that.
    const flags: Document = {};
    const spec: Document = {};
    sort.forEach((s, i) => {
      if (multiValued[i]) {
        const flag = `_has${i}`;
        const value = `$${s.path}`;
        flags[flag] = { $cond: [{ $isArray: value }, { $gt: [{ $size: value }, 0] }, { $ne: [{ $ifNull: [value, null] }, null] }] };
        spec[flag] = -1;
      }
      spec[s.path] = s.direction;
    });
    return this.resources
      .aggregate<CurrentDocument>([
        { $match: filter },
        { $addFields: flags },
        { $sort: spec },
        { $skip: query.offset },
        { $limit: query.count },
        { $project: projection },
      ])
      .toArray();
  }

  // --- write path ---------------------------------------------------------

  private async writeInTransaction(operations: WriteOperation[]): Promise<StoredVersion[]> {
    for (let attempt = 1; ; attempt++) {
      const session = this.client.startSession();
      try {
        let versions: StoredVersion[] = [];
        // withTransaction re-runs the callback on transient errors (write conflicts) itself.
        await session.withTransaction(
          async () => {
            versions = [];
            const now = Date.now();
            for (const operation of operations) {
              const version = await this.applyOperation(operation, now, session);
              if (version) versions.push(version);
            }
            await this.countChanges(versions.map((v) => v.resourceType), session);
          },
          { readConcern: { level: 'snapshot' }, readPreference: 'primary' },
        );
        return versions;
      } catch (error) {
        // A duplicate key committed by a concurrent transaction, or a lost compare-and-set:
        // run again from the reads, which now see the winner.
        if ((error instanceof TransactionRace || isDuplicateKey(error)) && attempt < MAX_TRANSACTION_ATTEMPTS) continue;
        throw error;
      } finally {
        await session.endSession();
      }
    }
  }

  /**
   * Checks and applies one operation. With a session, inside the caller's
   * transaction (a lost race throws TransactionRace); without, in recoverable
   * steps, re-deciding from a fresh read whenever another writer got in first.
   */
  private async applyOperation(op: WriteOperation, now: number, session: ClientSession | undefined): Promise<StoredVersion | undefined> {
    const key = resourceKey(op.resourceType, op.id);
    for (let attempt = 1; ; attempt++) {
      // The index entries are read only when the history record needs them: a deletion keeps those
      // of the version it deletes; without a session, the repair copy of the replaced version too.
      const current: WithOutbox | null = await this.resources.findOne({ _id: key }, { session, ...(op.kind === 'delete' || !session ? {} : { projection: { idx: 0 } }) });
      const live = current && !current.deleted ? current.versionId : undefined;
      if (op.expect === 'absent' && live !== undefined) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
      if (typeof op.expect === 'number' && live !== op.expect) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
      if (op.kind === 'delete' && live === undefined) return undefined; // deleting nothing creates no version
      if (attempt > MAX_WRITE_ATTEMPTS) throw new VersionConflict(op.resourceType, op.id, op.expect, live);

      const versionId = (current?.versionId ?? 0) + 1;
      const lastUpdated = nextInstant(now, current?.lastUpdated);
      // Notification records of the version replaced that a writer which died never copied out: copied before it goes.
      if (!session && current?.obp) await this.outbox.settleEmbedded(current);
      const outboxDocs = pendingDocumentsOf(op.outbox ?? [], op.resourceType, op.id, versionId, lastUpdated);
      const claim =
        op.kind === 'put' && op.guardKey
          ? await claimGuard(
              this.guards,
              { guardKey: op.guardKey, resourceType: op.resourceType, id: op.id, ...(op.takeOverGuardFrom ? { takeOverGuardFrom: op.takeOverGuardFrom } : {}) },
              session,
              (type, id) => this.isLive(type, id, session),
            )
          : undefined;
      const guardKey = op.kind === 'put' ? (op.guardKey ?? (live !== undefined ? current?.guardKey : undefined)) : undefined;
      const next: WithOutbox = {
        _id: key,
        type: op.resourceType,
        id: op.id,
        versionId,
        lastUpdated,
        deleted: op.kind === 'delete',
        ...(op.kind === 'put'
          ? { resource: withVersionMeta(op.resource!, op.id, versionId, lastUpdated), idx: op.index ?? {} }
          : {}),
        ...(guardKey ? { guardKey } : {}),
        // Without transactions the records commit inside the version's own document (see mongo-outbox.ts).
        ...(!session && outboxDocs.length > 0 ? { ob: outboxDocs, obp: true as const } : {}),
      };

      if (!(await this.compareAndSet(current, next, session))) {
        if (session) throw new TransactionRace();
        if (claim) await releaseGuard(this.guards, claim._id, claim, undefined);
        continue;
      }
      await this.recordHistory(current, next, session);
      if (session) await this.outbox.insertPending(outboxDocs, session);
      else await this.outbox.settleEmbedded(next);
      if (claim && !session) await settleGuard(this.guards, claim);
      if (op.kind === 'delete' && current?.guardKey) {
        // A deleted resource no longer blocks a conditional create on the same criteria.
        await releaseGuard(this.guards, current.guardKey, { type: op.resourceType, id: op.id }, session);
      }
      return storedVersionOf(next);
    }
  }

  private async isLive(type: string, id: string, session: ClientSession | undefined): Promise<boolean> {
    const doc = await this.resources.findOne({ _id: resourceKey(type, id) }, { session, projection: { deleted: 1 } });
    return doc !== null && !doc.deleted;
  }

  /** Replaces the current version only if it is still the one read; false when another writer won. */
  private async compareAndSet(current: CurrentDocument | null, next: CurrentDocument, session: ClientSession | undefined): Promise<boolean> {
    if (!current) {
      try {
        await this.resources.insertOne(next, { session });
        return true;
      } catch (error) {
        if (!isDuplicateKey(error) || session) throw error;
        return false;
      }
    }
    const result = await this.resources.replaceOne({ _id: next._id, versionId: current.versionId }, next, { session });
    return result.matchedCount === 1;
  }

  private async recordHistory(previous: CurrentDocument | null, next: CurrentDocument, session: ClientSession | undefined): Promise<void> {
    if (session) {
      await this.history_.insertOne(historyDocumentOf(next, previous?.idx), { session });
      return;
    }
    // Without transactions the previous writer may have died between its
    // compare-and-set and this step: copying the version we replaced again
    // repairs that (the unique _id makes the copy a no-op otherwise).
    const docs = previous ? [historyDocumentOf(previous), historyDocumentOf(next, previous.idx)] : [historyDocumentOf(next)];
    try {
      await this.history_.insertMany(docs, { ordered: false });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new Error(`mongodb store is ${this.state}`);
  }
}
