/**
 * Requests as an authenticated caller for the access-control suites: a bearer
 * token minted with the test server's own development key, and a fresh
 * X-Request-Id per request so a test finds exactly the AuditEvents that
 * request wrote (AuditEvent.source.site).
 */
import type { AuditEvent } from 'fhir/r4';
import type { LightMyRequestResponse } from 'fastify';
import type { TestServer } from './test-server.js';

/** The environment mintDevToken needs to sign tokens the server started on `dataDir` accepts (its dev key lives there). */
export const devAuthEnv = (dataDir: string) => ({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'dev' });

export type RequestMethod = 'GET' | 'PUT' | 'PATCH' | 'POST' | 'DELETE';

export function authenticatedRequests(server: () => TestServer, requestIdPrefix: string) {
  let counter = 0;
  return {
    /** A request with the token; a body is sent as FHIR JSON, or as JSON Patch for PATCH. */
    async call(token: string, method: RequestMethod, url: string, body?: unknown, extra: Record<string, string> = {}): Promise<{ response: LightMyRequestResponse; requestId: string }> {
      const requestId = `${requestIdPrefix}-${++counter}`;
      const response = await server().app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          'x-request-id': requestId,
          ...(body !== undefined ? { 'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/fhir+json' } : {}),
          ...extra,
        },
        ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
      });
      return { response, requestId };
    },
    /** The AuditEvents one request wrote. */
    async auditsOf(requestId: string): Promise<AuditEvent[]> {
      const bundle = await server().ctx.engine.asServer('test setup').search('AuditEvent', [['_count', '1000']]);
      return (bundle.entry ?? []).map((e) => e.resource as AuditEvent).filter((e) => e.source.site === requestId);
    },
  };
}

/**
 * Puts the professionals and organisations tokens name into the directory
 * (a Practitioner by RPPS, an Organization by FINESS): the server refuses a
 * token whose holder is not in the network's directory (issue 18).
 */
export async function registerInDirectory(server: TestServer, who: { rpps?: string[]; finess?: string[] }): Promise<void> {
  const session = server.ctx.engine.asServer('test setup: directory');
  for (const rpps of who.rpps ?? []) {
    await session.create('Practitioner', { resourceType: 'Practitioner', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: rpps }] }, { ifNoneExist: `identifier=https://rpps.esante.gouv.fr|${rpps}` });
  }
  for (const finess of who.finess ?? []) {
    await session.create('Organization', { resourceType: 'Organization', identifier: [{ system: 'https://finess.esante.gouv.fr', value: finess }], name: `Établissement ${finess}` }, { ifNoneExist: `identifier=https://finess.esante.gouv.fr|${finess}` });
  }
}
