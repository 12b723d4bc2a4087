/**
 * Search keys for positions (`near`, Location.position, indexed as `{ lat, lon }` entries):
 * `[type, code, 'lat', latitude, id]` (index-keys.ts), so that the planner reads the ids of a
 * `near` box's latitude band (candidate-planner.ts) instead of judging every Location's entries:
 * at 1,000,000 resources (50 Locations) `near` cost 1.68–1.76× the in-heap indexes (docs/performance.md,
 * "Issue 19, ninth session").
 *
 * Folders written before these keys existed hold none: a band read there would miss every
 * Location. So a folder carries a mark in `meta` once its positions have keys; until then the
 * layout treats `near` as a parameter without keys (lmdb-layout.ts, UNKEYED_PARAMETERS: the
 * planner never reads keys of it, the filter evaluation judges every Location, as before), and the
 * first opening for writing adds the missing keys (addMissingPositionKeys) before the store serves
 * anything. R4 defines `near` on Location only, and the index extractor writes position entries for
 * `near` only (search-parameters.ts, indexedFor): those are the entries read here.
 */
import type { Layout } from './lmdb-layout.js';
import { HIGHEST, indexKeysOf, type UnkeyedParameters } from './index-keys.js';
import { Pacer } from './pacer.js';

/** `meta` entry present (true) once every live Location's position has its keys. */
export const POSITION_KEYS_MARK = 'positionKeys';

const POSITION_TYPE = 'Location';
const POSITION_CODE = 'near';

/** Locations given keys per write transaction while adding the missing ones. */
const BATCH = 500;

/** Whether the folder's positions have keys (new folders get the mark at their first opening for writing). */
export function positionsKeyed(layout: Pick<Layout, 'meta'>): boolean {
  return layout.meta.get(POSITION_KEYS_MARK) === true;
}

/** The key policy with `near` added to the parameters without keys (a folder whose positions have none yet). */
export function withoutPositionKeys(unkeyed: UnkeyedParameters): UnkeyedParameters {
  const policy = new Map(unkeyed);
  policy.set(POSITION_TYPE, new Set([...(unkeyed.get(POSITION_TYPE) ?? []), POSITION_CODE]));
  return policy;
}

/**
 * Writes the position keys of every live Location that lacks them, then the mark, and gives the layout
 * its `keyed` policy: run on an opening for writing, before the store serves anything (nothing else
 * writes meanwhile). Idempotent (keys are put again, never doubled): a crash before the mark makes the
 * next opening start again. Returns how many Locations were given keys (0 when the mark was there).
 */
export async function addMissingPositionKeys(layout: Layout, keyed: UnkeyedParameters): Promise<number> {
  if (positionsKeyed(layout)) {
    layout.unkeyed = keyed;
    return 0;
  }
  const pacer = new Pacer();
  // Ids first (keys only, no values decoded), then each batch read and written in its own transaction.
  const ids: string[] = [];
  for (const key of layout.heads.getKeys({ start: [POSITION_TYPE], end: [POSITION_TYPE, HIGHEST] })) {
    ids.push(String((key as [string, string])[1]));
    await pacer.pace();
  }
  let added = 0;
  for (let start = 0; start < ids.length; start += BATCH) {
    const writes: Array<Promise<boolean>> = [];
    for (const id of ids.slice(start, start + BATCH)) {
      const head = layout.heads.get([POSITION_TYPE, id]);
      if (!head || head.d) continue;
      // A compact head keeps its entries in `entries` only (lmdb-layout.ts); others keep a copy per parameter in `current`.
      const entries = head.c ? layout.entries.get([POSITION_TYPE, id, head.v])?.[POSITION_CODE] : layout.current.get([POSITION_TYPE, id, POSITION_CODE]);
      if (!Array.isArray(entries)) continue;
      const keys = indexKeysOf(POSITION_TYPE, id, { [POSITION_CODE]: entries }).filter((key) => key[2] === 'lat');
      if (keys.length === 0) continue;
      added++;
      for (const key of keys) writes.push(layout.keys.put(key, null));
      await pacer.pace();
    }
    await Promise.all(writes);
  }
  await layout.meta.put(POSITION_KEYS_MARK, true);
  layout.unkeyed = keyed;
  return added;
}
