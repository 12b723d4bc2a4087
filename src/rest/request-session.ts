/**
 * The engine session an HTTP request acts in, named after its caller: the
 * principal the verified token maps to (src/auth), with break-the-glass, the
 * client address and the request id for the audit trail. Without a principal
 * a request acts anonymously only on a deployment that runs without
 * authentication (AUTH_MODE=none); anywhere else it is a 401, so a route that
 * skipped authentication can never reach data by mistake.
 */
import type { FastifyRequest } from 'fastify';
import type { EngineSession } from '../engine/engine-session.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import { errors } from '../errors.js';

export function requestSessions(engine: FhirEngine, authenticationOff: boolean, realm: string): (request: FastifyRequest) => EngineSession {
  return (request) => {
    const principal = request.principal;
    const origin = { clientAddress: request.ip, requestId: String(request.id) };
    if (principal) return engine.as({ kind: 'client', principal, ...(request.breakTheGlass ? { breakTheGlass: request.breakTheGlass } : {}), ...origin });
    if (authenticationOff) return engine.asAnonymous(origin);
    throw errors.missingToken(realm);
  };
}
