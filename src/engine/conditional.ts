/**
 * Shared by conditional create, update, patch and delete: find what the
 * criteria match, and derive the guard key that makes conditional create safe
 * under concurrency (see WriteOperation.guardKey).
 */
import { createHash } from 'node:crypto';
import { errors } from '../errors.js';
import type { StoredVersion } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';

export interface CriteriaMatch {
  matches: StoredVersion[];
  /** A stable key for "this type + these criteria", whatever their order. */
  guardKey: string;
}

/** Parses a query string ("identifier=a|b&name=x") into name/value pairs. */
export function parseCriteria(query: string): Array<[string, string]> {
  // R4 If-None-Exist carries bare search parameters, but many clients send the
  // whole search URL ("Patient?identifier=..." or an absolute URL): accept both.
  const bare = query.replace(/^(?:https?:\/\/[^?\s]*\/)?(?:[A-Z][A-Za-z]+)?\?/, '');
  return [...new URLSearchParams(bare).entries()];
}

/** Matches over every resource, whoever asks (the caller's scope is applied by matchCriteria). */
async function matchCriteriaEverywhere(ctx: EngineContext, resourceType: string, criteria: Array<[string, string]>, interaction: string): Promise<CriteriaMatch> {
  const filtering = criteria.filter(([name]) => !name.startsWith('_') || name.startsWith('_has:') || name === '_id' || name === '_lastUpdated' || name === '_tag' || name === '_profile' || name === '_security');
  if (filtering.length === 0) throw errors.conditionalNeedsCriteria(interaction);
  // Conditional interactions are strict: an ignored parameter would widen the match.
  const parsed = await ctx.compiler.parse([resourceType], filtering, true, ctx.store);
  const { versions } = await ctx.store.search({ resourceTypes: [resourceType], filter: parsed.filter, offset: 0, count: 2, withTotal: false });
  const canonical = [...parsed.used].map(([n, v]) => `${n}=${v}`).sort().join('&');
  const guardKey = createHash('sha256').update(`${resourceType}?${canonical}`).digest('base64url');
  return { matches: versions, guardKey };
}

/**
 * What the criteria match, within the caller's conditional scope (ctx.conditionalScope):
 * for a restricted caller every store query of the match is ANDed with what
 * the caller may reach by this route, and a conditional create's guard key is
 * taken in the caller's own scope unless the match runs over everything (a
 * Patient by identifier, the directory): otherwise a resource the caller cannot
 * see, created under the same criteria, would hold the key and reveal itself
 * through the conflict.
 */
export async function matchCriteria(ctx: EngineContext, resourceType: string, criteria: Array<[string, string]>, interaction: string): Promise<CriteriaMatch> {
  const scope = ctx.conditionalScope?.forCriteria(resourceType, criteria);
  if (!scope) return matchCriteriaEverywhere(ctx, resourceType, criteria, interaction);
  const inner = ctx.store;
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'search' || property === 'distinct') {
        const method = property;
        return async (q: { resourceTypes: string[]; filter: Record<string, unknown> }, ...rest: unknown[]) => {
          const filter = await scope.filterFor(q.resourceTypes);
          const restricted = filter ? { ...q, filter: { $and: [q.filter, filter] } } : q;
          return (target[method] as (...args: unknown[]) => unknown).call(target, restricted, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  const found = await matchCriteriaEverywhere({ ...ctx, store }, resourceType, criteria, interaction);
  if (scope.guardScope === 'global') return found;
  return { ...found, guardKey: createHash('sha256').update(`${scope.guardScope}\n${found.guardKey}`).digest('base64url') };
}

/** The existing resource a conditional create matched, as the caller may see it (see EngineContext.revealMatch). */
export async function revealedMatch(ctx: EngineContext, version: StoredVersion): Promise<StoredVersion> {
  if (!ctx.revealMatch || !version.resource || (await ctx.revealMatch(version))) return version;
  const { resource: _content, ...identity } = version;
  return identity;
}
