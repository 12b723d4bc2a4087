/**
 * The engine's RequestContext for an HTTP request: the verified principal and
 * a break-the-glass request, set by the security hooks (src/auth/http-security.ts).
 * Undefined when there is no principal (AUTH_MODE=none): the server acts for itself.
 */
import type { FastifyRequest } from 'fastify';
import type { RequestContext } from '../access/request-context.js';

export function requestContextOf(request: FastifyRequest): RequestContext | undefined {
  const principal = request.principal;
  if (!principal) return undefined;
  return {
    principal,
    ...(request.breakTheGlass ? { breakTheGlass: request.breakTheGlass } : {}),
    clientAddress: request.ip,
    requestId: String(request.id),
  };
}
