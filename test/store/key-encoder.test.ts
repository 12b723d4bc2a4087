/**
 * The writer's key encoder (src/store/embedded/key-encoder.ts) must give exactly the bytes lmdb-js
 * gives the same key: every key already in a data folder is found, compared and removed by those
 * bytes, and every range read builds its bounds with lmdb-js' own encoder.
 */
import * as lmdb from 'lmdb';
import { describe, expect, it } from 'vitest';
import { KeyEncoder } from '../../src/store/embedded/key-encoder.js';
import { HIGHEST, clip, indexKeysOf } from '../../src/store/embedded/index-keys.js';
import { seededRandom } from '../../scripts/network-dataset.js';

const lmdbKey = (lmdb as unknown as { keyValueToBuffer: (key: unknown) => Buffer }).keyValueToBuffer;
const bytesOf = (key: unknown) => Buffer.from(lmdbKey(key)).toString('hex');

/** Strings across ordered-binary's cases: empty, first character below 28, characters 0–4 (escaped), ASCII, 2- and 3-byte UTF-8, surrogate pairs and lone surrogates, shorter and longer than its 64-character fast path. */
function randomString(next: () => number): string {
  const length = [0, 1, 5, 63, 64, 65, 120, 200][Math.floor(next() * 8)];
  let text = '';
  for (let i = 0; i < length; i++) {
    const kind = Math.floor(next() * 8);
    if (kind === 0) text += String.fromCharCode(Math.floor(next() * 32));
    else if (kind === 1) text += String.fromCharCode(0x80 + Math.floor(next() * 0x780));
    else if (kind === 2) text += String.fromCharCode(0x800 + Math.floor(next() * 0xd000));
    else if (kind === 3) text += String.fromCodePoint(0x10000 + Math.floor(next() * 0xfffff));
    else if (kind === 4) text += String.fromCharCode(0xd800 + Math.floor(next() * 0x800));
    else text += String.fromCharCode(32 + Math.floor(next() * 95));
  }
  return text;
}

function randomNumber(next: () => number): number {
  const kind = Math.floor(next() * 7);
  if (kind === 0) return Math.floor(next() * 1000);
  if (kind === 1) return -Math.floor(next() * 1e6);
  if (kind === 2) return (next() - 0.5) * 1e-6;
  if (kind === 3) return (next() - 0.5) * 1e300;
  if (kind === 4) return Math.floor(next() * 2 ** 53);
  if (kind === 5) return [0, 1, -1, 0.5, -0.5, 1e21, Number.MIN_VALUE, -Number.MAX_VALUE][Math.floor(next() * 8)];
  return next() * 100;
}

describe('the writer key encoder', () => {
  it('gives the bytes lmdb-js gives, for 20,000 random keys of strings and numbers', () => {
    const next = seededRandom(17); // seeded: a failure names a reproducible key
    const encoder = new KeyEncoder();
    for (let i = 0; i < 20_000; i++) {
      const length = 1 + Math.floor(next() * 6);
      const key = Array.from({ length }, () => (next() < 0.7 ? randomString(next) : randomNumber(next)));
      const single = next() < 0.1 ? key[0] : key;
      expect(encoder.encode(single).toString('hex'), JSON.stringify(single)).toBe(bytesOf(single));
    }
  });

  it('gives the bytes lmdb-js gives for the keys the store writes (search keys, clipped values, heads, versions, history)', () => {
    const encoder = new KeyEncoder();
    const id = '019afa5b-4c2e-7a3b-9c1d-2e3f4a5b6c7d';
    const keys: unknown[] = [
      ...indexKeysOf('AuditEvent', id, {
        date: [{ lo: '2026-12-07T19:22:15.052Z', hi: '2026-12-07T19:22:15.052Z' }],
        patient: [{ s: 'https://dev', c: 'coordinator-dev' }, { r: 'Patient/p1', t: 'Patient', i: 'p1' }],
        address: [{ v: '127 0 0 1', e: '127.0.0.1' }],
        'agent-name': [{ v: 'é'.repeat(300) }],
        value: [{ n: -0, lo: -0.5, hi: 0.5 }, { n: 12.5 }, { cn: 0.0125, k: 'g' }],
      }),
      ['AuditEvent', id],
      ['AuditEvent', id, 1],
      ['2026-12-07T19:22:15.052Z', 123456],
      ['AuditEvent', '2026-12-07T19:22:15.052Z', 123456],
      ['Patient', 'name', 'v', clip('x'.repeat(500)), 'p1'],
      ['Patient', 'name', 'v', HIGHEST],
      'a guard key',
      '',
    ];
    for (const key of keys) expect(encoder.encode(key).toString('hex'), JSON.stringify(key)).toBe(bytesOf(key));
  });

  it('never changes a key it has handed out, across many arenas', () => {
    const encoder = new KeyEncoder();
    const handed: Array<[Buffer, string]> = [];
    for (let i = 0; i < 30_000; i++) {
      const key = ['Observation', 'code', 'sc', 'http://loinc.org', `${i}-${'9'.repeat(i % 150)}`, `obs-${i}`];
      handed.push([encoder.encode(key), bytesOf(key)]);
    }
    for (const [bytes, expected] of handed) expect(bytes.toString('hex')).toBe(expected);
  });
});
