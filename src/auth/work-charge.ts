/**
 * Rate limiting counts work, not requests (issue 18): a batch or transaction
 * of 200 entries is charged 200 units against the caller's limit (token
 * subject, else address), through the same counters @fastify/rate-limit keeps
 * for each request (its `createRateLimit`, sharing the global store), so a
 * Bundle cannot smuggle hundreds of interactions past the limit as one.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors } from '../errors.js';

/** Charges `units` more units to the request's caller; throws 429 (with Retry-After) once over the limit. */
export type ChargeWork = (request: FastifyRequest, units: number) => Promise<void>;

export function workCharger(app: FastifyInstance): ChargeWork {
  if (!app.hasDecorator('createRateLimit')) return async () => undefined;
  const limiter = app.createRateLimit();
  return async (request, units) => {
    for (let unit = 0; unit < units; unit++) {
      const status = await limiter(request);
      if (!status.isAllowed && status.isExceeded) throw errors.tooManyRequests(Math.max(1, Math.ceil(status.ttl / 1000)));
    }
  };
}
