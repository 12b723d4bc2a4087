/**
 * Append-only write-ahead journal for the embedded store.
 *
 * Each line is `<crc32 hex> <json>\n`, one line per committed unit of work, so
 * a transaction is replayed whole or not at all. A line is acknowledged only
 * after fdatasync returns. At start a torn or corrupt *last* line (a crash during
 * an unacknowledged write) is cut off; corruption anywhere else stops the start,
 * since silently skipping it would lose acknowledged writes.
 *
 * Compaction writes a snapshot of the whole state (tmp file, fsync, rename,
 * fsync of the folder) and then starts an empty journal; the snapshot records
 * the last sequence number it covers so a crash between the two steps replays
 * nothing twice.
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface JournalRecord {
  seq: number;
  [key: string]: unknown;
}

const JOURNAL_FILE = 'journal.jsonl';
const SNAPSHOT_FILE = 'snapshot.jsonl';

function encodeLine(payload: string): string {
  return `${crc32(payload).toString(16).padStart(8, '0')} ${payload}\n`;
}

/** Returns the payload of a line, or undefined when the line is torn or corrupt. */
function decodeLine(line: string): string | undefined {
  const space = line.indexOf(' ');
  if (space !== 8) return undefined;
  const payload = line.slice(9);
  return crc32(payload).toString(16).padStart(8, '0') === line.slice(0, 8) ? payload : undefined;
}

function fsyncDirectory(directory: string): void {
  const fd = openSync(directory, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class Journal {
  private handle: FileHandle | undefined;
  private size = 0;

  constructor(private readonly directory: string) {}

  get byteSize(): number {
    return this.size;
  }

  /**
   * Reads the snapshot (if any) then the journal, calling `apply` for every
   * record in commit order. Returns the last sequence number seen.
   */
  async replay(apply: (record: JournalRecord, fromSnapshot: boolean) => void): Promise<number> {
    let lastSeq = 0;
    const snapshotPath = join(this.directory, SNAPSHOT_FILE);
    if (existsSync(snapshotPath)) {
      const lines = readFileSync(snapshotPath, 'utf8').split('\n');
      // The snapshot was renamed into place only once complete: every line must be sound.
      for (const line of lines) {
        if (!line) continue;
        const payload = decodeLine(line);
        if (payload === undefined) throw new Error(`embedded store: corrupt snapshot ${snapshotPath}`);
        const record = JSON.parse(payload) as JournalRecord;
        apply(record, true);
        lastSeq = Math.max(lastSeq, record.seq);
      }
    }
    const snapshotSeq = lastSeq;
    const journalPath = join(this.directory, JOURNAL_FILE);
    let goodBytes = 0;
    if (existsSync(journalPath)) {
      const content = readFileSync(journalPath);
      let offset = 0;
      while (offset < content.length) {
        const newline = content.indexOf(0x0a, offset);
        const end = newline === -1 ? content.length : newline;
        const payload = newline === -1 ? undefined : decodeLine(content.subarray(offset, end).toString('utf8'));
        if (payload === undefined) {
          const isLast = newline === -1 || content.indexOf(0x0a, newline + 1) === -1 && newline + 1 >= content.length;
          if (!isLast) throw new Error(`embedded store: corrupt journal line at byte ${offset} of ${journalPath}`);
          break; // a torn tail: it was never acknowledged
        }
        const record = JSON.parse(payload) as JournalRecord;
        if (record.seq > snapshotSeq) {
          apply(record, false);
          lastSeq = record.seq;
        }
        offset = end + 1;
        goodBytes = offset;
      }
    }
    const created = !existsSync(journalPath);
    this.handle = await open(journalPath, 'a+');
    // A new file's directory entry is durable only once the folder itself is synced.
    if (created) fsyncDirectory(this.directory);
    const { size } = await this.handle.stat();
    if (size > goodBytes) {
      await this.handle.truncate(goodBytes);
      await this.handle.datasync();
    }
    this.size = goodBytes;
    return lastSeq;
  }

  /** Appends records and returns once they are on stable storage. */
  async append(records: JournalRecord[]): Promise<void> {
    if (!this.handle) throw new Error('journal is not open');
    const data = Buffer.from(records.map((r) => encodeLine(JSON.stringify(r))).join(''), 'utf8');
    const before = this.size;
    try {
      await this.handle.write(data, 0, data.length, null);
      await this.handle.datasync();
      this.size += data.length;
    } catch (error) {
      // Leave no half-written, unacknowledged record behind for the next replay.
      await this.handle.truncate(before).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Replaces snapshot + journal by a new snapshot holding `records` (the whole
   * state), then empties the journal.
   */
  async compact(records: Iterable<JournalRecord>): Promise<void> {
    if (!this.handle) throw new Error('journal is not open');
    const tmpPath = join(this.directory, `${SNAPSHOT_FILE}.tmp`);
    const fd = openSync(tmpPath, 'w');
    try {
      let buffer = '';
      for (const record of records) {
        buffer += encodeLine(JSON.stringify(record));
        if (buffer.length > 1 << 20) {
          writeSync(fd, buffer);
          buffer = '';
        }
      }
      if (buffer) writeSync(fd, buffer);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmpPath, join(this.directory, SNAPSHOT_FILE));
    fsyncDirectory(this.directory);
    await this.handle.truncate(0);
    await this.handle.datasync();
    this.size = 0;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
  }
}
