/**
 * A version record as the embedded store reads it: its JSON text (lmdb-layout.ts,
 * `versions`: `{"lu":...,"r":<body>}` as JSON.stringify wrote it), parsed, with the
 * body's own text attached to the body (src/store/stored-json.ts) for reads that
 * send it unchanged. The body's text is the record's text between `"r":` and the
 * closing brace, when the record is exactly { lu, r } (a deletion has no body).
 */
import type { Database } from 'lmdb';
import { attachStoredJson } from '../stored-json.js';
import type { StoredVersion } from '../resource-store.js';
import type { VersionRecord } from './lmdb-layout.js';
import { storedVersion } from './unit-writer.js';

/** lmdb-js' text read (the record's JSON as stored, decompressed), which its types do not declare. */
function textOf(db: Database<VersionRecord, [string, string, number]>, key: [string, string, number]): string | undefined {
  return (db as unknown as { getString(key: unknown): string | undefined }).getString(key) || undefined;
}

export function readVersionRecord(db: Database<VersionRecord, [string, string, number]>, resourceType: string, id: string, versionId: number): StoredVersion | undefined {
  const text = textOf(db, [resourceType, id, versionId]);
  if (text === undefined) return undefined;
  const record = JSON.parse(text) as VersionRecord;
  const version = storedVersion(resourceType, id, versionId, record);
  if (record.r && !record.d && Object.keys(record).length === 2) {
    const prefix = `{"lu":${JSON.stringify(record.lu)},"r":`;
    if (text.startsWith(prefix) && text.endsWith('}')) attachStoredJson(record.r, text.slice(prefix.length, -1));
  }
  return version;
}
