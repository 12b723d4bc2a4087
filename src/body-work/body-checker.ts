/**
 * The work a body worker does (src/body-work/body-worker.ts), built from plain
 * settings so that a worker thread builds exactly what the event loop's engine
 * has: the same definitions, structure validator, profiles (profiles/ and
 * FHIR_PACKAGES_DIR, same enforcement), search parameters and bounds. Each
 * task answers a plain, cloneable result; a FhirError becomes its status and
 * issues, rebuilt on the other side (body-work-pool.ts).
 */
import { checkedWrite, type CheckContext } from '../engine/resource-checks.js';
import { FhirError, type Issue } from '../errors.js';
import { loadDefinitions } from '../fhir/definitions.js';
import { FhirXml } from '../fhir/xml/fhir-xml.js';
import { IndexExtractor } from '../search/index-extractor.js';
import { networkSearchParameters } from '../search/network-search-parameters.js';
import type { IndexEntries } from '../store/resource-store.js';
import { StructureValidator } from '../validation/structure-validator.js';
import { validationFromConfig } from '../validation/validation-from-config.js';
import type { UnknownExtensionPolicy, ValidationEnforcement } from '../validation/validation-service.js';

export interface BodyCheckSettings {
  packagesDir: string;
  enforcement: ValidationEnforcement;
  unknownExtensions: UnknownExtensionPolicy;
  baseUrl: string;
  limits: CheckContext['limits'];
}

export type BodyTask =
  | { kind: 'write'; mode: 'create' | 'update'; resourceType: string; id: string; body: unknown }
  | { kind: 'xml'; text: string };

/** A task's answer: its value, or the FhirError the same work on the event loop would have thrown. */
export type BodyTaskResult<T> = { ok: true; value: T } | { ok: false; status: number; issues: Issue[]; headers: Record<string, string> };

export class BodyChecker {
  private readonly checks: CheckContext;
  private readonly xml: FhirXml;

  constructor(settings: BodyCheckSettings) {
    const definitions = loadDefinitions();
    const validator = new StructureValidator(definitions);
    this.checks = {
      definitions,
      validator,
      profileValidation: validationFromConfig({ FHIR_PACKAGES_DIR: settings.packagesDir, VALIDATION_ENFORCEMENT: settings.enforcement, UNKNOWN_EXTENSIONS: settings.unknownExtensions }, definitions, validator),
      extractor: new IndexExtractor(networkSearchParameters(definitions), { baseUrl: settings.baseUrl }),
      limits: settings.limits,
    };
    this.xml = new FhirXml(definitions);
  }

  run(task: BodyTask): BodyTaskResult<{ index: IndexEntries } | Record<string, unknown>> {
    try {
      if (task.kind === 'xml') return { ok: true, value: this.xml.read(task.text) };
      // Only the index goes back: the event loop stores the body it already holds.
      return { ok: true, value: { index: checkedWrite(this.checks, task.mode, task.resourceType, task.id, task.body).index } };
    } catch (error) {
      if (error instanceof FhirError) return { ok: false, status: error.status, issues: error.issues, headers: error.headers };
      throw error;
    }
  }
}
