/**
 * The Relais HTTP application as a Fastify instance, built from a context
 * (dependencies passed in). Listening and shutdown live in server.ts, so tests
 * drive this with app.inject() or listen on a random port.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { EngineSession } from './engine/engine-session.js';
import { buildAuthenticator, type AuthenticatorOverrides } from './auth/authenticator.js';
import { installHttpSecurity, REALM } from './auth/http-security.js';
import { setApiSecurityHeaders } from './auth/security-headers.js';
import { workCharger } from './auth/work-charge.js';
import { capabilitySecurity } from './auth/smart-configuration.js';
import type { RelaisContext } from './context.js';
import { installApiDocs } from './rest/api-docs.js';
import { installBodyParsers } from './rest/body-parsers.js';
import { installErrorHandler, RETRY_AFTER_SECONDS } from './rest/error-handler.js';
import { errors } from './errors.js';
import { registerFhirRoutes } from './rest/fhir-routes.js';
import { installHttpMetrics } from './rest/metrics-routes.js';
import { buildOpenApi } from './rest/openapi.js';
import { registerOperationalRoutes } from './rest/operational-routes.js';
import { Readiness } from './rest/readiness.js';
import { requestSessions } from './rest/request-session.js';
import { installRequestDecompression } from './rest/request-decompression.js';
import { RequestLogging } from './rest/request-logging.js';
import websocket from '@fastify/websocket';
import { BULK_FILE_ROUTE, BULK_STATUS_ROUTE } from './bulk/bulk-routes.js';
import { SUBSCRIPTION_WEBSOCKET_PATH } from './subscriptions/subscription-service.js';
import { tracedSession, type Tracing } from './telemetry/tracing.js';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

const REQUEST_ID = /^[A-Za-z0-9\-_.:]{1,128}$/;

/** A request's path: its URL without the query string. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/**
 * Log lines carry method, path (never the query string: it can hold patient
 * identifiers), status and timing; never bodies, never headers. The `req`
 * serialiser is what keeps headers (Authorization, Cookie) out: pino applies it
 * to every `req` logged, so the redaction of `req.headers.*` configured here
 * before had nothing left to remove, and cost 1.4 % of a read (its profile,
 * issue 17). test/http/request-logging.test.ts checks that no header is logged.
 */
function loggerOptions(level: string, stream: BuildAppOptions['logStream']): FastifyServerOptions['logger'] {
  return {
    level,
    ...(stream ? { stream } : {}),
    serializers: {
      req: (request: { method: string; url: string; id: string }) => ({ method: request.method, path: pathOf(request.url), id: request.id }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
    },
  };
}

export interface BuildAppOptions {
  /** Pass false in tests to keep output quiet. */
  logger?: boolean;
  /** Tests: where the log lines go (one JSON line per write), instead of stdout. */
  logStream?: { write(line: string): void };
  /** Tests: authentication tuning (e.g. a short JWKS refetch cooldown). */
  auth?: AuthenticatorOverrides;
  /** Start-up state (server.ts listens before the store is open); default: ready while the store is open. */
  readiness?: Readiness;
  /** OpenTelemetry tracing, when configured (server.ts): request spans, engine interactions in them. */
  tracing?: Tracing;
  /** Told of every route registered, from the first (tests: the OpenAPI document covers them all). */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
}

function tracedSessions(sessionOf: (request: FastifyRequest) => EngineSession, tracing: Tracing | undefined): (request: FastifyRequest) => EngineSession {
  return tracing ? (request) => tracedSession(sessionOf(request), tracing.tracer) : sessionOf;
}

export async function buildApp(ctx: RelaisContext, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(ctx.config.LOG_LEVEL, options.logStream),
    // One line per request at info level, once answered, instead of two (src/rest/request-logging.ts).
    logController: new RequestLogging(),
    bodyLimit: ctx.config.BODY_LIMIT_BYTES,
    requestTimeout: ctx.config.REQUEST_TIMEOUT_MS,
    requestIdHeader: 'x-request-id',
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    },
    // Matches FHIR's id length (64) plus operation names, with room to spare.
    routerOptions: { maxParamLength: 200, ignoreTrailingSlash: true },
    // Our own onRequest hook answers requests arriving during shutdown (an OperationOutcome with Retry-After).
    return503OnClosing: false,
  });
  const { onRoute } = options;
  if (onRoute) app.addHook('onRoute', (route) => onRoute({ method: route.method, url: route.url }));
  // First, so that its request span encloses every hook and handler.
  if (options.tracing) await app.register(options.tracing.fastifyPlugin);
  // Shutting down: requests still arriving (keep-alive connections) get an OperationOutcome 503 with
  // Retry-After rather than Fastify's own 503 body, while those in flight finish (issue 18).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Hooks run on every request are written with callbacks, not async: an async hook costs a promise and a
  // microtask turn per request (issue 17, per-request costs); and what needs no hook of its own shares one.
  // What every answer carries is set on arrival (headers set in onRequest stay on error replies and 404s
  // too): the request id, the API's security headers (security-headers.ts; the docs page replaces them).
  // With no onSend hook at all, Fastify skips its onSend hook runner for every reply.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    setApiSecurityHeaders(reply);
    done(closing ? errors.serviceUnavailable('The server is shutting down', RETRY_AFTER_SECONDS) : undefined);
  });
  installBodyParsers(app, ctx.definitions, ctx.config.LIMIT_QUERY_PARAMETERS, ctx.bodyWork);
  // No answer is compressed here (left to the reverse proxy): without this, @fastify/compress gives every
  // route an onRequest hook that only decorates the reply with a compress() nobody calls.
  app.addHook('onRoute', (route) => {
    route.compress ??= false;
  });
  await installRequestDecompression(app);
  installErrorHandler(app, ctx.config.BODY_LIMIT_BYTES, { storeReady: () => ctx.store.isReady() });
  if (ctx.config.METRICS_ENABLED) installHttpMetrics(app, ctx.metrics, ctx.definitions, ctx.config.METRICS_TOKEN);
  const authenticator = await buildAuthenticator(ctx.config, options.auth);
  await installHttpSecurity(app, { config: ctx.config, authenticator });
  registerOperationalRoutes(app, options.readiness ?? Readiness.ofOpenStore(ctx.store));
  const sessionOf = requestSessions(ctx.engine, authenticator.mode === 'none', REALM);
  // Bulk export status and files (src/bulk): the caller a request acts for, as for any FHIR request.
  ctx.bulk.registerRoutes(app, (request) => sessionOf(request).caller);
  const fhir = registerFhirRoutes(app, {
    engine: ctx.engine,
    sessionOf: tracedSessions(sessionOf, options.tracing),
    operations: ctx.operations,
    baseUrl: ctx.engine.facts.baseUrl,
    software: { name: 'Relais', version: packageJson.version },
    security: capabilitySecurity(ctx.config),
    refuseOptions: ctx.config.CORS_ORIGINS.trim().length === 0,
    maxQueryParameters: ctx.config.LIMIT_QUERY_PARAMETERS,
    chargeWork: workCharger(app),
    capabilityExtras: ctx.subscriptions.capabilityExtras(),
  });
  await installApiDocs(app, () =>
    buildOpenApi({
      routes: fhir.routes,
      capability: fhir.capabilityStatement(),
      operations: ctx.operations.all(),
      definitions: ctx.definitions,
      baseUrl: ctx.engine.facts.baseUrl,
      authenticated: authenticator.mode !== 'none',
      version: packageJson.version,
      websocketPath: SUBSCRIPTION_WEBSOCKET_PATH,
      bulkRoutes: { status: BULK_STATUS_ROUTE, file: BULK_FILE_ROUTE },
    }),
  );
  // The subscriptions' websocket channel (src/subscriptions/websocket-hub.ts); a socket opened with a
  // bearer token is bound to its principal (R4 `bind <id>`), others bind with a token ($get-ws-binding-token).
  await app.register(websocket, { options: { maxPayload: 64 * 1024 } });
  app.route({
    method: 'GET',
    url: SUBSCRIPTION_WEBSOCKET_PATH,
    // A plain HTTP GET (no Upgrade): an OperationOutcome like every other error.
    handler: async () => {
      throw errors.upgradeRequired(SUBSCRIPTION_WEBSOCKET_PATH);
    },
    wsHandler: async (socket, request) => {
      let principal;
      try {
        const header = request.headers.authorization;
        principal = header ? await authenticator.authenticate(header) : undefined;
      } catch {
        socket.send('error the bearer token was refused');
        socket.close(1008, 'unauthenticated');
        return;
      }
      ctx.subscriptions.hub.accept(socket, principal);
    },
  });
  // Subscription delivery and the export worker need the open store. Here the store was opened before the
  // app was built (tests, tools: delivery starts now, they deliver without listening; the export worker once
  // the app is ready); server.ts, which listens before it opens the store, starts both once it is open.
  if (!options.readiness) {
    await ctx.subscriptions.start(ctx.store, ctx.engine, app.log);
    app.addHook('onReady', async () => {
      await ctx.bulk.start(app.log);
    });
  }
  app.addHook('onClose', async () => {
    await ctx.subscriptions.stop();
    await ctx.bulk.stop();
    await ctx.store.close();
    await ctx.bodyWork.close();
  });
  return app;
}
