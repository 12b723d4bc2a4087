/**
 * Building the writes an interaction makes, without making them: the body
 * checked (structure, then profiles), the server-assigned id and meta set, the
 * search index extracted. Pure (no store access): the single interactions,
 * batch and transaction entries, the audit trail and transaction extensions
 * (the discharge intake) build their writes with it.
 */
import { randomUUID } from 'node:crypto';
import type { WriteOperation } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import { assertKnownType, boundedIndex, checkBody, withClientMeta } from './resource-checks.js';

/**
 * The write a create makes, without making it: checks the body, takes the given
 * (server-assigned) id, extracts the index.
 */
export function createOperation(ctx: EngineContext, resourceType: string, body: unknown, id: string = randomUUID(), guardKey?: string): WriteOperation {
  assertKnownType(ctx, resourceType);
  const checked = checkBody(ctx, resourceType, body);
  const resource = withClientMeta(checked, id);
  const index = boundedIndex(ctx, resource);
  return { kind: 'put', resourceType, id, resource, index, expect: 'absent', ...(guardKey ? { guardKey } : {}) };
}

