/**
 * search at type level (GET [type]?..., POST [type]/_search) and system level
 * (GET [base]?_type=...): a searchset Bundle of the current versions matching
 * every parameter, with total and paging links (R4 search page).
 */
import type { Bundle, BundleEntry, Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import type { EngineContext } from '../engine-context.js';
import { pagingLinks } from '../bundle-links.js';
import { assertKnownType } from '../resource-checks.js';
import { applyElements, applySummary, type SummaryMode } from '../summary.js';

export interface SearchOptions {
  /** Prefer: handling=strict. */
  strict?: boolean;
}

export async function search(
  ctx: EngineContext,
  resourceType: string | undefined,
  params: Array<[string, string]>,
  options: SearchOptions = {},
): Promise<Bundle<Resource>> {
  let resourceTypes: string[];
  let criteria = params;
  if (resourceType) {
    assertKnownType(ctx, resourceType);
    resourceTypes = [resourceType];
  } else {
    const typeParams = params.filter(([n]) => n === '_type').flatMap(([, v]) => v.split(','));
    for (const t of typeParams) assertKnownType(ctx, t);
    resourceTypes = typeParams.length > 0 ? typeParams : [...ctx.definitions.resourceTypes];
    criteria = params.filter(([n]) => n !== '_type');
  }
  const parsed = ctx.compiler.parse(resourceTypes.length === 1 ? resourceTypes[0] : undefined, criteria, options.strict ?? false);
  const count = parsed.count ?? ctx.limits.defaultCount;
  const summary = parsed.summary as SummaryMode | undefined;
  const onlyCount = summary === 'count' || count === 0;
  if (summary && parsed.elements) throw errors.badRequest('_summary and _elements cannot be used together', ['_elements']);
  const result = await ctx.store.search({
    resourceTypes,
    filter: parsed.filter,
    sort: parsed.sort,
    offset: parsed.offset,
    count: onlyCount ? 0 : count + 1, // one extra tells whether a next page exists
    withTotal: parsed.total !== 'none',
  });
  const hasMore = result.versions.length > count;
  const page = result.versions.slice(0, count);
  const base = resourceType ? `${ctx.baseUrl}/${resourceType}` : ctx.baseUrl;
  const selfParams: Array<[string, string]> = [...(resourceType ? [] : params.filter(([n]) => n === '_type')), ...parsed.used];
  const entry: BundleEntry<Resource>[] = page.map((version) => ({
    fullUrl: `${ctx.baseUrl}/${version.resourceType}/${version.id}`,
    resource: applyElements(ctx.definitions, applySummary(ctx.definitions, version.resource!, summary), parsed.elements),
    search: { mode: 'match' },
  }));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(result.total !== undefined ? { total: result.total } : {}),
    link: pagingLinks(base, selfParams, parsed.offset, count, hasMore),
    ...(entry.length > 0 ? { entry } : {}),
  };
}
