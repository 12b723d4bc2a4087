/** Liveness and readiness probes for orchestrators (outside the FHIR base), and the start-up gate of the FHIR routes. */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';
import type { Readiness } from './readiness.js';

/** How long a FHIR request arriving during start-up waits for the store before its 503. */
const STARTUP_WAIT_MS = 5000;

export function registerOperationalRoutes(app: FastifyInstance, readiness: Readiness): void {
  app.get('/healthz', { config: { rateLimit: false } }, async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', { config: { rateLimit: false } }, async (_request, reply) => {
    const report = readiness.report();
    return reply.code(report.status === 'ready' ? 200 : 503).send(report);
  });
  // FHIR and token requests need the store: during start-up they wait a little, then 503 + Retry-After.
  // (Once started, the store answers for itself: reads go on when a full disk stops writes.)
  app.addHook('onRequest', (request, _reply, done) => {
    // Started (every request but those of the first seconds): no promise made (issue 17, per-request costs).
    if (readiness.isStarted() || !(request.url.startsWith('/fhir') || request.url.startsWith('/auth/'))) return done();
    readiness.whenStarted(STARTUP_WAIT_MS).then(
      (started) => done(started ? undefined : errors.serviceUnavailable('The server is starting (its store is not open yet)', Math.max(1, readiness.report().retryInSeconds ?? 5))),
      (error: Error) => done(error),
    );
  });
}
