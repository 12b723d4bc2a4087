/**
 * Keys for positions in the embedded store (src/store/embedded/position-keys.ts): a `near` box's
 * candidates are read from its latitude band (never missing a match, through moves and deletions,
 * and only the band: it is an index, not a scan of the Locations); the store answers `near` exactly
 * as the great-circle distance decides; a folder written before these keys existed (no keys, no
 * mark) is answered by the filter evaluation until its first opening for writing gives every live
 * Location its keys.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bundle, Location, Resource } from 'fhir/r4';
import { seededRandom } from '../../scripts/network-dataset.js';
import { indexWriter, temporaryLayouts } from '../helpers/embedded-layouts.js';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import { planCandidates, planFor } from '../../src/store/embedded/candidate-planner.js';
import { keyReader } from '../../src/store/embedded/document-reader.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { HIGHEST } from '../../src/store/embedded/index-keys.js';
import { openLayout, UNKEYED_PARAMETERS } from '../../src/store/embedded/lmdb-layout.js';
import { addMissingPositionKeys, POSITION_KEYS_MARK } from '../../src/store/embedded/position-keys.js';
import { distanceMetres, parseNear } from '../../src/search/near.js';
import type { IndexEntries } from '../../src/store/resource-store.js';

const freshLayout = temporaryLayouts('relais-positions-');

type Position = { lat: number; lon: number };
const box = (latMin: number, latMax: number, lonMin: number, lonMax: number) => ({ 'idx.near': { $elemMatch: { lat: { $gte: latMin, $lte: latMax }, lon: { $gte: lonMin, $lte: lonMax } } } });

describe('position keys: the planner', () => {
  it('proposes every position in a box from its latitude band, through moves and deletions, and only the band', async () => {
    const random = seededRandom(11);
    const layout = freshLayout();
    // As the store's first opening for writing leaves a new folder: marked, `near` keyed.
    expect(await addMissingPositionKeys(layout, UNKEYED_PARAMETERS)).toBe(0);
    expect(layout.unkeyed.get('Location')?.has('near') ?? false).toBe(false);
    const write = indexWriter(layout, 'Location');
    const current = new Map<string, Position[]>();
    // Around the network's cities, with a few on the equator, the poles' side and the antimeridian.
    const position = (): Position => {
      const anywhere = random() < 0.1;
      return anywhere ? { lat: Math.round((random() * 180 - 90) * 1e4) / 1e4, lon: Math.round((random() * 360 - 180) * 1e4) / 1e4 } : { lat: 45 + random(), lon: 4 + random() };
    };
    let checked = 0;
    for (let round = 0; round < 30; round++) {
      const changes: Array<[string, IndexEntries | undefined]> = [];
      for (let step = 0; step < 40; step++) {
        const id = `loc${Math.floor(random() * 300)}`;
        if (changes.some(([seen]) => seen === id)) continue;
        if (current.has(id) && random() < 0.2) {
          changes.push([id, undefined]);
          current.delete(id);
          continue;
        }
        // Most Locations have one position; some none (no key), entries without a longitude never get one.
        const positions = random() < 0.1 ? [] : [position()];
        const withoutLongitude = random() < 0.05;
        current.set(id, withoutLongitude ? [] : positions);
        changes.push([id, { near: withoutLongitude ? [{ lat: positions[0]?.lat ?? 0 }] : positions, name: [{ v: id }] }]);
      }
      await write(changes);
      for (let query = 0; query < 6; query++) {
        const centre = position();
        const half = random() * 0.5;
        const [latMin, latMax, lonMin, lonMax] = [centre.lat - half, centre.lat + half, centre.lon - half, centre.lon + half];
        const filter = box(latMin, latMax, lonMin, lonMax);
        const found = await planCandidates(keyReader(layout), 'Location', filter);
        expect(found, 'a box is planned on its latitude band').toBeDefined();
        const inBand = [...current].filter(([, positions]) => positions.some((p) => p.lat >= latMin && p.lat <= latMax)).map(([id]) => id);
        const inBox = [...current].filter(([, positions]) => positions.some((p) => p.lat >= latMin && p.lat <= latMax && p.lon >= lonMin && p.lon <= lonMax)).map(([id]) => id);
        for (const id of inBox) expect(found!.has(id), `${id} in ${JSON.stringify(filter)}`).toBe(true);
        expect([...found!].sort()).toEqual(inBand.sort());
        checked += inBox.length;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it('does not plan on positions of a folder whose positions have no keys yet (read-only opening of an older folder)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relais-positions-ro-'));
    try {
      const writable = openLayout(dir);
      await indexWriter(writable, 'Location')([['loc1', { near: [{ lat: 45.76, lon: 4.83 }] }]]);
      await writable.env.close();
      const readOnly = openLayout(dir, true);
      try {
        expect(readOnly.unkeyed.get('Location')?.has('near')).toBe(true);
        // AuditEvent's policy is kept beside it.
        expect(readOnly.unkeyed.get('AuditEvent')?.has('action')).toBe(true);
        expect(await planFor(keyReader(readOnly), 'Location', box(45, 46, 4, 5), readOnly.unkeyed.get('Location'))).toBeUndefined();
      } finally {
        await readOnly.env.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('position keys: near searches on the embedded store', () => {
  const dirs: string[] = [];
  const contexts: RelaisContext[] = [];
  afterEach(async () => {
    for (const ctx of contexts.splice(0)) await ctx.store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  const open = async (directory: string): Promise<RelaisContext> => {
    const ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent' }), new EmbeddedStore({ directory }));
    await ctx.store.open();
    contexts.push(ctx);
    return ctx;
  };
  const put = (ctx: RelaisContext, location: Location) =>
    ctx.store.write([{ kind: 'put', resourceType: 'Location', id: location.id!, resource: location as Resource, index: ctx.engine.facts.extractor.extract(location as Resource) }]);
  const near = async (ctx: RelaisContext, query: string): Promise<string[]> => {
    const bundle: Bundle<Resource> = await ctx.engine.asServer('test setup').search('Location', [['near', query], ['_count', '1000']], { strict: true });
    return (bundle.entry ?? []).map((entry) => entry.resource!.id!).sort();
  };
  const expected = (positions: Map<string, Position>, query: string) => {
    const parsed = parseNear(query, 'near');
    return [...positions].filter(([, p]) => distanceMetres(parsed, p) <= parsed.metres).map(([id]) => id).sort();
  };

  it('answers as the great-circle distance decides, through moves and deletions, and gives an older folder its keys on opening', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'relais-positions-store-'));
    dirs.push(directory);
    const random = seededRandom(5);
    const positions = new Map<string, Position>();
    let ctx = await open(directory);
    const place = async (id: string) => {
      const p = { lat: 45.4 + random() * 0.7, lon: 4 + random() * 1 };
      positions.set(id, p);
      await put(ctx, { resourceType: 'Location', id, name: id, position: { latitude: p.lat, longitude: p.lon } });
    };
    for (let i = 0; i < 120; i++) await place(`loc${i}`);
    // Moves, deletions, and a Location without a position.
    for (let i = 0; i < 20; i++) await place(`loc${Math.floor(random() * 120)}`);
    for (const id of ['loc3', 'loc40', 'loc77']) {
      await ctx.store.write([{ kind: 'delete', resourceType: 'Location', id }]);
      positions.delete(id);
    }
    await put(ctx, { resourceType: 'Location', id: 'nowhere', name: 'nowhere' });
    const queries = ['45.76|4.83|20|km', '45.44|4.39|15|km', '45.6|4.5|5|km', '45.9|4.9|30000|m', '46.5|4.5|10|km'];
    for (const query of queries) expect(await near(ctx, query), query).toEqual(expected(positions, query));
    expect(await near(ctx, '45.76|4.83|20|km')).not.toEqual([]);

    // The same folder as the code before position keys left it: no `lat` key, no mark.
    await ctx.store.close();
    contexts.splice(0);
    const layout = openLayout(directory);
    const latKeys = () => [...layout.keys.getKeys({ start: ['Location', 'near', 'lat'], end: ['Location', 'near', 'lat', HIGHEST] })];
    expect(latKeys().length).toBe(positions.size);
    for (const key of latKeys()) await layout.keys.remove(key);
    await layout.meta.remove(POSITION_KEYS_MARK);
    expect(latKeys()).toEqual([]);
    await layout.env.close();

    ctx = await open(directory);
    for (const query of queries) expect(await near(ctx, query), `${query}, after the keys were added`).toEqual(expected(positions, query));
    await ctx.store.close();
    contexts.splice(0);
    const reopened = openLayout(directory, true);
    try {
      expect(reopened.meta.get(POSITION_KEYS_MARK)).toBe(true);
      expect([...reopened.keys.getKeys({ start: ['Location', 'near', 'lat'], end: ['Location', 'near', 'lat', HIGHEST] })].map((key) => key.at(-1)).sort()).toEqual([...positions.keys()].sort());
      expect(reopened.unkeyed.get('Location')?.has('near') ?? false).toBe(false);
    } finally {
      await reopened.env.close();
    }
  });
});
