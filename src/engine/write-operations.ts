/**
 * Building the writes an interaction makes, without making them: the body
 * checked (structure, then profiles), the server-assigned id and meta set, the
 * search index extracted. Pure (no store access): the single interactions,
 * batch and transaction entries, the audit trail and write extensions
 * (the discharge coordination) build their writes with it.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4';
import type { IndexEntries, WriteOperation } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import { assertKnownType, boundedIndex, checkBody, withClientMeta } from './resource-checks.js';

/**
 * The write a create makes, without making it: checks the body, takes the given
 * (server-assigned) id, extracts the index (bounded by LIMIT_INDEX_VALUES).
 */
export function createOperation(ctx: EngineContext, resourceType: string, body: unknown, id: string = randomUUID(), guardKey?: string): WriteOperation {
  assertKnownType(ctx, resourceType);
  const checked = checkBody(ctx, resourceType, body);
  const resource = withClientMeta(checked, id);
  const index = boundedIndex(ctx, resource);
  return { kind: 'put', resourceType, id, resource, index, expect: 'absent', ...(guardKey ? { guardKey } : {}) };
}

/**
 * createOperation, for a create (single or a transaction's entry): a big body is checked and indexed by a
 * body worker (src/body-work) when the engine has them, so that validating and
 * indexing several megabytes does not hold the event loop; the checks and the
 * answer are the same (resource-checks.ts `checkedWrite`).
 */
export async function createOperationOffThread(ctx: EngineContext, resourceType: string, body: unknown, id: string = randomUUID(), guardKey?: string): Promise<WriteOperation> {
  assertKnownType(ctx, resourceType);
  const offThread = await ctx.bigBodies?.check('create', resourceType, id, body);
  if (!offThread) return createOperation(ctx, resourceType, body, id, guardKey);
  return { kind: 'put', resourceType, id, resource: withClientMeta(body as Resource, id), index: offThread.index, expect: 'absent', ...(guardKey ? { guardKey } : {}) };
}

/**
 * The write of a record the server itself composes from typed code (the audit
 * trail): neither validated again nor bounded like what clients send — its
 * builder is checked against the R4 and network rules by the test suite
 * (test/auth/audit-trail.test.ts), an AuditEvent names every patient a page
 * of 1,000 results touched, and it must be written for the access it records
 * to be answered. Validating it on every access cost a third of a read.
 * `indexOf`: its index entries (default: the extractor's; the audit trail's own
 * indexer gives the same entries, faster: src/audit/audit-index.ts).
 */
export function serverRecordOperation<T extends Resource>(ctx: EngineContext, resource: T, id: string = randomUUID(), indexOf: (stored: T) => IndexEntries = (stored) => ctx.extractor.extract(stored)): WriteOperation {
  assertKnownType(ctx, resource.resourceType);
  const stored = withClientMeta(resource, id);
  return { kind: 'put', resourceType: resource.resourceType, id, resource: stored, index: indexOf(stored), expect: 'absent' };
}


/**
 * The write an update makes, without making it: checks the body (structure,
 * then profiles), keeps its id, extracts the index, and expects `expect` (the
 * version the writer read), so a concurrent change makes the unit fail rather
 * than be overwritten. Write extensions (re-evaluating the discharge
 * coordination) build their updates with it.
 */
export function updateOperation<T extends Resource>(ctx: EngineContext, resource: T, expect: number): WriteOperation {
  assertKnownType(ctx, resource.resourceType);
  const checked = checkBody(ctx, resource.resourceType, resource);
  const stored = withClientMeta(checked, resource.id!);
  return { kind: 'put', resourceType: stored.resourceType, id: stored.id!, resource: stored, index: boundedIndex(ctx, stored), expect };
}
