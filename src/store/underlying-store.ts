/**
 * The key under which a store wrapper (the engine's access-checking views of
 * the store, src/access/engine-access.ts) exposes the object per-store
 * registries (paging result sets) should be keyed on: the store it wraps, or
 * a per-caller key so that one caller's entries are invisible to another.
 */
export const UNDERLYING_STORE = Symbol.for('relais.store.underlying');

export function underlyingStore(store: object): object {
  return (store as Record<symbol, object | undefined>)[UNDERLYING_STORE] ?? store;
}
