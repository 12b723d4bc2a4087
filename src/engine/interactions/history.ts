/**
 * history at instance, type and system level (R4 http page, "history"): every
 * version, newest first, deletions included (as entries with request DELETE and
 * no resource). Paging is anchored at the newest version the first page saw
 * (`_anchor`), so writes made while a client pages do not shift later pages.
 *
 * At system level `_type` (a Relais extension, as for system search) limits
 * the history to the listed types (none: every type); an authenticated
 * caller's history is filtered by the access policy through the store's
 * `history` (see src/access/listing-guard.ts), so it holds only the types and
 * versions the caller may see.
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import { dateFromQuery, rangeOfDateString } from '../../search/date-range.js';
import type { StoredVersion } from '../../store/resource-store.js';
import { pageUrl } from '../bundle-links.js';
import type { EngineContext } from '../engine-context.js';
import { assertKnownType, assertValidId } from '../resource-checks.js';

export interface HistoryScope {
  resourceType?: string;
  id?: string;
}

function entryOf(ctx: EngineContext, version: StoredVersion): BundleEntry<Resource> {
  const url = `${version.resourceType}/${version.id}`;
  const method = version.deleted ? 'DELETE' : version.versionId === 1 ? 'POST' : 'PUT';
  return {
    fullUrl: `${ctx.baseUrl}/${url}`,
    ...(version.resource ? { resource: version.resource } : {}),
    request: { method, url: method === 'POST' ? version.resourceType : url },
    response: {
      status: version.deleted ? '204' : version.versionId === 1 ? '201' : '200',
      etag: `W/"${version.versionId}"`,
      lastModified: version.lastUpdated,
    },
  };
}

/** `_since` / `_anchor` (HAPI's history().since() writes the offset's '+' unescaped: see dateFromQuery). */
function instantParameter(name: string, raw: string): string {
  const range = rangeOfDateString(dateFromQuery(raw));
  if (!range) throw errors.invalidParameter(name, `${name} must be a FHIR instant such as 2024-01-31T10:00:00Z, got '${raw}'`);
  return range.lo;
}

export async function history(ctx: EngineContext, scope: HistoryScope, params: Array<[string, string]>, strict = false): Promise<Bundle<Resource>> {
  if (scope.resourceType) assertKnownType(ctx, scope.resourceType);
  if (scope.id !== undefined) {
    assertValidId(scope.id);
    if (!(await ctx.store.readCurrent(scope.resourceType!, scope.id))) throw errors.notFound(scope.resourceType!, scope.id);
  }
  let count = ctx.limits.defaultCount;
  let offset = 0;
  let since: string | undefined;
  let anchor: string | undefined;
  const types: string[] = [];
  for (const [name, value] of params) {
    if (name === '_count') {
      if (!/^\d+$/.test(value)) throw errors.invalidParameter('_count', `_count must be a non-negative integer`);
      count = Math.min(Number(value), ctx.limits.maxCount);
    } else if (name === '_offset') {
      if (!/^\d+$/.test(value)) throw errors.invalidParameter('_offset', `_offset must be a non-negative integer`);
      offset = Number(value);
    } else if (name === '_since') since = instantParameter('_since', value);
    else if (name === '_anchor') anchor = instantParameter('_anchor', value);
    else if (name === '_type' && !scope.resourceType) {
      for (const type of value.split(',').map((t) => t.trim()).filter(Boolean)) {
        assertKnownType(ctx, type);
        if (!types.includes(type)) types.push(type);
      }
    }
    else if (name === '_format' || name === '_pretty') continue;
    else if (strict) throw errors.unknownParameter(name);
  }
  // _since means "at or after" (R4 http page); the store port's `since` is exclusive, so step back 1 ms.
  const sinceExclusive = since === undefined ? undefined : new Date(Date.parse(since) - 1).toISOString();
  const page = await ctx.store.history({ ...scope, since: sinceExclusive, at: anchor, offset, count, ...(types.length > 0 ? { filter: { type: { $in: types } } } : {}) });
  anchor ??= page.versions[0]?.lastUpdated;
  const base = `${ctx.baseUrl}${scope.resourceType ? `/${scope.resourceType}` : ''}${scope.id !== undefined ? `/${scope.id}` : ''}/_history`;
  const common: Array<[string, string]> = [
    ...(types.length > 0 ? [['_type', types.join(',')] as [string, string]] : []),
    ...(since ? [['_since', since] as [string, string]] : []),
    ['_count', String(count)],
  ];
  const at = (o: number): Array<[string, string]> => [...common, ...(anchor ? [['_anchor', anchor] as [string, string]] : []), ['_offset', String(o)]];
  const link = [{ relation: 'self', url: pageUrl(base, offset > 0 ? at(offset) : common) }];
  if (offset + count < page.total && count > 0) link.push({ relation: 'next', url: pageUrl(base, at(offset + count)) });
  if (offset > 0) link.push({ relation: 'previous', url: pageUrl(base, at(Math.max(0, offset - count))) });
  const entry = page.versions.map((v) => entryOf(ctx, v));
  return {
    resourceType: 'Bundle',
    type: 'history',
    total: page.total,
    link,
    ...(entry.length > 0 ? { entry } : {}),
  };
}
