/**
 * Write extensions: hooks that add the server's own writes to the unit of work
 * of a client's write, so what they add commits — or fails — with it: never
 * lost, and, with conditional-create guards and version expectations, never
 * done twice. They run
 * - for a transaction, after every entry has been prepared (identities
 *   resolved, references rewritten, bodies checked) and before its one
 *   store.write (interactions/transaction.ts);
 * - for a single create, update, patch or delete (a batch entry included),
 *   inside its store.write (./write-extensions.ts), where a conflict on what
 *   they add re-plans them.
 * The discharge coordination of src/coordination is one (plugged in by
 * src/context.ts: the engine imports no workflow).
 */
import type { Bundle, Resource } from 'fhir/r4';
import type { WriteOperation } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import type { EngineSession } from './engine-session.js';

export interface PreparedEntry {
  /** Position in the request Bundle (0 for a single write). */
  index: number;
  resourceType: string;
  id: string;
  /** created / updated: written by this unit; existing: a conditional create matched; deleted. */
  outcome: 'created' | 'updated' | 'existing' | 'deleted';
  /** The resource as it will be once committed (references rewritten), or as stored when existing. */
  resource?: Resource;
  /** The version this write replaces or deletes (updated, deleted), as stored before it. */
  previous?: Resource;
}

export interface PreparedWrite {
  /** For building the extension's writes (createOperation); its reads go through `server`. */
  ctx: EngineContext;
  /** The server's session, named after the extension: what it reads to plan its writes. */
  server: EngineSession;
  /** The request Bundle as received, for a transaction (absent for a single write). */
  bundle?: Bundle;
  entries: PreparedEntry[];
  /** The writes about to be committed (extensions must not write the same resources). */
  operations: readonly WriteOperation[];
}

export interface WriteExtension {
  name: string;
  /**
   * The resource types whose writes may concern it: a single write of any other
   * type skips it without reading anything (absent: every type).
   */
  types?: ReadonlySet<string>;
  /**
   * Extra writes for the same unit of work; an empty array when there is
   * nothing to add. A FhirError refuses the whole write (the client gets it).
   */
  beforeCommit(write: PreparedWrite): Promise<WriteOperation[]>;
}

/** The names the first extension (the discharge intake, transactions only) had. */
export type TransactionExtension = WriteExtension;
export type PreparedTransaction = PreparedWrite;

/**
 * Marks the writes an extension adds as the server's own (not the caller's):
 * the access layer checks them as server writes (creates of new resources and
 * updates of existing ones at the version read, never deletions, never the
 * audit trail) instead of against the caller's grants, does not stamp them
 * with the caller's meta.source, and still audits them. A symbol,
 * so nothing a client sends (JSON) can carry the mark.
 */
export const SERVER_WRITE: unique symbol = Symbol('relais.server-write');

export function markServerWrite(operation: WriteOperation): WriteOperation {
  (operation as WriteOperation & { [SERVER_WRITE]?: true })[SERVER_WRITE] = true;
  return operation;
}

export function isServerWrite(operation: WriteOperation): boolean {
  return (operation as WriteOperation & { [SERVER_WRITE]?: true })[SERVER_WRITE] === true;
}

/**
 * How the conditional criteria of a restricted caller's transaction are
 * matched (If-None-Exist, conditional references): only over what the caller
 * may reach by this route, so a match reveals nothing else (see
 * src/access/conditional-scope.ts). Absent: the server acting for itself, or a
 * caller who sees everything — every resource is matched.
 */
export interface ConditionalScope {
  /**
   * For a conditional match on `resourceType` with these criteria: the filter
   * ANDed into each store query the match makes, by the types that query reads
   * (undefined: not restricted), and the scope its conditional-create guard key
   * is taken in ('global' for a match over everything, else a per-caller name,
   * so a hidden resource holding the same criteria never races the caller's).
   */
  forCriteria(resourceType: string, criteria: Array<[string, string]>): { filterFor(types: readonly string[]): Promise<Record<string, unknown> | undefined>; guardScope: string };
}
