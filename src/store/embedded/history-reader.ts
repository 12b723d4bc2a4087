/**
 * History for the embedded store, newest first (R4 http page), read from the
 * ordered logs of lmdb-layout.ts: an instance's versions, the type log
 * [type, lastUpdated, seq] or the system log [lastUpdated, seq]. `since` and
 * `at` are range bounds of those keys, so a window costs what it holds. Without
 * a filter, the total is LMDB's count of the range and only the page's versions
 * are read; with one, each version in the window is judged on the index
 * entries written with it (HistoryQuery.filter).
 *
 * All its reads use one explicit LMDB read transaction (one snapshot), while a
 * long filtered walk yields to the event loop (pacer.ts).
 */
import type { Transaction } from 'lmdb';
import type { HistoryPage, HistoryQuery, StoredVersion } from '../resource-store.js';
import { filterTest } from './filter-test.js';
import { HIGHEST } from './index-keys.js';
import type { Layout } from './lmdb-layout.js';
import { Pacer } from './pacer.js';
import { storedVersion } from './unit-writer.js';

type Ref = [resourceType: string, id: string, versionId: number];

export async function readHistory(layout: Layout, transaction: Transaction, query: HistoryQuery): Promise<HistoryPage> {
  const test = query.filter ? filterTest(query.filter) : undefined;
  const inTxn = { transaction };
  const pacer = new Pacer();
  const judge = (ref: Ref, lastUpdated: string) =>
    !test || test({ id: ref[1], type: ref[0], lastUpdated, idx: layout.entries.get(ref, inTxn) ?? {} });
  const page: Ref[] = [];
  let total = 0;
  const take = async (ref: Ref) => {
    if (total >= query.offset && page.length < query.count) page.push(ref);
    total++;
  };

  if (query.id !== undefined && query.resourceType) {
    const { resourceType, id } = query;
    for (const { key, value } of layout.versions.getRange({ start: [resourceType, id, Number.MAX_SAFE_INTEGER], end: [resourceType, id, 0], reverse: true, ...inTxn })) {
      if (query.at && value.lu > query.at) continue;
      if (query.since && value.lu <= query.since) break;
      const ref: Ref = [resourceType, id, key[2]];
      if (judge(ref, value.lu)) await take(ref);
      await pacer.pace();
    }
  } else if (query.resourceType) {
    const type = query.resourceType;
    // Forward bounds: (since, at]; keys are [type, lastUpdated, seq].
    const lower = query.since ? [type, query.since, Infinity] : [type];
    const upper = query.at ? [type, query.at, Infinity] : [type, HIGHEST];
    if (!test) {
      total = layout.typeLog.getKeysCount({ start: lower as never, end: upper as never, ...inTxn });
      if (query.count > 0) {
        for (const { value } of layout.typeLog.getRange({ start: upper as never, end: lower as never, reverse: true, offset: query.offset, limit: query.count, ...inTxn })) page.push([type, value[0], value[1]]);
      }
    } else {
      for (const { key, value } of layout.typeLog.getRange({ start: upper as never, end: lower as never, reverse: true, ...inTxn })) {
        const ref: Ref = [type, value[0], value[1]];
        if (judge(ref, key[1])) await take(ref);
        // Every version judged counts, taken or not: a restricted caller's walk rejects most of them.
        await pacer.pace();
      }
    }
  } else {
    // Keys are [lastUpdated, seq].
    const lower = query.since ? [query.since, Infinity] : undefined;
    const upper = query.at ? [query.at, Infinity] : undefined;
    const bounds = { ...(lower ? { start: lower } : {}), ...(upper ? { end: upper } : {}), ...inTxn } as never;
    const newestFirst = { ...(upper ? { start: upper } : {}), ...(lower ? { end: lower } : {}), reverse: true, ...inTxn } as const;
    if (!test) {
      total = layout.log.getKeysCount(bounds);
      if (query.count > 0) for (const { value } of layout.log.getRange({ ...(newestFirst as object), offset: query.offset, limit: query.count })) page.push(value);
    } else {
      for (const { key, value } of layout.log.getRange(newestFirst as never)) {
        if (judge(value, key[0])) await take(value);
        await pacer.pace();
      }
    }
  }

  const versions: StoredVersion[] = [];
  for (const [resourceType, id, versionId] of page) {
    const record = layout.versions.get([resourceType, id, versionId], inTxn);
    if (record) versions.push(storedVersion(resourceType, id, versionId, record));
  }
  return { total, versions };
}
