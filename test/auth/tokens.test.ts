/**
 * Token validation end to end (HTTP), against an identity provider simulated by
 * a JWKS server on 127.0.0.1: expired, not yet valid, wrong audience, wrong
 * issuer, bad signature, unknown key, missing scope, role claims that name no
 * usable principal, and key rotation.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';

const ISSUER = 'https://idp.relais.test/realms/network';
const AUDIENCE = 'http://relais.test/fhir';

interface SigningKey {
  kid: string;
  privateKey: PrivateKey;
  publicJwk: JWK;
}

async function newKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

let published: SigningKey[] = [];
let jwksFetches = 0;
let jwksServer: Server;
let app: FastifyInstance;
let ctx: RelaisContext;
let dataDir: string;
let keyA: SigningKey;
let keyB: SigningKey;
let stranger: SigningKey;

beforeAll(async () => {
  keyA = await newKey('key-a');
  keyB = await newKey('key-b');
  stranger = await newKey('key-a'); // same kid as A, different key: a forged signature
  published = [keyA];
  jwksServer = createServer((_request, response) => {
    jwksFetches++;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys: published.map((k) => k.publicJwk) }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const { port } = jwksServer.address() as AddressInfo;
  dataDir = mkdtempSync(join(tmpdir(), 'relais-tokens-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    BASE_URL: AUDIENCE,
    LOG_LEVEL: 'silent',
    AUTH_MODE: 'oidc',
    AUTH_ISSUER: ISSUER,
    AUTH_JWKS_URL: `http://127.0.0.1:${port}/certs`,
    AUTH_CLOCK_SKEW_SECONDS: '30',
    // Key rotation is observed within a second here: no remembered tokens.
    AUTH_TOKEN_CACHE_SECONDS: '0',
  });
  ctx = buildContext(config);
  await ctx.store.open();
  // The practitioner the test tokens name is in the network's directory (the server checks it).
  await ctx.engine.asServer('test setup').update('Practitioner', 'pr-1', { resourceType: 'Practitioner', id: 'pr-1', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10001234567' }] });
  app = await buildApp(ctx, { logger: false, auth: { jwksCooldownMs: 0 } });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await new Promise((resolve) => jwksServer.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

interface TokenSpec {
  key?: SigningKey;
  iat?: number;
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  claims?: Record<string, unknown>;
}

const now = () => Math.floor(Date.now() / 1000);

async function token(spec: TokenSpec = {}): Promise<string> {
  const key = spec.key ?? keyA;
  const jwt = new SignJWT({ relais_role: 'nurse', rpps: '10001234567', scope: 'openid user/*.rs', ...spec.claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid })
    .setIssuer(spec.iss ?? ISSUER)
    .setAudience(spec.aud ?? AUDIENCE)
    .setSubject('f:1234')
    .setIssuedAt(spec.iat ?? now())
    .setExpirationTime(spec.exp ?? now() + 300);
  if (spec.nbf !== undefined) jwt.setNotBefore(spec.nbf);
  return jwt.sign(key.privateKey);
}

async function get(url: string, jwt?: string) {
  return app.inject({ method: 'GET', url, headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
}

function expectUnauthenticated(response: Awaited<ReturnType<typeof get>>, pattern: RegExp) {
  expect(response.statusCode).toBe(401);
  expect(response.headers['www-authenticate']).toMatch(/error="invalid_token"/);
  const outcome = response.json();
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0].code).toBe('login');
  expect(outcome.issue[0].diagnostics).toMatch(pattern);
}

describe('bearer token validation (AUTH_MODE=oidc, JWKS from 127.0.0.1)', () => {
  it('accepts a valid token', async () => {
    expect((await get('/fhir/Organization', await token())).statusCode).toBe(200);
  });

  it('accepts a token expired within the clock skew, refuses one expired beyond it', async () => {
    expect((await get('/fhir/Organization', await token({ exp: now() - 10 }))).statusCode).toBe(200);
    expectUnauthenticated(await get('/fhir/Organization', await token({ exp: now() - 120 })), /expired/);
  });

  it('refuses a token issued in the future, or living longer than the server accepts (issue 18)', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ iat: now() + 365 * 86400, exp: now() + 365 * 86400 + 300 })), /issued in the future/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ exp: 1e20 })), /lives longer/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ exp: now() + 2 * 86400 })), /lives longer/);
    expect((await get('/fhir/Organization', await token({ iat: now() + 10 }))).statusCode).toBe(200); // within the clock skew
  });

  it('refuses (403) a token whose practitioner is not, or no longer, in the directory — on the very next request', async () => {
    const unknown = await get('/fhir/Organization', await token({ claims: { rpps: '10009999999' } }));
    expect(unknown.statusCode).toBe(403);
    expect(unknown.json().issue[0].diagnostics).toMatch(/not in the network's directory/);
    const server = ctx.engine.asServer('test setup');
    await server.update('Practitioner', 'pr-1', { resourceType: 'Practitioner', id: 'pr-1', active: false, identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10001234567' }] });
    expect((await get('/fhir/Organization', await token())).statusCode).toBe(403);
    await server.delete('Practitioner', 'pr-1');
    expect((await get('/fhir/Organization', await token())).statusCode).toBe(403);
    await server.update('Practitioner', 'pr-1', { resourceType: 'Practitioner', id: 'pr-1', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10001234567' }] });
    expect((await get('/fhir/Organization', await token())).statusCode).toBe(200);
  });

  it('refuses a token not valid yet', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ nbf: now() + 600 })), /not valid yet/);
  });

  it('refuses a token for another audience', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ aud: 'https://other.example/fhir' })), /audience/);
  });

  it('refuses a token from another issuer', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ iss: 'https://evil.example' })), /issuer/);
  });

  it('refuses a bad signature (a key the provider never published, under a published kid)', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ key: stranger })), /signature/);
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await token()).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: 'x', exp: now() + 300, relais_role: 'coordinator', scope: 'user/*.cruds' })).toString('base64url');
    expectUnauthenticated(await get('/fhir/Organization', `${header}.${forged}.${signature}`), /signature/);
  });

  it('refuses a missing or malformed Authorization header', async () => {
    const missing = await get('/fhir/Organization');
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="relais"');
    const basic = await app.inject({ method: 'GET', url: '/fhir/Organization', headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expectUnauthenticated(basic, /Bearer/);
  });

  it('refuses tokens that name no usable principal', async () => {
    expectUnauthenticated(await get('/fhir/Organization', await token({ claims: { relais_role: 'janitor' } })), /no role/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ claims: { relais_role: ['nurse', 'auditor'] } })), /several kinds/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ claims: { rpps: undefined } })), /RPPS/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ claims: { rpps: '123' } })), /11 digits/);
    expectUnauthenticated(await get('/fhir/Organization', await token({ claims: { relais_role: 'hospital', rpps: undefined } })), /FINESS/);
  });

  it('answers 403 insufficient_scope when the token lacks the scope for the interaction', async () => {
    const response = await get('/fhir/Organization', await token({ claims: { scope: 'openid user/Practitioner.rs' } }));
    expect(response.statusCode).toBe(403);
    expect(response.headers['www-authenticate']).toBe('Bearer error="insufficient_scope"');
    expect(response.json().issue[0].code).toBe('forbidden');
    // v1 scopes are understood: user/Organization.read grants search.
    expect((await get('/fhir/Organization', await token({ claims: { scope: 'user/Organization.read' } }))).statusCode).toBe(200);
    // Granular v2 scopes are not evaluated, so they grant nothing rather than too much.
    expect((await get('/fhir/Organization', await token({ claims: { scope: 'user/Organization.rs?active=true' } }))).statusCode).toBe(403);
  });

  it('follows a key rotation: a token signed with a newly published key is accepted, one with a withdrawn key refused', async () => {
    const before = jwksFetches;
    expect((await get('/fhir/Organization', await token({ key: keyB }))).statusCode).toBe(401); // B not published yet
    published = [keyB];
    expect((await get('/fhir/Organization', await token({ key: keyB }))).statusCode).toBe(200);
    expect(jwksFetches).toBeGreaterThan(before);
    expectUnauthenticated(await get('/fhir/Organization', await token({ key: keyA })), /unknown key|signature/);
  });
});
