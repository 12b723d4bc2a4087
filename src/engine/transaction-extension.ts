/**
 * A hook that adds writes to a transaction's single unit of work, after every
 * entry has been prepared (identities resolved, references rewritten, bodies
 * checked) and before the one store.write that commits them. What it adds
 * commits — or fails — with the transaction: it is never lost and, when it
 * carries conditional-create guards, never done twice. The discharge intake
 * (src/coordination) is one.
 */
import type { Bundle, Resource } from 'fhir/r4';
import type { WriteOperation } from '../store/resource-store.js';
import type { EngineContext } from './engine-context.js';
import type { EngineSession } from './engine-session.js';

export interface PreparedEntry {
  /** Position in the request Bundle. */
  index: number;
  resourceType: string;
  id: string;
  /** created / updated: written by this transaction; existing: a conditional create matched; deleted. */
  outcome: 'created' | 'updated' | 'existing' | 'deleted';
  /** The resource as it will be once committed (references rewritten), or as stored when existing. */
  resource?: Resource;
}

export interface PreparedTransaction {
  /** For building the extension's writes (createOperation); its reads go through `server`. */
  ctx: EngineContext;
  /** The server's session, named after the extension: what it reads to plan its writes. */
  server: EngineSession;
  /** The request Bundle as received. */
  bundle: Bundle;
  entries: PreparedEntry[];
  /** The writes about to be committed (extensions must not write the same resources). */
  operations: readonly WriteOperation[];
}

export interface TransactionExtension {
  name: string;
  /** Extra writes for the same unit of work; an empty array when there is nothing to add. */
  beforeCommit(transaction: PreparedTransaction): Promise<WriteOperation[]>;
}

/**
 * Marks the writes an extension adds as the server's own (not the caller's):
 * the access layer checks them as server writes (creates of new resources,
 * never the audit trail) instead of against the caller's grants, does not
 * stamp them with the caller's meta.source, and still audits them. A symbol,
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
