/** Liveness and readiness probes for orchestrators (outside the FHIR base). */
import type { FastifyInstance } from 'fastify';
import type { ResourceStore } from '../store/resource-store.js';

export function registerOperationalRoutes(app: FastifyInstance, store: ResourceStore): void {
  app.get('/healthz', async (_request, reply) => reply.code(200).send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = store.isReady();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', store: store.capabilities.name });
  });
}
