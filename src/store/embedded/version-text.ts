/**
 * A version record as the embedded store reads it. Records are JSON text
 * (lmdb-layout.ts, `versions`), `{"lu":"<instant>","r":<body>}` for a live version
 * as planWrites writes it with JSON.stringify ({ lu, d?, r }: `r` last). Such a
 * version is returned with its body's text kept with it (src/store/stored-json.ts)
 * and its body parsed only when something reads it: a read the server answers
 * for itself with the body unchanged (AUTH_MODE=none) sends the text and never
 * parses it — JSON.parse was 6 % of such a read (profiled, issue 17). Deletions
 * and any other shape are parsed whole, as before.
 */
import type { Database } from 'lmdb';
import type { Resource } from 'fhir/r4';
import { attachStoredJson } from '../stored-json.js';
import type { StoredVersion } from '../resource-store.js';
import type { VersionRecord } from './lmdb-layout.js';
import { storedVersion } from './unit-writer.js';
import { unpackText } from './stored-value-codec.js';

const PREFIX = '{"lu":"';
const BEFORE_BODY = '","r":';
/** lastUpdated as the store writes it (an ISO instant: no character JSON would escape). */
const INSTANT = /^[0-9T:.+\-Z]+$/;

/** The record's JSON text (stored-value-codec.ts), from lmdb-js' raw read (reused buffer, read at once), which its types do not declare. */
function textOf(db: Database<VersionRecord, [string, string, number]>, key: [string, string, number]): string | undefined {
  const bytes = (db as unknown as { getBinaryFast(key: unknown): Uint8Array | undefined }).getBinaryFast(key);
  return bytes && bytes.length > 0 ? unpackText(bytes) : undefined;
}

export function readVersionRecord(db: Database<VersionRecord, [string, string, number]>, resourceType: string, id: string, versionId: number): StoredVersion | undefined {
  const text = textOf(db, [resourceType, id, versionId]);
  if (text === undefined) return undefined;
  const end = text.startsWith(PREFIX) ? text.indexOf('"', PREFIX.length) : -1;
  const lastUpdated = end > 0 ? text.slice(PREFIX.length, end) : '';
  if (end < 0 || !INSTANT.test(lastUpdated) || !text.startsWith(BEFORE_BODY, end) || !text.endsWith('}')) {
    return storedVersion(resourceType, id, versionId, JSON.parse(text) as VersionRecord);
  }
  const body = text.slice(end + BEFORE_BODY.length, -1);
  let parsed: Resource | undefined;
  const version: StoredVersion = {
    resourceType,
    id,
    versionId,
    lastUpdated,
    deleted: false,
    // An own, enumerable accessor: spreads, clones and JSON.stringify see the body as if it were a plain value.
    get resource(): Resource {
      return (parsed ??= JSON.parse(body) as Resource);
    },
  };
  return attachStoredJson(version, body);
}
