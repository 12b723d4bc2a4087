/**
 * The embedded store: the default store, for a newcomer's first run, development
 * and small deployments — data in DATA_DIR, no database server. It is LMDB
 * (lmdb-js; layout in lmdb-layout.ts): data on disk, memory-mapped, not in the
 * JavaScript heap; ordered keys for the search index; ACID transactions. One
 * process owns the data folder (relais.lock, with the holder's pid).
 *
 * Writes: group commit — the units of work waiting when a commit ends are
 * checked in order and their writes queued as one atomic lmdb-js batch, which
 * lmdb-js' write thread executes and commits off the event loop (unit-writer.ts). A write is acknowledged only once its
 * commit is on disk; a commit that fails is never acknowledged, and a storage
 * fault (full disk, read-only folder, I/O error, no file descriptor) makes the
 * store refuse writes with a 503 until a probe write succeeds (write-gate.ts).
 * No compaction: LMDB reuses the pages it frees.
 *
 * Reads (read, vread, history, search) are synchronous LMDB reads of one snapshot
 * each, and keep working while writes are refused.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DistinctQuery,
  type HistoryPage,
  type HistoryQuery,
  type IndexUpdate,
  type MatchRef,
  type OutboxEntry,
  type OutboxQueueState,
  type ResourceStore,
  type ResultSetLimits,
  type ResultSetSlice,
  type ScanQuery,
  type StoreQuery,
  type StoreQueryResult,
  type StoredVersion,
  type WriteOperation,
  DEFAULT_RESULT_SET_LIMITS,
} from '../resource-store.js';
import { matchingDocuments } from './document-reader.js';
import { FilterTests } from './filter-test.js';
import { readHistory } from './history-reader.js';
import { scanType } from './scan-reader.js';
import { Pacer } from './pacer.js';
import { HeldSnapshots, type HeldSnapshot, type ReleasedSnapshot } from './held-snapshots.js';
import { historyPosition, replayMatches } from './snapshot-replay.js';
import { listExactMatches } from './key-order.js';
import { migrateLegacyJournal } from './journal-migration.js';
import type { Transaction } from 'lmdb';
import type { UnkeyedParameters } from './index-keys.js';
import { KeyEncoder } from './key-encoder.js';
import { openLayout, STORE_FOLDER, UNKEYED_PARAMETERS, type Layout } from './lmdb-layout.js';
import { addMissingPositionKeys } from './position-keys.js';
import { LmdbOutbox } from './lmdb-outbox.js';
import { LmdbResultSets } from './lmdb-result-sets.js';
import { compareSortKeys, sortKeyOf } from './sort-keys.js';
import { cooperativeSort } from './cooperative-sort.js';
import { commitCause, storageFault } from './storage-faults.js';
import { BatchView, checkUnit, planWrites, storedVersion, type CommittedOperation } from './unit-writer.js';
import { readVersionRecord } from './version-text.js';
import { WriteGate } from './write-gate.js';

export interface EmbeddedStoreLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface EmbeddedStoreOptions {
  directory: string;
  /** Paging snapshots (lmdb-result-sets.ts). */
  resultSets?: ResultSetLimits;
  /** Storage faults and the migration are logged here (never resources). */
  log?: EmbeddedStoreLog;
  /** While writes are refused, how often a probe write is tried (default 1 s). */
  probeIntervalMs?: number;
  /** Retry-After of the 503 while writes are refused (default 5 s). */
  retryAfterSeconds?: number;
  /** References per stored chunk of a paging snapshot (tests use tiny chunks to cross their boundaries). */
  resultSetChunkSize?: number;
  /** Types written with compact heads (lmdb-layout.ts; default WRITE_ONCE_TYPES: AuditEvent). */
  writeOnceTypes?: ReadonlySet<string>;
  /** Parameters written without search keys (lmdb-layout.ts; default UNKEYED_PARAMETERS: AuditEvent's shared codes). */
  unkeyedParameters?: UnkeyedParameters;
}

const LOCK_FILE = 'relais.lock';
/** Operations per group commit (a larger unit goes alone): bounds the event loop's share of a commit (checks, queuing). */
const BATCH_OPERATIONS = 256;

type UnitResult = { created: StoredVersion[]; reindexed: number };

interface PendingUnit {
  size: number;
  prepare: (view: BatchView) => CommittedOperation[];
  resolve: (result: UnitResult) => void;
  reject: (error: unknown) => void;
}
const RESULT_SETS_FOLDER = 'result-sets';
/**
 * Items copied between two looks at the pacer when an explicit sort's order is copied back and its
 * paging snapshot's refs are built: over 600,000 sorted matches (`Observation?_sort=-date` at 1 M)
 * these two plain loops held the event loop 130–230 ms in one piece (CPU-profiled).
 */
const PACED_COPY = 4096;
const SILENT: EmbeddedStoreLog = { warn: () => undefined, info: () => undefined };

/** MongoDB `distinct` path semantics: arrays are flattened at every level. */
function collectAt(node: unknown, segments: string[], into: Set<unknown>): void {
  if (node === undefined || node === null) return;
  if (Array.isArray(node)) {
    for (const item of node) collectAt(item, segments, into);
    return;
  }
  if (segments.length === 0) {
    into.add(node);
    return;
  }
  if (typeof node !== 'object') return;
  collectAt((node as Record<string, unknown>)[segments[0]], segments.slice(1), into);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class EmbeddedStore implements ResourceStore {
  readonly capabilities = { name: 'embedded', atomicMultiWrite: true };

  private readonly directory: string;
  private readonly log: EmbeddedStoreLog;
  private readonly limits: ResultSetLimits;
  private layout: Layout | undefined;
  private resultSets: LmdbResultSets | undefined;
  /** First pages' snapshots whose matches are listed only when needed (held-snapshots.ts). */
  private held: HeldSnapshots | undefined;
  private gate: WriteGate | undefined;
  private sweeper: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The subscription outbox, in the same LMDB environment (lmdb-outbox.ts). */
  private readonly outbox = new LmdbOutbox(() => this.opened());
  private pending: PendingUnit[] = [];
  private flushing: Promise<void> | undefined;
  private seq = 0;
  /** Acknowledged writes per type since the store opened (changeStamp), with this opening's own mark. */
  private readonly changes = new Map<string, number>();
  /** Compiled filter evaluations, kept across searches (filter-test.ts). */
  private readonly filterTests = new FilterTests();
  private readonly opening = randomUUID();
  /** The writer's key encoder, kept across batches (key-encoder.ts: its arenas are reused until full). */
  private readonly keyEncoder = new KeyEncoder();
  /** Commits made and units of work they carried (scripts/bench-store.ts: writes per fsync). */
  private readonly committed = { commits: 0, units: 0 };
  private lastTimestamp = 0;
  /** Reindexes asked since open (released paging snapshots taken before one are not rebuilt: held-snapshots.ts). */
  private reindexes = 0;
  private state: 'new' | 'open' | 'closed' = 'new';
  /** Opened on a folder that could not be written (see open()). */
  private readOnly = false;

  constructor(private readonly options: EmbeddedStoreOptions) {
    this.directory = options.directory;
    this.log = options.log ?? SILENT;
    this.limits = options.resultSets ?? DEFAULT_RESULT_SET_LIMITS;
  }

  /**
   * Opens the data folder for reading and writing; if the folder cannot be written (read-only
   * filesystem, permissions) but holds a store, opens it read-only instead: reads are served,
   * writes get the 503, and the store switches to read-write by itself once it can (the probe).
   */
  async open(): Promise<void> {
    mkdirSync(this.directory, { recursive: true });
    this.gate = new WriteGate({
      probe: () => (this.readOnly ? this.reopenWritable() : this.probe()),
      probeIntervalMs: this.options.probeIntervalMs ?? 1000,
      retryAfterSeconds: this.options.retryAfterSeconds ?? 5,
      log: this.log,
    });
    try {
      await this.openWritable();
    } catch (error) {
      const fault = storageFault(error);
      if (!fault || fault.code === 'EMFILE' || fault.code === 'ENFILE' || !existsSync(join(this.directory, STORE_FOLDER, 'data.mdb'))) throw error;
      try {
        this.layout = openLayout(this.directory, true, this.options.unkeyedParameters);
      } catch {
        throw error;
      }
      this.readOnly = true;
      this.readCounters(this.layout);
      // Paging snapshots then live in a temporary folder (the data folder takes no writes).
      this.resultSets = new LmdbResultSets(mkdtempSync(join(tmpdir(), 'relais-result-sets-')), this.limits, this.options.resultSetChunkSize);
      this.gate.refuseFromStart(fault);
    }
    this.held = new HeldSnapshots(
      {
        list: (snapshot) => this.listSnapshot(snapshot),
        locate: (snapshot) => historyPosition(this.opened(), snapshot.transaction),
        replay: (snapshot) => this.replaySnapshot(snapshot),
      },
      (promise) => this.track(promise),
      this.limits,
      this.limits.clock,
    );
    this.startSweeper();
    this.state = 'open';
  }

  private async openWritable(): Promise<void> {
    this.acquireLock();
    try {
      const layout = openLayout(this.directory, false, this.options.unkeyedParameters);
      this.layout = layout;
      this.readCounters(layout);
      const migrated = await migrateLegacyJournal(layout, this.directory, () => ++this.seq);
      if (migrated) {
        this.readCounters(layout);
        this.log.info({ units: migrated.units, operations: migrated.operations, movedTo: migrated.movedTo }, 'embedded store: old journal migrated to LMDB');
      }
      const positioned = await addMissingPositionKeys(layout, this.keyPolicy());
      if (positioned > 0) this.log.info({ locations: positioned }, 'embedded store: position keys added (near searches)');
      this.resultSets = new LmdbResultSets(join(this.directory, RESULT_SETS_FOLDER), this.limits, this.options.resultSetChunkSize);
    } catch (error) {
      await this.layout?.env.close().catch(() => undefined);
      this.layout = undefined;
      this.releaseLock();
      throw error;
    }
  }

  /** The probe of a store opened read-only: take the lock and the environment for writing, then switch to them. */
  private async reopenWritable(): Promise<void> {
    this.acquireLock();
    const readOnlyLayout = this.layout!;
    // Reads in progress and held snapshots hold read transactions of the read-only environment: let them finish.
    await this.held!.settleAll();
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    // lmdb-js shares one native environment per path within a process: the read-only one must go first.
    // Its close settles within microtasks (no write transaction can be pending on it), so no request runs in between.
    await readOnlyLayout.env.close();
    try {
      this.layout = openLayout(this.directory, false, this.options.unkeyedParameters);
    } catch (error) {
      this.layout = openLayout(this.directory, true, this.options.unkeyedParameters);
      this.releaseLock();
      throw error;
    }
    // Reads go on meanwhile (writes wait: still read-only), `near` judged without keys until they are all there.
    await addMissingPositionKeys(this.layout, this.keyPolicy());
    this.readOnly = false;
    this.readCounters(this.layout);
    await this.probe();
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    if (this.sweeper) clearInterval(this.sweeper);
    this.gate?.close();
    this.held?.close();
    // Units queued before the close still commit (the flush loop reads the layout it was given): a
    // write in flight during a graceful shutdown is answered, not lost or left hanging.
    await Promise.allSettled([...this.inFlight]);
    await this.resultSets?.close().catch(() => undefined);
    await this.layout?.env.close();
    if (!this.readOnly) this.releaseLock();
  }

  /** Ready = open and able to write (not while a storage fault refuses writes). */
  isReady(): boolean {
    return this.state === 'open' && this.gate?.refusal === undefined;
  }

  async readCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    const layout = this.opened();
    const head = layout.heads.get([resourceType, id]);
    // Read as text: the body's stored JSON is kept with it (version-text.ts), for a read sent unchanged.
    return head ? readVersionRecord(layout.versions, resourceType, id, head.v) : undefined;
  }

  async readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    return readVersionRecord(this.opened().versions, resourceType, id, versionId);
  }

  async write(operations: WriteOperation[]): Promise<StoredVersion[]> {
    const { created } = await this.enqueue(operations.length, (view) => {
      const committed = checkUnit(view, operations, this.nextTimestamp());
      // The notifications these operations trigger join the same batch (numbered in commit order).
      if (operations.some((o) => o.outbox && o.outbox.length > 0)) this.outbox.plan(view, operations, committed);
      return committed;
    });
    return created;
  }

  async reindex(updates: IndexUpdate[]): Promise<number> {
    const { reindexed } = await this.enqueue(updates.length, () =>
      updates.map((u): CommittedOperation => ({ kind: 'index', resourceType: u.resourceType, id: u.id, versionId: u.versionId, lastUpdated: '', index: u.index })),
    );
    // Counted once committed: a snapshot that counted before this sees the count change (and is not rebuilt),
    // whether or not its transaction saw the reindex.
    this.reindexes++;
    return reindexed;
  }

  // --- outbox (lmdb-outbox.ts) ------------------------------------------

  async readOutbox(queue: string, after: number, limit: number): Promise<OutboxEntry[]> {
    return this.outbox.read(queue, after, limit);
  }

  async outboxBacklog(): Promise<OutboxQueueState[]> {
    return this.outbox.backlog();
  }

  async outboxState(queue: string): Promise<OutboxQueueState> {
    return this.outbox.state(queue);
  }

  async leaseOutbox(queue: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.outbox.lease(queue, holder, ttlMs);
  }

  async releaseOutbox(queue: string, holder: string): Promise<void> {
    this.outbox.release(queue, holder);
  }

  async ackOutbox(queue: string, seq: number): Promise<void> {
    await this.enqueue(1, (view) => (this.outbox.ack(view, queue, seq), []));
  }

  async trimOutbox(queue: string, upTo: number): Promise<void> {
    await this.enqueue(1, (view) => (this.outbox.trim(view, queue, upTo), []));
  }

  async dropOutbox(queue: string): Promise<void> {
    await this.enqueue(1, (view) => (this.outbox.drop(view, queue), []));
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    return this.reading((layout, transaction) => readHistory(layout, transaction, query));
  }

  search(query: StoreQuery): Promise<StoreQueryResult> {
    const layout = this.opened();
    // Counted before the transaction begins: a reindex committed meanwhile makes a released snapshot unusable, never wrong.
    const reindexes = this.reindexes;
    const transaction = layout.env.useReadTransaction();
    let held = false;
    return this.track(
      (async () => {
        try {
          const result = await this.searchWithin(layout, transaction, query);
          const keep = query.keepSnapshot;
          if (!keep || query.count === 0 || result.versions.length < query.count || result.snapshotKept) return result;
          // The default order, read up to the page's end only: the rest is listed from this same snapshot when needed.
          this.held!.hold({ cursor: keep.cursor, owner: keep.owner, resourceTypes: query.resourceTypes, filter: query.filter, transaction, reindexes });
          held = true;
          return { ...result, snapshotKept: true };
        } finally {
          if (!held) transaction.done();
        }
      })(),
    );
  }

  /** Lists a held snapshot's matches (held-snapshots.ts) and saves them as a result set. */
  private async listSnapshot(snapshot: HeldSnapshot): Promise<void> {
    const layout = this.opened();
    const refs =
      (await listExactMatches(layout, snapshot.transaction, snapshot.resourceTypes, snapshot.filter, new Pacer())) ??
      (await matchingDocuments(layout, snapshot.transaction, snapshot.resourceTypes, snapshot.filter, { ordered: true, refsOnly: true, tests: this.filterTests })).map((m) => ({ resourceType: m.resourceType, id: m.id }));
    await this.resultSets!.save(snapshot.cursor, snapshot.owner, refs);
  }

  /** Rebuilds a released snapshot's matches from the history (snapshot-replay.ts) and saves them as a result set. */
  private async replaySnapshot(snapshot: ReleasedSnapshot): Promise<void> {
    // A reindex since the first page rewrote entries without history: the cursor is given up (410).
    if (snapshot.reindexes !== this.reindexes) return;
    const refs = await this.reading((layout, transaction) => replayMatches(layout, transaction, snapshot.resourceTypes, snapshot.filter, snapshot.position, new Pacer()));
    await this.resultSets!.save(snapshot.cursor, snapshot.owner, refs);
  }

  private async searchWithin(layout: Layout, transaction: Transaction, query: StoreQuery): Promise<StoreQueryResult> {
    const explicitSort = (query.sort ?? []).length > 0;
    // In the default order (type, id) without a total, only the matches up to the page's end are read.
    const matches = await matchingDocuments(layout, transaction, query.resourceTypes, query.filter, {
      paths: (query.sort ?? []).map((s) => s.path),
      ordered: !explicitSort,
      ...(!explicitSort && !query.withTotal ? { limit: query.offset + query.count } : {}),
      idsOnly: query.idsOnly === true,
      tests: this.filterTests,
    });
    if (explicitSort && matches.length > 1) {
      // Keyed and sorted in slices (cooperative-sort.ts): a million matches held the event loop about a second.
      const sort = [...(query.sort ?? []), { path: 'type', direction: 1 as const }, { path: 'id', direction: 1 as const }];
      const pacer = new Pacer();
      const keyed: Array<{ m: (typeof matches)[number]; keys: unknown[] }> = [];
      for (const m of matches) {
        keyed.push({ m, keys: sort.map((s) => sortKeyOf(m.doc, s.path, s.direction)) });
        if (keyed.length % 1024 === 0) await pacer.paceCostly();
      }
      const ordered = await cooperativeSort(keyed, (a, b) => compareSortKeys(a.keys, b.keys, sort), () => pacer.paceCostly());
      for (let i = 0; i < ordered.length; i++) {
        matches[i] = ordered[i].m;
        if ((i & (PACED_COPY - 1)) === PACED_COPY - 1) await pacer.paceCostly();
      }
    }
    let snapshotKept = false;
    if (query.keepSnapshot && (explicitSort || query.withTotal) && query.count > 0 && matches.length >= query.offset + query.count) {
      // Every match is already read, in order: the snapshot is kept now, from this read.
      const refs: MatchRef[] = new Array(matches.length);
      const pacer = new Pacer();
      for (let i = 0; i < matches.length; i++) {
        refs[i] = { resourceType: matches[i].resourceType, id: matches[i].id };
        if ((i & (PACED_COPY - 1)) === PACED_COPY - 1) await pacer.paceCostly();
      }
      await this.resultSets!.save(query.keepSnapshot.cursor, query.keepSnapshot.owner, refs);
      snapshotKept = true;
    }
    const page = query.count > 0 ? matches.slice(query.offset, query.offset + query.count) : [];
    const versions: StoredVersion[] = [];
    for (const match of page) {
      if (query.idsOnly) {
        versions.push({ resourceType: match.resourceType, id: match.id, versionId: match.head.v, lastUpdated: match.head.lu, deleted: false });
        continue;
      }
      const record = layout.versions.get([match.resourceType, match.id, match.head.v], { transaction });
      if (record) versions.push(storedVersion(match.resourceType, match.id, match.head.v, record));
    }
    return { versions, ...(query.withTotal || snapshotKept ? { total: matches.length } : {}), ...(snapshotKept ? { snapshotKept } : {}) };
  }

  /** One process owns the store: the counts of acknowledged writes it keeps in memory are every write's. */
  async changeStamp(resourceTypes: readonly string[]): Promise<string> {
    return `${this.opening}:${resourceTypes.map((type) => this.changes.get(type) ?? 0).join(',')}`;
  }

  distinct(query: DistinctQuery, path: string): Promise<unknown[]> {
    return this.reading(async (layout, transaction) => {
      const values = new Set<unknown>();
      const segments = path.split('.');
      for (const { doc } of await matchingDocuments(layout, transaction, query.resourceTypes, query.filter, { paths: [path], entriesOnly: true, tests: this.filterTests })) collectAt(doc, segments, values);
      return [...values];
    });
  }

  /** Bulk reads (scan-reader.ts): batches of heads in short read transactions, bodies read one by one. */
  scan(query: ScanQuery): AsyncIterable<StoredVersion> {
    return scanType((read) => this.reading(read), () => this.opened(), query);
  }

  /** Runs a read within one explicit LMDB read transaction (one snapshot, even across event-loop turns). */
  private async reading<T>(read: (layout: Layout, transaction: Transaction) => Promise<T>): Promise<T> {
    const layout = this.opened();
    const transaction = layout.env.useReadTransaction();
    try {
      return await this.track(read(layout, transaction));
    } finally {
      transaction.done();
    }
  }

  async saveResultSet(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    this.opened();
    await this.track(this.resultSets!.save(cursor, owner, refs));
  }

  /** Releases every held paging snapshot now, as the end of its hold time would (benchmarks: to count the work a first page leaves). */
  async releaseHeldSnapshots(): Promise<void> {
    this.opened();
    await this.held!.releaseAll();
  }

  async loadResultSet(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
    this.opened();
    await this.held!.settle(cursor, owner);
    return this.resultSets!.load(cursor, owner, offset, count);
  }

  /** The store's periodic maintenance, run now: dropping expired paging snapshots (the only one; LMDB needs no compaction). */
  async runMaintenance(): Promise<number> {
    this.opened();
    return this.track(this.resultSets!.sweep());
  }

  // --- write path ---------------------------------------------------------

  /** Queues a unit (`prepare` checks it against the batch's view and may throw a conflict); resolves once it is durable. */
  private enqueue(size: number, prepare: (view: BatchView) => CommittedOperation[]): Promise<UnitResult> {
    try {
      this.opened();
      this.gate!.check();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return this.track(
      new Promise<UnitResult>((resolve, reject) => {
        this.pending.push({ size, prepare, resolve, reject });
        this.flushing ??= this.flushLoop();
      }),
    );
  }

  /** Group commit: the units waiting when a commit ends form the next one (at most BATCH_OPERATIONS operations, or one unit). */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        let take = 0;
        let operations = 0;
        while (take < this.pending.length && (take === 0 || operations + this.pending[take].size <= BATCH_OPERATIONS)) operations += this.pending[take++].size;
        await this.flushBatch(this.pending.splice(0, take));
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async flushBatch(batch: PendingUnit[]): Promise<void> {
    // Not opened(): the units of a batch were accepted while the store was open, and close() waits for them.
    const view = new BatchView(this.layout!, this.options.writeOnceTypes, this.keyEncoder);
    const pacer = new Pacer();
    const accepted: Array<{ unit: PendingUnit; result: UnitResult }> = [];
    const changedTypes = new Set<string>();
    for (const unit of batch) {
      const queued = view.writes.length;
      try {
        const operations = unit.prepare(view);
        accepted.push({ unit, result: await planWrites(view, operations, () => ++this.seq, pacer) });
        for (const operation of operations) changedTypes.add(operation.resourceType);
      } catch (error) {
        // A check failed: nothing of this unit was queued (checks run before planWrites queues anything).
        view.writes.length = queued;
        unit.reject(error);
      }
    }
    if (accepted.length === 0) return;
    try {
      await view.commit();
    } catch (error) {
      const failure = this.gate!.failed(await commitCause(error));
      for (const { unit } of accepted) unit.reject(failure);
      // Units queued meanwhile would meet the same storage: refused like any write while it is at fault.
      if (this.gate!.refusal) for (const unit of this.pending.splice(0)) unit.reject(failure);
      return;
    }
    // Counted once the commit is visible and before any unit is acknowledged (changeStamp's promise).
    for (const type of changedTypes) this.changes.set(type, (this.changes.get(type) ?? 0) + 1);
    this.committed.commits++;
    this.committed.units += accepted.length;
    for (const { unit, result } of accepted) unit.resolve(result);
  }

  /** How many commits (each one fsync) and how many units of work they carried, since open. */
  commitCounts(): { commits: number; units: number } {
    return { ...this.committed };
  }

  /** lastUpdated of the next unit: now, but always after the previous unit's. */
  private nextTimestamp(): string {
    const now = Math.max(Date.now(), this.lastTimestamp + 1);
    this.lastTimestamp = now;
    return new Date(now).toISOString();
  }

  /** A tiny durable write, to learn whether the storage takes writes again. */
  private async probe(): Promise<void> {
    const layout = this.opened();
    await layout.meta.put('probe', new Date().toISOString());
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const done = () => this.inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  }

  private readCounters(layout: Layout): void {
    for (const key of layout.log.getKeys({ reverse: true, limit: 1 })) {
      this.seq = key[1];
      this.lastTimestamp = Date.parse(key[0]);
    }
  }

  private startSweeper(): void {
    const every = Math.max(1000, Math.min(this.limits.idleMs, 60_000));
    this.sweeper = setInterval(() => {
      this.resultSets?.sweep().catch((error: unknown) => void commitCause(error).catch(() => undefined));
    }, every);
    this.sweeper.unref();
  }

  private opened(): Layout {
    if (this.state !== 'open' || !this.layout) throw new Error(`embedded store is ${this.state}`);
    return this.layout;
  }

  /** The parameters written without keys, once the folder's positions have theirs (position-keys.ts). */
  private keyPolicy(): UnkeyedParameters {
    return this.options.unkeyedParameters ?? UNKEYED_PARAMETERS;
  }

  private acquireLock(): void {
    const lockPath = join(this.directory, LOCK_FILE);
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(lockPath, 'utf8'));
      if (holder && holder !== process.pid && isProcessAlive(holder)) {
        throw new Error(`embedded store: ${this.directory} is in use by process ${holder}`);
      }
      writeFileSync(lockPath, String(process.pid));
    }
  }

  /** Removes the lock file; on a folder that can no longer be written it stays (the next start sees its pid is gone). */
  private releaseLock(): void {
    try {
      rmSync(join(this.directory, LOCK_FILE), { force: true });
    } catch (error) {
      this.log.warn({ code: (error as NodeJS.ErrnoException).code }, 'embedded store: could not remove the lock file');
    }
  }
}
