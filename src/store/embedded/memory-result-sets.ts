/**
 * The embedded store's stored result sets (paging snapshots): in process
 * memory. That is enough here because one process only ever serves an
 * embedded store: open() takes the data folder's lock file (relais.lock, with
 * the holder's pid) and refuses to start while another live process holds it,
 * so no other instance can be handed one of these cursors. A restart forgets
 * them (the client gets the 410 asking it to search again).
 *
 * Compact representation, because a set holds every match of a search (a
 * million for a broad one on a large network): the ids in one array (the
 * strings are the store's own, not copies) and the type of each as a small
 * number into the set's list of types (none at all when there is one type), i.e.
 * about 10 bytes per match instead of an object per match (about 48).
 */
import type { MatchRef, ResultSetLimits, ResultSetSlice } from '../resource-store.js';

interface MemoryResultSet {
  owner: string;
  ids: string[];
  types: string[];
  /** Index into `types` of each id; absent when the set has a single type. */
  typeOf?: Uint8Array | Uint16Array;
  lastUsed: number;
}

export class MemoryResultSets {
  /** Insertion order = least recently used first (a use re-inserts). */
  private readonly sets = new Map<string, MemoryResultSet>();
  private readonly clock: () => number;

  constructor(private readonly limits: ResultSetLimits) {
    this.clock = limits.clock ?? Date.now;
  }

  save(cursor: string, owner: string, refs: readonly MatchRef[]): void {
    this.evict();
    const ids = new Array<string>(refs.length);
    const types: string[] = [];
    const typeNumbers = new Map<string, number>();
    let typeOf: Uint8Array | Uint16Array | undefined;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i];
      ids[i] = ref.id;
      let n = typeNumbers.get(ref.resourceType);
      if (n === undefined) {
        n = types.push(ref.resourceType) - 1;
        typeNumbers.set(ref.resourceType, n);
        // A second type appears: from now on each match records its type (earlier ones were all type 0).
        if (n === 1) typeOf = new Uint8Array(refs.length);
        if (n === 256) typeOf = Uint16Array.from(typeOf!); // more than 256 types (R4 has 146; profiles add none)
      }
      if (typeOf) typeOf[i] = n;
    }
    this.sets.set(cursor, { owner, ids, types, ...(typeOf ? { typeOf } : {}), lastUsed: this.clock() });
  }

  load(cursor: string, owner: string, offset: number, count: number): ResultSetSlice | undefined {
    const set = this.sets.get(cursor);
    if (!set || set.owner !== owner) return undefined;
    const now = this.clock();
    if (now - set.lastUsed > this.limits.idleMs) {
      this.sets.delete(cursor);
      return undefined;
    }
    set.lastUsed = now;
    this.sets.delete(cursor);
    this.sets.set(cursor, set);
    const end = Math.min(set.ids.length, offset + count);
    const refs: MatchRef[] = [];
    for (let i = offset; i < end; i++) refs.push({ resourceType: set.types[set.typeOf ? set.typeOf[i] : 0], id: set.ids[i] });
    return { total: set.ids.length, refs };
  }

  private evict(): void {
    const now = this.clock();
    for (const [cursor, set] of this.sets) if (now - set.lastUsed > this.limits.idleMs) this.sets.delete(cursor);
    while (this.sets.size >= this.limits.maxSets) this.sets.delete(this.sets.keys().next().value!);
  }
}
