/**
 * Paging stays consistent while other clients write (R4 search page, paging):
 * walking every next link of a 1,000-result search with _count=7, while
 * another client creates, updates and deletes between pages, returns each
 * resource that matched when the search started exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Patient, Resource } from 'fhir/r4';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
const original: string[] = [];

beforeAll(async () => {
  server = await startTestServer();
  const engine = server.ctx.engine;
  for (let batch = 0; batch < 20; batch++) {
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) => engine.asServer('test setup').create('Patient', { resourceType: 'Patient', name: [{ family: 'Pagination', given: [`P${batch * 50 + i}`] }], birthDate: `19${String((batch * 50 + i) % 100).padStart(2, '0')}-01-01` })),
    );
    original.push(...created.map((c) => c.version.id));
  }
  // Noise that never matches.
  await engine.asServer('test setup').create('Patient', { resourceType: 'Patient', name: [{ family: 'Autre' }] });
}, 120_000);
afterAll(async () => {
  await server.close();
});

function paramsOf(url: string): Array<[string, string]> {
  return [...new URL(url).searchParams.entries()];
}

async function walk(first: string, between: (page: number, seen: string[]) => Promise<void>): Promise<string[]> {
  const engine = server.ctx.engine;
  const seen: string[] = [];
  let bundle: Bundle<Resource> = await engine.asServer('test setup').search('Patient', paramsOf(`http://relais.test/fhir/Patient?${first}`));
  for (let page = 0; ; page++) {
    for (const entry of bundle.entry ?? []) seen.push(entry.resource!.id!);
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    if (!next) break;
    expect(next.startsWith('http://relais.test/fhir/Patient?')).toBe(true);
    await between(page, seen);
    bundle = await engine.asServer('test setup').search('Patient', paramsOf(next));
  }
  return seen;
}

describe('paging while others write', () => {
  it('default order: every original match exactly once across 143 pages', async () => {
    const engine = server.ctx.engine;
    let counter = 0;
    const seen = await walk('family=pagination&_count=7', async (page, sofar) => {
      counter++;
      // A new match, an update of an already-seen match, an update of a not-yet-seen one.
      await engine.asServer('test setup').create('Patient', { resourceType: 'Patient', name: [{ family: 'Pagination', given: [`new${counter}`] }] });
      const seenId = sofar[page % sofar.length];
      const unseen = original.find((id) => !sofar.includes(id));
      for (const id of [seenId, unseen].filter((x): x is string => !!x)) {
        const current = (await engine.asServer('test setup').read('Patient', id)).resource as Patient;
        await engine.asServer('test setup').update('Patient', id, { ...current, gender: page % 2 ? 'male' : 'female' });
      }
    });
    expect(seen.length).toBe(1000);
    expect(new Set(seen).size).toBe(1000);
    expect([...seen].sort()).toEqual([...original].sort());
  }, 120_000);

  it('sorted on _lastUpdated (which the concurrent updates change): still each exactly once', async () => {
    const engine = server.ctx.engine;
    const now = await engine.asServer('test setup').search('Patient', [['family', 'pagination'], ['_summary', 'count']]);
    const before = new Set<string>();
    const seen = await walk('family=pagination&_sort=_lastUpdated&_count=7', async (page, sofar) => {
      if (page === 0) for (const id of sofar) before.add(id);
      // Move a not-yet-seen match to the very end of the _lastUpdated order.
      const unseen = original.find((id) => !sofar.includes(id));
      if (unseen) {
        const current = (await engine.asServer('test setup').read('Patient', unseen)).resource as Patient;
        await engine.asServer('test setup').update('Patient', unseen, { ...current, active: page % 2 === 0 });
      }
    });
    expect(seen.length).toBe(now.total);
    expect(new Set(seen).size).toBe(now.total);
  }, 120_000);

  it('a deleted match is left out of its page, never replaced by another', async () => {
    const engine = server.ctx.engine;
    const first = await engine.asServer('test setup').search('Patient', [['family', 'pagination'], ['_count', '7']]);
    const second = first.link!.find((l) => l.relation === 'next')!.url;
    const page2 = await engine.asServer('test setup').search('Patient', paramsOf(second));
    // The first page of a broad search does not count its matches (R4: no _total, no obligation); the snapshot's pages do.
    const total = page2.total!;
    const victim = page2.entry![3].resource!.id!;
    await engine.asServer('test setup').delete('Patient', victim);
    const again = await engine.asServer('test setup').search('Patient', paramsOf(second));
    expect(again.entry!.map((e) => e.resource!.id)).toEqual(page2.entry!.map((e) => e.resource!.id).filter((id) => id !== victim));
    expect(again.total).toBe(total);
  });

  it('previous links walk back over the same pages', async () => {
    const engine = server.ctx.engine;
    const page1 = await engine.asServer('test setup').search('Patient', [['family', 'pagination'], ['_count', '5']]);
    const page2 = await engine.asServer('test setup').search('Patient', paramsOf(page1.link!.find((l) => l.relation === 'next')!.url));
    const back = await engine.asServer('test setup').search('Patient', paramsOf(page2.link!.find((l) => l.relation === 'previous')!.url));
    expect(back.entry!.map((e) => e.resource!.id)).toEqual(page1.entry!.map((e) => e.resource!.id));
  });

  it('an unknown cursor is a 410 asking to search again', async () => {
    await expect(server.ctx.engine.asServer('test setup').search('Patient', [['family', 'pagination'], ['_cursor', 'unknowncursor']])).rejects.toMatchObject({ status: 410 });
  });
});
