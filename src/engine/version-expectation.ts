/**
 * If-Match (R4 http page, "Managing Resource Contention"): the client sends the
 * ETag it read, W/"<versionId>"; the write happens only if that is still current.
 * HTTP itself (RFC 9110 §13.1.1) also allows a list of entity tags (any of them
 * current) and "*" (the resource has a current representation); both are
 * honoured, so a generic HTTP client's conditional request means what it says.
 */
import { errors } from '../errors.js';
import { VersionConflict, type StoredVersion } from '../store/resource-store.js';

/** One version (the common case), several acceptable versions, or any current one ("*"). */
export type IfMatch = number | { anyOf: number[] } | '*';

const ENTITY_TAG = /^(?:W\/)?"([1-9][0-9]{0,15})"$/;

export function parseIfMatch(header: string | undefined): IfMatch | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === '*') return '*';
  const versions = header.split(',').map((tag) => ENTITY_TAG.exec(tag.trim()));
  if (versions.length === 0 || versions.some((m) => !m)) throw errors.invalidIfMatch(header);
  const distinct = [...new Set(versions.map((m) => Number(m![1])))];
  return distinct.length === 1 ? distinct[0] : { anyOf: distinct };
}

/** The condition as the 412 message names it. */
export function describeIfMatch(ifMatch: IfMatch): string {
  if (ifMatch === '*') return '* (any current version)';
  return typeof ifMatch === 'number' ? String(ifMatch) : `one of ${ifMatch.anyOf.join(', ')}`;
}

/**
 * The version a conditional write must find current (its store expectation,
 * so the check and the write stay atomic), or a 412 when the resource's
 * current state does not satisfy the condition (absent or deleted included).
 */
export function versionRequiredBy(ifMatch: IfMatch, resourceType: string, id: string, current: StoredVersion | undefined): number {
  const live = current && !current.deleted ? current.versionId : undefined;
  const satisfied = live !== undefined && (ifMatch === '*' || (typeof ifMatch === 'number' ? ifMatch === live : ifMatch.anyOf.includes(live)));
  if (!satisfied) throw errors.versionConflict(resourceType, id, describeIfMatch(ifMatch), live === undefined ? undefined : String(live));
  return live;
}

/** Turns a store VersionConflict into the client-facing error for a write with If-Match. */
export function asPreconditionFailure(error: unknown, expected: IfMatch): never {
  if (error instanceof VersionConflict) {
    throw errors.versionConflict(error.resourceType, error.id, describeIfMatch(expected), error.actual === undefined ? undefined : String(error.actual));
  }
  throw error;
}
