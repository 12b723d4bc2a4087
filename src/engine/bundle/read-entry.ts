/**
 * GET and HEAD entries of a batch or transaction: read, vread, search and
 * history through the same engine functions the REST routes use, with the
 * entry's ifNoneMatch / ifModifiedSince turning a read into 304 Not Modified.
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import type { StoredVersion } from '../../store/resource-store.js';
import type { EngineContext } from '../engine-context.js';
import { history, type HistoryScope } from '../interactions/history.js';
import { read, vread } from '../interactions/read.js';
import { search } from '../interactions/search.js';
import type { EntryRequest } from './entry-request.js';
import { statusLine } from './entry-response.js';

function notModified(entry: EntryRequest, versionId: number, lastUpdated: string): boolean {
  if (entry.ifNoneMatch) {
    return entry.ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || tag.trim().replace(/^W\//, '') === `"${versionId}"`);
  }
  if (entry.ifModifiedSince) {
    const since = Date.parse(entry.ifModifiedSince);
    // HTTP dates have second precision: compare at that precision.
    return !Number.isNaN(since) && Math.floor(Date.parse(lastUpdated) / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/**
 * How read entries read. Without a caller (the server's own bundles) they read
 * directly; with one, the engine passes its guarded read, vread, search and
 * history (EngineContext.entryReader), so an entry is allowed, filtered and
 * audited exactly as the same request sent alone.
 */
export interface EntryReader {
  read(resourceType: string, id: string): Promise<StoredVersion>;
  vread(resourceType: string, id: string, versionId: string): Promise<StoredVersion>;
  search(resourceType: string | undefined, params: Array<[string, string]>): Promise<Bundle<Resource>>;
  history(scope: HistoryScope, params: Array<[string, string]>): Promise<Bundle<Resource>>;
}

function directReader(ctx: EngineContext): EntryReader {
  return {
    read: (resourceType, id) => read(ctx, resourceType, id),
    vread: (resourceType, id, versionId) => vread(ctx, resourceType, id, versionId),
    search: (resourceType, params) => search(ctx, resourceType, params),
    history: (scope, params) => history(ctx, scope, params),
  };
}

/**
 * Read entries share the Bundle's read budget (LIMIT_BUNDLE_READ_RESOURCES):
 * once their results hold that many resources, the next read entries answer
 * 400 too-costly — 200 searches of 1,000 resources in one 13 KB batch ran
 * 115 s and returned 115 MB (issue 18).
 */
function charge(ctx: EngineContext, resources: number): void {
  if (ctx.readBudget) ctx.readBudget.remaining -= resources;
}

export async function readEntry(ctx: EngineContext, entry: EntryRequest): Promise<BundleEntry<Resource>> {
  const params = entry.query ? [...new URLSearchParams(entry.query)] : [];
  const head = entry.method === 'HEAD';
  const reader = ctx.entryReader ?? directReader(ctx);
  if (ctx.readBudget && ctx.readBudget.remaining <= 0) {
    throw errors.overLimit(`the read entries of this Bundle already returned as many resources as one Bundle may (LIMIT_BUNDLE_READ_RESOURCES): send this read on its own`, [`Bundle.entry[${entry.index}]`]);
  }
  if (entry.resourceType && entry.id && !entry.history) {
    const version = entry.versionId ? await reader.vread(entry.resourceType, entry.id, entry.versionId) : await reader.read(entry.resourceType, entry.id);
    charge(ctx, 1);
    const meta = { etag: `W/"${version.versionId}"`, lastModified: version.lastUpdated };
    if (notModified(entry, version.versionId, version.lastUpdated)) return { response: { status: statusLine(304), ...meta } };
    return {
      fullUrl: `${ctx.baseUrl}/${version.resourceType}/${version.id}`,
      ...(head ? {} : { resource: version.resource }),
      response: { status: statusLine(200), ...meta },
    };
  }
  let bundle;
  if (entry.history) bundle = await reader.history({ resourceType: entry.resourceType, id: entry.id }, params);
  else if (entry.resourceType || entry.query !== undefined) bundle = await reader.search(entry.resourceType, params);
  else throw errors.invalidBundle(`Bundle.entry[${entry.index}].request.url '${entry.url}' names nothing to read`, [`Bundle.entry[${entry.index}].request.url`]);
  charge(ctx, bundle.entry?.length ?? 0);
  return { ...(head ? {} : { resource: bundle }), response: { status: statusLine(200) } };
}
