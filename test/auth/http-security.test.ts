import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '40', CORS_ORIGINS: 'https://app.example', MAX_URL_BYTES: '2048' });
  await registerInDirectory(server, { rpps: ['10001234567', '10007654321', '10001112223'] });
});
afterAll(async () => server.close());

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('HTTP security (AUTH_MODE=dev)', () => {
  it('refuses a request without a token with 401, an OperationOutcome and a Bearer challenge', async () => {
    const response = await server.app.inject({ method: 'GET', url: '/fhir/Practitioner' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="relais"/);
    expect(response.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
  });

  it('serves the CapabilityStatement (with SMART security) and the SMART configuration without a token', async () => {
    const metadata = await server.app.inject({ method: 'GET', url: '/fhir/metadata' });
    expect(metadata.statusCode).toBe(200);
    expect(metadata.json().rest[0].security.service[0].coding[0].code).toBe('SMART-on-FHIR');
    for (const url of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
      const smart = await server.app.inject({ method: 'GET', url });
      expect(smart.statusCode).toBe(200);
      expect(smart.json().capabilities).toContain('permission-v2');
      expect(smart.json().issuer).toBe('relais-dev');
    }
  });

  it('accepts a dev token minted by `npm run token` and lets a practitioner search the directory', async () => {
    const token = await mintDevToken({ role: 'nurse', rpps: '10001234567', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    const response = await server.app.inject({ method: 'GET', url: '/fhir/Practitioner', headers: bearer(token) });
    expect(response.statusCode).toBe(200);
    expect(response.json().resourceType).toBe('Bundle');
  });

  it('refuses with 403 an interaction the role may not perform, and audits the refusal', async () => {
    const nurse = await mintDevToken({ role: 'nurse', rpps: '10001234567', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    const denied = await server.app.inject({ method: 'GET', url: '/fhir/AuditEvent', headers: bearer(nurse) });
    expect(denied.statusCode).toBe(403);
    expect(denied.json().issue[0].code).toBe('forbidden');
    const auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    const trail = await server.app.inject({ method: 'GET', url: '/fhir/AuditEvent?outcome=4', headers: bearer(auditor) });
    expect(trail.statusCode).toBe(200);
    const events = trail.json().entry.map((e: { resource: { agent: Array<{ who: { identifier: { value: string } } }> } }) => e.resource);
    expect(events.some((e: { agent: Array<{ who: { identifier: { value: string } } }> }) => e.agent[0].who.identifier.value === '10001234567')).toBe(true);
  });

  it('sends security headers and CORS headers for configured origins only', async () => {
    const allowed = await server.app.inject({ method: 'GET', url: '/fhir/metadata', headers: { origin: 'https://app.example' } });
    expect(allowed.headers['x-content-type-options']).toBe('nosniff');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    // The OWASP REST set on answers, refusals and unknown routes alike (an API serves no HTML document: nothing
    // framed, nothing loaded, nothing cached); helmet's document-only headers are not sent there.
    const expected = {
      'cache-control': 'no-store',
      'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-resource-policy': 'same-origin',
      'referrer-policy': 'no-referrer',
    };
    const token = await mintDevToken({ role: 'coordinator', sub: 'coord-headers', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    for (const [url, headers] of [['/fhir/metadata', {}], ['/fhir/Patient/x', {}], ['/fhir/Patient/x', bearer(token)], ['/nowhere', {}], ['/fhir/Patient?_count=1', bearer(token)]] as const) {
      const response = await server.app.inject({ method: 'GET', url, headers });
      expect(response.headers, url).toMatchObject(expected);
      for (const documentOnly of ['x-powered-by', 'x-xss-protection', 'x-dns-prefetch-control', 'cross-origin-opener-policy', 'origin-agent-cluster']) expect(response.headers[documentOnly], `${url} ${documentOnly}`).toBeUndefined();
    }
    // A route that may be cached says so itself.
    expect((await server.app.inject({ method: 'GET', url: '/openapi.json' })).headers['cache-control']).toBe('public, max-age=300');
    // The docs page (HTML and scripts) gets helmet's document set, without upgrade-insecure-requests (plain-HTTP deployments).
    const docs = await server.app.inject({ method: 'GET', url: '/docs/' });
    expect(docs.headers['content-security-policy']).toBe("default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';style-src 'self' https: 'unsafe-inline'");
    expect(docs.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(docs.headers['cross-origin-opener-policy']).toBe('same-origin');
    const other = await server.app.inject({ method: 'GET', url: '/fhir/metadata', headers: { origin: 'https://evil.example' } });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('echoes X-Request-Id (or the id it gave the request) on answers, refusals, unknown routes and unreadable bodies', async () => {
    const requests: Array<{ method: 'GET' | 'POST'; url: string; payload?: string }> = [
      { method: 'GET', url: '/fhir/metadata' },
      { method: 'GET', url: '/fhir/Patient/x' },
      { method: 'GET', url: '/nowhere' },
      { method: 'POST', url: '/fhir/Patient', payload: '{not json' },
    ];
    for (const { method, url, payload } of requests) {
      const response = await server.app.inject({ method, url, headers: { 'x-request-id': 'trace-7', 'content-type': 'application/fhir+json' }, ...(payload ? { payload } : {}) });
      expect(response.statusCode, url).not.toBe(500);
      expect(response.headers['x-request-id'], `${method} ${url}`).toBe('trace-7');
    }
    const generated = await server.app.inject({ method: 'GET', url: '/nowhere' });
    expect(generated.headers['x-request-id']).toMatch(/^\S+$/);
  });

  it('answers a CORS preflight from a configured origin without a token', async () => {
    const preflight = await server.app.inject({
      method: 'OPTIONS',
      url: '/fhir/Patient',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(String(preflight.headers['access-control-allow-methods'])).toContain('POST');
  });

  it('answers 414 to an over-long URL', async () => {
    const response = await server.app.inject({ method: 'GET', url: `/fhir/Patient?name=${'a'.repeat(3000)}` });
    expect(response.statusCode).toBe(414);
    expect(response.json().resourceType).toBe('OperationOutcome');
  });

  it('rate-limits per token subject with 429 and Retry-After', async () => {
    const token = await mintDevToken({ role: 'nurse', rpps: '10007654321', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) {
      statuses.push((await server.app.inject({ method: 'GET', url: '/fhir/Organization', headers: bearer(token) })).statusCode);
    }
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    const limited = await server.app.inject({ method: 'GET', url: '/fhir/Organization', headers: bearer(token) });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect(limited.json().issue[0].code).toBe('throttled');
    // Another subject has its own budget.
    const other = await mintDevToken({ role: 'nurse', rpps: '10001112223', ttlSeconds: 60 }, devAuthEnv(server.dataDir));
    expect((await server.app.inject({ method: 'GET', url: '/fhir/Organization', headers: bearer(other) })).statusCode).toBe(200);
  });
});
