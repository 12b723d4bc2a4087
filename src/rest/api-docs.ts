/**
 * The API description for integrators: the OpenAPI 3.1 document at
 * /openapi.json (built on first request from the route table and the
 * CapabilityStatement, see openapi.ts, then cached, gzipped for clients that
 * accept it: ~3 MB of JSON, ~150 KB on the wire) and Swagger UI at /docs
 * (@fastify/swagger in static mode feeding @fastify/swagger-ui, whose
 * /docs/json answers the same cached document). Both are public, like
 * /fhir/metadata.
 */
import { gzipSync } from 'node:zlib';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { helmetHeaders } from '../auth/security-headers.js';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

export async function installApiDocs(app: FastifyInstance, document: () => Record<string, unknown>): Promise<void> {
  let cached: { object: Record<string, unknown>; json: string; gzip: Buffer } | undefined;
  const built = () => {
    if (!cached) {
      const object = document();
      const json = JSON.stringify(object);
      cached = { object, json, gzip: gzipSync(json) };
    }
    return cached;
  };
  const send = (request: FastifyRequest, reply: FastifyReply) => {
    const { json, gzip } = built();
    reply.header('Content-Type', 'application/json; charset=utf-8').header('Cache-Control', 'public, max-age=300').header('Vary', 'Accept-Encoding');
    return /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? '')) ? reply.header('Content-Encoding', 'gzip').send(gzip) : reply.send(json);
  };
  app.get(OPENAPI_PATH, async (request, reply) => send(request, reply));
  // Static mode wants a document at registration; the real one is answered by the hook below.
  await app.register(swagger, { mode: 'static', specification: { document: { openapi: '3.1.0', info: { title: 'Relais FHIR R4 API', version: '' }, paths: {} } } });
  const documentHeaders = helmetHeaders().set;
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { docExpansion: 'none', deepLinking: true, filter: true, defaultModelsExpandDepth: 0 },
    // helmet's CSP (script-src 'self' and no inline code) suits Swagger UI's static files, except
    // upgrade-insecure-requests: on a plain-HTTP deployment (http://localhost) it would send the
    // page's own scripts and /docs/json to https and leave the page blank.
    transformStaticCSP: (header: string) =>
      header
        .split(';')
        .filter((directive) => directive.trim() !== 'upgrade-insecure-requests')
        .join(';'),
    uiHooks: {
      onRequest: (request, reply, done) => {
        // An HTML page and its scripts: helmet's document headers (CSP, frame and cross-origin policies) over the API's set.
        reply.headers(documentHeaders);
        if (request.url.split('?')[0] === `${DOCS_PREFIX}/json`) {
          void send(request, reply);
          return;
        }
        done();
      },
    },
  });
}
