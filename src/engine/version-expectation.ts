/**
 * If-Match (R4 http page, "Managing Resource Contention"): the client sends the
 * ETag it read, W/"<versionId>"; the write happens only if that is still current.
 */
import { errors } from '../errors.js';
import { VersionConflict } from '../store/resource-store.js';

export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"([1-9][0-9]{0,15})"\s*$/.exec(header);
  if (!match) throw errors.invalidIfMatch(header);
  return Number(match[1]);
}

/** Turns a store VersionConflict into the client-facing error for a write with If-Match. */
export function asPreconditionFailure(error: unknown, expected: number): never {
  if (error instanceof VersionConflict) {
    throw errors.versionConflict(error.resourceType, error.id, String(expected), error.actual === undefined ? undefined : String(error.actual));
  }
  throw error;
}
