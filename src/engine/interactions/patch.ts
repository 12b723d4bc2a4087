/**
 * patch with JSON Patch (R4 http page, "patch"; RFC 6902 via fast-json-patch).
 * The patched resource must still be valid and keep its type and id; a failed
 * `test` operation or an invalid path is a 422 and changes nothing.
 */
import jsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import type { Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import { VersionConflict, type StoredVersion } from '../../store/resource-store.js';
import { matchCriteria, parseCriteria } from '../conditional.js';
import type { EngineContext } from '../engine-context.js';
import type { VersionResult } from '../interaction-result.js';
import { assertBoundedArrays, assertKnownType, assertValidId, boundedIndex, withClientMeta } from '../resource-checks.js';
import { asPreconditionFailure, versionRequiredBy, type IfMatch } from '../version-expectation.js';
import { read } from './read.js';

const MAX_ATTEMPTS = 5;

function checkPatchDocument(patch: unknown): Operation[] {
  if (!Array.isArray(patch)) throw errors.invalidPatch('the body must be a JSON array of operations');
  const problem = jsonPatch.validate(patch as Operation[]);
  if (problem) throw errors.invalidPatch(`${problem.name}: ${problem.message.split('\n')[0]}`);
  return patch as Operation[];
}

/**
 * The resource a JSON Patch turns `current` into, checked (same identity, structurally
 * valid) but not stored; batch/transaction entries use it too.
 */
export function applyPatchDocument(ctx: EngineContext, current: StoredVersion, patchDocument: unknown): Resource {
  const operations = checkPatchDocument(patchDocument);
  const { resourceType, id } = current;
  let patched: Resource;
  try {
    patched = jsonPatch.applyPatch(structuredClone(current.resource!), operations, true, false).newDocument;
  } catch (error) {
    throw errors.patchFailed((error as Error).message.split('\n')[0]);
  }
  if (patched?.resourceType !== resourceType || patched.id !== id) throw errors.patchChangedIdentity();
  assertBoundedArrays(ctx.limits, patched);
  const issues = ctx.validator.validate(patched);
  if (issues.length > 0) throw errors.patchedResourceInvalid(issues);
  return withClientMeta(patched, id);
}

export async function patch(ctx: EngineContext, resourceType: string, id: string, patchDocument: unknown, options: { ifMatch?: IfMatch } = {}): Promise<VersionResult> {
  assertKnownType(ctx, resourceType);
  assertValidId(id);
  const operations = checkPatchDocument(patchDocument);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await read(ctx, resourceType, id);
    if (options.ifMatch !== undefined) versionRequiredBy(options.ifMatch, resourceType, id, current);
    const resource = applyPatchDocument(ctx, current, operations);
    try {
      const [version] = await ctx.store.write([
        { kind: 'put', resourceType, id, resource, index: boundedIndex(ctx, resource), expect: current.versionId },
      ]);
      return { status: 200, version };
    } catch (error) {
      if (options.ifMatch !== undefined) asPreconditionFailure(error, options.ifMatch);
      if (!(error instanceof VersionConflict)) throw error;
      // The resource changed while we patched it: patch the new version.
    }
  }
  throw errors.concurrentUpdateConflict(resourceType, id);
}

export async function conditionalPatch(ctx: EngineContext, resourceType: string, query: string, patchDocument: unknown, options: { ifMatch?: IfMatch } = {}): Promise<VersionResult> {
  assertKnownType(ctx, resourceType);
  const { matches } = await matchCriteria(ctx, resourceType, parseCriteria(query), 'patch');
  if (matches.length === 0) throw errors.notFound(resourceType, `?${query}`);
  if (matches.length > 1) throw errors.multipleMatches('patch', matches.length);
  return patch(ctx, resourceType, matches[0].id, patchDocument, options);
}
