/**
 * Conditional criteria inside a bundle can name resources the same bundle is
 * about to create (R4 http page: conditional references are resolved after the
 * entries are processed). The compiled filter document is evaluated with mingo
 * over the index entries the pending resources will have, exactly as the
 * embedded store evaluates it over stored ones, so "match" means the same thing
 * in the bundle and in the store.
 */
import { Query } from 'mingo';
import type { Resource } from 'fhir/r4';
import type { EngineContext } from '../engine-context.js';
import { parseCriteria } from '../conditional.js';

export async function pendingMatches(ctx: EngineContext, resourceType: string, query: string, pending: Resource[]): Promise<Resource[]> {
  const candidates = pending.filter((r) => r.resourceType === resourceType);
  if (candidates.length === 0) return [];
  const criteria = parseCriteria(query).filter(([name]) => !name.startsWith('_') || name === '_id' || name === '_tag' || name === '_profile' || name === '_security');
  if (criteria.length === 0) return [];
  const parsed = await ctx.compiler.parse([resourceType], criteria, true, ctx.store);
  const filter = new Query(parsed.filter, { idKey: '_id' });
  return candidates.filter((resource) =>
    filter.test({ id: resource.id, type: resourceType, lastUpdated: new Date().toISOString(), idx: ctx.extractor.extract(resource) }),
  );
}
