/**
 * Entry point: read the configuration, open the store, listen; on SIGTERM or
 * SIGINT stop accepting, let in-flight requests finish, flush and close the
 * store, then exit. A configuration error stops the process with one line.
 */
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { buildContext } from './context.js';
import { seedNetworkConformance } from './startup/seed-conformance.js';

async function main(): Promise<void> {
  let config;
  let ctx;
  try {
    config = loadConfig();
    ctx = buildContext(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`relais: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  await ctx.store.open();
  const app = await buildApp(ctx);
  app.log.info({ store: ctx.store.capabilities.name, dataDir: config.DATA_DIR }, 'store opened');
  // The network's conformance resources (profiles/) are served and searchable like any resource.
  const validation = ctx.engine.facts.profileValidation;
  if (validation) {
    const packages = validation.registry.packages.map((p) => `${p.name}#${p.version}`);
    // Which FHIR packages (FR Core...) validate claims: a deployment missing one shows it here.
    app.log.info({ packagesDir: config.FHIR_PACKAGES_DIR, packages }, packages.length > 0 ? `FHIR packages loaded: ${packages.join(', ')}` : 'no FHIR package loaded');
  }
  if (validation) app.log.info({ written: await seedNetworkConformance(ctx.engine, validation.registry) }, 'network conformance resources seeded');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => {
      app.log.error('graceful shutdown timed out; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error) => {
        app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await app.listen({ port: config.PORT, host: config.HOST });
  app.log.info({ baseUrl: ctx.engine.facts.baseUrl }, 'Relais FHIR R4 server ready');
}

main().catch((error) => {
  process.stderr.write(`relais: failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
