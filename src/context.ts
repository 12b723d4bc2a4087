/**
 * Builds the dependencies of a Relais process once, at start-up, from the
 * configuration: definitions, validator, search machinery, store, engine,
 * metrics. Tests build their own with any store (see test/helpers).
 */
import type { Tracer } from '@opentelemetry/api';
import { baseUrlOf, type RelaisConfig } from './config.js';
import { caseManagementFromConfig } from './coordination/case-management-from-config.js';
import { dischargeCoordinationFromConfig } from './coordination/coordination-from-config.js';
import { QuestionnaireAnswersCheck } from './questionnaires/answers-check.js';
import type { EngineContext } from './engine/engine-context.js';
import { FhirEngine } from './engine/fhir-engine.js';
import { ACCESS_FACT_TYPES } from './access/fact-cache.js';
import { PolicyGuard } from './access/policy-guard.js';
import { policySettingsFromConfig } from './access/policy-settings.js';
import { loadDefinitions, type FhirDefinitions } from './fhir/definitions.js';
import { measuredStore, measuredStructureValidator, measuredValidationService } from './metrics/instrumented.js';
import { RelaisMetrics } from './metrics/relais-metrics.js';
import { registerBuiltInOperations } from './operations/built-in-operations.js';
import { OperationRegistry } from './operations/operation-registry.js';
import { IndexExtractor } from './search/index-extractor.js';
import { networkSearchParameters } from './search/network-search-parameters.js';
import { SearchCompiler } from './search/search-query.js';
import { storeFromConfig } from './store/store-from-config.js';
import { tracedStore } from './telemetry/tracing.js';
import type { ResourceStore } from './store/resource-store.js';
import { StructureValidator } from './validation/structure-validator.js';
import { validationFromConfig } from './validation/validation-from-config.js';
import { SubscriptionService } from './subscriptions/subscription-service.js';
import { BulkExport, type BulkExportOptions } from './bulk/bulk-export.js';
import { BodyWorkPool } from './body-work/body-work-pool.js';

export interface RelaisContext {
  config: RelaisConfig;
  definitions: FhirDefinitions;
  store: ResourceStore;
  engine: FhirEngine;
  operations: OperationRegistry;
  subscriptions: SubscriptionService;
  /** Big bodies read and checked off the event loop (src/body-work); closed with the app. */
  bodyWork: BodyWorkPool;
  /** Bulk Data $export: its storage, worker and routes (src/bulk). */
  bulk: BulkExport;
  /**
   * The process's Prometheus metrics (served at /metrics). Background workers
   * register the depth of their queue here: metrics.registerQueueDepth(name, read).
   */
  metrics: RelaisMetrics;
}

export interface ContextOptions {
  /** Bulk export timings or storage (tests). */
  bulk?: BulkExportOptions;
  /** OpenTelemetry tracing is on (src/telemetry/tracing.ts): store calls get their spans. */
  tracer?: Tracer;
}

let cachedDefinitions: FhirDefinitions | undefined;

/** The definitions are immutable; share one copy between the servers a test file builds. */
function definitions(): FhirDefinitions {
  cachedDefinitions ??= loadDefinitions();
  return cachedDefinitions;
}

export function buildContext(config: RelaisConfig, store?: ResourceStore, options: ContextOptions = {}): RelaisContext {
  const defs = definitions();
  const searchParameters = networkSearchParameters(defs);
  const limits = {
    defaultCount: config.DEFAULT_PAGE_SIZE,
    maxCount: config.MAX_PAGE_SIZE,
    maxBundleEntries: config.LIMIT_BUNDLE_ENTRIES,
    maxBundleReadResources: config.LIMIT_BUNDLE_READ_RESOURCES,
    maxArrayElements: config.LIMIT_ARRAY_ELEMENTS,
    maxDefinitionArrayElements: config.LIMIT_DEFINITION_ARRAY_ELEMENTS,
    maxIndexValues: config.LIMIT_INDEX_VALUES,
    maxIndexBytes: config.LIMIT_INDEX_BYTES,
  };
  const metrics = new RelaisMetrics();
  // Measured where the engine meets them: store reads and writes, validation (src/metrics).
  // MongoDB counts the writes of the types the access facts are read from (their cache's exactness).
  const backing = store ?? storeFromConfig(config, ACCESS_FACT_TYPES);
  const resourceStore = measuredStore(options.tracer ? tracedStore(backing, options.tracer) : backing, metrics);
  const structureValidator = new StructureValidator(defs);
  const profileValidation = measuredValidationService(validationFromConfig(config, defs, structureValidator), metrics);
  const extractor = new IndexExtractor(searchParameters, { baseUrl: baseUrlOf(config) });
  const compiler = new SearchCompiler(
    searchParameters,
    { ...limits, maxSortKeys: config.LIMIT_SORT_KEYS, maxIncludes: config.LIMIT_INCLUDES, baseUrl: baseUrlOf(config) },
    profileValidation.terminology,
    (type, code) => extractor.indexes(type, code),
  );
  // Subscriptions plug in as a decorator of the store the engine writes through: the notifications a
  // write triggers join that write (the outbox); the engine knows nothing of them.
  const subscriptions = new SubscriptionService({ config, definitions: defs, searchParameters, compiler, extractor, baseUrl: baseUrlOf(config) });
  const bodyWork = new BodyWorkPool({
    threads: config.BODY_WORKERS,
    thresholdBytes: config.BODY_WORKER_THRESHOLD_BYTES,
    settings: {
      packagesDir: config.FHIR_PACKAGES_DIR,
      enforcement: config.VALIDATION_ENFORCEMENT,
      unknownExtensions: config.UNKNOWN_EXTENSIONS,
      baseUrl: baseUrlOf(config),
      limits,
    },
  });
  const engineContext: EngineContext = {
    store: subscriptions.decorate(resourceStore),
    definitions: defs,
    validator: measuredStructureValidator(structureValidator, metrics),
    profileValidation,
    bigBodies: bodyWork,
    searchParameters,
    extractor,
    compiler,
    limits,
    baseUrl: baseUrlOf(config),
    // Workflows joining the unit of work of the writes that concern them (src/engine/transaction-extension.ts).
    writeExtensions: [
      ...(config.VALIDATION_ENFORCEMENT !== 'off' ? [new QuestionnaireAnswersCheck()] : []),
      dischargeCoordinationFromConfig(config),
      caseManagementFromConfig(config),
    ],
  };
  // The one place access is decided and audited, at the engine's hook points.
  const guard = new PolicyGuard(engineContext, { coordinationTeamFiness: config.COORDINATION_TEAM_FINESS, policy: policySettingsFromConfig(config, defs.resourceTypes) });
  const engine = new FhirEngine(engineContext, guard);
  const operations = new OperationRegistry();
  registerBuiltInOperations(operations, engineContext, config);
  for (const operation of subscriptions.operations(resourceStore)) operations.register(operation);
  const bulk = new BulkExport(config, engine, options.bulk);
  bulk.registerOperations(operations);
  metrics.registerQueueDepth('subscription-notifications', () => subscriptions.pendingNotifications());
  metrics.registerQueueDepth('bulk-export-jobs', () => bulk.queueDepth());
  return { config, definitions: defs, store: resourceStore, engine, operations, subscriptions, bodyWork, bulk, metrics };
}
