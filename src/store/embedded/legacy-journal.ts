/**
 * Reads a data folder written by the embedded store before it moved to LMDB:
 * `snapshot.jsonl` (the whole state at the last compaction) then `journal.jsonl`
 * (units committed since), one `<crc32 hex> <json>` line per unit of work. Only
 * what the migration needs (journal-migration.ts): the records in commit order,
 * checked as the old store checked them at start — a torn or corrupt *last*
 * journal line (a crash during a write that was never acknowledged) is left
 * out; corruption anywhere else stops the migration, since skipping it would
 * lose acknowledged writes. Lines are streamed, so a snapshot larger than a
 * JavaScript string (about 512 MiB) is read too.
 */
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { crc32 } from 'node:zlib';
import type { CommittedOperation } from './unit-writer.js';

export const LEGACY_JOURNAL = 'journal.jsonl';
export const LEGACY_SNAPSHOT = 'snapshot.jsonl';

export interface LegacyUnit {
  seq: number;
  ops: CommittedOperation[];
}

export function hasLegacyJournal(directory: string): boolean {
  return existsSync(join(directory, LEGACY_JOURNAL)) || existsSync(join(directory, LEGACY_SNAPSHOT));
}

/** The payload of a sound line, or undefined when it is torn or corrupt. */
function decodeLine(line: string): string | undefined {
  if (line.indexOf(' ') !== 8) return undefined;
  const payload = line.slice(9);
  return crc32(payload).toString(16).padStart(8, '0') === line.slice(0, 8) ? payload : undefined;
}

async function* lines(path: string): AsyncGenerator<{ line: string; number: number }> {
  const reader = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const line of reader) {
    number++;
    if (line) yield { line, number };
  }
}

/** Every committed unit of the old folder, in commit order. */
export async function* readLegacyUnits(directory: string): AsyncGenerator<LegacyUnit> {
  let snapshotSeq = 0;
  const snapshotPath = join(directory, LEGACY_SNAPSHOT);
  if (existsSync(snapshotPath)) {
    // The snapshot was renamed into place only once complete: every line must be sound.
    for await (const { line, number } of lines(snapshotPath)) {
      const payload = decodeLine(line);
      if (payload === undefined) throw new Error(`embedded store migration: corrupt line ${number} of ${snapshotPath}`);
      const unit = JSON.parse(payload) as LegacyUnit;
      snapshotSeq = Math.max(snapshotSeq, unit.seq);
      yield unit;
    }
  }
  const journalPath = join(directory, LEGACY_JOURNAL);
  if (!existsSync(journalPath)) return;
  let torn: number | undefined;
  for await (const { line, number } of lines(journalPath)) {
    if (torn !== undefined) throw new Error(`embedded store migration: corrupt line ${torn} of ${journalPath} (not the last one)`);
    const payload = decodeLine(line);
    if (payload === undefined) {
      torn = number; // acceptable only as the very last line
      continue;
    }
    const unit = JSON.parse(payload) as LegacyUnit;
    if (unit.seq > snapshotSeq) yield unit;
  }
}
