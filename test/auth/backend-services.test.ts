/**
 * A regional platform as SMART Backend Services clients connect (issue 11):
 * registered with its public key, it signs a client assertion, gets a
 * short-lived access token at the development token endpoint
 * (client_credentials, private_key_jwt), and with it reads, searches and pages
 * the history of what the network shares — every access audited as the
 * platform's — and can never write.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bundle, Resource } from 'fhir/r4';
import { importJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerClient } from '../../scripts/register-client.js';
import { authenticatedRequests, devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const TOKEN_URL = 'http://relais.test/auth/token';
let server: TestServer;
let keyFolder: string;
let privateJwk: JWK;
const { call, auditsOf } = authenticatedRequests(() => server, 'bs');

async function assertion(overrides: { iss?: string; sub?: string; aud?: string; jti?: string; expiresIn?: number } = {}): Promise<string> {
  const key = await importJWK(privateJwk, 'ES384');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: privateJwk.kid, typ: 'JWT' })
    .setIssuer(overrides.iss ?? 'plateforme-ars')
    .setSubject(overrides.sub ?? overrides.iss ?? 'plateforme-ars')
    .setAudience(overrides.aud ?? TOKEN_URL)
    .setJti(overrides.jti ?? randomUUID())
    .setExpirationTime(now + (overrides.expiresIn ?? 240))
    .sign(key);
}

async function tokenRequest(fields: Record<string, string>) {
  return server.app.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() });
}

const grant = async (clientAssertion: string, scope = 'system/*.rs') =>
  tokenRequest({ grant_type: 'client_credentials', scope, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: clientAssertion });

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', ...STRUCTURE_ONLY });
  keyFolder = mkdtempSync(join(tmpdir(), 'relais-client-key-'));
  await registerClient({ client: 'plateforme-ars', role: 'platform', name: 'Plateforme régionale', 'generate-key': join(keyFolder, 'private.jwk.json') }, devAuthEnv(server.dataDir));
  privateJwk = JSON.parse(readFileSync(join(keyFolder, 'private.jwk.json'), 'utf8')) as JWK;
  const seed = server.ctx.engine.asServer('test setup');
  await seed.update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Martin' }] });
  await seed.update('Observation', 'obs-1', { resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-1' } });
  await seed.update('Contract', 'adhesion-1', { resourceType: 'Contract', id: 'adhesion-1', status: 'executed' });
});
afterAll(async () => {
  await server.close();
  rmSync(keyFolder, { recursive: true, force: true });
});

describe('the backend-services token flow', () => {
  it('is advertised in the SMART configuration', async () => {
    const discovery = (await server.app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
    expect(discovery.token_endpoint).toBe(TOKEN_URL);
    expect(discovery.grant_types_supported).toContain('client_credentials');
    expect(discovery.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(discovery.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.arrayContaining(['RS384', 'ES384']));
  });

  it('grants a registered client a short-lived token for the scopes its registration allows', async () => {
    const response = await grant(await assertion(), 'system/*.cruds');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({ token_type: 'bearer', expires_in: 300, scope: 'system/*.rs' });
    expect(typeof body.access_token).toBe('string');
  });

  it('refuses with invalid_client an assertion replayed, for another audience, too long-lived, unsigned by the client or from an unknown client', async () => {
    const once = await assertion();
    expect((await grant(once)).statusCode).toBe(200);
    const cases = [
      once,
      await assertion({ aud: 'http://relais.test/fhir' }),
      await assertion({ expiresIn: 900 }),
      await assertion({ iss: 'inconnu' }),
      await assertion({ sub: 'someone-else' }),
      (await assertion()).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')),
    ];
    for (const [i, bad] of cases.entries()) {
      const response = await grant(bad);
      expect(response.statusCode, `case ${i}`).toBe(401);
      expect(response.json().error, `case ${i}`).toBe('invalid_client');
    }
  });

  it('answers OAuth errors for a wrong grant type or scopes it may not have', async () => {
    const wrongGrant = await tokenRequest({ grant_type: 'password', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion() });
    expect(wrongGrant.statusCode).toBe(400);
    expect(wrongGrant.json().error).toBe('unsupported_grant_type');
    const userScope = await grant(await assertion(), 'user/*.rs patient/*.rs');
    expect(userScope.statusCode).toBe(400);
    expect(userScope.json().error).toBe('invalid_scope');
  });
});

describe('the platform role', () => {
  let token: string;
  beforeAll(async () => {
    token = (await grant(await assertion())).json().access_token as string;
  });

  it('reads and searches the shared types, each access audited as the platform\'s', async () => {
    const read = await call(token, 'GET', '/fhir/Observation/obs-1');
    expect(read.response.statusCode).toBe(200);
    const search = await call(token, 'GET', '/fhir/Patient?_count=10');
    expect(search.response.statusCode).toBe(200);
    expect((search.response.json() as Bundle).total).toBe(1);
    for (const requestId of [read.requestId, search.requestId]) {
      const [event, ...more] = await auditsOf(requestId);
      expect(more).toEqual([]);
      expect(event.outcome).toBe('0');
      expect(event.agent[0].name).toBe('plateforme-ars');
      expect(event.entity?.some((e) => e.what?.reference === 'Patient/pat-1')).toBe(true);
    }
  });

  it('pages the system history without naming types: what is shared, never the audit trail nor the agreements', async () => {
    const { response } = await call(token, 'GET', '/fhir/_history?_count=100');
    expect(response.statusCode).toBe(200);
    const types = new Set(((response.json() as Bundle).entry ?? []).map((e) => e.fullUrl!.split('/').slice(-2, -1)[0]));
    expect([...types].sort()).toEqual(['Observation', 'Patient']);
  });

  it('never writes, and is refused what is not shared, with the rule that refused', async () => {
    const create = await call(token, 'POST', '/fhir/Patient', { resourceType: 'Patient', name: [{ family: 'Non' }] } as Resource);
    expect(create.response.statusCode).toBe(403);
    expect(create.response.json().issue[0].diagnostics).toBe('the regional platform role may not create Patient');
    expect((await auditsOf(create.requestId)).map((e) => e.outcome)).toEqual(['4']);
    const contract = await call(token, 'GET', '/fhir/Contract/adhesion-1');
    expect(contract.response.statusCode).toBe(403);
    expect(contract.response.json().issue[0].diagnostics).toMatch(/not among the types this network shares with platforms/);
    expect((await call(token, 'GET', '/fhir/AuditEvent')).response.statusCode).toBe(403);
    expect((await call(token, 'DELETE', '/fhir/Observation/obs-1')).response.statusCode).toBe(403);
  });
});
