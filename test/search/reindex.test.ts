/**
 * A SearchParameter added later (the network's own, from profiles/) and the
 * reindex path (src/cli/reindex-command.ts uses store.reindex exactly like this):
 * resources written before the parameter existed become findable by it,
 * without new versions, and the new entries survive a restart (journal).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { definitionOf, loadProfileSearchParameters } from '../../src/search/profile-search-parameters.js';
import { EmbeddedStore } from '../../src/store/embedded/embedded-store.js';
import { BIRTH_CITY } from '../helpers/birth-city-parameter.js';

const folders: string[] = [];
const folder = () => {
  const f = mkdtempSync(join(tmpdir(), 'relais-reindex-'));
  folders.push(f);
  return f;
};
afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

describe('network SearchParameters and reindexing', () => {
  it('loads SearchParameter resources and Bundles of them from a profiles folder', () => {
    const dir = folder();
    writeFileSync(join(dir, 'sp.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: BIRTH_CITY }, { resource: { resourceType: 'ValueSet' } }] }));
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ resourceType: 'SearchParameter', code: 'x' }));
    const skipped: string[] = [];
    const found = loadProfileSearchParameters(dir, (file) => skipped.push(file));
    expect(found.map((d) => d.code)).toEqual(['birth-city']);
    expect(skipped).toEqual([join(dir, 'broken.json')]);
  });

  it('indexes existing resources for a parameter added later, without new versions, durably', async () => {
    const directory = folder();
    const config = loadConfig({ DATA_DIR: directory, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent' });
    const ctx = buildContext(config, new EmbeddedStore({ directory }));
    await ctx.store.open();
    const { version } = await ctx.engine.asServer('test setup').create('Patient', {
      resourceType: 'Patient',
      name: [{ family: 'Rivière' }],
      extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Saint-Étienne' } }],
    });
    const search = async () => (await ctx.engine.asServer('test setup').search('Patient', [['birth-city', 'saint-etienne']])).entry?.filter((e) => e.search?.mode === 'match').length ?? 0;
    // Unknown so far: ignored, so the (single) patient is returned whatever the value; strict says so.
    await expect(ctx.engine.asServer('test setup').search('Patient', [['birth-city', 'paris']], { strict: true })).rejects.toMatchObject({ status: 400 });

    const engineCtx = ctx.engine.facts;
    const definition = definitionOf(BIRTH_CITY);
    if (typeof definition === 'string') throw new Error(definition);
    engineCtx.searchParameters.add(definition, engineCtx.definitions.resourceTypes);
    engineCtx.extractor.reset();
    expect(await search()).toBe(0); // known now, but the stored entries predate it

    const current = (await ctx.store.readCurrent('Patient', version.id))!;
    const applied = await ctx.store.reindex([{ resourceType: 'Patient', id: version.id, versionId: current.versionId, index: engineCtx.extractor.extract(current.resource!) }]);
    expect(applied).toBe(1);
    expect(await search()).toBe(1);
    expect((await ctx.store.readCurrent('Patient', version.id))!.versionId).toBe(1);
    // A stale versionId is skipped.
    expect(await ctx.store.reindex([{ resourceType: 'Patient', id: version.id, versionId: 7, index: {} }])).toBe(0);
    await ctx.store.close();

    const reopened = buildContext(config, new EmbeddedStore({ directory }));
    reopened.engine.facts.searchParameters.add(definition, engineCtx.definitions.resourceTypes);
    await reopened.store.open();
    const after = await reopened.engine.asServer('test setup').search('Patient', [['birth-city', 'saint-etienne']]);
    expect(after.entry?.length).toBe(1);
    await reopened.store.close();
  });
});
