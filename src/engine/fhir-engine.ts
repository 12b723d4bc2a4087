/**
 * The FHIR engine: one method per interaction, knowing nothing of HTTP. The
 * REST routes and (later) batch/transaction entries call the same methods.
 * Each interaction lives in its own file under ./interactions.
 */
import type { IfMatch } from './version-expectation.js';
import type { EntryReader } from './bundle/read-entry.js';
import type { Bundle, Resource } from 'fhir/r4';
import { EngineAccess } from '../access/engine-access.js';
import type { RequestContext } from '../access/request-context.js';
import { AuditTrail } from '../audit/audit-trail.js';
import type { StoredVersion } from '../store/resource-store.js';
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
import { applyElements, applySummary, type SummaryMode } from './summary.js';

/**
 * Every method takes an optional RequestContext last: who the call acts for.
 * Absent, the server acts for itself (no restriction, no audit). Present, the
 * access policy is enforced per resource and each access is audited (see
 * src/access/engine-access.ts).
 */
export class FhirEngine {
  readonly access: EngineAccess;

  constructor(readonly ctx: EngineContext) {
    this.access = new EngineAccess(ctx, new AuditTrail(ctx));
  }

  async create(resourceType: string, body: unknown, options?: CreateOptions, rc?: RequestContext): Promise<VersionResult> {
    if (!rc) return create(this.ctx, resourceType, body, options);
    const ctx = this.access.guardedContext(rc, 'create');
    // A hospital's criteria are matched within its conditional scope (EngineAccess.conditionalScope);
    // other per-patient callers cannot have criteria matched over resources they may not see.
    if (options?.ifNoneExist !== undefined && !ctx.conditionalScope) await this.access.assertUnrestricted(rc, 'read', resourceType, 'a conditional create (If-None-Exist)');
    return create(ctx, resourceType, body, options);
  }

  read(resourceType: string, id: string, rc?: RequestContext): Promise<StoredVersion> {
    if (!rc) return read(this.ctx, resourceType, id);
    return this.access.guardRead(rc, 'read', resourceType, id, () => read(this.ctx, resourceType, id));
  }

  vread(resourceType: string, id: string, versionId: string, rc?: RequestContext): Promise<StoredVersion> {
    if (!rc) return vread(this.ctx, resourceType, id, versionId);
    return this.access.guardRead(rc, 'vread', resourceType, id, () => vread(this.ctx, resourceType, id, versionId));
  }

  async update(resourceType: string, id: string, body: unknown, options?: UpdateOptions, rc?: RequestContext): Promise<VersionResult> {
    if (!rc) return update(this.ctx, resourceType, id, body, options);
    await this.access.assertWritable(rc, 'update', resourceType, id, body);
    return update(this.access.guardedContext(rc, 'update'), resourceType, id, body, options);
  }

  async conditionalUpdate(resourceType: string, query: string, body: unknown, options?: UpdateOptions, rc?: RequestContext): Promise<VersionResult> {
    if (!rc) return conditionalUpdate(this.ctx, resourceType, query, body, options);
    await this.access.assertUnrestricted(rc, 'update', resourceType, 'a conditional update');
    return conditionalUpdate(this.access.guardedContext(rc, 'update'), resourceType, query, body, options);
  }

  async patch(resourceType: string, id: string, patchDocument: unknown, options?: { ifMatch?: IfMatch }, rc?: RequestContext): Promise<VersionResult> {
    if (!rc) return patch(this.ctx, resourceType, id, patchDocument, options);
    await this.access.assertWritable(rc, 'patch', resourceType, id);
    return patch(this.access.guardedContext(rc, 'patch'), resourceType, id, patchDocument, options);
  }

  async conditionalPatch(resourceType: string, query: string, patchDocument: unknown, options?: { ifMatch?: IfMatch }, rc?: RequestContext): Promise<VersionResult> {
    if (!rc) return conditionalPatch(this.ctx, resourceType, query, patchDocument, options);
    await this.access.assertUnrestricted(rc, 'patch', resourceType, 'a conditional patch');
    return conditionalPatch(this.access.guardedContext(rc, 'patch'), resourceType, query, patchDocument, options);
  }

  async delete(resourceType: string, id: string, options?: { ifMatch?: IfMatch }, rc?: RequestContext): Promise<DeleteResult> {
    if (!rc) return deleteResource(this.ctx, resourceType, id, options);
    await this.access.assertWritable(rc, 'delete', resourceType, id);
    return deleteResource(this.access.guardedContext(rc, 'delete'), resourceType, id, options);
  }

  async conditionalDelete(resourceType: string, query: string, rc?: RequestContext): Promise<DeleteResult> {
    if (!rc) return conditionalDelete(this.ctx, resourceType, query);
    await this.access.assertUnrestricted(rc, 'delete', resourceType, 'a conditional delete');
    return conditionalDelete(this.access.guardedContext(rc, 'delete'), resourceType, query);
  }

  search(resourceType: string | undefined, params: Array<[string, string]>, options?: SearchOptions, rc?: RequestContext): Promise<Bundle<Resource>> {
    if (!rc) return search(this.ctx, resourceType, params, options);
    const types = resourceType ? [resourceType] : [...new Set(params.filter(([n]) => n === '_type').flatMap(([, v]) => v.split(',').map((t) => t.trim())).filter(Boolean))];
    const query = new URLSearchParams(params).toString();
    return this.access.guardSearch(rc, resourceType ? 'search-type' : 'search-system', types, query, (ctx) => search(ctx, resourceType, params, options));
  }

  /** With a RequestContext: instance history checked per version; type/system history filtered like a search (EngineAccess.guardHistory). */
  history(scope: HistoryScope, params: Array<[string, string]>, strict?: boolean, rc?: RequestContext): Promise<Bundle<Resource>> {
    if (rc && scope.resourceType && scope.id) {
      const { resourceType, id } = scope;
      return this.access.guardInstanceHistory(rc, resourceType, id, (ctx) => history(ctx, scope, params, strict));
    }
    if (rc) {
      const types = scope.resourceType ? [scope.resourceType] : [...new Set(params.filter(([n]) => n === '_type').flatMap(([, v]) => v.split(',').map((t) => t.trim())).filter(Boolean))];
      const query = new URLSearchParams(params).toString();
      return this.access.guardHistory(rc, scope.resourceType ? 'history-type' : 'history-system', types, query, (ctx) => history(ctx, scope, params, strict));
    }
    return history(this.ctx, scope, params, strict);
  }

  /** A transaction Bundle: all entries or none (see interactions/transaction.ts). */
  async transaction(bundle: unknown, options?: BundleOptions, rc?: RequestContext): Promise<Bundle<Resource>> {
    if (!rc) return transaction(this.ctx, bundle, options);
    await this.access.assertBundleEnforceable(rc, 'transaction', bundle);
    return transaction({ ...this.access.guardedContext(rc, 'update'), entryReader: this.entryReader(rc) }, bundle, options);
  }

  /** A batch Bundle: independent entries (see interactions/batch.ts). */
  async batch(bundle: unknown, options?: BundleOptions, rc?: RequestContext): Promise<Bundle<Resource>> {
    if (!rc) return batch(this.ctx, bundle, options);
    await this.access.assertBundleEnforceable(rc, 'batch', bundle);
    return batch({ ...this.access.guardedContext(rc, 'update'), entryReader: this.entryReader(rc) }, bundle, options);
  }

  /** Read entries of the caller's Bundles go through the same guarded interactions as requests sent alone. */
  private entryReader(rc: RequestContext): EntryReader {
    return {
      read: (resourceType, id) => this.read(resourceType, id, rc),
      vread: (resourceType, id, versionId) => this.vread(resourceType, id, versionId, rc),
      search: (resourceType, params) => this.search(resourceType, params, undefined, rc),
      history: (scope, params) => this.history(scope, params, false, rc),
    };
  }

  /** _summary / _elements on a single resource (read, vread). */
  shape(resource: Resource, summary: SummaryMode | undefined, elements: string[] | undefined): Resource {
    return applyElements(this.ctx.definitions, applySummary(this.ctx.definitions, resource, summary), elements);
  }
}
