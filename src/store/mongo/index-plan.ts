/**
 * The MongoDB index plan, created idempotently at every start (createIndexes
 * with the same name and keys is a no-op). Every index here is a plain
 * (non-partial, non-sparse) B-tree index so that it means the same thing on
 * MongoDB and on wire-protocol emulations, some of which accept a
 * partialFilterExpression but ignore it (mongo-java-server does).
 *
 * Search indexes: the search compiler (src/search/search-query.ts) matches
 * index entries with `{ 'idx.<code>': { $elemMatch: { s, c } } }` and
 * friends. A compound multikey index on `{ type, 'idx.<code>.<f1>', 'idx.<code>.<f2>' }`
 * serves such an $elemMatch with bounds on every listed field (the fields share
 * the one array `idx.<code>`, which MongoDB allows in one compound index), and
 * an anchored `$regex: '^prefix'` on a string entry's `v` becomes an index
 * range. Parameters not listed are still searchable, by scanning the type's
 * current versions (`type_id`): add an entry here when a search becomes hot.
 */
import type { IndexDescription } from 'mongodb';

/** Search parameter code → the entry fields its queries constrain, most selective first. */
export const SEARCH_INDEXES: Record<string, string[]> = {
  identifier: ['s', 'c'], // token: system|value (also :of-type's c)
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
  _tag: ['s', 'c'],
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
