/**
 * Two Relais processes on one MongoDB database (the deployment shape behind a
 * load balancer): the coordination team writes through one, a nurse reads
 * through the other, whose access facts are cached (src/access/fact-cache.ts).
 * A Consent withdrawn or a care team member removed through the first applies
 * to the nurse's very next request on the second: the cache is renewed on the
 * change counters the writes increment in the database (ResourceStore.changeStamp).
 */
import type { Resource } from 'fhir/r4';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { freshnessCases, NETWORK, NURSE_RPPS, type Sight } from '../helpers/access-freshness.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';
import { dropDatabases, freshDatabaseName, mongoUri, uriWithDatabase } from './mongo-test-database.js';

describe.skipIf(!mongoUri)('across two processes sharing a MongoDB database', () => {
  const database = freshDatabaseName();
  const dataDir = freshDataDir();
  const env = () => ({ MONGODB_URI: uriWithDatabase(database), AUTH_MODE: 'dev', BASE_URL: 'http://relais.test/fhir', RATE_LIMIT_MAX: '100000', VALIDATION_ENFORCEMENT: 'off' });
  let writer: SpawnedServer;
  let reader: SpawnedServer;
  let coordinator: string;
  let nurseToken: string;

  const put = (resource: Resource) =>
    fetch(`${writer.origin}/fhir/${resource.resourceType}/${resource.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${coordinator}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify(resource),
    }).then(async (response) => {
      if (response.status >= 300) throw new Error(`PUT ${resource.resourceType}/${resource.id}: ${response.status} ${await response.text()}`);
    });
  async function sight(): Promise<Sight> {
    const headers = { authorization: `Bearer ${nurseToken}`, accept: 'application/fhir+json' };
    const read = await fetch(`${reader.origin}/fhir/Observation/obs-a`, { headers });
    await read.arrayBuffer();
    const search = (await (await fetch(`${reader.origin}/fhir/Observation?subject=Patient/pat-a`, { headers })).json()) as { entry?: unknown[] };
    return { read: read.status, found: search.entry?.length ?? 0 };
  }

  beforeAll(async () => {
    // One after the other: the first creates the development signing key both use (DATA_DIR/dev-auth).
    writer = await spawnServer({ dataDir, env: env(), startTimeoutMs: 150_000 });
    reader = await spawnServer({ dataDir, env: env(), startTimeoutMs: 150_000 });
    coordinator = await mintDevToken({ role: 'coordinator', sub: 'coord-1', ttlSeconds: 600 }, devAuthEnv(dataDir));
    nurseToken = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(dataDir));
    for (const resource of NETWORK) await put(resource);
  }, 320_000);
  afterAll(async () => {
    await writer?.stop();
    await reader?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    await dropDatabases([database]);
  });

  freshnessCases(() => put, () => sight);
});
