/**
 * Who owns the paging snapshots (stored result sets) a search makes: a store
 * wrapper (the engine's access-checking views of the store,
 * src/access/listing-guard.ts) names its caller under RESULT_SET_OWNER, so a
 * cursor is usable by that caller only; anyone else gets the same 410 as for
 * an unknown cursor. A bare store has no owner (unauthenticated deployments).
 */
export const RESULT_SET_OWNER = Symbol.for('relais.store.resultSetOwner');

export function resultSetOwner(store: object): string | undefined {
  return (store as Record<symbol, string | undefined>)[RESULT_SET_OWNER];
}
