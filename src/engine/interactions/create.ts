/**
 * create and conditional create (R4 http page, "create" and "conditional create").
 * The server assigns the id; an id in the body is ignored, as the spec says.
 * With If-None-Exist: no match creates, one match returns it (200, nothing
 * written), several are a 412.
 */
import { errors } from '../../errors.js';
import { GuardConflict, type StoredVersion } from '../../store/resource-store.js';
import { matchCriteria, parseCriteria, revealedMatch } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import type { VersionResult } from '../interaction-result.js';
import { createOperationOffThread } from '../write-operations.js';

export interface CreateOptions {
  /** The If-None-Exist header's value (a query string), for a conditional create. */
  ifNoneExist?: string;
}

/**
 * How many times a conditional create re-examines a contended guard before giving up; the
 * waits double (2 ms … ~1 s) so a holder committed in the same batch has time to become
 * visible even when fsync is slow.
 */
const MAX_GUARD_ATTEMPTS = 10;

export async function create(ctx: EngineContext, resourceType: string, body: unknown, options: CreateOptions = {}): Promise<VersionResult> {
  const operation = await createOperationOffThread(ctx, resourceType, body);
  const { id, resource, index } = operation;

  if (options.ifNoneExist === undefined) {
    const [version] = await ctx.store.write([operation]);
    return { status: 201, version };
  }

  const criteria = parseCriteria(options.ifNoneExist);
  let takeOver: { resourceType: string; id: string } | undefined;
  for (let attempt = 0; attempt < MAX_GUARD_ATTEMPTS; attempt++) {
    const { matches, guardKey } = await matchCriteria(ctx, resourceType, criteria, 'create');
    if (matches.length > 1) throw errors.multipleMatches('create', matches.length);
    if (matches.length === 1) return { status: 200, version: await revealedMatch(ctx, matches[0]) };
    try {
      const [version] = await ctx.store.write([
        { kind: 'put', resourceType, id, resource, index, expect: 'absent', guardKey, ...(takeOver ? { takeOverGuardFrom: takeOver } : {}) },
      ]);
      return { status: 201, version };
    } catch (error) {
      if (!(error instanceof GuardConflict)) throw error;
      // Another create with the same criteria won the race, or an earlier resource that
      // no longer matches still holds the guard: look again before deciding.
      const holder: StoredVersion | undefined = await ctx.store.readCurrent(error.holder.resourceType, error.holder.id);
      const again = await matchCriteria(ctx, resourceType, criteria, 'create');
      if (again.matches.length === 1) return { status: 200, version: await revealedMatch(ctx, again.matches[0]) };
      if (again.matches.length > 1) throw errors.multipleMatches('create', again.matches.length);
      // Only a committed holder that no longer matches may lose its guard; a holder not
      // yet visible is a concurrent create still being committed: wait for it to appear.
      if (holder && !holder.deleted) takeOver = { resourceType: holder.resourceType, id: holder.id };
      else await new Promise((resolve) => setTimeout(resolve, 2 ** (attempt + 1)));
    }
  }
  throw errors.concurrentUpdateConflict(resourceType, '(conditional create)');
}
