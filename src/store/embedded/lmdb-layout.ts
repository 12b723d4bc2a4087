/**
 * Where the embedded store keeps what, in one LMDB environment (`store/` in the
 * data folder; LMDB through lmdb-js: memory-mapped B+trees, ACID transactions,
 * one writer, readers never blocked). Keys are lmdb-js ordered-binary arrays, so
 * every "all versions of X", "all index keys from A to B" or "newest history
 * first" is one ordered range read.
 *
 * | database | key | value |
 * | --- | --- | --- |
 * | heads | [type, id] | the current version: { v, lu, d?, g?, c? } (versionId, lastUpdated, deleted, guard key held, entries kept compact) |
 * | versions | [type, id, versionId] | { lu, d?, r? } (the body, meta included; none for a deletion) |
 * | entries | [type, id, versionId] | the index entries written with that version (a deletion: those it deleted) |
 * | current | [type, id, code] | the current live version's entries of one parameter: a search decodes only the parameters its filter names (none for a head flagged `c`) |
 * | keys | [type, code, field, ...value, id] | null: the search index of current versions (index-keys.ts), none for the parameters of UNKEYED_PARAMETERS (nor for positions until a folder written before they had keys gets them: position-keys.ts) |
 * | log | [lastUpdated, seq] | [type, id, versionId]: system history in commit order |
 * | typeLog | [type, lastUpdated, seq] | [id, versionId]: type history |
 * | guards | guard key | [type, id]: conditional-create guards of live resources |
 * | meta | name | migration state, whether positions have keys, probe writes |
 *
 * Compact heads (`c`): the resources of a type written once and never changed (AuditEvent:
 * the server writes each once; nobody updates them through the API) keep their current entries
 * in `entries` only, not also one copy per parameter in `current`: an AuditEvent has 15
 * parameters with values, and their copies were 15 of the about 40 LMDB writes of every audited
 * request (issue 17's profile), for searches that decode a few parameters of few candidates.
 * A search reads such a head's entries from `entries` (document-reader.ts); a later version of
 * the resource, if there is one, is written in whichever form its type calls for, the head saying
 * which. Heads written before this flag existed have none: their copies are in `current`, as then.
 *
 * Parameters without keys (UNKEYED_PARAMETERS): the AuditEvent parameters whose values nearly every
 * AuditEvent shares — action (R), type (rest), subtype (read, search-type…), entity-type,
 * entity-role, each a code and most also a system|code — were 9 of the 21 search keys of a read's
 * AuditEvent: each a put encoded on the event loop, a B-tree insert on lmdb-js' write thread and
 * bytes on disk for every access, in long runs of equal values that narrow no search. Their entries
 * are written as before; a search naming them is answered by the filter evaluation, on the
 * candidates of its keyed conditions (date, agent, patient, entity, altid, address, site…) or, when
 * it names only these, by a scan of the trail (paced like every scan). `outcome` keeps its key (one,
 * a code without system): "every refused access" (`AuditEvent?outcome=4`) is the audit trail's
 * first security question, and without its key it read the whole trail — 1.3 s at 100,000
 * AuditEvents with `_total=accurate`, growing with every access (README, "What access control and
 * audit cost"). Folders written before hold keys for the others: those are never read, and go with
 * their resource's next write or `relais reindex` (unit-writer.ts removes every key a resource may
 * hold). Changing this set for a type whose folder was written under another set needs
 * `relais reindex <type>` (a parameter moved to the keyed side has no keys for what was written
 * without them).
 *
 * Options, each for a reason:
 * - `overlappingSync: false`: a commit's promise then resolves only once the
 *   commit is on disk (with the lmdb-js default, it resolves when the commit is
 *   visible and the flush follows later): a write is acknowledged only when durable.
 * - `eventTurnBatching: false`: with it, lmdb-js 3.5 leaves the promise of its
 *   per-event-turn batch unhandled, so a failed commit (a full disk) stops the
 *   process with an unhandled rejection (measured on a 2 MiB tmpfs). Without it,
 *   writes queued while a commit runs still share the next one (group commit).
 * - `useRecords: false` (msgpackr's option, passed through by lmdb-js, missing from its
 *   types): plain MessagePack maps. msgpackr's records without shared structures
 *   redefine each object shape in every value, which made encoding the main cost
 *   of queuing a commit (profiled); shared structures would be saved by a
 *   synchronous transaction on the event loop.
 * - JSON for bodies and index entries (the large values): V8's JSON.stringify encoded them
 *   about 5 times faster than msgpackr's pure-JavaScript encoder, and JSON.parse decodes them
 *   about as fast (measured on the generated network's entries); the small values stay MessagePack.
 * - `noReadAhead` (MDB_NORDAHEAD): reads here are random (a head, a version, a key range),
 *   and the kernel's read-ahead mapped whole neighbourhoods of the file into the process for
 *   each: 20,000 random reads of a 265 MiB store grew the file-backed RSS by 240 MiB with
 *   read-ahead, by 32 MiB without (measured).
 * - Compressed bodies, and index entries of the write-once types (stored-value-codec.ts): LZ4
 *   with a dictionary, done by the writer on the event loop (4–9 µs an AuditEvent) instead of
 *   lmdb-js' own compression (an asynchronous work item per value: ~30 µs of event loop and
 *   20 µs in its pool per AuditEvent, issue 17), which stays configured only to read the values
 *   it compressed before. Uncompressed, a read's AuditEvent (1.6 KB of JSON) fits only two to a
 *   4 KiB page, and B-tree pages split in the middle as the time-ordered ids append, so each took
 *   a page of its own — 4,172 bytes per AuditEvent on disk against 1,392 with lmdb-js' LZ4
 *   (20,000 AuditEvents written both ways, measured); LZ4 with the dictionary makes the body
 *   ~195 bytes. Other types' entries stay uncompressed: every search's filter evaluation reads
 *   them, where decompressing would add 1–3 µs per candidate.
 */
import { join } from 'node:path';
import { open, type Database, type RootDatabase, type RootDatabaseOptionsWithPath } from 'lmdb';
import type { IndexEntries } from '../resource-store.js';
import type { UnkeyedParameters } from './index-keys.js';
import { positionsKeyed, withoutPositionKeys } from './position-keys.js';
import { storedJsonEncoder } from './stored-value-codec.js';
import type { Resource } from 'fhir/r4';

export interface HeadRecord {
  /** versionId of the current version */
  v: number;
  /** its lastUpdated */
  lu: string;
  /** true when the current version is a deletion */
  d?: true;
  /** guard key this resource took with a conditional create, while live */
  g?: string;
  /** the live current version's entries are in `entries` only, none in `current` (compact heads, above) */
  c?: true;
}

export interface VersionRecord {
  lu: string;
  d?: true;
  r?: Resource;
}

export type LogKey = [string, number];
export type TypeLogKey = [string, string, number];

export interface Layout {
  env: RootDatabase;
  heads: Database<HeadRecord, [string, string]>;
  versions: Database<VersionRecord, [string, string, number]>;
  entries: Database<IndexEntries, [string, string, number]>;
  current: Database<unknown[], [string, string, string]>;
  keys: Database<null, Array<string | number>>;
  log: Database<[string, string, number], LogKey>;
  typeLog: Database<[string, number], TypeLogKey>;
  guards: Database<[string, string], string>;
  meta: Database<unknown, string>;
  /** The subscription outbox (lmdb-outbox.ts): numbered entries by [queue, seq], and each queue's { head, acked }. */
  outbox: Database<unknown, [string, number]>;
  outboxQueues: Database<{ head: number; acked: number }, string>;
  /** The parameters written without search keys, per type (UNKEYED_PARAMETERS, above): writers and searches read it here. */
  unkeyed: UnkeyedParameters;
}

/**
 * Address space reserved for the file's memory map (not disk: the file grows as data is written).
 * Reserved once, large, because lmdb-js grows a full map by mapping the file again and keeps the
 * earlier mappings (buffers it handed out may point into them): at 150,000 resources the process had
 * seven mappings of data.mdb, and the pages resident in each counted again in its RSS (2.4 GB of
 * file-backed RSS for a 1.3 GB file, measured with /proc/<pid>/smaps).
 */
const MAP_SIZE = 256 * 1024 ** 3;

/** The types whose resources are written once (compact heads, above): the audit trail. */
export const WRITE_ONCE_TYPES: ReadonlySet<string> = new Set(['AuditEvent']);

/** The parameters of each type written without search keys (above). */
export const UNKEYED_PARAMETERS: UnkeyedParameters = new Map([['AuditEvent', new Set(['action', 'type', 'subtype', 'entity-type', 'entity-role'])]]);

/** lmdb-js' compression threshold (a uint32 in its native part) above any value's size. */
const LMDB_NEVER_COMPRESSES = 0xffffffff;

/** The folder of the resources' environment inside the data folder. */
export const STORE_FOLDER = 'store';

/**
 * `readOnly`: for a data folder that cannot be written (the store then serves reads only, see embedded-store.ts).
 * `unkeyed`: the key policy (tests pass an empty one to write and search every parameter's keys, as before the policy).
 */
export function openLayout(directory: string, readOnly = false, unkeyed: UnkeyedParameters = UNKEYED_PARAMETERS): Layout {
  const options = { path: join(directory, STORE_FOLDER), overlappingSync: false, eventTurnBatching: false, noReadAhead: true, mapSize: MAP_SIZE, useRecords: false, maxDbs: 14, ...(readOnly ? { readOnly } : {}) };
  const env = open(options as RootDatabaseOptionsWithPath);
  const meta: Database<unknown, string> = env.openDB({ name: 'meta' });
  return {
    env,
    heads: env.openDB({ name: 'heads' }),
    // Values packed by stored-value-codec.ts; `compression` only so that lmdb-js still decompresses the values it
    // compressed itself before (it never compresses a value again: no value reaches its threshold).
    versions: env.openDB({ name: 'versions', encoder: storedJsonEncoder, compression: { threshold: LMDB_NEVER_COMPRESSES } } as never),
    entries: env.openDB({ name: 'entries', encoder: storedJsonEncoder } as never),
    current: env.openDB({ name: 'current', encoding: 'json' }),
    keys: env.openDB({ name: 'keys' }),
    log: env.openDB({ name: 'log' }),
    typeLog: env.openDB({ name: 'type-log' }),
    guards: env.openDB({ name: 'guards' }),
    meta,
    outbox: env.openDB({ name: 'outbox', encoding: 'json' }),
    outboxQueues: env.openDB({ name: 'outbox-queues', encoding: 'json' }),
    // Until a folder's positions have keys (position-keys.ts: added on its first opening for writing), `near` has none.
    unkeyed: positionsKeyed({ meta }) ? unkeyed : withoutPositionKeys(unkeyed),
  };
}
