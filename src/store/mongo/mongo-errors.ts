/**
 * Recognising the MongoDB failures the store turns into control flow.
 */
import { MongoServerError } from 'mongodb';

/** E11000: a unique index (or _id) refused a second document with the same key. */
export function isDuplicateKey(error: unknown): boolean {
  // insertMany(ordered: false) reports each failed document: all must be duplicates.
  const writeErrors = (error as { writeErrors?: unknown } | undefined)?.writeErrors;
  if (writeErrors !== undefined) {
    const list = (Array.isArray(writeErrors) ? writeErrors : [writeErrors]) as Array<{ code?: number }>;
    return list.length > 0 && list.every((e) => e.code === 11000);
  }
  return error instanceof MongoServerError && error.code === 11000;
}

/**
 * Inside a transaction, another writer changed what this one read: the whole
 * transaction is abandoned and re-run from its reads (which then see the
 * winner's result and decide again).
 */
export class TransactionRace extends Error {
  constructor() {
    super('concurrent write inside a transaction; retrying');
    this.name = 'TransactionRace';
  }
}
