/**
 * The store and the validators as the engine sees them, measured: store
 * writes and reads, structure and profile validation (see relais-metrics.ts
 * for the series). Applied once, in the context, around the real objects.
 */
import { GuardConflict, VersionConflict, type ResourceStore } from '../store/resource-store.js';
import type { StructureValidator } from '../validation/structure-validator.js';
import type { ValidationService } from '../validation/validation-service.js';
import type { HistogramSeries } from './aggregated-series.js';
import type { RelaisMetrics } from './relais-metrics.js';
import { timedProxy } from './timed-proxy.js';

function writeOutcome(error: unknown): 'ok' | 'conflict' | 'error' {
  if (error === undefined) return 'ok';
  return error instanceof VersionConflict || error instanceof GuardConflict ? 'conflict' : 'error';
}

export function measuredStore(store: ResourceStore, metrics: RelaisMetrics): ResourceStore {
  const name = store.capabilities.name;
  // Each series found once, at its first read (a series appears in /metrics once something was observed in it).
  const read = (operation: string) => {
    let series: HistogramSeries | undefined;
    return (seconds: number) => (series ??= metrics.storeReadDuration.series(name, operation)).observe(seconds);
  };
  return timedProxy(store, {
    write: (seconds, error) => metrics.storeWriteDuration.observe({ store: name, outcome: writeOutcome(error) }, seconds),
    readCurrent: read('read'),
    readVersion: read('read'),
    search: read('search'),
    history: read('history'),
  });
}

export function measuredStructureValidator(validator: StructureValidator, metrics: RelaisMetrics): StructureValidator {
  return timedProxy(validator, { validate: (seconds) => metrics.validationDuration.observe({ stage: 'structure' }, seconds) });
}

export function measuredValidationService(service: ValidationService, metrics: RelaisMetrics): ValidationService {
  return timedProxy(service, { validate: (seconds) => metrics.validationDuration.observe({ stage: 'profiles' }, seconds) });
}
