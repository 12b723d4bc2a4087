/**
 * The embedded store: the whole state in memory, made durable by a journal
 * (src/store/embedded/journal.ts) written and fsynced before any write is
 * acknowledged. Meant for a newcomer's first run, development and small
 * deployments: one process owns the data folder (enforced by a lock file).
 *
 * Writes go through a group-commit queue: every unit of work waiting when the
 * previous flush ends is checked in order (version expectations, guards),
 * written in one append + fdatasync, then made visible. Readers therefore only
 * ever see durable data, and version checks are atomic because a single flush
 * loop decides them.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4';
import {
  GuardConflict,
  VersionConflict,
  type DistinctQuery,
  type HistoryPage,
  type IndexUpdate,
  type HistoryQuery,
  type IndexEntries,
  type MatchRef,
  type ResourceStore,
  type ResultSetLimits,
  type ResultSetSlice,
  type StoreQuery,
  type StoreQueryResult,
  type StoredVersion,
  type WriteOperation,
  DEFAULT_RESULT_SET_LIMITS,
} from '../resource-store.js';
import { MemoryResultSets } from './memory-result-sets.js';
import { withVersionMeta } from '../version-meta.js';
import { Journal, type JournalRecord } from './journal.js';
import { compareSortKeys, sortKeyOf } from './sort-keys.js';
import { EntryHashIndex } from './entry-hash-index.js';
import { filterTest } from './filter-test.js';

interface ResourceEntry {
  versions: StoredVersion[];
  /** Index entries of the current version (absent when deleted). */
  index?: IndexEntries;
  guardKey?: string;
}

interface CommittedOperation {
  /** 'index': new index entries for the current version (reindex), no new version. */
  kind: 'put' | 'delete' | 'index';
  resourceType: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  resource?: Resource;
  index?: IndexEntries;
  guardKey?: string;
}

interface UnitRecord extends JournalRecord {
  ops: CommittedOperation[];
}

interface PendingUnit {
  operations: WriteOperation[];
  /** A reindex unit instead of writes. */
  indexUpdates?: IndexUpdate[];
  resolve: (versions: StoredVersion[]) => void;
  reject: (error: unknown) => void;
}

export interface EmbeddedStoreOptions {
  directory: string;
  /** Compact the journal into a snapshot once it grows past this many bytes. */
  compactAfterBytes?: number;
  /** Paging snapshots kept in memory (memory-result-sets.ts). */
  resultSets?: ResultSetLimits;
}

const LOCK_FILE = 'relais.lock';


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
  private readonly compactAfterBytes: number;
  private readonly journal: Journal;
  private readonly resources = new Map<string, Map<string, ResourceEntry>>();
  /** Every version in commit order: the backbone of type and system history. */
  private readonly commitLog: StoredVersion[] = [];
  /**
   * The index entries written with each version (a deletion: those of the
   * version it deleted), for filtered history (HistoryQuery.filter). The
   * current version's are the same object as its ResourceEntry.index.
   */
  private readonly versionIndex = new WeakMap<StoredVersion, IndexEntries>();
  private readonly guards = new Map<string, { resourceType: string; id: string }>();
  private readonly hashIndex = new EntryHashIndex();
  private readonly resultSets: MemoryResultSets;
  private pending: PendingUnit[] = [];
  private flushing: Promise<void> | undefined;
  private seq = 0;
  private lastTimestamp = 0;
  private state: 'new' | 'open' | 'closed' | 'failed' = 'new';

  constructor(options: EmbeddedStoreOptions) {
    this.directory = options.directory;
    this.compactAfterBytes = options.compactAfterBytes ?? 64 * 1024 * 1024;
    this.journal = new Journal(this.directory);
    this.resultSets = new MemoryResultSets(options.resultSets ?? DEFAULT_RESULT_SET_LIMITS);
  }

  async open(): Promise<void> {
    mkdirSync(this.directory, { recursive: true });
    this.acquireLock();
    this.seq = await this.journal.replay((record) => this.applyUnit(record as UnitRecord));
    const last = this.commitLog.at(-1);
    if (last) this.lastTimestamp = Date.parse(last.lastUpdated);
    this.state = 'open';
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closed';
    while (this.flushing) await this.flushing;
    await this.journal.close();
    rmSync(join(this.directory, LOCK_FILE), { force: true });
  }

  isReady(): boolean {
    return this.state === 'open';
  }

  async readCurrent(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    return this.resources.get(resourceType)?.get(id)?.versions.at(-1);
  }

  async readVersion(resourceType: string, id: string, versionId: number): Promise<StoredVersion | undefined> {
    return this.resources.get(resourceType)?.get(id)?.versions[versionId - 1];
  }

  write(operations: WriteOperation[]): Promise<StoredVersion[]> {
    if (this.state !== 'open') return Promise.reject(new Error(`embedded store is ${this.state}`));
    return new Promise((resolve, reject) => {
      this.pending.push({ operations, resolve, reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    let source: StoredVersion[];
    if (query.id !== undefined && query.resourceType) {
      source = this.resources.get(query.resourceType)?.get(query.id)?.versions ?? [];
    } else if (query.resourceType) {
      source = this.commitLog.filter((v) => v.resourceType === query.resourceType);
    } else {
      source = this.commitLog;
    }
    const matching: StoredVersion[] = [];
    const test = query.filter ? filterTest(query.filter) : undefined;
    // Newest first, as the R4 http page requires for history.
    for (let i = source.length - 1; i >= 0; i--) {
      const version = source[i];
      if (query.at && version.lastUpdated > query.at) continue;
      if (query.since && version.lastUpdated <= query.since) break;
      if (test && !test({ id: version.id, type: version.resourceType, lastUpdated: version.lastUpdated, idx: this.versionIndex.get(version) ?? {} })) continue;
      matching.push(version);
    }
    return { total: matching.length, versions: matching.slice(query.offset, query.offset + query.count) };
  }

  async saveResultSet(cursor: string, owner: string, refs: readonly MatchRef[]): Promise<void> {
    this.resultSets.save(cursor, owner, refs);
  }

  async loadResultSet(cursor: string, owner: string, offset: number, count: number): Promise<ResultSetSlice | undefined> {
    return this.resultSets.load(cursor, owner, offset, count);
  }

  async search(query: StoreQuery): Promise<StoreQueryResult> {
    const matches = this.matching(query.resourceTypes, query.filter);
    const sort = [...(query.sort ?? []), { path: 'type', direction: 1 as const }, { path: 'id', direction: 1 as const }];
    if (matches.length > 1) {
      const keyed = matches.map((m) => ({ m, keys: sort.map((s) => sortKeyOf(m.doc, s.path, s.direction)) }));
      keyed.sort((a, b) => compareSortKeys(a.keys, b.keys, sort));
      matches.splice(0, matches.length, ...keyed.map((k) => k.m));
    }
    return {
      versions: query.count > 0 ? matches.slice(query.offset, query.offset + query.count).map((m) => m.version) : [],
      ...(query.withTotal ? { total: matches.length } : {}),
    };
  }

  async distinct(query: DistinctQuery, path: string): Promise<unknown[]> {
    const values = new Set<unknown>();
    const segments = path.split('.');
    for (const { doc } of this.matching(query.resourceTypes, query.filter)) collectAt(doc, segments, values);
    return [...values];
  }

  reindex(updates: IndexUpdate[]): Promise<number> {
    if (this.state !== 'open') return Promise.reject(new Error(`embedded store is ${this.state}`));
    return new Promise((resolve, reject) => {
      this.pending.push({ operations: [], indexUpdates: updates, resolve: (applied) => resolve(applied.length), reject });
      if (!this.flushing) this.flushing = this.flushLoop();
    });
  }

  /** Current, non-deleted documents of the types that match the filter (hash/range index first, then filter-test.ts). */
  private matching(resourceTypes: string[], filter: Record<string, unknown>): Array<{ version: StoredVersion; doc: Record<string, unknown> }> {
    const test = filterTest(filter);
    const matches: Array<{ version: StoredVersion; doc: Record<string, unknown> }> = [];
    for (const resourceType of resourceTypes) {
      const entries = this.resources.get(resourceType);
      if (!entries) continue;
      const candidates = this.hashIndex.candidates(resourceType, filter);
      const consider = (id: string, entry: ResourceEntry | undefined) => {
        if (!entry) return;
        const current = entry.versions.at(-1)!;
        if (current.deleted) return;
        const doc = { id, type: resourceType, lastUpdated: current.lastUpdated, idx: entry.index ?? {} };
        if (test(doc)) matches.push({ version: current, doc });
      };
      if (candidates) for (const id of candidates) consider(id, entries.get(id));
      else for (const [id, entry] of entries) consider(id, entry);
    }
    return matches;
  }

  // --- write path ---------------------------------------------------------

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.flushBatch(batch);
        if (this.journal.byteSize > this.compactAfterBytes) await this.compact();
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async flushBatch(batch: PendingUnit[]): Promise<void> {
    // Versions and guards as they will be once the accepted units of this batch apply.
    const versionView = new Map<string, { versionId: number; deleted: boolean } | undefined>();
    const guardView = new Map<string, { resourceType: string; id: string } | undefined>();
    const accepted: Array<{ unit: PendingUnit; record: UnitRecord }> = [];
    for (const unit of batch) {
      try {
        const record = unit.indexUpdates ? this.prepareReindex(unit.indexUpdates, versionView) : this.prepareUnit(unit.operations, versionView, guardView);
        accepted.push({ unit, record });
      } catch (error) {
        unit.reject(error);
      }
    }
    if (accepted.length === 0) return;
    try {
      await this.journal.append(accepted.map((a) => a.record));
    } catch (error) {
      // The journal could not be made durable: refuse further writes rather than diverge.
      this.state = 'failed';
      for (const { unit } of accepted) unit.reject(error);
      for (const unit of this.pending.splice(0)) unit.reject(error);
      return;
    }
    for (const { unit, record } of accepted) unit.resolve(this.applyUnit(record));
  }

  private prepareUnit(
    operations: WriteOperation[],
    versionView: Map<string, { versionId: number; deleted: boolean } | undefined>,
    guardView: Map<string, { resourceType: string; id: string } | undefined>,
  ): UnitRecord {
    const localVersions = new Map(versionView);
    const localGuards = new Map(guardView);
    const now = Math.max(Date.now(), this.lastTimestamp + 1);
    const lastUpdated = new Date(now).toISOString();
    const ops: CommittedOperation[] = [];
    for (const op of operations) {
      const key = `${op.resourceType}/${op.id}`;
      const current = localVersions.has(key) ? localVersions.get(key) : this.currentState(op.resourceType, op.id);
      const liveVersion = current && !current.deleted ? current.versionId : undefined;
      if (op.expect === 'absent' && liveVersion !== undefined) throw new VersionConflict(op.resourceType, op.id, op.expect, liveVersion);
      if (typeof op.expect === 'number' && liveVersion !== op.expect) throw new VersionConflict(op.resourceType, op.id, op.expect, liveVersion);
      if (op.kind === 'delete' && liveVersion === undefined) continue; // deleting nothing creates no version
      if (op.guardKey) {
        const holder = localGuards.has(op.guardKey) ? localGuards.get(op.guardKey) : this.guards.get(op.guardKey);
        const heldByOther = holder && !(holder.resourceType === op.resourceType && holder.id === op.id);
        const takeOver = op.takeOverGuardFrom && holder && holder.resourceType === op.takeOverGuardFrom.resourceType && holder.id === op.takeOverGuardFrom.id;
        if (heldByOther && !takeOver) throw new GuardConflict(op.guardKey, holder);
        localGuards.set(op.guardKey, { resourceType: op.resourceType, id: op.id });
      }
      const versionId = (current?.versionId ?? 0) + 1;
      localVersions.set(key, { versionId, deleted: op.kind === 'delete' });
      ops.push({
        kind: op.kind,
        resourceType: op.resourceType,
        id: op.id,
        versionId,
        lastUpdated,
        ...(op.kind === 'put' ? { resource: op.resource, index: op.index } : {}),
        ...(op.guardKey ? { guardKey: op.guardKey } : {}),
      });
    }
    for (const [k, v] of localVersions) versionView.set(k, v);
    for (const [k, v] of localGuards) guardView.set(k, v);
    this.lastTimestamp = now;
    return { seq: ++this.seq, ops };
  }

  private prepareReindex(updates: IndexUpdate[], versionView: Map<string, { versionId: number; deleted: boolean } | undefined>): UnitRecord {
    const ops: CommittedOperation[] = [];
    for (const update of updates) {
      const key = `${update.resourceType}/${update.id}`;
      const current = versionView.has(key) ? versionView.get(key) : this.currentState(update.resourceType, update.id);
      if (!current || current.deleted || current.versionId !== update.versionId) continue; // a newer write indexed itself
      const version = this.resources.get(update.resourceType)!.get(update.id)!.versions[update.versionId - 1];
      ops.push({ kind: 'index', resourceType: update.resourceType, id: update.id, versionId: update.versionId, lastUpdated: version.lastUpdated, index: update.index });
    }
    return { seq: ++this.seq, ops };
  }

  private currentState(resourceType: string, id: string): { versionId: number; deleted: boolean } | undefined {
    const current = this.resources.get(resourceType)?.get(id)?.versions.at(-1);
    return current ? { versionId: current.versionId, deleted: current.deleted } : undefined;
  }

  /** Makes a committed unit visible; used both after fsync and during replay. */
  private applyUnit(record: UnitRecord): StoredVersion[] {
    const created: StoredVersion[] = [];
    for (const op of record.ops) {
      if (op.kind === 'index') {
        const entry = this.resources.get(op.resourceType)?.get(op.id);
        const current = entry?.versions.at(-1);
        if (!entry || !current || current.deleted || current.versionId !== op.versionId) continue;
        this.hashIndex.update(op.resourceType, op.id, entry.index, op.index);
        entry.index = op.index;
        if (op.index) this.versionIndex.set(current, op.index);
        created.push(current);
        continue;
      }
      let byId = this.resources.get(op.resourceType);
      if (!byId) this.resources.set(op.resourceType, (byId = new Map()));
      let entry = byId.get(op.id);
      if (!entry) byId.set(op.id, (entry = { versions: [] }));
      const version: StoredVersion = {
        resourceType: op.resourceType,
        id: op.id,
        versionId: op.versionId,
        lastUpdated: op.lastUpdated,
        deleted: op.kind === 'delete',
        ...(op.resource
          ? { resource: withVersionMeta(op.resource, op.id, op.versionId, op.lastUpdated) }
          : {}),
      };
      entry.versions[op.versionId - 1] = version;
      const nextIndex = op.kind === 'delete' ? undefined : op.index;
      // A deletion is filtered in history on the content it deleted.
      const versionEntries = op.kind === 'delete' ? entry.index : op.index;
      if (versionEntries) this.versionIndex.set(version, versionEntries);
      this.hashIndex.update(op.resourceType, op.id, entry.index, nextIndex);
      entry.index = nextIndex;
      if (op.kind === 'delete' && entry.guardKey) {
        // A deleted resource no longer blocks a conditional create on the same criteria.
        if (this.guards.get(entry.guardKey)?.id === op.id) this.guards.delete(entry.guardKey);
        entry.guardKey = undefined;
      }
      if (op.guardKey) {
        entry.guardKey = op.guardKey;
        this.guards.set(op.guardKey, { resourceType: op.resourceType, id: op.id });
      }
      this.commitLog.push(version);
      created.push(version);
    }
    return created;
  }

  private async compact(): Promise<void> {
    const seq = this.seq;
    const resources = this.resources;
    const versionIndex = this.versionIndex;
    // One record per version, in commit order, each put with its own index entries (filtered history
    // judges every version on them; replaying a deletion gives it those of the version it deleted).
    function* records(log: StoredVersion[]): Iterable<UnitRecord> {
      for (const version of log) {
        const entry = resources.get(version.resourceType)!.get(version.id)!;
        const isCurrent = entry.versions.length === version.versionId;
        yield {
          seq,
          ops: [
            {
              kind: version.deleted ? 'delete' : 'put',
              resourceType: version.resourceType,
              id: version.id,
              versionId: version.versionId,
              lastUpdated: version.lastUpdated,
              ...(version.resource ? { resource: version.resource } : {}),
              ...(!version.deleted && versionIndex.has(version) ? { index: versionIndex.get(version) } : {}),
              ...(isCurrent && entry.guardKey ? { guardKey: entry.guardKey } : {}),
            },
          ],
        };
      }
    }
    await this.journal.compact(records(this.commitLog));
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
}
