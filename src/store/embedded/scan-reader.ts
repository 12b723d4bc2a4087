/**
 * Bulk reads of one type for the embedded store (ResourceStore.scan): the
 * heads `[type, id]` of lmdb-layout.ts in key order (ascending id), from just
 * after `after`, each judged once on its version at `asOf` and that version's
 * own index entries (the `entries` database: a deletion's are those it deleted).
 *
 * A scan may last minutes (a bulk export): it never holds one LMDB snapshot
 * that long — a long-lived read transaction keeps LMDB from reusing the pages
 * freed meanwhile, so the file would grow. Heads are picked in batches, each
 * in a short read transaction of its own (store.reading); the bodies are then
 * read one by one as the consumer asks for them, so what is in memory is one
 * batch of identities and one body, whatever the size of the type or of its
 * resources. Version records are immutable, so reading a body after its
 * batch's snapshot still reads the version that was judged.
 */
import type { Transaction } from 'lmdb';
import type { ScanQuery, StoredVersion } from '../resource-store.js';
import { filterTest } from './filter-test.js';
import { HIGHEST } from './index-keys.js';
import type { Layout } from './lmdb-layout.js';
import { storedVersion } from './unit-writer.js';

/** Heads judged per read transaction. */
const BATCH = 256;

interface Picked {
  id: string;
  versionId: number;
}

type Reading = <T>(read: (layout: Layout, transaction: Transaction) => Promise<T>) => Promise<T>;

export async function* scanType(reading: Reading, opened: () => Layout, query: ScanQuery): AsyncIterable<StoredVersion> {
  const type = query.resourceType;
  const test = Object.keys(query.filter).length > 0 ? filterTest(query.filter) : undefined;
  let after = query.after;
  for (;;) {
    const batch = await reading(async (layout, transaction) => {
      const picked: Picked[] = [];
      let seen = 0;
      let last: string | undefined;
      const start = after !== undefined ? [type, after] : [type];
      for (const { key, value: head } of layout.heads.getRange({ start: start as never, end: [type, HIGHEST] as never, transaction })) {
        const id = (key as [string, string])[1];
        if (after !== undefined && id <= after) continue;
        seen++;
        last = id;
        const version = versionAt(layout, transaction, type, id, head.v, head.lu, head.d === true, query.asOf);
        if (version && (!version.deleted || query.includeDeleted)) {
          const idx = test ? (layout.entries.get([type, id, version.versionId], { transaction }) ?? {}) : {};
          if (!test || test({ id, type, lastUpdated: version.lastUpdated, idx })) picked.push({ id, versionId: version.versionId });
        }
        if (seen >= BATCH) break;
      }
      return { picked, last, done: seen < BATCH };
    });
    for (const { id, versionId } of batch.picked) {
      const record = opened().versions.get([type, id, versionId]);
      if (record) yield storedVersion(type, id, versionId, record);
    }
    if (batch.done) return;
    after = batch.last;
  }
}

/** The version current at `asOf` (the newest committed at or before it); the head's when asOf is absent or later. */
function versionAt(layout: Layout, transaction: Transaction, type: string, id: string, headVersion: number, headUpdated: string, headDeleted: boolean, asOf: string | undefined): { versionId: number; lastUpdated: string; deleted: boolean } | undefined {
  if (asOf === undefined || headUpdated <= asOf) return { versionId: headVersion, lastUpdated: headUpdated, deleted: headDeleted };
  for (const { key, value } of layout.versions.getRange({ start: [type, id, headVersion - 1], end: [type, id, 0], reverse: true, transaction })) {
    if (value.lu <= asOf) return { versionId: (key as [string, string, number])[2], lastUpdated: value.lu, deleted: value.d === true };
  }
  return undefined;
}
