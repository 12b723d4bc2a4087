/**
 * Access facts are kept between requests (src/access/fact-cache.ts) and must
 * never outlive what they were read from (issue 17): a Consent withdrawn, a
 * care team member removed, a Contract ended, a period that ends, a
 * practitioner deactivated in the directory — each applies to the very next
 * request. (Across processes sharing MongoDB: test/store/mongo-access-facts.test.ts.)
 */
import type { Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { consent, freshnessCases, NETWORK, NURSE_RPPS, practitioner, type Sight } from '../helpers/access-freshness.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

describe('in one process (embedded store)', () => {
  let server: TestServer;
  let token: string;
  const asServer = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource).then(() => undefined);
  async function sight(): Promise<Sight> {
    const headers = { authorization: `Bearer ${token}` };
    const read = await server.app.inject({ method: 'GET', url: '/fhir/Observation/obs-a', headers });
    const search = await server.app.inject({ method: 'GET', url: '/fhir/Observation?subject=Patient/pat-a', headers });
    return { read: read.statusCode, found: (search.json() as { entry?: unknown[] }).entry?.length ?? 0 };
  }

  beforeAll(async () => {
    server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '10000', ...STRUCTURE_ONLY });
    token = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
    for (const resource of NETWORK) await asServer(resource);
  });
  afterAll(async () => server.close());

  freshnessCases(() => asServer, () => sight);

  it('a Contract ended applies to the very next request', async () => {
    expect(await sight()).toEqual({ read: 200, found: 1 });
    await asServer({ resourceType: 'Contract', id: 'convention-ssiad', status: 'terminated', subject: [{ reference: 'Organization/org-ssiad' }] } as Resource);
    expect(await sight()).toEqual({ read: 404, found: 0 });
    await asServer(NETWORK[4]);
    expect(await sight()).toEqual({ read: 200, found: 1 });
  });

  it('a Consent whose period ends stops granting when it ends, with no write in between', async () => {
    await asServer(consent('active', new Date(Date.now() + 1500).toISOString()));
    expect(await sight()).toEqual({ read: 200, found: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect(await sight()).toEqual({ read: 404, found: 0 });
    await asServer(consent('active'));
    expect(await sight()).toEqual({ read: 200, found: 1 });
  });

  it('a practitioner deactivated in the directory is refused on the very next request', async () => {
    expect((await sight()).read).toBe(200);
    await asServer(practitioner(false));
    const refused = await server.app.inject({ method: 'GET', url: '/fhir/Observation/obs-a', headers: { authorization: `Bearer ${token}` } });
    expect(refused.statusCode).toBe(403);
    await asServer(practitioner(true));
    expect((await sight()).read).toBe(200);
  });
});

