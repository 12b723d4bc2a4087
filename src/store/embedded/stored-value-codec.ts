/**
 * How the embedded store's large JSON values (version records and index entries) are stored:
 * as their UTF-8 JSON text, or compressed with LZ4 and a dictionary, marked by a first byte.
 *
 *   first byte LZ4 (1)              LZ4 block (lz4-napi: 4-byte size, then the block)
 *   first byte LZ4_DICTIONARY_1 (2) the same, compressed with DICTIONARY_1 (compression-dictionary.ts)
 *   anything else                   the JSON text itself (JSON text never starts with bytes 1–8)
 *
 * Why not lmdb-js' own compression (which the store used before, and which still decodes the
 * values written then: lmdb-layout.ts keeps it configured for reading): lmdb-js compresses each
 * value in an asynchronous work item of its own, created and completed on the event loop. That
 * was about 30 µs of event loop per compressed value plus 20 µs in its thread pool — 10 % of an
 * audited read's event loop, one AuditEvent a read (CPU profile of the coordinator read, issue
 * 17: lmdb-js writeInstructions at the line queuing `compress`). Compressing here, synchronously,
 * with lz4-napi (LZ4 in Rust, lz4_flex) takes 4–9 µs for an AuditEvent and its dictionary makes
 * it 195 bytes instead of 1,392 on disk (measured, 2,000 AuditEvents). Reading adds 1–3 µs of
 * decompression to values that are compressed.
 *
 * Which values are compressed is the writer's choice (unit-writer.ts): values of at least
 * COMPRESS_AT_LEAST bytes, and a value is kept as it is when compressing does not make it smaller.
 */
import lz4 from 'lz4-napi';
import { DICTIONARY_1 } from './compression-dictionary.js';

const LZ4 = 1;
const LZ4_DICTIONARY_1 = 2;
/** Tags up to this byte are reserved for stored formats: JSON text starts with whitespace (9, 10, 13, 32) or a printable character. */
const HIGHEST_TAG = 8;

/** Smaller values are stored as they are (as lmdb-js' threshold did before: 1 KiB). */
export const COMPRESS_AT_LEAST = 1024;

/** The stored bytes of a JSON text: compressed with the dictionary when `compress`, unless that is no smaller. Always a new buffer. */
export function packJson(json: string, compress: boolean): Buffer {
  if (!compress) return Buffer.from(json, 'utf8');
  // Given the string, lz4-napi reads its UTF-8 itself: a Buffer.from() first cost 1.5 µs more per AuditEvent body (measured).
  const packed = lz4.compressSync(json, DICTIONARY_1);
  if (packed.length + 1 >= Buffer.byteLength(json, 'utf8')) return Buffer.from(json, 'utf8');
  const stored = Buffer.allocUnsafe(packed.length + 1);
  stored[0] = LZ4_DICTIONARY_1;
  packed.copy(stored, 1);
  return stored;
}

/**
 * The JSON text of stored bytes. `bytes` may be one of lmdb-js' reused read buffers, whose `length`
 * it sets to the value's size: read at once, and only up to that size.
 */
export function unpackText(bytes: Uint8Array): string {
  const size = bytes.length;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, size);
  const tag = size > 0 ? view[0] : 0;
  if (tag > HIGHEST_TAG || tag === 0) return view.toString('utf8');
  if (tag === LZ4_DICTIONARY_1) return lz4.uncompressSync(view.subarray(1), DICTIONARY_1).toString('utf8');
  if (tag === LZ4) return lz4.uncompressSync(view.subarray(1)).toString('utf8');
  throw new Error(`A stored value has an unknown format (first byte ${tag}): was this data folder written by a newer Relais?`);
}

/**
 * An lmdb-js encoder for a database of such values: `decode` gives the parsed JSON of either form
 * (after lmdb-js has decompressed what it compressed itself), `encode` (direct puts; the batch
 * writer packs its values itself) compresses from COMPRESS_AT_LEAST.
 */
export const storedJsonEncoder = {
  /** decode() copies what it reads (into a string), so lmdb-js may reuse its read buffers. */
  needsStableBuffer: false,
  encode(value: unknown): Buffer {
    const json = JSON.stringify(value);
    return packJson(json, json.length >= COMPRESS_AT_LEAST);
  },
  decode(bytes: Uint8Array): unknown {
    return JSON.parse(unpackText(bytes));
  },
};
