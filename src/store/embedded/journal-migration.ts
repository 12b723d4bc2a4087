/**
 * Converts a data folder of the old journal store (journal.jsonl +
 * snapshot.jsonl, see legacy-journal.ts) into the LMDB layout, on the first
 * start of the new store over it: every version with its lastUpdated, its index
 * entries and the history order, guards, reindexed entries — replayed through
 * the same writer as live writes (unit-writer.ts), in transactions of about
 * BATCH operations.
 *
 * Crash-safe: `meta.legacyMigration` is 'started' before the first batch and
 * 'done' in the transaction of the last, so a start that finds 'started' wipes
 * the partial import and begins again. The old files are then moved into
 * `legacy-journal-<date>/` in the data folder (kept, never deleted: the
 * operator removes them once satisfied).
 */
import { mkdirSync, renameSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from './lmdb-layout.js';
import { LEGACY_JOURNAL, LEGACY_SNAPSHOT, hasLegacyJournal, readLegacyUnits } from './legacy-journal.js';
import { BatchView, planWrites, type CommittedOperation } from './unit-writer.js';

const BATCH = 2000;
const STATE_KEY = 'legacyMigration';

export interface MigrationReport {
  units: number;
  operations: number;
  movedTo: string;
}

export async function migrateLegacyJournal(layout: Layout, directory: string, nextSeq: () => number): Promise<MigrationReport | undefined> {
  if (!hasLegacyJournal(directory)) return undefined;
  const state = layout.meta.get(STATE_KEY) as string | undefined;
  let units = 0;
  let operations = 0;
  if (state !== 'done') {
    if (state === 'started') await wipe(layout);
    else if (!isEmpty(layout)) {
      throw new Error(`embedded store: ${directory} holds both an LMDB store and old journal files (${LEGACY_JOURNAL}, ${LEGACY_SNAPSHOT}); move one of them away`);
    }
    await layout.meta.put(STATE_KEY, 'started');
    let batch: CommittedOperation[] = [];
    const flush = async (last: boolean) => {
      const ops = batch;
      batch = [];
      const view = new BatchView(layout);
      await planWrites(view, ops, nextSeq);
      if (last) view.put(layout.meta as never, STATE_KEY, 'done');
      await view.commit();
    };
    for await (const unit of readLegacyUnits(directory)) {
      units++;
      operations += unit.ops.length;
      // A unit stays within one transaction (a transaction bundle was all-or-nothing; it still is).
      if (batch.length > 0 && batch.length + unit.ops.length > BATCH) await flush(false);
      batch.push(...unit.ops);
    }
    await flush(true);
  }
  const movedTo = join(directory, `legacy-journal-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(movedTo);
  for (const name of [LEGACY_SNAPSHOT, LEGACY_JOURNAL]) {
    if (existsSync(join(directory, name))) renameSync(join(directory, name), join(movedTo, name));
  }
  return { units, operations, movedTo };
}

function isEmpty(layout: Layout): boolean {
  for (const _ of layout.heads.getKeys({ limit: 1 })) return false;
  return true;
}

async function wipe(layout: Layout): Promise<void> {
  await Promise.all([layout.heads, layout.versions, layout.entries, layout.current, layout.keys, layout.log, layout.typeLog, layout.guards].map((db) => db.clearAsync()));
}
