/**
 * The embedded store's cache of the versions searches read (src/store/embedded/version-cache.ts):
 * bounded by count and by text, least recently used out first, frozen; and through the store, a
 * search never returns a version older than its snapshot's (updates and deletions since the
 * version was cached), and what it returns cannot be changed in place by a caller.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Practitioner, Resource } from 'fhir/r4';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { VersionCache } from '../../src/store/embedded/version-cache.js';
import type { StoredVersion } from '../../src/store/resource-store.js';

const version = (id: string, versionId = 1, family = id): StoredVersion => ({
  resourceType: 'Practitioner',
  id,
  versionId,
  lastUpdated: '2026-12-08T00:00:00.000Z',
  deleted: false,
  resource: { resourceType: 'Practitioner', id, name: [{ family, given: ['A'] }] } as Resource,
});

describe('VersionCache', () => {
  it('keeps at most its count, the least recently used going first', () => {
    const cache = new VersionCache(3, 1_000_000);
    for (const id of ['a', 'b', 'c']) cache.add(version(id), 100);
    expect(cache.get('Practitioner', 'a', 1)?.id).toBe('a'); // a used: b is now the oldest
    cache.add(version('d'), 100);
    expect(cache.size).toBe(3);
    expect(cache.get('Practitioner', 'b', 1)).toBeUndefined();
    expect(['a', 'c', 'd'].map((id) => cache.get('Practitioner', id, 1)?.id)).toEqual(['a', 'c', 'd']);
    expect(cache.get('Practitioner', 'a', 2)).toBeUndefined(); // another version is another entry
  });

  it('keeps at most its text, and never a record larger than 64 KiB', () => {
    const cache = new VersionCache(1000, 1000);
    for (let i = 0; i < 10; i++) cache.add(version(`p${i}`), 300);
    expect(cache.size).toBe(3); // 3 × 300 ≤ 1,000 < 4 × 300
    expect(cache.get('Practitioner', 'p9', 1)).toBeDefined();
    expect(cache.get('Practitioner', 'p6', 1)).toBeUndefined();
    const big = new VersionCache();
    big.add(version('huge'), 64 * 1024 + 1);
    expect(big.size).toBe(0);
  });

  it('freezes what it keeps, deeply', () => {
    const cache = new VersionCache();
    const kept = cache.add(version('a'), 100);
    const body = kept.resource as Practitioner;
    expect(() => {
      body.name![0].given!.push('B');
    }).toThrow(TypeError);
    expect(() => {
      (body as { id?: string }).id = 'b';
    }).toThrow(TypeError);
    expect(body.name![0].given).toEqual(['A']);
  });
});

describe('VersionCache in the embedded store', () => {
  let ctx: RelaisContext | undefined;
  let directory = '';
  afterEach(async () => {
    await ctx?.store.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('a search after an update or a deletion never returns the version it cached before', async () => {
    directory = mkdtempSync(join(tmpdir(), 'relais-version-cache-'));
    ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent' }), new EmbeddedStore({ directory }));
    await ctx.store.open();
    const { extractor } = ctx.engine.facts;
    const put = (family: string) => {
      const resource = { resourceType: 'Practitioner', id: 'pr1', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10001234567' }], name: [{ family }] } as Resource;
      return ctx!.store.write([{ kind: 'put', resourceType: 'Practitioner', id: 'pr1', resource, index: extractor.extract(resource) }]);
    };
    const byRpps = async () => {
      const bundle = await ctx!.engine.asServer('test setup').search('Practitioner', [['identifier', 'https://rpps.esante.gouv.fr|10001234567']]);
      return (bundle.entry ?? []).map((entry) => entry.resource as Practitioner);
    };
    await put('Martin');
    for (let i = 0; i < 3; i++) expect((await byRpps()).map((p) => [p.name![0].family, p.meta?.versionId])).toEqual([['Martin', '1']]);
    await put('Martin-Durand');
    expect((await byRpps()).map((p) => [p.name![0].family, p.meta?.versionId])).toEqual([['Martin-Durand', '2']]);
    const found = (await byRpps())[0];
    expect(Object.isFrozen(found.name![0])).toBe(true);
    await ctx.store.write([{ kind: 'delete', resourceType: 'Practitioner', id: 'pr1' }]);
    expect(await byRpps()).toEqual([]);
    await put('Martin');
    expect((await byRpps()).map((p) => [p.name![0].family, p.meta?.versionId])).toEqual([['Martin', '4']]);
  });
});
