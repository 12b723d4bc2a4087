/**
 * read and vread (R4 http page). A deleted resource answers 410 Gone; an id
 * never seen, 404. vread of the version a delete created is also 410.
 */
import { errors } from '../../errors.js';
import type { StoredVersion } from '../../store/resource-store.js';
import type { EngineContext } from '../engine-context.js';
import { assertKnownType, assertValidId } from '../resource-checks.js';

export async function read(ctx: EngineContext, resourceType: string, id: string): Promise<StoredVersion> {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  const current = await ctx.store.readCurrent(resourceType, id);
  if (!current) throw errors.notFound(resourceType, id);
  if (current.deleted) throw errors.gone(resourceType, id, String(current.versionId));
  return current;
}

export async function vread(ctx: EngineContext, resourceType: string, id: string, versionId: string): Promise<StoredVersion> {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  const number = /^[1-9][0-9]{0,15}$/.test(versionId) ? Number(versionId) : undefined;
  const version = number === undefined ? undefined : await ctx.store.readVersion(resourceType, id, number);
  if (!version) {
    if (!(await ctx.store.readCurrent(resourceType, id))) throw errors.notFound(resourceType, id);
    throw errors.versionNotFound(resourceType, id, versionId);
  }
  if (version.deleted) throw errors.gone(resourceType, id, versionId);
  return version;
}
