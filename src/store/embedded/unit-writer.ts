/**
 * Units of work of the embedded store, checked and turned into LMDB writes.
 *
 * The store commits units in batches (group commit, embedded-store.ts): the
 * units waiting when the previous commit ends are checked in order — version
 * expectations, conditional-create guards — against a BatchView (the committed
 * state, overlaid with what the batch's earlier units write), and the writes of
 * every accepted unit are queued into ONE lmdb-js batch: an atomic transaction
 * that lmdb-js' write thread executes and commits off the event loop. The
 * event loop only does the checks and queues the writes (a few microseconds
 * each); executing the writes inside a transaction callback on the event loop
 * instead took 100–300 ms for a unit of 500 resources (measured), longer than
 * this store may block.
 *
 * Values and keys are encoded as they are planned, operation by operation,
 * with the event loop given a turn every 10 ms (pacer.ts: nothing else writes
 * the environment meanwhile, the flush loop being its only writer), so that
 * the one synchronous step left, queuing the writes, is a copy per write.
 *
 * A failed check throws before anything of its unit is queued; a batch commits
 * whole or not at all. The committed operations are the shape the old journal
 * recorded, so the migration (journal-migration.ts) replays them through here too.
 */
import type { Resource } from 'fhir/r4';
import { asBinary, type Database } from 'lmdb';
import { GuardConflict, VersionConflict, type IndexEntries, type StoredVersion, type WriteOperation } from '../resource-store.js';
import { withVersionMeta } from '../version-meta.js';
import { indexKeysOf, type IndexKey } from './index-keys.js';
import { KeyEncoder } from './key-encoder.js';
import { WRITE_ONCE_TYPES, type HeadRecord, type Layout, type VersionRecord } from './lmdb-layout.js';
import { Pacer } from './pacer.js';
import { COMPRESS_AT_LEAST, packJson } from './stored-value-codec.js';

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

/** One queued write, its key and value already encoded: a put, or a removal when `value` is undefined. */
interface Write {
  db: Database<never, never>;
  key: Buffer;
  value?: unknown;
}

/** lmdb-js' value encoder of a database (msgpackr), which its types do not declare. */
function encoderOf(db: Database<never, never>): { encode(value: unknown): Buffer } {
  return (db as unknown as { encoder: { encode(value: unknown): Buffer } }).encoder;
}

/**
 * The state one batch is checked against and written from: LMDB's committed state (the previous
 * batch has committed before this one starts), overlaid with the batch's own writes so far.
 */
export class BatchView {
  private readonly heads = new Map<string, HeadRecord | null>();
  private readonly currentEntries = new Map<string, IndexEntries | null>();
  private readonly guards = new Map<string, [string, string] | null>();
  readonly writes: Write[] = [];

  /**
   * `writeOnceTypes`: types whose heads are written compact (lmdb-layout.ts).
   * `keys`: the encoder of the keys (key-encoder.ts; the store passes its own, kept across batches).
   */
  constructor(
    readonly layout: Layout,
    readonly writeOnceTypes: ReadonlySet<string> = WRITE_ONCE_TYPES,
    private readonly keys: KeyEncoder = new KeyEncoder(),
  ) {}

  /**
   * The resource's head, as the batch leaves it so far. A committed head read is kept (absent ones too): the checks
   * and then the planning of each operation both ask, and nothing else writes heads while a batch is planned.
   */
  head(resourceType: string, id: string): HeadRecord | undefined {
    const key = `${resourceType}/${id}`;
    const known = this.heads.get(key);
    if (known !== undefined) return known ?? undefined;
    const committed = this.layout.heads.get([resourceType, id]);
    this.heads.set(key, committed ?? null);
    return committed;
  }

  guard(guardKey: string): [string, string] | undefined {
    const known = this.guards.get(guardKey);
    return known === undefined ? this.layout.guards.get(guardKey) : (known ?? undefined);
  }

  /** Index entries of the current version when it is live. */
  entriesOf(resourceType: string, id: string, head: HeadRecord | undefined): IndexEntries | undefined {
    if (!head || head.d) return undefined;
    const known = this.currentEntries.get(`${resourceType}/${id}`);
    return known === undefined ? this.layout.entries.get([resourceType, id, head.v]) : (known ?? undefined);
  }

  put(db: Database<never, never>, key: unknown, value: unknown): void {
    this.writes.push({ db, key: this.keys.encode(key), value: value === null ? null : asBinary(this.encode(db, key, value)) });
  }

  /**
   * A value's stored bytes. Versions and entries are packed here (stored-value-codec.ts): bodies
   * compressed from COMPRESS_AT_LEAST bytes, entries only those of write-once types (rarely read;
   * other types' entries are read by every search's filter evaluation). Other values: their
   * database's encoder, copied (the encoders reuse their buffers).
   */
  private encode(db: Database<never, never>, key: unknown, value: unknown): Buffer {
    const { versions, entries } = this.layout;
    if (db === (versions as unknown) || db === (entries as unknown)) {
      const json = JSON.stringify(value);
      const compress = json.length >= COMPRESS_AT_LEAST && (db === (versions as unknown) || this.writeOnceTypes.has((key as [string])[0]));
      return packJson(json, compress);
    }
    return Buffer.from(encoderOf(db).encode(value));
  }

  remove(db: Database<never, never>, key: unknown): void {
    this.writes.push({ db, key: this.keys.encode(key) });
  }

  setHead(resourceType: string, id: string, head: HeadRecord, entries: IndexEntries | undefined): void {
    this.heads.set(`${resourceType}/${id}`, head);
    this.currentEntries.set(`${resourceType}/${id}`, entries ?? null);
    this.put(this.layout.heads as never, [resourceType, id], head);
  }

  setEntries(resourceType: string, id: string, versionId: number, entries: IndexEntries): void {
    this.currentEntries.set(`${resourceType}/${id}`, entries);
    this.put(this.layout.entries as never, [resourceType, id, versionId], entries);
  }

  /**
   * The per-parameter copy of the current live entries (lmdb-layout.ts `current`): only the parameters that changed are written.
   * `before`/`after`: the copies there are and there are to be (none for a compact head).
   * `between` runs after each parameter written (the pacer: a parameter of a multi-megabyte resource takes tens of ms to encode).
   */
  async replaceCurrent(resourceType: string, id: string, before: IndexEntries | undefined, after: IndexEntries | undefined, between: () => Promise<void>): Promise<void> {
    for (const code of Object.keys(before ?? {})) if (!after || !(code in after)) this.remove(this.layout.current as never, [resourceType, id, code]);
    for (const [code, entries] of Object.entries(after ?? {})) {
      if (before && code in before && JSON.stringify(before[code]) === JSON.stringify(entries)) continue;
      this.put(this.layout.current as never, [resourceType, id, code], entries);
      await between();
    }
  }

  setGuard(guardKey: string, holder: [string, string] | undefined): void {
    this.guards.set(guardKey, holder ?? null);
    if (holder) this.put(this.layout.guards as never, guardKey, holder);
    else this.remove(this.layout.guards as never, guardKey);
  }

  /** Queues every write of the batch as one atomic lmdb-js batch; resolves once it is committed (durably). */
  commit(): Promise<unknown> {
    const writes = this.writes;
    return this.layout.env.batch(() => {
      for (const write of writes) {
        // Inside env.batch() each write's promise is the batch's, which commit() returns.
        if (write.value === undefined) void write.db.remove(write.key as never);
        else void write.db.put(write.key as never, write.value as never);
      }
    });
  }
}

/**
 * Checks `operations` against the view; returns what to write.
 * Throws VersionConflict or GuardConflict, having changed nothing.
 */
export function checkUnit(view: BatchView, operations: WriteOperation[], lastUpdated: string): CommittedOperation[] {
  const versions = new Map<string, { versionId: number; deleted: boolean } | undefined>();
  const guards = new Map<string, { resourceType: string; id: string } | undefined>();
  const committed: CommittedOperation[] = [];
  for (const op of operations) {
    const key = `${op.resourceType}/${op.id}`;
    const head = versions.has(key) ? versions.get(key) : headState(view.head(op.resourceType, op.id));
    const live = head && !head.deleted ? head.versionId : undefined;
    if (op.expect === 'absent' && live !== undefined) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
    if (typeof op.expect === 'number' && live !== op.expect) throw new VersionConflict(op.resourceType, op.id, op.expect, live);
    if (op.kind === 'delete' && live === undefined) continue; // deleting nothing creates no version
    if (op.guardKey) {
      const holder = guards.has(op.guardKey) ? guards.get(op.guardKey) : holderOf(view.guard(op.guardKey));
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
 * Queues the writes of committed operations into the view; returns the versions they create
 * (reindex operations create none; those applied are counted in `reindexed`).
 * `nextSeq` numbers history records (unique, increasing).
 */
export async function planWrites(view: BatchView, operations: CommittedOperation[], nextSeq: () => number, pacer = new Pacer()): Promise<{ created: StoredVersion[]; reindexed: number }> {
  const { layout } = view;
  const created: StoredVersion[] = [];
  let reindexed = 0;
  const between = () => pacer.paceCostly();
  for (const op of operations) {
    await pacer.pace();
    const head = view.head(op.resourceType, op.id);
    const currentEntries = view.entriesOf(op.resourceType, op.id, head);
    if (op.kind === 'index') {
      if (!head || head.d || head.v !== op.versionId) continue; // a newer write indexed itself
      replaceKeys(view, op.resourceType, op.id, currentEntries, op.index);
      if (!head.c) await view.replaceCurrent(op.resourceType, op.id, currentEntries, op.index, between);
      view.setEntries(op.resourceType, op.id, op.versionId, op.index ?? {});
      reindexed++;
      continue;
    }
    const deleted = op.kind === 'delete';
    const record: VersionRecord = { lu: op.lastUpdated, ...(deleted ? { d: true as const } : {}) };
    if (op.resource) record.r = withVersionMeta(op.resource, op.id, op.versionId, op.lastUpdated);
    // The pacer is consulted between the encodings of one resource too: those of a 9 MB resource (its version,
    // entries, keys, per-parameter entries) held the event loop 0.4 s in one piece (issue 18's hostile probe).
    view.put(layout.versions as never, [op.resourceType, op.id, op.versionId], record);
    await between();
    // Each version keeps the entries it was written with (a deletion: those of what it deleted), for filtered history.
    const versionEntries = deleted ? currentEntries : op.index;
    if (versionEntries) view.put(layout.entries as never, [op.resourceType, op.id, op.versionId], versionEntries);
    await between();
    replaceKeys(view, op.resourceType, op.id, currentEntries, deleted ? undefined : op.index);
    await between();
    // A compact head (lmdb-layout.ts) has, and a compact one gets, no per-parameter copies.
    const compact = !deleted && view.writeOnceTypes.has(op.resourceType);
    await view.replaceCurrent(op.resourceType, op.id, head?.c ? undefined : currentEntries, deleted || compact ? undefined : op.index, between);

    let guardKey = head?.g;
    if (deleted && guardKey !== undefined) {
      // A deleted resource no longer blocks a conditional create on the same criteria (unless taken over meanwhile).
      const holder = view.guard(guardKey);
      if (holder && holder[0] === op.resourceType && holder[1] === op.id) view.setGuard(guardKey, undefined);
      guardKey = undefined;
    }
    if (op.guardKey) {
      view.setGuard(op.guardKey, [op.resourceType, op.id]);
      guardKey = op.guardKey;
    }
    const nextHead: HeadRecord = {
      v: op.versionId,
      lu: op.lastUpdated,
      ...(deleted ? { d: true as const } : {}),
      ...(guardKey !== undefined ? { g: guardKey } : {}),
      ...(compact ? { c: true as const } : {}),
    };
    view.setHead(op.resourceType, op.id, nextHead, deleted ? undefined : op.index);
    const seq = nextSeq();
    view.put(layout.log as never, [op.lastUpdated, seq], [op.resourceType, op.id, op.versionId]);
    view.put(layout.typeLog as never, [op.resourceType, op.lastUpdated, seq], [op.id, op.versionId]);
    created.push(storedVersion(op.resourceType, op.id, op.versionId, record));
  }
  return { created, reindexed };
}

/**
 * Swaps the search keys of a resource's current entries for those of its next ones (only the difference is written).
 * The next keys leave out the type's unkeyed parameters (lmdb-layout.ts); the keys removed are all those the
 * current entries may have (a version written before the policy has keys for those parameters too: they go now).
 */
function replaceKeys(view: BatchView, resourceType: string, id: string, before: IndexEntries | undefined, after: IndexEntries | undefined): void {
  const unkeyed = view.layout.unkeyed.get(resourceType);
  if (!before) {
    // Nothing to compare with (a creation, an AuditEvent): every key is new (indexKeysOf has removed duplicates).
    for (const key of indexKeysOf(resourceType, id, after, unkeyed)) view.put(view.layout.keys as never, key, null);
    return;
  }
  const old = keyMap(indexKeysOf(resourceType, id, before));
  const next = keyMap(indexKeysOf(resourceType, id, after, unkeyed));
  for (const [text, key] of old) if (!next.has(text)) view.remove(view.layout.keys as never, key);
  // The value must not be undefined (that would mean a removal): keys carry null.
  for (const [text, key] of next) if (!old.has(text)) view.put(view.layout.keys as never, key, null);
}

function keyMap(keys: IndexKey[]): Map<string, IndexKey> {
  return new Map(keys.map((key) => [key.join('\u0001'), key]));
}

export function storedVersion(resourceType: string, id: string, versionId: number, record: VersionRecord): StoredVersion {
  return { resourceType, id, versionId, lastUpdated: record.lu, deleted: record.d === true, ...(record.r ? { resource: record.r } : {}) };
}
