/**
 * search at type level (GET [type]?..., POST [type]/_search) and system level
 * (GET [base]?_type=...): a searchset Bundle of the current versions matching
 * every parameter, with total, paging links, included resources and, when
 * parameters were ignored, an OperationOutcome entry (R4 search page).
 *
 * Paging: a search with more than one page is snapshotted (search-result-sets.ts)
 * and its next/previous links walk that snapshot, so concurrent writes never make
 * a match appear twice or not at all. The store may keep the snapshot from the
 * first page's own read (StoreQuery.keepSnapshot), else every match is listed here.
 */
import type { Bundle, BundleEntry, BundleLink, OperationOutcome, Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import type { ParsedSearch } from '../../search/search-query.js';
import type { StoredVersion } from '../../store/resource-store.js';
import { pageUrl } from '../bundle-links.js';
import type { EngineContext } from '../engine-context.js';
import { assertKnownType } from '../resource-checks.js';
import { resolveIncludes } from '../search-includes.js';
import { loadResultSet, saveResultSet, snapshotToKeep } from '../search-result-sets.js';
import { applyElements, applySummary, type SummaryMode } from '../summary.js';

export interface SearchOptions {
  /** Prefer: handling=strict. */
  strict?: boolean;
}

/** What a search without _include or _revinclude includes. */
const NOTHING_INCLUDED: { readonly included: readonly StoredVersion[]; readonly truncated: false } = Object.freeze({ included: Object.freeze([]), truncated: false });

/** Upper bound of one snapshot (the refs of every match of a paged search). */
const MAX_SNAPSHOT = 5_000_000;

export async function search(
  ctx: EngineContext,
  resourceType: string | undefined,
  params: Array<[string, string]>,
  options: SearchOptions = {},
): Promise<Bundle<Resource>> {
  let resourceTypes: string[];
  let criteria = params;
  const typeParams: Array<[string, string]> = [];
  if (resourceType) {
    assertKnownType(ctx, resourceType);
    resourceTypes = [resourceType];
  } else {
    const requested = params.filter(([n]) => n === '_type').flatMap(([, v]) => v.split(',').map((t) => t.trim()));
    for (const t of requested) assertKnownType(ctx, t);
    resourceTypes = requested.length > 0 ? [...new Set(requested)] : [...ctx.definitions.resourceTypes];
    criteria = params.filter(([n]) => n !== '_type');
    if (requested.length > 0) typeParams.push(['_type', [...new Set(requested)].join(',')]);
  }
  // With no _type, only parameters common to every resource apply ([] = Resource level).
  const parsed = await ctx.compiler.parse(resourceType || typeParams.length > 0 ? resourceTypes : [], criteria, options.strict ?? false, ctx.store);
  const count = parsed.count ?? ctx.limits.defaultCount;
  const summary = parsed.summary as SummaryMode | undefined;
  if (summary && parsed.elements) throw errors.badRequest('_summary and _elements cannot be used together', ['_elements']);
  const base = resourceType ? `${ctx.baseUrl}/${resourceType}` : ctx.baseUrl;
  const selfParams: Array<[string, string]> = [...typeParams, ...parsed.used.filter(([n]) => n !== '_cursor' && n !== '_offset' && n !== '_count'), ['_count', String(count)]];
  const wantTotal = parsed.total !== 'none';

  if (summary === 'count' || count === 0) {
    const { total } = await ctx.store.search({ resourceTypes, filter: parsed.filter, offset: 0, count: 0, withTotal: true });
    return bundle(total, [{ relation: 'self', url: pageUrl(base, selfParams) }], outcomeEntries(parsed));
  }

  const page = await pageOf(ctx, resourceTypes, parsed, count, wantTotal);
  const links: BundleLink[] = [];
  const at = (offset: number): Array<[string, string]> => [...selfParams, ...(page.cursor ? [['_cursor', page.cursor] as [string, string]] : []), ...(offset > 0 ? [['_offset', String(offset)] as [string, string]] : [])];
  links.push({ relation: 'self', url: pageUrl(base, page.offset > 0 || parsed.cursor ? at(page.offset) : selfParams) });
  if (page.hasMore) links.push({ relation: 'next', url: pageUrl(base, at(page.offset + count)) });
  if (page.offset > 0) links.push({ relation: 'previous', url: pageUrl(base, at(Math.max(0, page.offset - count))) });

  // Without _include or _revinclude there is nothing to follow (resolveIncludes would still key every match of the page).
  const { included, truncated } = parsed.include.length > 0 || parsed.revinclude.length > 0 ? await resolveIncludes(ctx, page.versions, parsed) : NOTHING_INCLUDED;
  const shape = (version: StoredVersion, elements: string[] | undefined): Resource =>
    applyElements(ctx.definitions, applySummary(ctx.definitions, version.resource!, summary), elements);
  const entries: BundleEntry<Resource>[] = [
    ...page.versions.map((version) => ({ fullUrl: `${ctx.baseUrl}/${version.resourceType}/${version.id}`, resource: shape(version, parsed.elements), search: { mode: 'match' as const } })),
    ...included.map((version) => ({ fullUrl: `${ctx.baseUrl}/${version.resourceType}/${version.id}`, resource: shape(version, undefined), search: { mode: 'include' as const } })),
    ...outcomeEntries(parsed, truncated),
  ];
  return bundle(wantTotal ? page.total : undefined, links, entries);
}

interface Page {
  versions: StoredVersion[];
  offset: number;
  hasMore: boolean;
  total?: number;
  cursor?: string;
}

async function pageOf(ctx: EngineContext, resourceTypes: string[], parsed: ParsedSearch, count: number, wantTotal: boolean): Promise<Page> {
  if (parsed.cursor) {
    const set = await loadResultSet(ctx.store, parsed.cursor, parsed.offset, count);
    if (!set) throw errors.searchExpired();
    return { versions: await fetchInOrder(ctx, set.refs), offset: parsed.offset, hasMore: parsed.offset + count < set.total, total: set.total, cursor: parsed.cursor };
  }
  const query = { resourceTypes, filter: parsed.filter, sort: parsed.sort };
  // The store may keep the paging snapshot itself, from this very read (StoreQuery.keepSnapshot):
  // then this page costs in proportion to the page, and the total is not counted unless asked for
  // (_total=accurate, or estimate, which is given exactly; R4 search page: without _total a server
  // may leave Bundle.total out). Later pages give the snapshot's size.
  const accurate = parsed.total === 'accurate' || parsed.total === 'estimate';
  const keep = snapshotToKeep(ctx.store);
  const first = await ctx.store.search({ ...query, offset: parsed.offset, count: count + 1, withTotal: accurate || (wantTotal && parsed.offset > 0), keepSnapshot: keep });
  if (first.versions.length <= count) {
    const total = first.total ?? (wantTotal ? parsed.offset + first.versions.length : undefined);
    return { versions: first.versions, offset: parsed.offset, hasMore: false, ...(total !== undefined ? { total } : {}) };
  }
  if (first.snapshotKept) {
    return { versions: first.versions.slice(0, count), offset: parsed.offset, hasMore: true, ...(wantTotal && first.total !== undefined ? { total: first.total } : {}), cursor: keep.cursor };
  }
  // More than one page: snapshot every match's reference, and serve this page from the snapshot too,
  // so that page 1 and the following pages are cut from the same list.
  const all = await ctx.store.search({ ...query, offset: 0, count: MAX_SNAPSHOT, withTotal: false, idsOnly: true });
  const refs = all.versions;
  const cursor = await saveResultSet(ctx.store, refs);
  const slice = refs.slice(parsed.offset, parsed.offset + count);
  return { versions: await fetchInOrder(ctx, slice), offset: parsed.offset, hasMore: parsed.offset + count < refs.length, total: refs.length, cursor };
}

/** The current versions of `refs`, in the order given; deleted ones are left out. */
async function fetchInOrder(ctx: EngineContext, refs: Array<{ resourceType: string; id: string }>): Promise<StoredVersion[]> {
  const byType = new Map<string, string[]>();
  for (const ref of refs) {
    const ids = byType.get(ref.resourceType) ?? [];
    ids.push(ref.id);
    byType.set(ref.resourceType, ids);
  }
  const found = new Map<string, StoredVersion>();
  for (const [resourceType, ids] of byType) {
    const { versions } = await ctx.store.search({ resourceTypes: [resourceType], filter: { id: { $in: ids } }, offset: 0, count: ids.length, withTotal: false });
    for (const version of versions) found.set(`${version.resourceType}/${version.id}`, version);
  }
  return refs.map((ref) => found.get(`${ref.resourceType}/${ref.id}`)).filter((v): v is StoredVersion => v !== undefined);
}

/** An OperationOutcome entry (search.mode = outcome) listing what the server did not use. */
function outcomeEntries(parsed: ParsedSearch, truncated = false): BundleEntry<Resource>[] {
  const issues: OperationOutcome['issue'] = parsed.ignored.map((name) => ({
    severity: 'warning',
    code: 'not-supported',
    diagnostics: `Search parameter '${name}' is not supported and was ignored (send Prefer: handling=strict to make this an error)`,
    expression: [name],
  }));
  if (truncated) issues.push({ severity: 'warning', code: 'too-costly', diagnostics: 'Too many resources to include; the included resources were truncated' });
  if (issues.length === 0) return [];
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: issues };
  return [{ resource: outcome as Resource, search: { mode: 'outcome' } }];
}

function bundle(total: number | undefined, link: BundleLink[], entry: BundleEntry<Resource>[]): Bundle<Resource> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total !== undefined ? { total } : {}),
    link,
    ...(entry.length > 0 ? { entry } : {}),
  };
}
