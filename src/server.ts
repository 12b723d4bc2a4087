/**
 * `relais serve` (also `node dist/server.js`): read the configuration, build
 * the app, listen, open the store, seed, serve; on SIGTERM or SIGINT stop
 * accepting, let in-flight requests finish, flush and close the store, then exit.
 *
 * - Every bad configuration stops the process with one line on stderr and exit
 *   code 2: a wrong variable (config.ts), an unusable OIDC setup or claims
 *   mapping, a port already in use or not allowed.
 * - The port is taken before the store is opened, so a port in use is reported
 *   at once, without replaying a journal or waiting for MongoDB.
 * - The store is opened with retries while it cannot be reached
 *   (store/open-with-retry.ts); meanwhile /readyz answers 503 and says why.
 */
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import type { CliCommand } from './cli/command.js';
import { ConfigError, loadConfig, type RelaisConfig } from './config.js';
import { buildContext, type RelaisContext } from './context.js';
import { Readiness } from './rest/readiness.js';
import { openWithRetry } from './store/open-with-retry.js';
import { startTracing, tracesEndpoint, type Tracing } from './telemetry/tracing.js';
import { seedNetworkConformance } from './startup/seed-conformance.js';
import { DEV_TOKEN_HINT } from './auth/dev-keys.js';

const EXIT_CONFIG = 2;

function stopOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    process.stderr.write(`relais: ${error.message}\n`);
    process.exit(EXIT_CONFIG);
  }
  throw error;
}

/** Errors of listen() that mean "this PORT/HOST cannot be used here": a configuration problem. */
const LISTEN_CONFIG_ERRORS: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EACCES: 'may not be used by this user (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'is not an address of this machine',
  ENOTFOUND: 'is not a known host name',
};

async function listen(app: FastifyInstance, config: RelaisConfig): Promise<void> {
  try {
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (error) {
    const reason = LISTEN_CONFIG_ERRORS[(error as NodeJS.ErrnoException).code ?? ''];
    if (!reason) throw error;
    stopOnConfigError(new ConfigError(`invalid configuration: PORT ${config.PORT} on HOST ${config.HOST} ${reason}; choose another PORT (or HOST)`));
  }
}

function handleSignals(app: FastifyInstance, config: RelaisConfig, startup: AbortController): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    startup.abort(new Error(`${signal} during start-up`));
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function openStore(app: FastifyInstance, ctx: RelaisContext, readiness: Readiness, signal: AbortSignal): Promise<void> {
  readiness.enter('opening-store');
  await openWithRetry(ctx.store, {
    timeoutMs: ctx.config.STORE_STARTUP_TIMEOUT_SECONDS * 1000,
    signal,
    onRetry: (attempt, error, delayMs) => {
      readiness.storeAttemptFailed(attempt, error.name, delayMs);
      app.log.warn({ attempt, error: error.message, retryInMs: delayMs }, 'the store cannot be reached yet; retrying');
    },
  });
  app.log.info({ store: ctx.store.capabilities.name, dataDir: ctx.config.DATA_DIR }, 'store opened');
}

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  let config: RelaisConfig;
  let ctx: RelaisContext;
  let app: FastifyInstance;
  let readiness: Readiness;
  let tracing: Tracing | undefined;
  try {
    config = loadConfig(env);
    tracing = startTracing(config);
    ctx = buildContext(config, undefined, tracing ? { tracer: tracing.tracer } : {});
    readiness = new Readiness(ctx.store);
    app = await buildApp(ctx, { readiness, ...(tracing ? { tracing } : {}) });
  } catch (error) {
    stopOnConfigError(error);
  }
  ctx.metrics.collectProcessMetrics();
  if (tracing) {
    const flush = tracing;
    app.addHook('onClose', async () => flush.shutdown());
    app.log.info({ endpoint: tracesEndpoint(config) }, 'OpenTelemetry traces exported (OTLP/HTTP)');
  }
  const startup = new AbortController();
  handleSignals(app, config, startup);
  await listen(app, config);
  try {
    await openStore(app, ctx, readiness, startup.signal);
  } catch (error) {
    if (startup.signal.aborted) return;
    throw error;
  }
  // Subscription delivery reads the store (the subscriptions it holds): started once the store is open, and
  // before seeding, so that the writes of seeding already find the subscriptions that listen to them.
  await ctx.subscriptions.start(ctx.store, ctx.engine, app.log);
  // The bulk export worker too (its jobs resume where they stopped).
  await ctx.bulk.start(app.log);
  // The network's conformance resources (profiles/) are served and searchable like any resource.
  readiness.enter('seeding');
  const validation = ctx.engine.facts.profileValidation;
  if (validation) {
    const packages = validation.registry.packages.map((p) => `${p.name}#${p.version}`);
    // Which FHIR packages (FR Core...) validate claims: a deployment missing one shows it here.
    app.log.info({ packagesDir: config.FHIR_PACKAGES_DIR, packages }, packages.length > 0 ? `FHIR packages loaded: ${packages.join(', ')}` : 'no FHIR package loaded');
    app.log.info({ written: await seedNetworkConformance(ctx.engine, validation.registry) }, 'network conformance resources seeded');
  }
  readiness.enter('ready');
  const hint = config.AUTH_MODE === 'dev' ? { token: DEV_TOKEN_HINT } : {};
  app.log.info({ baseUrl: ctx.engine.facts.baseUrl, ...hint }, 'Relais FHIR R4 server ready');
}

export const serveCommand: CliCommand = {
  summary: 'start the FHIR server (the default command)',
  async run(_args, env) {
    await serve(env).catch(failedToStart);
    return 0;
  },
};

function failedToStart(error: unknown): never {
  process.stderr.write(`relais: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
}

// `node dist/server.js` (the image's former entry) and `tsx src/server.ts` (tests) still start the server.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) serve().catch(failedToStart);
