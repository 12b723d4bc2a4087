/**
 * The writer's LMDB keys, encoded as lmdb-js encodes them (ordered-binary), into buffers of its own.
 *
 * Why not let lmdb-js encode them at put() time, as it did: lmdb-js encodes every key of the
 * process — each read's, each range's, each put's — with one function, ordered-binary's `writeKey`,
 * into buffers of several kinds (its write-instruction buffers, its read key buffer, its range
 * buffers). The byte stores of that one function then see so many buffer shapes that V8 gives up
 * specialising them (megamorphic): encoding the 17 keys an AuditEvent writes took 48 µs in such a
 * process against 5 µs when the function only ever sees one kind of buffer (measured, ordered-binary
 * 1.6.3 on Node.js 20), and it was 45 µs of the event loop per audited read, a quarter of it
 * (issue 17, docs/performance.md). This module loads ordered-binary's own CommonJS build, resolved
 * from lmdb-js — the package lmdb-js loads as ES module, so the same code and the same bytes, but
 * another instance with type feedback of its own — and only ever calls it with its own Buffers.
 * lmdb-js then copies each encoded key into its instruction buffer (a Uint8Array key is copied as
 * it is). test/store/key-encoder.test.ts checks the bytes against lmdb-js' own encoding.
 *
 * Keys go into arenas of ARENA_BYTES, handed out as views: an arena is never written twice, so a
 * view stays valid for as long as a queued write holds it (until its batch is queued), and a full
 * arena is simply replaced (its memory goes once no view of it is left).
 */
import { createRequire } from 'node:module';

interface OrderedBinary {
  writeKey(key: unknown, target: Buffer, position: number): number;
}

/** Resolved from lmdb-js' own location: the ordered-binary it depends on (no dependency of Relais' own to drift from it). */
const fromLmdb = createRequire(createRequire(import.meta.url).resolve('lmdb'));
const { writeKey } = fromLmdb('ordered-binary') as OrderedBinary;

/** Room left in an arena below which the next key starts a new one: above LMDB's largest key (1,978 bytes, maxKeySize) and ordered-binary's 4-byte margin. */
const ROOM_FOR_A_KEY = 4096;
const ARENA_BYTES = 256 * 1024;

export class KeyEncoder {
  private arena = Buffer.alloc(0);
  private used = 0;

  /** The key's bytes, as lmdb-js would write them (a view of this encoder's arena: never changed afterwards). */
  encode(key: unknown): Buffer {
    if (this.arena.length - this.used < ROOM_FOR_A_KEY) {
      this.arena = Buffer.allocUnsafeSlow(ARENA_BYTES);
      this.used = 0;
    }
    const start = this.used;
    const end = writeKey(key, this.arena, start);
    if (end - start > ROOM_FOR_A_KEY - 4) throw new Error(`Key size is larger than the maximum key size (${end - start} bytes)`);
    this.used = end;
    return this.arena.subarray(start, end);
  }
}
