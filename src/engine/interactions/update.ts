/**
 * update and conditional update (R4 http page). PUT to an id that does not
 * exist creates it (update as create, 201). If-Match makes the write depend on
 * the version the client read (412 when stale). Without If-Match the last
 * write wins: concurrent updates each become their own version, in commit order.
 */
import type { Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import { GuardConflict, type WriteOperation } from '../../store/resource-store.js';
import { matchCriteria, parseCriteria } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import type { VersionResult } from '../interaction-result.js';
import { assertKnownType, assertUpdateId, assertValidId, boundedIndex, checkBody, withClientMeta } from '../resource-checks.js';
import { asPreconditionFailure, versionRequiredBy, type IfMatch } from '../version-expectation.js';

export interface UpdateOptions {
  /** Version from If-Match. */
  ifMatch?: IfMatch;
}

export async function update(ctx: EngineContext, resourceType: string, id: string, body: unknown, options: UpdateOptions = {}): Promise<VersionResult> {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  // A big body is checked and indexed by a body worker, off the event loop (same checks, same answer).
  const offThread = await ctx.bigBodies?.check('update', resourceType, id, body);
  if (offThread) return storeUpdate(ctx, withClientMeta(body as Resource, id), options.ifMatch, undefined, offThread.index);
  return storeUpdate(ctx, checkUpdateBody(ctx, resourceType, id, body), options.ifMatch);
}

/** The checks of an update to [type]/[id] (also used by transaction entries); returns the resource to store. */
export function checkUpdateBody(ctx: EngineContext, resourceType: string, id: string, body: unknown): Resource {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  const checked = checkBody(ctx, resourceType, body);
  assertUpdateId(checked, id);
  return withClientMeta(checked, id);
}

/** The write storing `resource` as the next version of its id, without making it. */
export function putOperation(ctx: EngineContext, resource: Resource, expect: WriteOperation['expect'], guardKey?: string, index = boundedIndex(ctx, resource)): WriteOperation {
  return { kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index, expect, ...(guardKey ? { guardKey } : {}) };
}

/** Writes a checked resource as the next version of its id, creating it if absent. */
export async function storeUpdate(ctx: EngineContext, resource: Resource, ifMatch: IfMatch | undefined, guardKey?: string, index = boundedIndex(ctx, resource)): Promise<VersionResult> {
  const { resourceType } = resource;
  const id = resource.id!;
  if (ifMatch === undefined) {
    // Without If-Match the client asked for "last write wins": write with no version
    // expectation, so concurrent updates of one resource never starve each other into a 409.
    // Whether this created the resource (201) follows from the version before it.
    const [version] = await ctx.store.write([putOperation(ctx, resource, undefined, guardKey, index)]);
    const previous = version.versionId > 1 ? await ctx.store.readVersion(resourceType, id, version.versionId - 1) : undefined;
    return { status: previous && !previous.deleted ? 200 : 201, version };
  }
  try {
    // With If-Match the version must still be the one the client read; it is then live, so 200.
    // A list of ETags or "*" is resolved against the current version first (then written expecting it).
    const expected = typeof ifMatch === 'number' ? ifMatch : versionRequiredBy(ifMatch, resourceType, id, await ctx.store.readCurrent(resourceType, id));
    const [version] = await ctx.store.write([putOperation(ctx, resource, expected, guardKey, index)]);
    return { status: 200, version };
  } catch (error) {
    asPreconditionFailure(error, ifMatch);
  }
}

/** How many times (waits doubling from 2 ms to ~1 s) a conditional update looks for a concurrent creator to become visible. */
const GUARD_WAIT_ATTEMPTS = 10;

export async function conditionalUpdate(ctx: EngineContext, resourceType: string, query: string, body: unknown, options: UpdateOptions = {}): Promise<VersionResult> {
  assertKnownType(ctx, resourceType);
  const checked = checkBody(ctx, resourceType, body);
  const { matches, guardKey } = await matchCriteria(ctx, resourceType, parseCriteria(query), 'update');
  if (matches.length > 1) throw errors.multipleMatches('update', matches.length);
  if (matches.length === 1) {
    const target = matches[0];
    if (checked.id !== undefined && checked.id !== target.id) throw errors.idMismatch(target.id, checked.id);
    return storeUpdate(ctx, withClientMeta(checked, target.id), options.ifMatch);
  }
  // No match: create. With the client's id it is an update as create (R4 http, "conditional update");
  // without, the server assigns the id and the write is a plain create (expecting no resource there).
  const id = checked.id ?? crypto.randomUUID();
  try {
    if (checked.id === undefined && options.ifMatch === undefined) {
      const [version] = await ctx.store.write([putOperation(ctx, withClientMeta(checked, id), 'absent', guardKey)]);
      return { status: 201, version };
    }
    return await storeUpdate(ctx, withClientMeta(checked, id), options.ifMatch, guardKey);
  } catch (error) {
    if (!(error instanceof GuardConflict)) throw error;
    // A concurrent conditional update with the same criteria created it first: update that one.
    // If it was committed in the same batch as this attempt, it becomes visible a moment later.
    // A committed holder that no longer matches the criteria (created under them, then changed)
    // keeps the guard for nothing: the key is taken over from it, as a conditional create does.
    let holderId = error.holder;
    for (let attempt = 0; attempt < GUARD_WAIT_ATTEMPTS; attempt++) {
      // The holder is read BEFORE searching again: only a search that sees a state at least as new
      // as the holder's commit can tell that it no longer matches. Searching first let a search
      // still on the snapshot before the holder's batch committed find nothing, then the holder
      // appear, and its guard be taken over: two creates for one criteria (concurrency test).
      const holder = await ctx.store.readCurrent(holderId.resourceType, holderId.id);
      const again = await matchCriteria(ctx, resourceType, parseCriteria(query), 'update');
      if (again.matches.length > 1) throw errors.multipleMatches('update', again.matches.length);
      if (again.matches.length === 1) return storeUpdate(ctx, withClientMeta(checked, again.matches[0].id), options.ifMatch);
      if (holder && !holder.deleted && checked.id === undefined && options.ifMatch === undefined) {
        try {
          const [version] = await ctx.store.write([{ ...putOperation(ctx, withClientMeta(checked, id), 'absent', guardKey), takeOverGuardFrom: holderId }]);
          return { status: 201, version };
        } catch (retry) {
          if (!(retry instanceof GuardConflict)) throw retry;
          holderId = retry.holder;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 2 ** (attempt + 1)));
    }
    throw errors.concurrentUpdateConflict(resourceType, '(conditional update)');
  }
}
