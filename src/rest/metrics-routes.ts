/**
 * Prometheus metrics over HTTP: every response is counted and timed (labels
 * kept bounded: the interaction the FHIR routes name, a known resource type,
 * the status class), and GET /metrics exposes them in the Prometheus text
 * format, behind `Authorization: Bearer <METRICS_TOKEN>` when that is set.
 * The metrics name no resource, patient or client: only counts and latencies.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';
import type { FhirDefinitions } from '../fhir/definitions.js';
import { statusClassOf, type RelaisMetrics } from '../metrics/relais-metrics.js';

export const METRICS_PATH = '/metrics';

declare module 'fastify' {
  interface FastifyRequest {
    /** The FHIR interaction or operation a route served ("read", "$validate"...), set by the FHIR routes. */
    fhirInteraction?: string;
  }
}

function bearerMatches(request: FastifyRequest, token: string): boolean {
  const header = request.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function installHttpMetrics(app: FastifyInstance, metrics: RelaisMetrics, definitions: FhirDefinitions, token: string | undefined): void {
  app.decorateRequest('fhirInteraction', undefined);
  app.addHook('onResponse', (request, reply, done) => {
    const interaction = request.fhirInteraction ?? request.routeOptions.url ?? 'unrouted';
    const type = (request.params as { type?: unknown } | undefined)?.type;
    const resourceType = typeof type === 'string' && request.fhirInteraction && definitions.isResourceType(type) ? type : '';
    const statusClass = statusClassOf(reply.statusCode);
    // Counted in place (src/metrics/aggregated-series.ts), the same series as prom-client's inc/observe made.
    metrics.httpRequests.series(interaction, resourceType, statusClass).value += 1;
    metrics.httpDuration.series(interaction, statusClass).observe(reply.elapsedTime / 1000);
    done();
  });
  app.get(METRICS_PATH, { config: { rateLimit: false } }, async (request, reply) => {
    if (token !== undefined && !bearerMatches(request, token)) throw errors.metricsTokenRequired();
    return reply.header('Content-Type', metrics.contentType()).header('Cache-Control', 'no-store').send(await metrics.exposition());
  });
}
