/**
 * The embedded store packs its bodies and the AuditEvents' index entries itself (LZ4 with a
 * frozen dictionary, src/store/embedded/stored-value-codec.ts) instead of leaving compression to
 * lmdb-js: what a user relies on is that every value reads back exactly, that data folders written
 * before (lmdb-js-compressed bodies, plain entries) answer exactly as they did, and that the
 * dictionary never changes under data written with it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4';
import { open } from 'lmdb';
import { describe, expect, it } from 'vitest';
import type { RelaisContext } from '../../src/context.js';
import { DICTIONARY_1, DICTIONARY_1_SHA256 } from '../../src/store/embedded/compression-dictionary.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { openLayout, STORE_FOLDER } from '../../src/store/embedded/lmdb-layout.js';
import { COMPRESS_AT_LEAST, packJson, storedJsonEncoder, unpackText } from '../../src/store/embedded/stored-value-codec.js';
import { storeContexts } from '../helpers/store-contexts.js';
import { trailAnswers, writeTrail } from './audit-layout-scenario.js';

const contexts = storeContexts('relais-codec-');
const { tempDir, closed } = contexts;
const opened = (directory: string) => contexts.opened(new EmbeddedStore({ directory }));

/** A Patient over the compression threshold, with text outside ASCII. */
function bigPatient(id: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    name: [{ family: 'Lefèvre-Œuvray', given: ['Zoé', 'Anaïs'] }],
    address: Array.from({ length: 12 }, (_, i) => ({ line: [`${i + 1} rue de l’Église`], city: 'Saint-Étienne', postalCode: '42000' })),
    telecom: [{ system: 'phone', value: '+33 6 12 34 56 78' }],
  };
}

const writePatient = (ctx: RelaisContext, patient: Patient) =>
  ctx.store.write([{ kind: 'put', resourceType: 'Patient', id: patient.id!, resource: patient, index: ctx.engine.facts.extractor.extract(patient) }]);

/** Reads, history and searches a user would make of the folder: the same before and after any change of its stored form. */
async function answers(ctx: RelaisContext): Promise<unknown> {
  const read = await ctx.store.readCurrent('Patient', 'p-big');
  const history = await ctx.store.history({ resourceType: 'Patient', id: 'p-big', offset: 0, count: 10 });
  return {
    read: read?.resource,
    first: (await ctx.store.readVersion('Patient', 'p-big', 1))?.resource,
    history: history.versions.map((v) => [v.versionId, v.deleted, v.resource]),
    trail: await trailAnswers(ctx),
  };
}

describe('stored values (stored-value-codec.ts)', () => {
  it('keep the dictionary data was written with: its bytes never change', () => {
    expect(createHash('sha256').update(DICTIONARY_1).digest('hex')).toBe(DICTIONARY_1_SHA256);
    expect(DICTIONARY_1_SHA256).toBe('ac680c9027f486ef32f53dd8c7fd37e88d52c369156a4558c40f51cf02023909');
  });

  it('read back exactly the JSON written, compressed or not, whatever its characters', () => {
    const texts = [
      '{}',
      JSON.stringify({ lu: '2026-12-07T10:00:00.000Z', r: bigPatient('x') }),
      JSON.stringify({ text: 'é'.repeat(3000), emoji: '🩺'.repeat(500) }),
      // Incompressible: stored as it is (compressing would not make it smaller).
      JSON.stringify({ noise: randomBytes(3000).toString('base64') }),
    ];
    for (const text of texts) {
      for (const compress of [false, true]) {
        const stored = packJson(text, compress);
        expect(unpackText(stored)).toBe(text);
        expect(storedJsonEncoder.decode(stored)).toEqual(JSON.parse(text));
      }
    }
    expect(packJson(texts[1], true).length).toBeLessThan(Buffer.byteLength(texts[1]) / 2);
    const noise = texts[3];
    expect(packJson(noise, true).toString('utf8')).toBe(noise);
  });

  it('read a value inside a larger reused buffer only up to its size', () => {
    const text = JSON.stringify({ lu: '2026-12-07T10:00:00.000Z', r: bigPatient('y') });
    for (const stored of [packJson(text, true), packJson(text, false)]) {
      const arena = Buffer.alloc(stored.length + 500, 0x20);
      stored.copy(arena, 100);
      expect(unpackText(arena.subarray(100, 100 + stored.length))).toBe(text);
    }
  });

  it('refuse a value in a format this code does not know, saying so', () => {
    expect(() => unpackText(Buffer.from([5, 1, 2, 3]))).toThrow(/unknown format/);
  });

  it('are written compressed: bodies from 1 KiB, the AuditEvents’ entries, not the other entries', async () => {
    const dir = tempDir();
    const ctx = await opened(dir);
    await writePatient(ctx, bigPatient('p-big'));
    await writeTrail(ctx);
    await closed(ctx);
    const layout = openLayout(dir, true);
    try {
      const firstByte = (db: typeof layout.versions | typeof layout.entries, key: [string, string, number]) => (db as unknown as { getBinary(k: unknown): Buffer }).getBinary(key)[0];
      expect(JSON.stringify(layout.versions.get(['Patient', 'p-big', 1])).length).toBeGreaterThan(COMPRESS_AT_LEAST);
      expect(firstByte(layout.versions, ['Patient', 'p-big', 1])).toBe(2);
      expect(firstByte(layout.versions, ['AuditEvent', 'ae-01', 1])).toBe(2);
      expect(JSON.stringify(layout.entries.get(['AuditEvent', 'ae-01', 1])).length).toBeGreaterThan(COMPRESS_AT_LEAST);
      expect(firstByte(layout.entries, ['AuditEvent', 'ae-01', 1])).toBe(2);
      expect(JSON.stringify(layout.entries.get(['Patient', 'p-big', 1])).length).toBeGreaterThan(COMPRESS_AT_LEAST);
      expect(String.fromCharCode(firstByte(layout.entries, ['Patient', 'p-big', 1]))).toBe('{');
    } finally {
      await layout.env.close();
    }
  });

  it('read back large bodies whole, compressible or not, through reads, version reads and history', async () => {
    const dir = tempDir();
    const ctx = await opened(dir);
    // Larger than lmdb-js' reused read buffers: read through its large-value path.
    const compressible: Patient = { ...bigPatient('p-large'), address: Array.from({ length: 4000 }, (_, i) => ({ line: [`${i} avenue de la République`], city: 'Lyon' })) };
    const noisy: Patient = { ...bigPatient('p-large'), text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${randomBytes(400_000).toString('base64')}</div>` } };
    await writePatient(ctx, compressible);
    await writePatient(ctx, noisy);
    // The store adds meta (versionId, lastUpdated): the rest comes back as written.
    const withoutMeta = (resource: unknown) => ({ ...(resource as Patient), meta: undefined });
    expect(withoutMeta((await ctx.store.readCurrent('Patient', 'p-large'))?.resource)).toEqual({ ...noisy, meta: undefined });
    expect(withoutMeta((await ctx.store.readVersion('Patient', 'p-large', 1))?.resource)).toEqual({ ...compressible, meta: undefined });
    const history = await ctx.store.history({ resourceType: 'Patient', id: 'p-large', offset: 0, count: 10 });
    expect(history.versions.map((v) => withoutMeta(v.resource))).toEqual([{ ...noisy, meta: undefined }, { ...compressible, meta: undefined }]);
  });

  it('answer on a folder written before (bodies compressed by lmdb-js, entries plain) exactly as on the same data written now, and keep answering after new writes', async () => {
    const dir = tempDir();
    let ctx = await opened(dir);
    await writePatient(ctx, bigPatient('p-big'));
    await writePatient(ctx, { ...bigPatient('p-big'), gender: 'female' });
    await writeTrail(ctx);
    const now = await answers(ctx);
    await closed(ctx);

    // Every body and entries record rewritten the way the store wrote them before this codec.
    const layout = openLayout(dir, true);
    const versions = [...layout.versions.getRange({})].map(({ key, value }) => [key, value] as const);
    const entries = [...layout.entries.getRange({})].map(({ key, value }) => [key, value] as const);
    await layout.env.close();
    const env = open({ path: join(dir, STORE_FOLDER), maxDbs: 14, mapSize: 256 * 1024 ** 3 });
    const oldVersions = env.openDB({ name: 'versions', encoding: 'json', compression: { threshold: 1024 } });
    const oldEntries = env.openDB({ name: 'entries', encoding: 'json' });
    await env.transaction(() => {
      for (const [key, value] of versions) void oldVersions.put(key, value);
      for (const [key, value] of entries) void oldEntries.put(key, value);
    });
    // lmdb-js marks what it compressed with a first byte of 250 or more (read here without decompressing).
    const raw = env.openDB({ name: 'versions', encoding: 'binary' }).getBinary(['Patient', 'p-big', 2])!;
    expect(raw[0]).toBeGreaterThanOrEqual(250);
    await env.close();

    ctx = await opened(dir);
    expect(await answers(ctx)).toEqual(now);
    // New versions over old ones: the history mixes both forms.
    await writePatient(ctx, { ...bigPatient('p-big'), gender: 'other' });
    const history = await ctx.store.history({ resourceType: 'Patient', id: 'p-big', offset: 0, count: 10 });
    expect(history.versions.map((v) => (v.resource as Patient | undefined)?.gender)).toEqual(['other', 'female', undefined]);
    expect((await ctx.store.readCurrent('Patient', 'p-big'))?.resource).toMatchObject({ gender: 'other', address: bigPatient('p-big').address });
  });
});
