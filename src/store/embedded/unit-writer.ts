/**
 * One unit of work of the embedded store, inside an LMDB write transaction:
 * first every check (version expectations, conditional-create guards), then
 * the writes (version, its index entries, head, history logs, guards, search
 * keys). A failed check throws before anything is written, and the
 * transaction commits the whole unit or nothing, so a unit is all-or-nothing.
 *
 * `applyOperations` is also what the migration from the old journal replays
 * (journal-migration.ts): the committed operations of a unit are the same
 * shape the journal recorded.
 */
import type { Resource } from 'fhir/r4';
import { GuardConflict, VersionConflict, type IndexEntries, type StoredVersion, type WriteOperation } from '../resource-store.js';
import { withVersionMeta } from '../version-meta.js';
import { indexKeysOf } from './index-keys.js';
import type { HeadRecord, Layout, VersionRecord } from './lmdb-layout.js';

/** An operation whose checks passed (or that the old journal recorded), ready to write. */
export interface CommittedOperation {
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

/**
 * Checks `operations` against the state inside the transaction; returns what to write.
 * Throws VersionConflict or GuardConflict, having written nothing.
 */
export function checkUnit(layout: Layout, operations: WriteOperation[], lastUpdated: string): CommittedOperation[] {
  const versions = new Map<string, { versionId: number; deleted: boolean } | undefined>();
  const guards = new Map<string, { resourceType: string; id: string } | undefined>();
  const committed: CommittedOperation[] = [];
  for (const op of operations) {
    const key = `${op.resourceType}/${op.id}`;
    const head = versions.has(key) ? versions.get(key) : headState(layout.heads.get([op.resourceType, op.id]));
    const live = head && !head.deleted ? head.versionId : undefined;
    if (op.expect === 'absent' && live !== undefined) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
    if (typeof op.expect === 'number' && live !== op.expect) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
    if (op.kind === 'delete' && live === undefined) continue; // deleting nothing creates no version
    if (op.guardKey) {
      const holder = guards.has(op.guardKey) ? guards.get(op.guardKey) : holderOf(layout.guards.get(op.guardKey));
      const heldByOther = holder && !(holder.resourceType === op.resourceType && holder.id === op.id);
      const takeOver = op.takeOverGuardFrom && holder && holder.resourceType === op.takeOverGuardFrom.resourceType && holder.id === op.takeOverGuardFrom.id;
      if (heldByOther && !takeOver) throw new GuardConflict(op.guardKey, holder);
      guards.set(op.guardKey, { resourceType: op.resourceType, id: op.id });
    }
    const versionId = (head?.versionId ?? 0) + 1;
    versions.set(key, { versionId, deleted: op.kind === 'delete' });
    committed.push({
      kind: op.kind,
      resourceType: op.resourceType,
      id: op.id,
      versionId,
      lastUpdated,
      ...(op.kind === 'put' ? { resource: op.resource, index: op.index } : {}),
      ...(op.guardKey ? { guardKey: op.guardKey } : {}),
    });
  }
  return committed;
}

function headState(head: HeadRecord | undefined): { versionId: number; deleted: boolean } | undefined {
  return head ? { versionId: head.v, deleted: head.d === true } : undefined;
}

function holderOf(value: [string, string] | undefined): { resourceType: string; id: string } | undefined {
  return value ? { resourceType: value[0], id: value[1] } : undefined;
}

/**
 * Writes committed operations inside the current write transaction; returns the versions
 * they created (reindex operations create none; those applied are counted in `reindexed`).
 * `nextSeq` numbers history records (unique, increasing).
 */
export function applyOperations(layout: Layout, operations: CommittedOperation[], nextSeq: () => number): { created: StoredVersion[]; reindexed: number } {
  const created: StoredVersion[] = [];
  let reindexed = 0;
  for (const op of operations) {
    const headKey: [string, string] = [op.resourceType, op.id];
    const head = layout.heads.get(headKey);
    const currentEntries = head && !head.d ? layout.entries.get([op.resourceType, op.id, head.v]) : undefined;
    if (op.kind === 'index') {
      if (!head || head.d || head.v !== op.versionId) continue; // a newer write indexed itself
      replaceKeys(layout, op.resourceType, op.id, currentEntries, op.index);
      layout.entries.putSync([op.resourceType, op.id, op.versionId], op.index ?? {});
      reindexed++;
      continue;
    }
    const deleted = op.kind === 'delete';
    const record: VersionRecord = { lu: op.lastUpdated, ...(deleted ? { d: true as const } : {}) };
    if (op.resource) record.r = withVersionMeta(op.resource, op.id, op.versionId, op.lastUpdated);
    layout.versions.putSync([op.resourceType, op.id, op.versionId], record);
    // Each version keeps the entries it was written with (a deletion: those of what it deleted), for filtered history.
    const versionEntries = deleted ? currentEntries : op.index;
    if (versionEntries) layout.entries.putSync([op.resourceType, op.id, op.versionId], versionEntries);
    replaceKeys(layout, op.resourceType, op.id, currentEntries, deleted ? undefined : op.index);

    let guardKey = head?.g;
    if (deleted && guardKey !== undefined) {
      // A deleted resource no longer blocks a conditional create on the same criteria (unless taken over meanwhile).
      const holder = layout.guards.get(guardKey);
      if (holder && holder[0] === op.resourceType && holder[1] === op.id) layout.guards.removeSync(guardKey);
      guardKey = undefined;
    }
    if (op.guardKey) {
      layout.guards.putSync(op.guardKey, [op.resourceType, op.id]);
      guardKey = op.guardKey;
    }
    layout.heads.putSync(headKey, { v: op.versionId, lu: op.lastUpdated, ...(deleted ? { d: true as const } : {}), ...(guardKey !== undefined ? { g: guardKey } : {}) });
    const seq = nextSeq();
    layout.log.putSync([op.lastUpdated, seq], [op.resourceType, op.id, op.versionId]);
    layout.typeLog.putSync([op.resourceType, op.lastUpdated, seq], [op.id, op.versionId]);
    created.push(storedVersion(op.resourceType, op.id, op.versionId, record));
  }
  return { created, reindexed };
}

/** Swaps the search keys of a resource's current entries for those of its next ones (only the difference is written). */
function replaceKeys(layout: Layout, resourceType: string, id: string, before: IndexEntries | undefined, after: IndexEntries | undefined): void {
  const old = new Map(indexKeysOf(resourceType, id, before).map((key) => [JSON.stringify(key), key]));
  const next = new Map(indexKeysOf(resourceType, id, after).map((key) => [JSON.stringify(key), key]));
  for (const [text, key] of old) if (!next.has(text)) layout.keys.removeSync(key);
  for (const [text, key] of next) if (!old.has(text)) layout.keys.putSync(key, null);
}

export function storedVersion(resourceType: string, id: string, versionId: number, record: VersionRecord): StoredVersion {
  return { resourceType, id, versionId, lastUpdated: record.lu, deleted: record.d === true, ...(record.r ? { resource: record.r } : {}) };
}
