/**
 * The HTTP side of security, installed once on the app (the security headers
 * are set by the app's first hook: security-headers.ts): CORS from configuration, URL length limit, bearer authentication,
 * the break-the-glass header, rate limiting per client (token subject, else
 * IP) and the SMART discovery document. What a principal may do is decided
 * by the engine's access guard (src/access), for every interaction and
 * operation, in one place: this layer only establishes who is asking.
 */
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RelaisConfig } from '../config.js';
import { errors } from '../errors.js';
import { baseUrlOf } from '../config.js';
import { registerBackendServicesToken } from './backend-services-token.js';
import { readDevClients } from './dev-clients.js';
import { devAuthDirectory, ensureDevKeys } from './dev-keys.js';
import { rateLimitsFromConfig } from './rate-limits.js';
import { devTokenEndpointUrl } from './smart-configuration.js';
import { AuthenticationError, type Authenticator } from './authenticator.js';
import type { Principal } from '../identity/principal.js';
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
export const REALM = 'relais';

export interface HttpSecurityOptions {
  config: RelaisConfig;
  authenticator: Authenticator;
}

/** The request's path without its query string and trailing slashes (no array or regular expression: run on every request). */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  let end = query < 0 ? url.length : query;
  while (end > 0 && url.charCodeAt(end - 1) === 0x2f) end--;
  return end === url.length ? url : url.slice(0, end);
}

function isPublic(request: FastifyRequest): boolean {
  const path = pathOf(request.url);
  // FHIR requests (all but /fhir/metadata and the SMART document) are not public: decided on the first letters.
  if (path.startsWith('/fhir/') && path !== '/fhir/metadata' && path !== '/fhir/.well-known/smart-configuration') return false;
  return (
    path === '/healthz' ||
    path === '/readyz' ||
    // Counts and latencies only; behind METRICS_TOKEN when set (src/rest/metrics-routes.ts).
    path === '/metrics' ||
    // The API description, public like the CapabilityStatement it is derived from.
    path === '/openapi.json' ||
    path === '/docs' ||
    path.startsWith('/docs/') ||
    path === '/.well-known/smart-configuration' ||
    path === '/fhir/.well-known/smart-configuration' ||
    // The development token endpoint authenticates its clients by their signed assertions.
    (path === '/auth/token' && request.method === 'POST') ||
    // The subscriptions' websocket: authenticates its own binds (bearer token on the upgrade, or a binding token).
    path === '/ws/subscriptions' ||
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

export async function installHttpSecurity(app: FastifyInstance, options: HttpSecurityOptions): Promise<void> {
  const { config, authenticator } = options;
  if (authenticator.mode === 'none') {
    app.log.warn('AUTHENTICATION IS DISABLED (AUTH_MODE=none): every request acts as the server itself, with access to all data. Never run this way with real data.');
  } else if (authenticator.mode === 'dev') {
    app.log.warn({ issuer: authenticator.issuer, audience: authenticator.audience }, 'development tokens (AUTH_MODE=dev), signed by a local key (how to get one: see the "ready" line); use AUTH_MODE=oidc in production');
  }

  app.decorateRequest('principal', undefined);
  app.decorateRequest('breakTheGlass', undefined);

  // The OWASP REST set on every answer is set by the app's first hook (src/app.ts, security-headers.ts).
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

  const refusal = (error: unknown): Error => {
    if (!(error instanceof AuthenticationError)) return error as Error;
    return error.missing ? errors.missingToken(REALM) : errors.unauthenticated(error.reason, REALM);
  };
  // A callback hook (an async one costs a promise and a microtask turn on every request, issue 17).
  const maxUrlBytes = config.MAX_URL_BYTES;
  const authenticationOff = authenticator.mode === 'none';
  app.addHook('onRequest', (request, _reply, done) => {
    // A UTF-8 byte is at most 3 per UTF-16 unit: only a URL that long is measured.
    if (request.url.length * 3 > maxUrlBytes && Buffer.byteLength(request.url) > maxUrlBytes) return done(errors.uriTooLong(maxUrlBytes));
    // AUTH_MODE=none: no principal, whatever the request (authenticate() answers undefined): no promise made for it.
    if (authenticationOff || isPublic(request)) return done();
    const header = request.headers.authorization;
    const authorization = Array.isArray(header) ? header[0] : header;
    // A token verified before and still valid (the token cache): answered at once, without a promise.
    const known = authenticator.remembered?.(authorization);
    if (known) {
      request.principal = known;
      return done();
    }
    authenticator.authenticate(authorization).then(
      (principal) => {
        request.principal = principal;
        done();
      },
      (error: unknown) => done(refusal(error)),
    );
  });
  // Read once the route is known (a method the path does not allow is a 405 first) and after
  // authentication (a caller without a valid token learns nothing but 401).
  app.addHook('preHandler', (request, _reply, done) => {
    try {
      // Without the header there is nothing to read (breakTheGlassOf gives undefined): the path is not looked at.
      if (request.headers[BREAK_THE_GLASS_HEADER] !== undefined && !isPublic(request)) request.breakTheGlass = breakTheGlassOf(request);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  });

  // Per client, sized by role (rate-limits.ts); none with AUTH_MODE=none unless configured.
  const limits = rateLimitsFromConfig(config);
  if (limits) {
    await app.register(rateLimit, {
      global: true,
      hook: 'preHandler',
      max: (request) => limits.maxFor(request.principal),
      timeWindow: limits.windowMs,
      keyGenerator: (request) => (request.principal ? `sub:${request.principal.issuer}|${request.principal.subject}` : `ip:${request.ip}`),
      errorResponseBuilder: (_request, context) => errors.tooManyRequests(Math.max(1, Math.ceil(context.ttl / 1000))),
    });
  }

  // AUTH_MODE=dev: this server is also the authorization server of registered backend services.
  const devTokenUrl = authenticator.mode === 'dev' ? devTokenEndpointUrl(config) : undefined;
  if (devTokenUrl) {
    const { privateJwk } = await ensureDevKeys(devAuthDirectory(config));
    registerBackendServicesToken(app, {
      tokenUrl: devTokenUrl,
      audience: authenticator.audience ?? baseUrlOf(config),
      ...(authenticator.issuer ? { issuer: authenticator.issuer } : {}),
      privateJwk,
      clients: () => readDevClients(devAuthDirectory(config)),
      clockToleranceSeconds: config.AUTH_CLOCK_SKEW_SECONDS,
    });
  }

  const discovery = smartConfiguration(config, authenticator.issuer, devTokenUrl);
  for (const url of ['/.well-known/smart-configuration', '/fhir/.well-known/smart-configuration']) {
    app.get(url, { config: { rateLimit: false } }, async (_request, reply) => reply.header('Cache-Control', 'public, max-age=3600').send(discovery));
  }
}
