/**
 * The MongoDB index plan, created idempotently at every start (createIndexes
 * with the same name and keys is a no-op). Every index here is a plain
 * (non-partial, non-sparse) B-tree index so that it means the same thing on
 * MongoDB and on wire-protocol emulations, some of which accept a
 * partialFilterExpression but ignore it (mongo-java-server does).
 *
 * Search indexes: the search compiler (src/search/search-query.ts and
 * parameter-clauses.ts) matches index entries with
 * `{ 'idx.<code>': { $elemMatch: <condition on the entry's fields> } }`. A
 * compound multikey index on `{ type, 'idx.<code>.<f1>', 'idx.<code>.<f2>' }`
 * serves such an $elemMatch with bounds on every listed field (the fields share
 * the one array `idx.<code>`, which MongoDB allows in one compound index), and
 * an anchored `$regex: '^prefix'` on a string entry's `v` becomes an index
 * range. The first field after `type` is the one every value form of the
 * parameter type constrains (what the compiler emits, per type):
 * - token `code`, `system|code`, `|code`, `:of-type` → `c` (and `s`): index `c, s`
 *   (`system|` alone bounds only `s`: an index scan on the type, no fetch);
 * - reference `Type/id`, `id` with one target type, chains (`$in`) → `r`;
 *   a bare id on a parameter with several target types (`subject=123`) is
 *   `i`, not indexed: write `subject=Patient/123`;
 * - string default starts-with → anchored regex on `v` (`:contains` scans the
 *   index keys, `:exact` on `e` is not indexed);
 * - date `eq`, `lt`, `le`, `eb`, `ap` bound `lo`; `gt`, `ge`, `sa` bound `hi` only
 *   (the index serves them as a key scan of the type, without fetching documents);
 * - quantity with a UCUM unit → canonical key `k` and canonical value `cn`;
 * - near → bounding box on `lat`, `lon`.
 * `_id` and chains' and `_has`' results are `{ id: { $in } }` (index type_id);
 * `_lastUpdated` uses type_lastUpdated. Every query also carries `type` and
 * `deleted: false` (a residual condition: deleted resources are a small minority).
 * Parameters not listed are still searchable, by scanning the type's current
 * versions (`type_id`): add an entry here when a search becomes hot.
 * test/search/index-plan.test.ts checks that the typical queries of the
 * network (those of scripts/bench-search.ts) each have a clause bounding the
 * leading field of one of these indexes.
 */
import type { IndexDescription } from 'mongodb';

/** Search parameter code → the entry fields its queries constrain, leading (always constrained) field first. */
export const SEARCH_INDEXES: Record<string, string[]> = {
  identifier: ['c', 's'], // token: value (with or without its system), also :of-type's c
  patient: ['r'], // reference: Type/id
  subject: ['r'],
  encounter: ['r'],
  code: ['c', 's'], // token: code alone or system|code
  status: ['c'],
  name: ['v'], // string: normalised, prefix regex
  family: ['v'],
  given: ['v'],
  birthdate: ['lo', 'hi'], // date: range overlap
  date: ['lo', 'hi'],
  'value-quantity': ['k', 'cn'], // quantity in UCUM units: canonical unit key and value
  near: ['lat', 'lon'], // Location.position bounding box
  _tag: ['c', 's'],
};

/** Current versions: one document per resource. */
export function resourceIndexes(): IndexDescription[] {
  return [
    // Type scans, _id searches, the default sort (type, id) and the unique identity.
    { key: { type: 1, id: 1 }, name: 'type_id', unique: true },
    // _lastUpdated searches and sorts.
    { key: { type: 1, lastUpdated: 1 }, name: 'type_lastUpdated' },
    ...Object.entries(SEARCH_INDEXES).map(
      ([code, fields]): IndexDescription => ({
        key: { type: 1, ...Object.fromEntries(fields.map((f) => [`idx.${code}.${f}`, 1])) },
        name: `idx_${code}`,
      }),
    ),
  ];
}

/**
 * Search indexes (named `idx_<code>`) left by an older plan: dropped at start
 * before the plan is created, so that a changed key order replaces the old index
 * (createIndexes would refuse a known name with other keys) and an index
 * dropped from the plan stops costing writes.
 */
export function staleSearchIndexes(existing: Array<{ name?: string; key: Record<string, unknown> }>): string[] {
  const planned = new Map(resourceIndexes().map((index) => [index.name, JSON.stringify(index.key)]));
  return existing
    .filter((index) => index.name?.startsWith('idx_') && planned.get(index.name) !== JSON.stringify(index.key))
    .map((index) => index.name!);
}

/** Every version ever written: instance, type and system history. */
export function historyIndexes(): IndexDescription[] {
  return [
    // No two writes can ever record the same version of a resource.
    { key: { type: 1, id: 1, versionId: 1 }, name: 'type_id_versionId', unique: true },
    // Newest first, with _id as the tiebreaker the store sorts by.
    { key: { lastUpdated: -1, _id: -1 }, name: 'lastUpdated_id' },
    { key: { type: 1, lastUpdated: -1, _id: -1 }, name: 'type_lastUpdated_id' },
  ];
}
