/**
 * A view of the store with some methods replaced (restricted searches,
 * checked and audited writes); every other member is the store's own, bound
 * to it. `resultSetOwner` names the caller under RESULT_SET_OWNER: the paging
 * snapshots its searches store are usable by that caller only. Given as a
 * function, it is called once, when first asked: most searches keep no snapshot
 * (one page holds all their matches), and a listing's owner is a SHA-256 of its
 * access filter (2 % of a nurse's `_include` search, profiled, issue 17).
 */
import type { ResourceStore } from '../store/resource-store.js';
import { RESULT_SET_OWNER } from '../store/result-set-owner.js';

export function storeView(inner: ResourceStore, overrides: Partial<ResourceStore>, resultSetOwner?: string | (() => string)): ResourceStore {
  let owner = typeof resultSetOwner === 'function' ? undefined : resultSetOwner;
  return new Proxy(inner, {
    get(target, property) {
      if (property === RESULT_SET_OWNER) return (owner ??= typeof resultSetOwner === 'function' ? resultSetOwner() : undefined);
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof ResourceStore];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
