/**
 * The engine as one caller sees it: every FHIR interaction, none of which can
 * be called without naming who it acts for (the session is made by
 * FhirEngine.as / asServer / asAnonymous). Each method asks the access guard
 * at its hook points (src/engine/access-guard.ts) and runs the interaction of
 * ./interactions in the context the guard gives; the session knows nothing of
 * the rules themselves.
 */
import type { Bundle, Resource } from 'fhir/r4';
import { FhirError } from '../errors.js';
import type { StoredVersion } from '../store/resource-store.js';
import type { AccessGuard } from './access-guard.js';
import type { EntryReader } from './bundle/read-entry.js';
import type { Caller } from './caller.js';
import { matchCriteria, parseCriteria, type CriteriaMatch } from './conditional.js';
import type { EngineContext } from './engine-context.js';
import type { DeleteResult, VersionResult } from './interaction-result.js';
import { batch } from './interactions/batch.js';
import { create, type CreateOptions } from './interactions/create.js';
import { conditionalDelete, deleteResource } from './interactions/delete.js';
import { history, type HistoryScope } from './interactions/history.js';
import { conditionalPatch, patch } from './interactions/patch.js';
import { read, vread } from './interactions/read.js';
import { search, type SearchOptions } from './interactions/search.js';
import { transaction, type BundleOptions } from './interactions/transaction.js';
import { conditionalUpdate, update, type UpdateOptions } from './interactions/update.js';
import type { EngineOperation, OperationLevel, OperationResult } from './operation.js';
import type { IfMatch } from './version-expectation.js';
import { listingReader, type ListingReader } from './listing-reader.js';
import { withWriteExtensions } from './write-extensions.js';

/** The _type values of a system-level search or history, in order, without repeats. */
function typesNamed(params: Array<[string, string]>): string[] {
  return [...new Set(params.filter(([n]) => n === '_type').flatMap(([, v]) => v.split(',').map((t) => t.trim())).filter(Boolean))];
}

export interface OperationInvocation {
  level: OperationLevel;
  resourceType?: string;
  id?: string;
  body?: unknown;
  query: Array<[string, string]>;
  method: 'GET' | 'POST';
  preferences: Record<string, string>;
}

export class EngineSession {
  constructor(
    readonly caller: Caller,
    private readonly ctx: EngineContext,
    private readonly guard: AccessGuard,
    /** A server session for an operation's internal work (FhirEngine.asServer). */
    private readonly serverSession: (reason: string) => EngineSession,
  ) {}

  /** The absolute base URL of the FHIR endpoint (for references and fullUrls). */
  get baseUrl(): string {
    return this.ctx.baseUrl;
  }

  async create(resourceType: string, body: unknown, options?: CreateOptions): Promise<VersionResult> {
    await this.guard.beforeWrite(this.caller, 'create', resourceType, undefined, body);
    return create(this.writing('create'), resourceType, body, options);
  }

  read(resourceType: string, id: string): Promise<StoredVersion> {
    return this.guard.read(this.caller, 'read', resourceType, id, () => read(this.ctx, resourceType, id));
  }

  vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion> {
    return this.guard.read(this.caller, 'vread', resourceType, id, () => vread(this.ctx, resourceType, id, versionId));
  }

  async update(resourceType: string, id: string, body: unknown, options?: UpdateOptions): Promise<VersionResult> {
    await this.guard.beforeWrite(this.caller, 'update', resourceType, id, body);
    return update(this.writing('update'), resourceType, id, body, options);
  }

  /** PUT [type]?criteria: the criteria are matched within what the caller may see. */
  async conditionalUpdate(resourceType: string, query: string, body: unknown, options?: UpdateOptions): Promise<VersionResult> {
    await this.guard.beforeWrite(this.caller, 'update', resourceType, undefined, body);
    return conditionalUpdate(this.writing('update'), resourceType, query, body, options);
  }

  async patch(resourceType: string, id: string, patchDocument: unknown, options?: { ifMatch?: IfMatch }): Promise<VersionResult> {
    await this.guard.beforeWrite(this.caller, 'patch', resourceType, id);
    return patch(this.writing('patch'), resourceType, id, patchDocument, options);
  }

  async conditionalPatch(resourceType: string, query: string, patchDocument: unknown, options?: { ifMatch?: IfMatch }): Promise<VersionResult> {
    await this.guard.beforeWrite(this.caller, 'patch', resourceType);
    try {
      return await conditionalPatch(this.writing('patch'), resourceType, query, patchDocument, options);
    } catch (error) {
      if (error instanceof FhirError && error.status === 404) await this.guard.noMatch(this.caller, 'patch', resourceType, query);
      throw error;
    }
  }

  async delete(resourceType: string, id: string, options?: { ifMatch?: IfMatch }): Promise<DeleteResult> {
    await this.guard.beforeWrite(this.caller, 'delete', resourceType, id);
    return deleteResource(this.writing('delete'), resourceType, id, options);
  }

  async conditionalDelete(resourceType: string, query: string): Promise<DeleteResult> {
    await this.guard.beforeWrite(this.caller, 'delete', resourceType);
    const result = await conditionalDelete(this.writing('delete'), resourceType, query);
    if (!result.version) await this.guard.noMatch(this.caller, 'delete', resourceType, query);
    return result;
  }

  /** Type search (`resourceType`) or system search (undefined: the `_type` list, or every type the caller may search). */
  search(resourceType: string | undefined, params: Array<[string, string]>, options?: SearchOptions): Promise<Bundle<Resource>> {
    const types = resourceType ? [resourceType] : typesNamed(params);
    const query = new URLSearchParams(params).toString();
    return this.guard.listing(this.caller, resourceType ? 'search-type' : 'search-system', types, query, (ctx) => search(ctx, resourceType, params, options));
  }

  /** History of an instance, a type, or the system (`_type`, or every type the caller may list). */
  history(scope: HistoryScope, params: Array<[string, string]>, strict?: boolean): Promise<Bundle<Resource>> {
    if (scope.resourceType && scope.id) {
      const { resourceType, id } = scope;
      return this.guard.instanceHistory(this.caller, resourceType, id, (ctx) => history(ctx, scope, params, strict));
    }
    const types = scope.resourceType ? [scope.resourceType] : typesNamed(params);
    const query = new URLSearchParams(params).toString();
    return this.guard.listing(this.caller, scope.resourceType ? 'history-type' : 'history-system', types, query, (ctx) => history(ctx, scope, params, strict));
  }

  /** A transaction Bundle: all entries or none (see interactions/transaction.ts). */
  async transaction(bundle: unknown, options?: BundleOptions): Promise<Bundle<Resource>> {
    await this.guard.beforeBundle(this.caller, 'transaction', bundle);
    return transaction({ ...this.guard.writeContext(this.caller, 'bundle'), entryReader: this.entryReader() }, bundle, options);
  }

  /** A batch Bundle: independent entries (see interactions/batch.ts). */
  async batch(bundle: unknown, options?: BundleOptions): Promise<Bundle<Resource>> {
    await this.guard.beforeBundle(this.caller, 'batch', bundle);
    return batch({ ...this.writing('bundle'), entryReader: this.entryReader() }, bundle, options);
  }

  /**
   * What conditional criteria (`identifier=...`) match, within what the caller
   * may see, and the guard key a conditional create under them would carry.
   */
  conditionalMatch(resourceType: string, criteria: string | Array<[string, string]>): Promise<CriteriaMatch> {
    const pairs = typeof criteria === 'string' ? parseCriteria(criteria) : criteria;
    return matchCriteria(this.guard.writeContext(this.caller, 'create'), resourceType, pairs, 'create');
  }

  /** Runs an operation under its declared access rule; its result leaves as the caller may see it. */
  async operation(operation: EngineOperation, invocation: OperationInvocation): Promise<OperationResult> {
    const call = { operation, level: invocation.level, resourceType: invocation.resourceType, id: invocation.id };
    await this.guard.beforeOperation(this.caller, call);
    let result: OperationResult;
    try {
      result = await operation.invoke({ ...invocation, session: this, server: this.serverSession(`$${operation.name}`) });
    } catch (error) {
      await this.guard.operationFailed(this.caller, call, error);
      throw error;
    }
    const resource = await this.guard.afterOperation(this.caller, call, result.resource);
    return { ...result, ...(resource ? { resource } : {}) };
  }

  /** Whether the caller may read each resource (a decision, not an access: nothing is audited). */
  mayRead(resources: readonly Resource[]): Promise<boolean[]> {
    return this.guard.mayRead(this.caller, resources);
  }

  /** Whether the caller may search each type at all (role and scopes; a decision: nothing is audited). */
  maySearch(resourceTypes: readonly string[]): Promise<boolean[]> {
    return this.guard.maySearch(this.caller, resourceTypes);
  }

  /**
   * A listing composed of several store queries (a bulk export's part, $everything):
   * `run` reads through a ListingReader restricted to what the caller may see, and
   * the whole is one listing of `resourceTypes` for the access guard — refused
   * (403) if the caller may not search one of them, audited once with `query`
   * and the patients it returned.
   */
  listing<T>(resourceTypes: readonly string[], query: string, run: (reader: ListingReader) => Promise<T>): Promise<T> {
    const interaction = resourceTypes.length === 1 ? 'search-type' : 'search-system';
    return this.guard.listing(this.caller, interaction, resourceTypes, query, (ctx) => run(listingReader(ctx)));
  }

  /**
   * The context a single write (or a batch's entries, each a single write) runs in: the
   * guard's (checked, audited), with the write extensions joining its unit of work. A
   * transaction runs its extensions itself, over all its entries at once.
   */
  private writing(interaction: 'create' | 'update' | 'patch' | 'delete' | 'bundle'): EngineContext {
    return withWriteExtensions(this.guard.writeContext(this.caller, interaction), this.serverSession);
  }

  /** Read entries of the caller's Bundles go through the same guarded interactions as requests sent alone. */
  private entryReader(): EntryReader {
    return {
      read: (resourceType, id) => this.read(resourceType, id),
      vread: (resourceType, id, versionId) => this.vread(resourceType, id, versionId),
      search: (resourceType, params) => this.search(resourceType, params),
      history: (scope, params) => this.history(scope, params, false),
    };
  }
}
