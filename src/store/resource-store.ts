/**
 * The store port: the narrow contract every persistence back end fulfils
 * (embedded journal store, MongoDB). Everything FHIR-specific (search
 * semantics, references, compartments) stays above it, in the engine; the store
 * only keeps versions, guarantees atomic version checks, and evaluates filter
 * documents (MongoDB query language) over the index entries the engine computed.
 */
import type { Resource } from 'fhir/r4';

/** Search index entries computed once per write (see src/search/index-extractor.ts). */
export type IndexEntries = Record<string, unknown[]>;

export interface StoredVersion {
  resourceType: string;
  id: string;
  /** Monotonic per resource, starting at 1; the FHIR versionId is its decimal form. */
  versionId: number;
  /** ISO instant the version was committed (also meta.lastUpdated). */
  lastUpdated: string;
  /** True for the version a delete created; `resource` is then absent. */
  deleted: boolean;
  resource?: Resource;
}

/** A write the store must apply atomically, checking `expect` first. */
export interface WriteOperation {
  kind: 'put' | 'delete';
  resourceType: string;
  id: string;
  /** The full resource body (meta.versionId/lastUpdated are set by the store). Absent for deletes. */
  resource?: Resource;
  index?: IndexEntries;
  /**
   * Optimistic concurrency: 'absent' = the resource must not exist (or be deleted),
   * a number = the current version must be exactly this one, undefined = any state.
   */
  expect?: 'absent' | number;
  /**
   * Conditional-create guard: a key unique among live resources (a hash of the
   * type and normalised search). The write fails with GuardConflict if another
   * live resource holds it, unless `takeOverGuardFrom` names that holder.
   */
  guardKey?: string;
  takeOverGuardFrom?: { resourceType: string; id: string };
  /**
   * Notifications this operation triggers (the subscription outbox): committed
   * with the version it creates, in the same atomic write, or not at all.
   * Ignored for a delete of nothing (no version is created).
   */
  outbox?: OutboxRecord[];
}

export class VersionConflict extends Error {
  constructor(
    readonly resourceType: string,
    readonly id: string,
    readonly expected: 'absent' | number | undefined,
    readonly actual: number | undefined,
  ) {
    super(`version conflict on ${resourceType}/${id}`);
    this.name = 'VersionConflict';
  }
}

export class GuardConflict extends Error {
  constructor(
    readonly guardKey: string,
    readonly holder: { resourceType: string; id: string },
  ) {
    super(`conditional create guard held by ${holder.resourceType}/${holder.id}`);
    this.name = 'GuardConflict';
  }
}

export interface HistoryQuery {
  resourceType?: string;
  id?: string;
  /** Only versions committed strictly after this instant. */
  since?: string;
  /** Only versions committed at or before this instant (paging anchor). */
  at?: string;
  offset: number;
  count: number;
  /**
   * Only the versions whose own search document matches this MongoDB filter
   * (same language as StoreQuery.filter) over `{ id, type, lastUpdated, idx }`,
   * where `idx` are the index entries written with THAT version (a deletion:
   * those of the version it deleted; a reindex also updates the current
   * version's). Versions stored without entries match only filters that ask
   * nothing of `idx`. `total` counts the matching versions. Used to filter
   * type/system history by the access policy, judging each version on its own
   * content, and for `_type` at system level.
   */
  filter?: Record<string, unknown>;
}

export interface HistoryPage {
  versions: StoredVersion[];
  total: number;
}

/** A search over the current, non-deleted versions of one or more types. */
export interface StoreQuery {
  resourceTypes: string[];
  /** MongoDB filter document over `{ id, lastUpdated, idx: IndexEntries }`. */
  filter: Record<string, unknown>;
  /** Sort keys over the same document; `id` is always appended as a tiebreaker. */
  sort?: Array<{ path: string; direction: 1 | -1 }>;
  offset: number;
  /** 0 means: only the total. */
  count: number;
  withTotal: boolean;
  /**
   * A hint that the caller only needs resourceType/id/versionId/lastUpdated of
   * each match (paging snapshots): a store may then omit `resource` from the
   * returned versions and avoid fetching bodies.
   */
  idsOnly?: boolean;
  /**
   * Paging (src/engine/interactions/search.ts): when the page is full (`count` matches from `offset`:
   * the engine asks one more than it shows, to learn whether a next page exists), the store may keep a
   * paging snapshot of ALL the matches of this query in its order, as of this very read, under
   * `cursor` for `owner` (as saveResultSet would), and then says so with `snapshotKept`. It may list
   * them later from that same state (the embedded store holds the read's LMDB snapshot), so that the
   * first page of a broad search costs in proportion to the page. A store may ignore it.
   */
  keepSnapshot?: { cursor: string; owner: string };
}

/**
 * The distinct values at a dotted path of the search documents matching a
 * filter (MongoDB `distinct` semantics: array elements are flattened, so
 * `idx.patient.r` yields every referenced "Patient/123" once).
 * Used by the search compiler to resolve chains (`path` = 'id') and `_has`
 * (`path` = 'idx.<reference param>.r') as sub-queries feeding `$in`, so no store
 * needs joins ($lookup).
 */
export interface DistinctQuery {
  resourceTypes: string[];
  filter: Record<string, unknown>;
}

/** Fresh index entries for the current version of a resource (reindexing; no new version). */
export interface IndexUpdate {
  resourceType: string;
  id: string;
  /** Applied only if this is still the current version (otherwise skipped: a newer write indexed itself). */
  versionId: number;
  index: IndexEntries;
}

export interface StoreQueryResult {
  versions: StoredVersion[];
  total?: number;
  /** The snapshot StoreQuery.keepSnapshot asked for is kept under its cursor. */
  snapshotKept?: boolean;
}

/**
 * A bulk read of one type (bulk export): every resource of the type in
 * ascending id order (code-unit order; FHIR ids are ASCII), each one at most
 * once however it changes during the scan, as it was at `asOf`. A scan never
 * materialises the whole result: it is consumed lazily, and resumed after the
 * last id consumed (`after`), even by another process.
 */
export interface ScanQuery {
  resourceType: string;
  /**
   * MongoDB filter over the search document `{ id, type, lastUpdated, idx }` of
   * the version read, `idx` being the entries written with THAT version (a
   * deletion: those of the version it deleted), as HistoryQuery.filter.
   */
  filter: Record<string, unknown>;
  /** Read the version current at this instant (the newest committed at or before it); absent: the current version. */
  asOf?: string;
  /** Only ids strictly after this one. */
  after?: string;
  /** Also yield the resources whose version at `asOf` is a deletion (deleted: true, no body). */
  includeDeleted?: boolean;
}

export interface StoreCapabilities {
  /** Human-readable name of the back end for logs and /readyz. */
  name: string;
  /** Several writes can be applied all-or-nothing. */
  atomicMultiWrite: boolean;
}

/** A notification record one write operation commits (see WriteOperation.outbox and OutboxStore). */
export interface OutboxRecord {
  /** The queue it joins (a Subscription id): each queue is numbered and read on its own. */
  queue: string;
  /** What the consumer needs (plain JSON). */
  data: Record<string, unknown>;
}

/** An outbox record as the store keeps it: numbered within its queue, with the version that committed it. */
export interface OutboxEntry {
  queue: string;
  /** 1, 2, 3… within the queue, without gaps, in the order the store committed the records. */
  seq: number;
  resourceType: string;
  id: string;
  versionId: number;
  /** lastUpdated of that version. */
  committedAt: string;
  data: Record<string, unknown>;
}

/** Where a queue stands: its last number and the consumer's acknowledged position. */
export interface OutboxQueueState {
  queue: string;
  head: number;
  acked: number;
  /**
   * In a backlog: records committed and not numbered yet (MongoDB numbers them when the queue is
   * read); undelivered = head - acked + unnumbered. Absent where records are numbered at commit.
   */
  unnumbered?: number;
}

/**
 * The outbox: notification records written atomically with the changes that
 * triggered them (WriteOperation.outbox), numbered per queue without gaps, read
 * in order by a consumer that holds the queue's lease (several processes on one
 * MongoDB share queues this way), acknowledged as delivered, kept for replay
 * ($events) until trimmed. Part of ResourceStore.
 */
export interface OutboxStore {
  /**
   * Entries of `queue` numbered above `after`, in order, at most `limit`. Records
   * committed since the last call are numbered first (a store that cannot number
   * at commit numbers here, under the lease). Entries trimmed away are absent.
   */
  readOutbox(queue: string, after: number, limit: number): Promise<OutboxEntry[]>;
  /** Every queue with entries numbered beyond its acknowledged position, or records still to number. */
  outboxBacklog(): Promise<OutboxQueueState[]>;
  /** The queue's head and acknowledged position (zeros for an unknown queue). */
  outboxState(queue: string): Promise<OutboxQueueState>;
  /**
   * Takes or renews the queue's lease for `holder` until now + `ttlMs`; false
   * while another holder's lease runs. Only the holder numbers and acknowledges.
   */
  leaseOutbox(queue: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseOutbox(queue: string, holder: string): Promise<void>;
  /** Records that entries up to `seq` were delivered (never moves backwards). Durable. */
  ackOutbox(queue: string, seq: number): Promise<void>;
  /** Forgets entries numbered `upTo` and below (retention); head and acknowledged position stay. */
  trimOutbox(queue: string, upTo: number): Promise<void>;
  /** Forgets the whole queue (its subscription was deleted). */
  dropOutbox(queue: string): Promise<void>;
}

export interface ResourceStore extends ResultSetStore, OutboxStore {
  readonly capabilities: StoreCapabilities;
  /** Opens the store (replays the journal, creates indexes...). */
  open(): Promise<void>;
  /** Flushes and closes; later calls fail. */
  close(): Promise<void>;
  isReady(): boolean;

  readCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined>;
  readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined>;
  /**
   * Applies the operations atomically (all or none), durably, in order, and
   * returns the versions they created. Throws VersionConflict or GuardConflict
   * without applying anything.
   */
  write(operations: WriteOperation[]): Promise<StoredVersion[]>;
  history(query: HistoryQuery): Promise<HistoryPage>;
  search(query: StoreQuery): Promise<StoreQueryResult>;
  /** Distinct values at `path` over the current, non-deleted matches (see DistinctQuery). */
  distinct(query: DistinctQuery, path: string): Promise<unknown[]>;
  /**
   * Replaces the index entries of current versions without creating versions
   * (`relais reindex`, src/cli/reindex-command.ts, after SearchParameters were added). Durable like write();
   * returns how many were applied (stale versionIds are skipped).
   */
  reindex(updates: IndexUpdate[]): Promise<number>;
  /**
   * A value that changes whenever a write (or reindex) of one of `resourceTypes` has been
   * acknowledged, by this process or any other sharing the store: a cache of what was read from
   * those types is exact when it reads the stamp BEFORE reading the data it keeps, and keeps it only
   * while the stamp stays the same (the access facts, src/access/fact-cache.ts). A store counts the
   * types of `changeCountedTypes` (its option; the embedded store, one process, counts every type);
   * for any other type the stamp never repeats, so nothing read from it is ever reused.
   */
  changeStamp(resourceTypes: readonly string[]): Promise<string>;
  /**
   * The versions a ScanQuery selects, one resource at a time, in ascending id
   * order. Resources created after the iteration started may be missed; every
   * other resource is judged once, on its version at `asOf`. Stopping early
   * (break) releases what the scan holds.
   */
  scan(query: ScanQuery): AsyncIterable<StoredVersion>;
}

/** One match of a paged search, as a stored result set keeps it. */
export interface MatchRef {
  resourceType: string;
  id: string;
}

/** Part of a stored result set, and how many matches it holds in all. */
export interface ResultSetSlice {
  total: number;
  refs: MatchRef[];
}

/**
 * Limits of stored result sets (paging snapshots, src/engine/search-result-sets.ts),
 * given to a store's constructor. A set expires once it has gone unused for
 * `idleMs`; a store keeps at most about `maxSets` (the least recently used go first).
 * `clock` exists for tests (expiry without waiting).
 */
export interface ResultSetLimits {
  idleMs: number;
  maxSets: number;
  clock?: () => number;
}

export const DEFAULT_RESULT_SET_LIMITS: ResultSetLimits = { idleMs: 30 * 60_000, maxSets: 500 };

/**
 * Stored result sets: the port's part that keeps paging snapshots where every
 * process sharing the store finds them (a `next` link may reach another
 * instance behind a load balancer). Part of ResourceStore.
 */
export interface ResultSetStore {
  /** Keeps the ordered `refs` under `cursor` (a fresh random key), usable by `owner` only. */
  saveResultSet(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void>;
  /**
   * refs[offset, offset + count) of the set under `cursor`, and its size; its
   * idle time starts again. Undefined, the same answer in every case, when the
   * set is unknown, expired, evicted, or was saved by another owner.
   */
  loadResultSet(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined>;
}
