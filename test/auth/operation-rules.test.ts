/**
 * Every operation states its access rule where it is registered; an operation
 * registered without one for the level it is called at is refused with a
 * clear 403 and never runs — whoever asks, a coordinator or an unauthenticated
 * deployment's caller (issue 11).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import type { FhirOperation } from '../../src/operations/operation-registry.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

let secured: TestServer;
let open: TestServer;
let runs = 0;

/** An operation someone registered without a rule at the instance level (a type-level rule only). */
const careless: FhirOperation = {
  name: 'careless',
  definition: 'https://relais-sante.fr/fhir/OperationDefinition/careless',
  levels: ['type', 'instance'],
  resourceTypes: ['Patient'],
  affectsState: false,
  access: { type: { requires: 'search-type', reveals: 'no-patient-data' } },
  async invoke() {
    runs++;
    return { status: 200, resource: { resourceType: 'Parameters', parameter: [{ name: 'ran', valueBoolean: true }] } };
  },
};

beforeAll(async () => {
  secured = await startTestServer({ AUTH_MODE: 'dev', ...STRUCTURE_ONLY });
  open = await startTestServer({ AUTH_MODE: 'none', ...STRUCTURE_ONLY });
  for (const server of [secured, open]) server.ctx.operations.register(careless);
  await open.ctx.engine.asServer('test setup').update('Patient', 'p1', { resourceType: 'Patient', id: 'p1' });
  await secured.ctx.engine.asServer('test setup').update('Patient', 'p1', { resourceType: 'Patient', id: 'p1' });
});
afterAll(async () => {
  await secured.close();
  await open.close();
});

describe('an operation without a rule', () => {
  it('is refused (403) and never runs, for a coordinator and for an anonymous caller alike', async () => {
    const coordinator = await mintDevToken({ role: 'coordinator', sub: 'c', ttlSeconds: 600 }, devAuthEnv(secured.dataDir));
    const asCoordinator = await secured.app.inject({ method: 'GET', url: '/fhir/Patient/p1/$careless', headers: { authorization: `Bearer ${coordinator}` } });
    const anonymous = await open.app.inject({ method: 'GET', url: '/fhir/Patient/p1/$careless' });
    for (const response of [asCoordinator, anonymous]) {
      expect(response.statusCode).toBe(403);
      expect(response.json().issue[0].diagnostics).toBe('$careless declares no access rule at the instance level, so it is refused');
    }
    expect(runs).toBe(0);
    // At the level it has a rule for, it runs.
    const typeLevel = await secured.app.inject({ method: 'GET', url: '/fhir/Patient/$careless', headers: { authorization: `Bearer ${coordinator}` } });
    expect(typeLevel.statusCode).toBe(200);
    expect(runs).toBe(1);
  });
});
