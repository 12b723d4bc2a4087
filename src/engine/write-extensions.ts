/**
 * Write extensions for single writes (a create, update, patch or delete sent
 * alone or as a batch entry): the context such a write runs in has a store
 * whose write() asks the extensions what to add, then writes the client's
 * operations and theirs as ONE unit, as a transaction does. So the discharge
 * coordination re-evaluated after a PUT of an Encounter commits with that PUT
 * or not at all.
 *
 * Concurrency. The extensions plan from what is stored; what they write
 * expects the versions they read (or guards a creation), so a concurrent
 * writer makes the unit fail with a conflict instead of overwriting. The
 * client's own writes without a version expectation ("last write wins") are
 * pinned, for the planning, to the version they replace, since the plan may
 * depend on it (the status a nurse's answer changes). A conflict on anything
 * pinned or added here re-plans (up to MAX_ATTEMPTS); a conflict on what the
 * client itself expected is the client's, and reaches the interaction as before.
 *
 * A store without multi-document transactions (standalone MongoDB) writes the
 * client's operation first, then each added write on its own: extensions must
 * be idempotent (the next write concerning the same work repairs a crash in
 * between), which is documented where they are (docs/coordination.md).
 */
import type { Resource } from 'fhir/r4';
import { errors } from '../errors.js';
import { GuardConflict, VersionConflict, type ResourceStore, type StoredVersion, type WriteOperation } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import type { EngineSession } from './engine-session.js';
import { markServerWrite, type PreparedEntry, type WriteExtension } from './transaction-extension.js';

const MAX_ATTEMPTS = 10;

/** The context `ctx` with its store's writes extended (unchanged when no extension is configured). */
export function withWriteExtensions(ctx: EngineContext, serverSession: (reason: string) => EngineSession): EngineContext {
  const extensions = ctx.writeExtensions ?? [];
  if (extensions.length === 0) return ctx;
  const inner = ctx.store;
  const extended: EngineContext = { ...ctx };
  const write = (operations: WriteOperation[]) => extendedWrite(extended, inner, extensions, serverSession, operations);
  extended.store = new Proxy(inner, {
    get(target, property) {
      if (property === 'write') return write;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return extended;
}

function concerned(extension: WriteExtension, operations: readonly WriteOperation[]): boolean {
  return !extension.types || operations.some((op) => extension.types!.has(op.resourceType));
}

async function extendedWrite(
  ctx: EngineContext,
  inner: ResourceStore,
  extensions: WriteExtension[],
  serverSession: (reason: string) => EngineSession,
  operations: WriteOperation[],
): Promise<StoredVersion[]> {
  const active = extensions.filter((e) => concerned(e, operations));
  if (active.length === 0) return inner.write(operations);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const currents = await Promise.all(operations.map((op) => inner.readCurrent(op.resourceType, op.id)));
    // Pinned to what the plan is made from; "last write wins" is kept by re-planning on a conflict.
    const pinnedKeys = new Set<string>();
    // Only a live version is pinned: an update as create keeps `expect` unset, which is how the
    // access layer tells it from a create (and refuses client-chosen ids to whom it must).
    const pinned = operations.map((op, i) => {
      const current = currents[i];
      if (op.expect !== undefined || !current || current.deleted) return op;
      pinnedKeys.add(`${op.resourceType}/${op.id}`);
      return { ...op, expect: current.versionId };
    });
    const entries = pinned.map((op, i) => entryOf(op, currents[i]));
    const added: WriteOperation[] = [];
    for (const extension of active) {
      const server = serverSession(`write extension ${extension.name}`);
      added.push(...(await extension.beforeCommit({ ctx, server, entries, operations: pinned })).map(markServerWrite));
    }
    if (added.length === 0) return inner.write(operations);
    try {
      if (!inner.capabilities.atomicMultiWrite) return await writeOneByOne(inner, pinned, added);
      const versions = await inner.write([...pinned, ...added]);
      return versions.slice(0, operations.length);
    } catch (error) {
      if (!ownConflict(error, pinnedKeys, added)) throw error;
      // A randomised, growing wait, so racing writers do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(1000, 4 * 2 ** attempt)));
    }
  }
  throw errors.concurrentUpdateConflict(operations[0].resourceType, operations[0].id);
}

function entryOf(op: WriteOperation, current: StoredVersion | undefined): PreparedEntry {
  const live = current && !current.deleted ? current.resource : undefined;
  const previous: { previous?: Resource } = live ? { previous: live } : {};
  if (op.kind === 'delete') return { index: 0, resourceType: op.resourceType, id: op.id, outcome: 'deleted', ...previous };
  return { index: 0, resourceType: op.resourceType, id: op.id, outcome: live ? 'updated' : 'created', ...(op.resource ? { resource: op.resource } : {}), ...previous };
}

/** A conflict on a write this layer added or pinned (re-planned), not on the client's own expectation. */
function ownConflict(error: unknown, pinnedKeys: Set<string>, added: WriteOperation[]): boolean {
  if (error instanceof VersionConflict) {
    const key = `${error.resourceType}/${error.id}`;
    return pinnedKeys.has(key) || added.some((op) => `${op.resourceType}/${op.id}` === key);
  }
  if (error instanceof GuardConflict) return added.some((op) => op.guardKey === error.guardKey);
  return false;
}

/**
 * Without multi-document transactions: the client's write first (as it would
 * be without extensions), then each added write alone. An added write that
 * conflicts was overtaken by a concurrent write that planned its own; it is
 * dropped, since the extensions' work is recomputed from the stored state on
 * every write concerning it.
 */
async function writeOneByOne(inner: ResourceStore, pinned: WriteOperation[], added: WriteOperation[]): Promise<StoredVersion[]> {
  const versions = await inner.write(pinned);
  for (const op of added) {
    try {
      await inner.write([op]);
    } catch (error) {
      if (!(error instanceof VersionConflict || error instanceof GuardConflict)) throw error;
    }
  }
  return versions;
}
