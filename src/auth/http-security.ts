/**
 * The HTTP side of security, installed once on the app: security headers
 * (helmet), CORS from configuration, URL length limit, bearer authentication,
 * the break-the-glass header, rate limiting per client (token subject, else
 * IP), the SMART discovery document, and the access gate that asks the policy
 * whether this principal may perform this interaction on these types at all.
 */
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { decideType, type TypeDecision } from '../access/access-policy.js';
import type { AuditRecord } from '../audit/audit-event.js';
import type { RelaisConfig } from '../config.js';
import { errors, FhirError } from '../errors.js';
import type { OperationRegistry } from '../operations/operation-registry.js';
import { AuthenticationError, type Authenticator } from './authenticator.js';
import type { Principal } from '../identity/principal.js';
import { routeAccess, type RouteAccess } from './route-access.js';
import { smartConfiguration } from './smart-configuration.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller; undefined when AUTH_MODE=none (the server acts for itself). */
    principal?: Principal;
    /** Break-the-glass requested with this reason (X-Break-The-Glass header). */
    breakTheGlass?: { reason: string };
  }
}

export const BREAK_THE_GLASS_HEADER = 'x-break-the-glass';
const REALM = 'relais';

export interface HttpSecurityOptions {
  config: RelaisConfig;
  authenticator: Authenticator;
  operations: OperationRegistry;
  /** Writes audit records for refusals (durably, before the refusal is sent). */
  audit?: (records: AuditRecord[]) => Promise<void>;
  /**
   * True once the engine enforces per-patient access (compartments, own
   * submissions) for every interaction. Until then the gate refuses grants that
   * would need it rather than let them through unchecked. A set names the
   * interactions the engine already enforces (the others stay refused).
   */
  engineEnforcesInstances: boolean | ReadonlySet<string>;
}

function isPublic(request: FastifyRequest): boolean {
  const path = request.url.split('?')[0].replace(/\/+$/, '');
  return (
    path === '/healthz' ||
    path === '/readyz' ||
    path === '/.well-known/smart-configuration' ||
    path === '/fhir/.well-known/smart-configuration' ||
    (path === '/fhir/metadata' && (request.method === 'GET' || request.method === 'HEAD'))
  );
}

function breakTheGlassOf(request: FastifyRequest): { reason: string } | undefined {
  const header = request.headers[BREAK_THE_GLASS_HEADER];
  if (header === undefined) return undefined;
  const reason = (Array.isArray(header) ? header.join(' ') : header).trim();
  if (reason.length < 10 || reason.length > 500) throw errors.breakTheGlassReasonRequired();
  return { reason };
}

const REASON_TEXT: Record<string, string> = {
  'no-scope': 'the token has no SMART scope granting this interaction on this resource type',
  role: 'this interaction on this resource type is not open to your role',
  'server-managed': 'this resource type is written by the server only',
  'launch-patient': 'a patient/ scope needs a patient launch context',
};

export async function installHttpSecurity(app: FastifyInstance, options: HttpSecurityOptions): Promise<void> {
  const { config, authenticator } = options;
  if (authenticator.mode === 'none') {
    app.log.warn('AUTHENTICATION IS DISABLED (AUTH_MODE=none): every request acts as the server itself, with access to all data. Never run this way with real data.');
  } else if (authenticator.mode === 'dev') {
    app.log.warn({ issuer: authenticator.issuer, audience: authenticator.audience }, 'development tokens (AUTH_MODE=dev): mint one with `npm run token -- --role nurse --rpps <11 digits>`; use AUTH_MODE=oidc in production');
  }

  app.decorateRequest('principal', undefined);
  app.decorateRequest('breakTheGlass', undefined);

  await app.register(helmet, {
    // A JSON API: no inline content to protect, but the defaults are harmless and cover error pages.
    global: true,
  });
  const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean);
  if (origins.length > 0) {
    await app.register(cors, {
      origin: origins,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'If-Match', 'If-None-Match', 'If-None-Exist', 'If-Modified-Since', 'Prefer', 'X-Request-Id', 'X-Break-The-Glass'],
      exposedHeaders: ['ETag', 'Location', 'Last-Modified', 'Content-Location', 'X-Request-Id'],
      maxAge: 600,
    });
  }

  app.addHook('onRequest', async (request) => {
    if (Buffer.byteLength(request.url) > config.MAX_URL_BYTES) throw errors.uriTooLong(config.MAX_URL_BYTES);
    if (isPublic(request)) return;
    request.breakTheGlass = breakTheGlassOf(request);
    try {
      const header = request.headers.authorization;
      request.principal = await authenticator.authenticate(Array.isArray(header) ? header[0] : header);
    } catch (error) {
      if (!(error instanceof AuthenticationError)) throw error;
      throw error.missing ? errors.missingToken(REALM) : errors.unauthenticated(error.reason, REALM);
    }
  });

  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.RATE_LIMIT_MAX,
    timeWindow: config.RATE_LIMIT_WINDOW_MS,
    keyGenerator: (request) => (request.principal ? `sub:${request.principal.issuer}|${request.principal.subject}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => errors.tooManyRequests(Math.max(1, Math.ceil(context.ttl / 1000))),
  });

  const discovery = smartConfiguration(config, authenticator.issuer);
  for (const url of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.get(url, { config: { rateLimit: false } }, async (_request, reply) => reply.header('Cache-Control', 'public, max-age=3600').send(discovery));
  }

  // The access gate: role and scope, per type, before any handler runs.
  app.addHook('preHandler', async (request) => {
    const principal = request.principal;
    if (!principal) return; // AUTH_MODE=none, or a public route
    const access = routeAccess(request, options.operations);
    if (access.interaction === 'public') return;
    const refusal = gate(principal, access, request.breakTheGlass, options.engineEnforcesInstances);
    if (!refusal) return;
    if (options.audit) {
      await options.audit([
        {
          principal,
          interaction: auditInteraction(access),
          ...(access.operation ? { operation: access.operation.name } : {}),
          ...(access.resourceTypes.length === 1 ? { resourceType: access.resourceTypes[0] } : {}),
          ...(typeof (request.params as { id?: string })?.id === 'string' && !access.operation ? { id: (request.params as { id: string }).id } : {}),
          patients: [],
          outcome: 'denied',
          outcomeDetail: refusal.reason,
          ...(request.breakTheGlass ? { breakTheGlass: request.breakTheGlass } : {}),
          clientAddress: request.ip,
          requestId: String(request.id),
        },
      ]);
    }
    throw refusal.error;
  });
}

function auditInteraction(access: RouteAccess): AuditRecord['interaction'] {
  if (access.interaction === 'transaction-or-batch') return 'transaction';
  if (access.interaction === 'public' || access.interaction === 'capabilities') return 'capabilities';
  return access.interaction;
}

/** The gate's answer: undefined = go on; otherwise the refusal and why. */
export function gate(
  principal: Principal,
  access: RouteAccess,
  breakTheGlass: { reason: string } | undefined,
  engineEnforcesInstancesFor: boolean | ReadonlySet<string>,
): { reason: string; error: FhirError } | undefined {
  if (access.interaction === 'public' || access.interaction === 'capabilities') return undefined;
  const engineEnforcesInstances = typeof engineEnforcesInstancesFor === 'boolean' ? engineEnforcesInstancesFor : engineEnforcesInstancesFor.has(access.interaction);
  if (access.interaction === 'transaction-or-batch') {
    return engineEnforcesInstances ? undefined : { reason: 'role', error: errors.forbidden('batch and transaction Bundles are not open to authenticated clients on this deployment yet') };
  }
  if (access.resourceTypes.length === 0) {
    return { reason: 'role', error: errors.forbidden('a system-wide search or history must name its resource types with _type') };
  }
  for (const resourceType of access.resourceTypes) {
    const decision: TypeDecision = decideType({
      principal,
      interaction: access.interaction,
      resourceType,
      ...(access.operation ? { operation: access.operation } : {}),
      ...(breakTheGlass ? { breakTheGlass } : {}),
    });
    if (!decision.allowed) {
      return { reason: decision.reason, error: errors.forbidden(`${REASON_TEXT[decision.reason] ?? 'access refused'} (${resourceType})`, decision.reason === 'no-scope') };
    }
    if (decision.restriction.kind !== 'unrestricted' && !engineEnforcesInstances) {
      return {
        reason: decision.restriction.kind,
        error: errors.forbidden(`per-patient access checks for ${resourceType} are not enforced by this deployment's engine yet, so access is refused`),
      };
    }
  }
  return undefined;
}
