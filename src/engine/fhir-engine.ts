/**
 * The FHIR engine: one method per interaction, knowing nothing of HTTP. The
 * REST routes and (later) batch/transaction entries call the same methods.
 * Each interaction lives in its own file under ./interactions.
 */
import type { Bundle, Resource } from 'fhir/r4';
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

export class FhirEngine {
  constructor(readonly ctx: EngineContext) {}

  create(resourceType: string, body: unknown, options?: CreateOptions): Promise<VersionResult> {
    return create(this.ctx, resourceType, body, options);
  }

  read(resourceType: string, id: string): Promise<StoredVersion> {
    return read(this.ctx, resourceType, id);
  }

  vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion> {
    return vread(this.ctx, resourceType, id, versionId);
  }

  update(resourceType: string, id: string, body: unknown, options?: UpdateOptions): Promise<VersionResult> {
    return update(this.ctx, resourceType, id, body, options);
  }

  conditionalUpdate(resourceType: string, query: string, body: unknown, options?: UpdateOptions): Promise<VersionResult> {
    return conditionalUpdate(this.ctx, resourceType, query, body, options);
  }

  patch(resourceType: string, id: string, patchDocument: unknown, options?: { ifMatch?: number }): Promise<VersionResult> {
    return patch(this.ctx, resourceType, id, patchDocument, options);
  }

  conditionalPatch(resourceType: string, query: string, patchDocument: unknown, options?: { ifMatch?: number }): Promise<VersionResult> {
    return conditionalPatch(this.ctx, resourceType, query, patchDocument, options);
  }

  delete(resourceType: string, id: string, options?: { ifMatch?: number }): Promise<DeleteResult> {
    return deleteResource(this.ctx, resourceType, id, options);
  }

  conditionalDelete(resourceType: string, query: string): Promise<DeleteResult> {
    return conditionalDelete(this.ctx, resourceType, query);
  }

  search(resourceType: string | undefined, params: Array<[string, string]>, options?: SearchOptions): Promise<Bundle<Resource>> {
    return search(this.ctx, resourceType, params, options);
  }

  history(scope: HistoryScope, params: Array<[string, string]>, strict?: boolean): Promise<Bundle<Resource>> {
    return history(this.ctx, scope, params, strict);
  }

  /** A transaction Bundle: all entries or none (see interactions/transaction.ts). */
  transaction(bundle: unknown, options?: BundleOptions): Promise<Bundle<Resource>> {
    return transaction(this.ctx, bundle, options);
  }

  /** A batch Bundle: independent entries (see interactions/batch.ts). */
  batch(bundle: unknown, options?: BundleOptions): Promise<Bundle<Resource>> {
    return batch(this.ctx, bundle, options);
  }

  /** _summary / _elements on a single resource (read, vread). */
  shape(resource: Resource, summary: SummaryMode | undefined, elements: string[] | undefined): Resource {
    return applyElements(this.ctx.definitions, applySummary(this.ctx.definitions, resource, summary), elements);
  }
}
