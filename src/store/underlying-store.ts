/**
 * The key under which a store wrapper (the engine's access-checking views of
 * the store, src/access/engine-access.ts) exposes the store it wraps, so that
 * registries kept per store instance (paging result sets) treat the wrapper
 * and the store as one.
 */
export const UNDERLYING_STORE = Symbol.for('relais.store.underlying');

export function underlyingStore(store: object): object {
  return (store as Record<symbol, object | undefined>)[UNDERLYING_STORE] ?? store;
}
