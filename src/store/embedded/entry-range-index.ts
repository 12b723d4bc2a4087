/**
 * Sorted in-memory indexes for range searches in the embedded store: for each
 * resource type, parameter code and numeric field of the index entries
 * (`n` of numbers and quantities, `cn` of UCUM quantities per canonical unit
 * key `k`, `lo` and `hi` of dates, ISO instants kept as strings), the (value, id) pairs in value
 * order, so that `value-quantity=gt175|…|mm[Hg]` or `date=lt2020` read the
 * ids in the range instead of testing every resource of the type.
 *
 * Like the hash index it only proposes candidates (a superset): the full filter
 * is evaluated afterwards. Writes append to an unsorted buffer and removals are
 * tombstones; both are merged into the sorted arrays when a query finds the
 * buffer grown past 1/16 of the sorted part (amortised O(1) per write,
 * O(log n + matches + buffer) per query). A removed pair still proposed before
 * its merge is only a false candidate, rejected by the filter.
 *
 * Written here rather than taken from a library: it has to share the hash
 * index's planner and the store's write path, and a sorted array with a merge
 * buffer is a few dozen lines.
 */
type Filter = Record<string, unknown>;
/** Numbers, or ISO instants compared as strings (exactly as the filter evaluation compares them). */
type Value = number | string;

class SortedPairs {
  private values: Value[] = [];
  private ids: string[] = [];
  private pendingValues: Value[] = [];
  private pendingIds: string[] = [];
  /** `${value}\u0000${id}` → how many of those pairs were removed since the last merge. */
  private removed = new Map<string, number>();

  add(value: Value, id: string): void {
    this.pendingValues.push(value);
    this.pendingIds.push(id);
  }

  remove(value: Value, id: string): void {
    const key = `${value}\u0000${id}`;
    this.removed.set(key, (this.removed.get(key) ?? 0) + 1);
  }

  /** How many pairs `collect` would visit (two binary searches and the buffer): lets the planner skip wide ranges. */
  count(lo: Value | undefined, hi: Value | undefined): number {
    this.mergeIfGrown();
    const start = lo === undefined ? 0 : lowerBound(this.values, lo);
    const end = hi === undefined ? this.values.length : upperBound(this.values, hi);
    return Math.max(0, end - start) + this.pendingValues.length;
  }

  /** Adds to `out` the ids of pairs with lo <= value <= hi, a missing bound being open (inclusive: a superset for strict bounds too). */
  collect(lo: Value | undefined, hi: Value | undefined, out: Set<string>): void {
    this.mergeIfGrown();
    for (let i = lo === undefined ? 0 : lowerBound(this.values, lo); i < this.values.length && (hi === undefined || this.values[i] <= hi); i++) out.add(this.ids[i]);
    for (let i = 0; i < this.pendingValues.length; i++) {
      const value = this.pendingValues[i];
      if ((lo === undefined || value >= lo) && (hi === undefined || value <= hi)) out.add(this.pendingIds[i]);
    }
  }

  private mergeIfGrown(): void {
    if (this.pendingValues.length + this.removed.size > Math.max(256, this.values.length >> 4)) this.merge();
  }

  private merge(): void {
    const pending = this.pendingValues;
    const order = pending.map((_, i) => i).sort((a, b) => (pending[a] < pending[b] ? -1 : pending[a] > pending[b] ? 1 : 0));
    const values: Value[] = [];
    const ids: string[] = [];
    const emit = (value: Value, id: string) => {
      if (this.removed.size > 0) {
        const key = `${value}\u0000${id}`;
        const count = this.removed.get(key);
        if (count !== undefined) {
          if (count === 1) this.removed.delete(key);
          else this.removed.set(key, count - 1);
          return;
        }
      }
      values.push(value);
      ids.push(id);
    };
    let i = 0;
    let j = 0;
    while (i < this.values.length || j < order.length) {
      if (j >= order.length || (i < this.values.length && this.values[i] <= this.pendingValues[order[j]])) {
        emit(this.values[i], this.ids[i]);
        i++;
      } else {
        emit(this.pendingValues[order[j]], this.pendingIds[order[j]]);
        j++;
      }
    }
    this.values = values;
    this.ids = ids;
    this.pendingValues = [];
    this.pendingIds = [];
    // Tombstones never matched (cannot happen for pairs that were added) would otherwise linger.
    this.removed.clear();
  }
}

function upperBound(values: Value[], target: Value): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function lowerBound(values: Value[], target: Value): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The (key, value) pairs an index entry contributes: key = field (and unit key for canonical values). */
function pairsOf(entry: Record<string, unknown>): Array<[string, Value]> {
  const pairs: Array<[string, Value]> = [];
  if (typeof entry.n === 'number') pairs.push(['n', entry.n]);
  if (typeof entry.cn === 'number' && typeof entry.k === 'string') pairs.push([`cn\u0000${entry.k}`, entry.cn]);
  for (const field of ['lo', 'hi'] as const) {
    const text = entry[field];
    if (typeof text === 'string') pairs.push([field, text]);
  }
  return pairs;
}

/** [lo, hi] from a condition's comparison operators, or undefined when it has none (or not of `kind`). */
function boundsOf(condition: unknown, kind: 'number' | 'string'): [Value | undefined, Value | undefined] | undefined {
  if (!condition || typeof condition !== 'object') return undefined;
  let lo: Value | undefined;
  let hi: Value | undefined;
  for (const [op, operand] of Object.entries(condition as Filter)) {
    if (op !== '$gt' && op !== '$gte' && op !== '$lt' && op !== '$lte') continue;
    // An operand of another type compares differently: leave such a condition to the scan.
    if (typeof operand !== kind || (kind === 'number' && Number.isNaN(operand))) return undefined;
    const value = operand as Value;
    if (op === '$gt' || op === '$gte') lo = lo === undefined || value > lo ? value : lo;
    else hi = hi === undefined || value < hi ? value : hi;
  }
  return lo === undefined && hi === undefined ? undefined : [lo, hi];
}

export class EntryRangeIndex {
  /** `${type}\u0000${code}\u0000${key}` → pairs */
  private readonly pairs = new Map<string, SortedPairs>();

  update(resourceType: string, id: string, code: string, before: unknown[] | undefined, after: unknown[] | undefined): void {
    for (const entry of before ?? []) {
      if (entry && typeof entry === 'object') for (const [key, value] of pairsOf(entry as Record<string, unknown>)) this.pairs.get(`${resourceType}\u0000${code}\u0000${key}`)?.remove(value, id);
    }
    for (const entry of after ?? []) {
      if (!entry || typeof entry !== 'object') continue;
      for (const [key, value] of pairsOf(entry as Record<string, unknown>)) {
        const name = `${resourceType}\u0000${code}\u0000${key}`;
        let sorted = this.pairs.get(name);
        if (!sorted) this.pairs.set(name, (sorted = new SortedPairs()));
        sorted.add(value, id);
      }
    }
  }

  /**
   * A superset of the ids whose entries of `code` can meet the `$elemMatch` condition's ranges, or
   * undefined — also when every range holds at least `limit` pairs (the planner has a smaller set already).
   */
  candidates(resourceType: string, code: string, cond: Filter, limit = Infinity): Set<string> | undefined {
    return this.plan(resourceType, code, cond, limit)?.collect();
  }

  /** The narrowest range (or union of ranges, for an $or) under `limit` pairs, counted before any id is collected. */
  private plan(resourceType: string, code: string, cond: Filter, limit: number): { size: number; collect(): Set<string> } | undefined {
    const ranges: Array<[string, [Value | undefined, Value | undefined] | undefined]> = [
      ['n', boundsOf(cond.n, 'number')],
      [`cn\u0000${String(cond.k)}`, typeof cond.k === 'string' ? boundsOf(cond.cn, 'number') : undefined],
      ['lo', boundsOf(cond.lo, 'string')],
      ['hi', boundsOf(cond.hi, 'string')],
    ];
    let best: { size: number; collect(): Set<string> } | undefined;
    const consider = (found: { size: number; collect(): Set<string> } | undefined) => {
      if (found && found.size < limit && (!best || found.size < best.size)) best = found;
    };
    for (const [key, range] of ranges) {
      if (!range) continue;
      const pairs = this.pairs.get(`${resourceType}\u0000${code}\u0000${key}`);
      consider({
        size: pairs ? pairs.count(range[0], range[1]) : 0,
        collect: () => {
          const found = new Set<string>();
          pairs?.collect(range[0], range[1], found);
          return found;
        },
      });
    }
    // Inside the entry condition: an $and part is a superset on its own; an $or needs every branch (date ge/le).
    if (Array.isArray(cond.$and)) for (const part of cond.$and as Filter[]) consider(this.plan(resourceType, code, part, limit));
    if (Array.isArray(cond.$or)) {
      const branches = (cond.$or as Filter[]).map((branch) => this.plan(resourceType, code, branch, limit));
      if (branches.every((b) => b !== undefined)) {
        consider({
          size: branches.reduce((sum, b) => sum + b!.size, 0),
          collect: () => {
            const union = new Set<string>();
            for (const branch of branches) for (const id of branch!.collect()) union.add(id);
            return union;
          },
        });
      }
    }
    return best;
  }
}
