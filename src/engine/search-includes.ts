/**
 * _include and _revinclude (R4 search page, "Including other resources"):
 * after the page of matches is cut, the references it holds (or that point
 * at it) are followed, with `:iterate` repeating on what was included, and
 * `*` meaning every reference parameter. Included resources carry
 * search.mode = include; a resource is returned once whatever the number of
 * paths that reach it.
 */
import type { StoredVersion } from '../store/resource-store.js';
import type { IncludeSpec, ParsedSearch } from '../search/search-query.js';
import type { EngineContext } from './engine-context.js';

/** Most resources included in one page (beyond, the bundle says it was truncated). */
export const MAX_INCLUDED = 1000;
/** Most :iterate rounds (the graph of references can have cycles). */
const MAX_ROUNDS = 5;

export interface IncludeResult {
  included: StoredVersion[];
  truncated: boolean;
}

const keyOf = (v: { resourceType: string; id: string }) => `${v.resourceType}/${v.id}`;

export async function resolveIncludes(ctx: EngineContext, matches: StoredVersion[], parsed: Pick<ParsedSearch, 'include' | 'revinclude'>): Promise<IncludeResult> {
  const seen = new Set(matches.map(keyOf));
  const included: StoredVersion[] = [];
  let frontier = matches;
  let truncated = false;
  for (let round = 0; frontier.length > 0 && round < MAX_ROUNDS; round++) {
    const includes = parsed.include.filter((s) => round === 0 || s.iterate);
    const revincludes = parsed.revinclude.filter((s) => round === 0 || s.iterate);
    if (includes.length === 0 && revincludes.length === 0) break;
    const found: StoredVersion[] = [];
    const add = (versions: StoredVersion[]) => {
      for (const version of versions) {
        const key = keyOf(version);
        if (seen.has(key)) continue;
        if (included.length + found.length >= MAX_INCLUDED) {
          truncated = true;
          return;
        }
        seen.add(key);
        found.push(version);
      }
    };
    add(await forward(ctx, frontier, includes, seen));
    for (const spec of revincludes) add(await reverse(ctx, frontier, spec));
    included.push(...found);
    frontier = found;
  }
  return { included, truncated };
}

/** The reference parameter codes a spec follows on a resource type. */
function codesFor(ctx: EngineContext, spec: IncludeSpec, resourceType: string): string[] {
  if (spec.sourceType !== '*' && spec.sourceType !== resourceType) return [];
  if (spec.code !== '*') return [spec.code];
  return ctx.searchParameters.allFor(resourceType).filter((p) => p.type === 'reference').map((p) => p.code);
}

async function forward(ctx: EngineContext, frontier: StoredVersion[], specs: IncludeSpec[], seen: Set<string>): Promise<StoredVersion[]> {
  const wanted = new Map<string, Set<string>>();
  for (const version of frontier) {
    if (!version.resource) continue;
    for (const spec of specs) {
      for (const code of codesFor(ctx, spec, version.resourceType)) {
        for (const entry of ctx.extractor.extractParameter(version.resource, code) as Array<{ r?: string }>) {
          if (!entry.r || seen.has(entry.r)) continue;
          const [type, id] = entry.r.split('/');
          if (spec.targetType && spec.targetType !== type) continue;
          let ids = wanted.get(type);
          if (!ids) wanted.set(type, (ids = new Set()));
          ids.add(id);
        }
      }
    }
  }
  const result: StoredVersion[] = [];
  for (const [type, ids] of wanted) {
    if (!ctx.definitions.isResourceType(type)) continue;
    const { versions } = await ctx.store.search({ resourceTypes: [type], filter: { id: { $in: [...ids] } }, offset: 0, count: Math.min(ids.size, MAX_INCLUDED + 1), withTotal: false });
    result.push(...versions);
  }
  return result;
}

async function reverse(ctx: EngineContext, frontier: StoredVersion[], spec: IncludeSpec): Promise<StoredVersion[]> {
  if (spec.sourceType === '*') return []; // _revinclude=* names no source type; the compiler accepts it, nothing follows
  const targets = frontier.filter((v) => !spec.targetType || v.resourceType === spec.targetType).map(keyOf);
  if (targets.length === 0) return [];
  const codes = codesFor(ctx, spec, spec.sourceType);
  if (codes.length === 0) return [];
  const clauses = codes.map((code) => ({ [`idx.${code}`]: { $elemMatch: { r: { $in: targets } } } }));
  const filter = clauses.length === 1 ? clauses[0] : { $or: clauses };
  const { versions } = await ctx.store.search({ resourceTypes: [spec.sourceType], filter, offset: 0, count: MAX_INCLUDED + 1, withTotal: false });
  return versions;
}
