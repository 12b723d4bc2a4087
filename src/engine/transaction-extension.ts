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
  ctx: EngineContext;
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
