/**
 * Paging cursors over HTTP, as clients see them, for any store: a `next` link
 * works on any Relais instance sharing the store (A serves page 1, B page 2,
 * and so on), only for the caller who ran the search (another caller gets the
 * same 410 as for an unknown cursor), and expires after the idle time (410).
 * On the embedded store "A" and "B" are the same app (one process per store).
 *
 * Apps run with AUTH_MODE=dev: two coordinators, who may both see every
 * patient, so only the cursor's owner differs between them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { buildApp } from '../../src/app.js';
import { loadConfig, type RelaisConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import type { ResourceStore, ResultSetLimits } from '../../src/store/resource-store.js';

export interface CursorSuiteSetup {
  /** Environment of the apps (store selection); DATA_DIR and auth are added. */
  env: Record<string, string>;
  /** The stores of instances A and B (the same store where it cannot be shared). */
  stores(limits: ResultSetLimits): [ResourceStore, ResourceStore];
  dispose(): Promise<void>;
}

const IDLE_MS = 60_000;
const MATCHES = 30;

export function describePagingCursors(name: string, setup: () => CursorSuiteSetup): void {
  describe(`paging cursors over HTTP: ${name}`, () => {
    let s: CursorSuiteSetup;
    let dataDir: string;
    let now = Date.now();
    const apps: FastifyInstance[] = [];
    const contexts: RelaisContext[] = [];
    const seeded: string[] = [];
    let first: string;
    let second: string;

    beforeAll(async () => {
      s = setup();
      dataDir = mkdtempSync(join(tmpdir(), 'relais-cursors-'));
      const env = { DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000', VALIDATION_ENFORCEMENT: 'off', ...s.env };
      const config: RelaisConfig = loadConfig(env);
      const [storeA, storeB] = s.stores({ idleMs: IDLE_MS, maxSets: 100, clock: () => now });
      for (const store of storeA === storeB ? [storeA] : [storeA, storeB]) {
        const ctx = buildContext(config, store);
        await store.open();
        contexts.push(ctx);
        apps.push(await buildApp(ctx, { logger: false }));
      }
      first = await mintDevToken({ role: 'coordinator', sub: 'coord-paging-1', ttlSeconds: 600 }, env);
      second = await mintDevToken({ role: 'coordinator', sub: 'coord-paging-2', ttlSeconds: 600 }, env);
      for (let i = 0; i < MATCHES; i++) {
        const created = await contexts[0].engine.asServer('test setup').create('Patient', { resourceType: 'Patient', name: [{ family: 'Partage', given: [`P${i}`] }] });
        seeded.push(created.version.id);
      }
      await contexts[0].engine.asServer('test setup').create('Patient', { resourceType: 'Patient', name: [{ family: 'Autre' }] });
    }, 120_000);

    afterAll(async () => {
      for (const app of apps) await app.close();
      await s?.dispose();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const appA = () => apps[0];
    const appB = () => apps.at(-1)!;
    async function get(app: FastifyInstance, token: string, url: string) {
      const response = await app.inject({ method: 'GET', url: url.replace('http://relais.test', ''), headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' } });
      return { status: response.statusCode, body: response.json() };
    }
    const link = (bundle: { link?: Array<{ relation: string; url: string }> }, relation: string) => bundle.link?.find((l) => l.relation === relation)?.url;
    const ids = (bundle: { entry?: Array<{ resource: { id: string } }> }) => (bundle.entry ?? []).map((e) => e.resource.id);

    it('walks every next link alternately on instances A and B: each match exactly once', async () => {
      let page = await get(appA(), first, '/fhir/Patient?family=partage&_count=4');
      expect(page.status).toBe(200);
      const seen = [...ids(page.body)];
      for (let n = 1; link(page.body, 'next'); n++) {
        page = await get(n % 2 ? appB() : appA(), first, link(page.body, 'next')!);
        expect(page.status).toBe(200);
        expect(page.body.total).toBe(MATCHES);
        seen.push(...ids(page.body));
      }
      expect(seen).toHaveLength(MATCHES);
      expect([...seen].sort()).toEqual([...seeded].sort());
    });

    it('a previous link served by B gives back the page A served', async () => {
      const page1 = await get(appA(), first, '/fhir/Patient?family=partage&_count=5');
      const page2 = await get(appB(), first, link(page1.body, 'next')!);
      const back = await get(appB(), first, link(page2.body, 'previous')!);
      expect(ids(back.body)).toEqual(ids(page1.body));
    });

    it("another caller following the link gets the same 410 as for an unknown cursor", async () => {
      const page1 = await get(appA(), first, '/fhir/Patient?family=partage&_count=5');
      const next = link(page1.body, 'next')!;
      const theirs = await get(appB(), second, next);
      const cursor = new URL(next).searchParams.get('_cursor')!;
      const unknown = await get(appB(), second, next.replace(cursor, 'A'.repeat(cursor.length)));
      expect(theirs.status).toBe(410);
      expect(unknown.status).toBe(410);
      expect(theirs.body).toEqual(unknown.body);
      expect(theirs.body.resourceType).toBe('OperationOutcome');
      // The owner still pages on.
      expect((await get(appB(), first, next)).status).toBe(200);
    });

    it('a cursor unused for longer than the idle time is a 410 on every instance', async () => {
      const page1 = await get(appA(), first, '/fhir/Patient?family=partage&_count=5');
      const next = link(page1.body, 'next')!;
      now += IDLE_MS / 2;
      expect((await get(appB(), first, next)).status).toBe(200);
      now += IDLE_MS + 1;
      const expired = await get(appB(), first, next);
      expect(expired.status).toBe(410);
      expect(expired.body.issue[0].code).toBe('not-found');
      expect((await get(appA(), first, next)).status).toBe(410);
    });
  });
}
