/**
 * delete and conditional delete (R4 http page). Deleting records a version with
 * no body (history keeps it); deleting something absent or already deleted
 * also succeeds (204), as the spec allows. A conditional delete matching
 * several resources is refused (412): this server supports `single`.
 */
import { errors } from '../../errors.js';
import { VersionConflict } from '../../store/resource-store.js';
import { matchCriteria, parseCriteria } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import type { DeleteResult } from '../interaction-result.js';
import { assertKnownType, assertValidId } from '../resource-checks.js';
import { asPreconditionFailure, versionRequiredBy, type IfMatch } from '../version-expectation.js';

const MAX_ATTEMPTS = 5;

export async function deleteResource(ctx: EngineContext, resourceType: string, id: string, options: { ifMatch?: IfMatch } = {}): Promise<DeleteResult> {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await ctx.store.readCurrent(resourceType, id);
    if (!current || current.deleted) {
      if (options.ifMatch !== undefined) versionRequiredBy(options.ifMatch, resourceType, id, current);
      return { status: 204 };
    }
    try {
      const [version] = await ctx.store.write([{ kind: 'delete', resourceType, id, expect: options.ifMatch !== undefined ? versionRequiredBy(options.ifMatch, resourceType, id, current) : current.versionId }]);
      return { status: 204, version };
    } catch (error) {
      if (options.ifMatch !== undefined) asPreconditionFailure(error, options.ifMatch);
      if (!(error instanceof VersionConflict)) throw error;
    }
  }
  throw errors.concurrentUpdateConflict(resourceType, id);
}

export async function conditionalDelete(ctx: EngineContext, resourceType: string, query: string): Promise<DeleteResult> {
  assertKnownType(ctx, resourceType);
  const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(query), 'delete');
  if (matches.length > 1) throw errors.multipleMatches('delete', matches.length);
  if (matches.length === 0) return { status: 204 };
  return deleteResource(ctx, resourceType, matches[0].id);
}
