/**
 * What every interaction needs, built once at start-up and passed in (no
 * module-level singletons), so tests can assemble an engine over any store.
 */
import type { FhirDefinitions } from '../fhir/definitions.js';
import type { IndexExtractor } from '../search/index-extractor.js';
import type { SearchCompiler } from '../search/search-query.js';
import type { SearchParameterRegistry } from '../search/search-parameters.js';
import type { IndexEntries, ResourceStore, StoredVersion } from '../store/resource-store.js';
import type { StructureValidator } from '../validation/structure-validator.js';
import type { ValidationService } from '../validation/validation-service.js';
import type { EntryReader } from './bundle/read-entry.js';
import type { ConditionalScope, WriteExtension } from './transaction-extension.js';
import type { EngineSession } from './engine-session.js';

export interface EngineLimits {
  /** Page size when the client gives no _count. */
  defaultCount: number;
  /** Largest page a client may ask for; larger _count values are reduced to it. */
  maxCount: number;
  /** Entries a batch or transaction Bundle may hold (LIMIT_BUNDLE_ENTRIES). */
  maxBundleEntries?: number;
  /** Resources the read entries of one Bundle may return in all (LIMIT_BUNDLE_READ_RESOURCES). */
  maxBundleReadResources?: number;
  /** Elements any array of a written resource may hold (LIMIT_ARRAY_ELEMENTS), and of a definition (LIMIT_DEFINITION_ARRAY_ELEMENTS). */
  maxArrayElements?: number;
  maxDefinitionArrayElements?: number;
  /** Index values one search parameter may take from one written resource (LIMIT_INDEX_VALUES). */
  maxIndexValues?: number;
  /** Text all the index entries of one written resource may hold, in bytes (LIMIT_INDEX_BYTES). */
  maxIndexBytes?: number;
}

/**
 * Checks of big written bodies run off the event loop (src/body-work): the
 * same checks as resource-checks.ts `checkedWrite`, throwing the same FhirError.
 * Answers undefined when the body is small enough to check in place.
 */
export interface BigBodyChecks {
  check(mode: 'create' | 'update', resourceType: string, id: string, body: unknown): Promise<{ index: IndexEntries } | undefined>;
}

export interface EngineContext {
  store: ResourceStore;
  definitions: FhirDefinitions;
  validator: StructureValidator;
  searchParameters: SearchParameterRegistry;
  extractor: IndexExtractor;
  compiler: SearchCompiler;
  limits: EngineLimits;
  /** Absolute base URL of the FHIR endpoint (for fullUrl, Location and links), without a trailing slash. */
  baseUrl: string;
  /** Hooks adding the server's writes to a client write's unit of work (e.g. the discharge coordination); see transaction-extension.ts. */
  writeExtensions?: WriteExtension[];
  /** A restricted caller's transaction: the scope its conditional criteria are matched in (absent: everything). */
  conditionalScope?: ConditionalScope;
  /**
   * A conditional create matched an existing resource, which the answer names
   * (R4 http: 200 with the existing resource): the caller's access to it is
   * recorded (audited) and the hook says whether its content may be shown; if
   * not, the answer carries its identity only. Absent: shown, nothing recorded.
   */
  revealMatch?: (version: StoredVersion) => Promise<boolean>;
  /** What is left of a Bundle's read budget (LIMIT_BUNDLE_READ_RESOURCES), set for the Bundle's run. */
  readBudget?: { remaining: number };
  /** How GET/HEAD entries of a batch or transaction read for the caller (absent: directly; see bundle/read-entry.ts). */
  entryReader?: EntryReader;
  /** The server's own session for a stated reason (set by FhirEngine): how write extensions read. */
  serverSession?: (reason: string) => EngineSession;
  /** Profile validation on write (meta.profile claims and the network's profiles); absent = structure only. */
  profileValidation?: ValidationService;
  /** Where big bodies of creates and updates are checked and indexed (a worker pool); absent: always in place. */
  bigBodies?: BigBodyChecks;
}
