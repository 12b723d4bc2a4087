/**
 * batch (R4 http page, "batch/transaction"): every entry is an independent
 * interaction, run through the same engine functions as a single request, in
 * the R4 processing order (DELETE, POST, PUT/PATCH, GET/HEAD). An entry that
 * fails reports its status and OperationOutcome in its own response entry;
 * the others are unaffected. Entries may not reference each other (that needs
 * a transaction); conditional references are resolved per entry.
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { errors, FhirError } from '../../errors.js';
import { parseEntries, PROCESSING_RANK, withBundleBounds, type EntryRequest } from '../bundle/entry-request.js';
import { deleteEntry, errorEntry, versionEntry, type ReturnPreference } from '../bundle/entry-response.js';
import { patchDocumentOf } from '../bundle/patch-entry.js';
import { readEntry } from '../bundle/read-entry.js';
import { CONDITIONAL_REFERENCE, conditionalReferencesIn, internalReferencesIn, rewriteReferences } from '../bundle/reference-rewriting.js';
import { matchCriteria, parseCriteria } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import { cooperative } from '../cooperative.js';
import { parseIfMatch } from '../version-expectation.js';
import { create } from './create.js';
import { conditionalDelete, deleteResource } from './delete.js';
import { conditionalPatch, patch } from './patch.js';
import type { BundleOptions } from './transaction.js';
import { conditionalUpdate, update } from './update.js';

export async function batch(outer: EngineContext, body: unknown, options: BundleOptions = {}): Promise<Bundle<Resource>> {
  const ctx = withBundleBounds(outer, body);
  const entries = parseEntries(body, ctx.baseUrl, 'batch');
  const prefer = options.prefer ?? 'representation';
  const order = entries.map((e) => e.index).sort((a, b) => PROCESSING_RANK[entries[a].method] - PROCESSING_RANK[entries[b].method] || a - b);
  const responses: BundleEntry<Resource>[] = new Array(entries.length);
  const slice = cooperative();
  for (const i of order) {
    await slice();
    try {
      responses[i] = await runEntry(ctx, entries[i], prefer);
    } catch (error) {
      if (!(error instanceof FhirError)) throw error;
      responses[i] = errorEntry(error);
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

async function resolveReferences(ctx: EngineContext, resource: Resource): Promise<void> {
  const internal = internalReferencesIn(resource);
  if (internal.length > 0) throw errors.batchInterdependency(internal[0]);
  const resolved = new Map<string, string>();
  for (const reference of conditionalReferencesIn(resource)) {
    const [, resourceType, query] = CONDITIONAL_REFERENCE.exec(reference)!;
    if (!ctx.definitions.isResourceType(resourceType)) throw errors.unknownResourceType(resourceType);
    const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(query), 'reference');
    if (matches.length !== 1) throw errors.conditionalReferenceUnresolved(reference, matches.length);
    resolved.set(reference, `${resourceType}/${matches[0].id}`);
  }
  rewriteReferences(resource, new Map(), resolved);
}

async function runEntry(ctx: EngineContext, entry: EntryRequest, prefer: ReturnPreference): Promise<BundleEntry<Resource>> {
  if (entry.method === 'GET' || entry.method === 'HEAD') return readEntry(ctx, entry);
  const resourceType = entry.resourceType;
  if (!resourceType) throw errors.invalidBundle(`${entry.method} needs a resource type in the URL`, [`Bundle.entry[${entry.index}].request.url`]);
  const ifMatch = parseIfMatch(entry.ifMatch);
  if (entry.resource && entry.method !== 'PATCH') await resolveReferences(ctx, entry.resource);
  switch (entry.method) {
    case 'POST': {
      const result = await create(ctx, resourceType, entry.resource, entry.ifNoneExist !== undefined ? { ifNoneExist: entry.ifNoneExist } : {});
      return versionEntry(ctx.baseUrl, result.status, result.version, prefer);
    }
    case 'PUT': {
      const result = entry.id
        ? await update(ctx, resourceType, entry.id, entry.resource, { ifMatch })
        : await conditionalUpdate(ctx, resourceType, entry.query ?? '', entry.resource, { ifMatch });
      return versionEntry(ctx.baseUrl, result.status, result.version, prefer);
    }
    case 'PATCH': {
      const document = patchDocumentOf(entry.resource);
      const result = entry.id
        ? await patch(ctx, resourceType, entry.id, document, { ifMatch })
        : await conditionalPatch(ctx, resourceType, entry.query ?? '', document, { ifMatch });
      return versionEntry(ctx.baseUrl, result.status, result.version, prefer);
    }
    default: {
      const result = entry.id ? await deleteResource(ctx, resourceType, entry.id, { ifMatch }) : await conditionalDelete(ctx, resourceType, entry.query ?? '');
      return deleteEntry(result.version);
    }
  }
}
