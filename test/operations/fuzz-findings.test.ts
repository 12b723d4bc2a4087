/**
 * What the OpenAPI-driven fuzzer (scripts/fuzz-openapi.ts) found, kept fixed:
 * a method a path does not support is a 405 with Allow (TRACE and QUERY too,
 * and PUT/PATCH/DELETE on an operation, whatever the body's type), a caller
 * without a token gets 401 before any complaint about its headers,
 * `_pretty` is true or false, and the body of a `$export` kick-off (or of any
 * operation) that is not a Parameters resource — a JSON array, null, a
 * parameter that is not an object — is a 400 (it was a 500, or an array was
 * read as a form's pairs), and starts no export; a token request whose body
 * is JSON is the OAuth 400 (a JSON array was a 500).
 */
import { describe, expect, it } from 'vitest';
import { useTestServer } from '../helpers/test-server.js';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };

describe('anonymous deployment (AUTH_MODE=none)', () => {
  const { inject } = useTestServer({ VALIDATION_ENFORCEMENT: 'off' });

  it('answers TRACE and QUERY on FHIR paths with 405 and Allow', async () => {
    for (const [method, url] of [
      ['TRACE', '/fhir/Patient'],
      ['TRACE', '/fhir/Patient/_search'],
      ['QUERY', '/fhir/Patient/1/_history'],
      ['TRACE', '/fhir/Patient/1/$validate'],
    ] as const) {
      const response = await inject({ method: method as 'GET', url });
      expect(response.statusCode, `${method} ${url}`).toBe(405);
      expect(response.headers.allow, `${method} ${url}`).toContain('GET');
      expect(response.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    }
  });

  it('answers PUT, PATCH and DELETE on an operation with 405 (Allow: GET, POST), before looking at the body', async () => {
    for (const [method, url, headers] of [
      ['PUT', '/fhir/Patient/$validate', FHIR_JSON],
      ['PATCH', '/fhir/Patient/$match', FHIR_JSON],
      ['DELETE', '/fhir/Patient/$validate', {}],
      ['PUT', '/fhir/$meta', FHIR_JSON],
    ] as const) {
      const response = await inject({ method, url, headers, ...(method !== 'DELETE' ? { payload: '{"resourceType":"Patient"}' } : {}) });
      expect(response.statusCode, `${method} ${url}`).toBe(405);
      expect(response.headers.allow).toBe('GET, POST');
    }
  });

  it('refuses an operation body that is not a resource, and a kick-off whose Parameters are malformed, with 400 and no export', async () => {
    const async = { ...FHIR_JSON, prefer: 'respond-async' };
    for (const [url, payload] of [
      ['/fhir/Patient/$export', '[null, null]'],
      ['/fhir/$export', '[]'],
      ['/fhir/$export', 'null'],
      ['/fhir/$export', '"Parameters"'],
      ['/fhir/Patient/$validate', '[["mode", "create"]]'],
      ['/fhir/$export', '{"resourceType":"Parameters","parameter":[null]}'],
      ['/fhir/$export', '{"resourceType":"Parameters","parameter":"_type"}'],
      ['/fhir/$export', '{"resourceType":"Parameters","parameter":[{"valueString":"Patient"}]}'],
    ] as const) {
      const response = await inject({ method: 'POST', url, headers: async, payload });
      expect(response.statusCode, `${url} ${payload}: ${response.body}`).toBe(400);
      expect(response.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid' }] });
      expect(response.headers['content-location']).toBeUndefined();
    }
    // A well-formed one is accepted, and a form body still carries its parameters.
    expect((await inject({ method: 'POST', url: '/fhir/$export', headers: async, payload: '{"resourceType":"Parameters","parameter":[{"name":"_type","valueString":"Patient"}]}' })).statusCode).toBe(202);
    const form = await inject({ method: 'POST', url: '/fhir/$export', headers: { 'content-type': 'application/x-www-form-urlencoded', prefer: 'respond-async' }, payload: '_type=NotAType' });
    expect(form.statusCode).toBe(400);
    expect(form.body).toContain('NotAType');
  });

  it('refuses a _pretty that is not true or false (400) before doing anything', async () => {
    expect((await inject({ url: '/fhir/Patient?_pretty=null' })).statusCode).toBe(400);
    expect((await inject({ url: '/fhir/Patient?_pretty=true&_pretty=false' })).statusCode).toBe(400);
    const refused = await inject({ method: 'POST', url: '/fhir/Patient?_pretty=yes', headers: FHIR_JSON, payload: '{"resourceType":"Patient"}' });
    expect(refused.statusCode).toBe(400);
    expect((await inject({ url: '/fhir/Patient?_count=0' })).json()).toMatchObject({ total: 0 });
    expect((await inject({ url: '/fhir/Patient?_pretty=true' })).statusCode).toBe(200);
  });
});

describe('authenticated deployment (AUTH_MODE=dev)', () => {
  const { inject } = useTestServer({ VALIDATION_ENFORCEMENT: 'off', AUTH_MODE: 'dev' });

  it('answers a caller without a token 401, even with an invalid break-the-glass header', async () => {
    const response = await inject({ url: '/fhir/Patient', headers: { 'x-break-the-glass': '' } });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toContain('Bearer');
  });

  it('answers a token request whose body is not a form (a JSON array, an object) with the OAuth 400, not a 500', async () => {
    for (const payload of ['[1]', '[["grant_type","client_credentials"]]', '{"grant_type":"client_credentials"}']) {
      const response = await inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/json' }, payload });
      expect(response.statusCode, payload).toBe(400);
      expect(response.json()).toEqual({ error: 'invalid_request', error_description: 'the token request must be application/x-www-form-urlencoded' });
    }
  });
});
