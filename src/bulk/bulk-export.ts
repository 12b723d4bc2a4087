/**
 * Bulk export as one piece the server is assembled with (src/context.ts,
 * src/app.ts): its storage (beside the store: DATA_DIR or MongoDB), its
 * kick-off operations, its status and file routes, its worker. The engine
 * knows nothing of it: bulk export is a client of the engine's sessions.
 */
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { RelaisConfig } from '../config.js';
import type { Caller } from '../engine/caller.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { OperationRegistry } from '../operations/operation-registry.js';
import type { BulkStorage } from './bulk-storage.js';
import { bulkSettingsFromConfig, type BulkSettings } from './bulk-settings.js';
import { registerBulkRoutes } from './bulk-routes.js';
import { DirectoryBulkStorage } from './directory-bulk-storage.js';
import { exportOperations } from './export-operations.js';
import { ExportWorker, type WorkerLog } from './export-worker.js';
import { MongoBulkStorage } from './mongo-bulk-storage.js';
import { patientEverythingOperation } from './patient-everything.js';

export interface BulkExportOptions {
  /** Timings tests shorten (leases, settle delay, polling). */
  settings?: Partial<BulkSettings>;
  /** Another storage (tests). */
  storage?: BulkStorage;
  clock?: () => Date;
}

/** Jobs and files where the store is: MongoDB when MONGODB_URI is set, else DATA_DIR/bulk-export. */
export function bulkStorageFromConfig(config: RelaisConfig): BulkStorage {
  if (config.MONGODB_URI) {
    const database = config.MONGODB_DATABASE ?? /^mongodb(?:\+srv)?:\/\/[^/]+\/([^?]+)/.exec(config.MONGODB_URI)?.[1] ?? 'relais';
    const w = /^\d+$/.test(config.MONGODB_WRITE_CONCERN) ? Number(config.MONGODB_WRITE_CONCERN) : config.MONGODB_WRITE_CONCERN;
    return new MongoBulkStorage({ uri: config.MONGODB_URI, database: decodeURIComponent(database), writeConcern: { w: w as never, journal: config.MONGODB_JOURNAL, wtimeoutMS: config.MONGODB_WTIMEOUT_MS } });
  }
  return new DirectoryBulkStorage(join(config.DATA_DIR, 'bulk-export'));
}

export class BulkExport {
  readonly storage: BulkStorage;
  readonly settings: BulkSettings;
  private worker: ExportWorker | undefined;
  private opened = false;

  constructor(
    private readonly config: RelaisConfig,
    private readonly engine: FhirEngine,
    private readonly options: BulkExportOptions = {},
  ) {
    this.storage = options.storage ?? bulkStorageFromConfig(config);
    this.settings = bulkSettingsFromConfig(config, options.settings);
  }

  /** Registers $export (system, Patient, Group) and Patient/$everything with the operations. */
  registerOperations(registry: OperationRegistry): void {
    const { facts } = this.engine;
    registry.register(patientEverythingOperation({ searchParameters: facts.searchParameters, resourceTypes: facts.definitions.resourceTypes, maxCount: facts.limits.maxCount }));
    for (const operation of exportOperations({
      storage: this.storage,
      settings: this.settings,
      baseUrl: facts.baseUrl,
      resourceTypes: facts.definitions.resourceTypes,
      isResourceType: (type) => facts.definitions.isResourceType(type),
      notify: () => this.worker?.notify(),
      ...(this.options.clock ? { clock: this.options.clock } : {}),
    })) {
      registry.register(operation);
    }
  }

  registerRoutes(app: FastifyInstance, callerOf: (request: FastifyRequest) => Caller): void {
    registerBulkRoutes(app, { storage: this.storage, settings: this.settings, baseUrl: this.engine.facts.baseUrl, callerOf, ...(this.options.clock ? { clock: this.options.clock } : {}) });
  }

  /** Opens the storage and starts this process's worker (after the store is open). */
  async start(log?: WorkerLog): Promise<void> {
    if (!this.opened) await this.storage.open();
    this.opened = true;
    this.worker ??= new ExportWorker({ engine: this.engine, storage: this.storage, settings: this.settings, ...(log ? { log } : {}), ...(this.options.clock ? { clock: this.options.clock } : {}) });
    this.worker.start();
  }

  /** Stops the worker (jobs in progress are given back, to resume at the next start) and closes the storage. */
  async stop(): Promise<void> {
    await this.worker?.stop();
    if (this.opened) await this.storage.close();
    this.opened = false;
  }

  /**
   * Export jobs accepted and not finished, by state (relais_queue_depth{queue="bulk-export-jobs"}):
   * read from the job storage at each scrape, so on MongoDB every process reports the deployment's
   * jobs, whichever process accepted or runs them. Undefined before the storage is open.
   */
  async queueDepth(): Promise<Record<'queued' | 'running', number> | undefined> {
    if (!this.opened) return undefined;
    const counts = await this.storage.countJobs(['queued', 'running']);
    return { queued: counts.queued ?? 0, running: counts.running ?? 0 };
  }

  /** Removes expired and cancelled jobs now (tests; the worker does it periodically). */
  sweep(): Promise<number> {
    return this.worker ? this.worker.sweep() : Promise.resolve(0);
  }
}
