/**
 * The MongoDB documents of the store and their mapping to StoredVersion.
 *
 * - `resources`: the current version of each resource, `_id` "Type/id". Besides
 *   the body it carries the search document's fields under exactly the names the
 *   search compiler's filters use (`id`, `type`, `lastUpdated`, `idx`), so a
 *   compiled filter runs as-is.
 * - `history`: every version, `_id` "Type/id/versionId", with the index entries
 *   written with it (`idx`; a deletion: those of the version it deleted) so
 *   that history can be filtered on each version's own content.
 * - `guards`: conditional-create guards, `_id` the guard key.
 */
import type { Resource } from 'fhir/r4';
import type { IndexEntries, StoredVersion } from '../resource-store.js';

export interface CurrentDocument extends HistoryDocument {
  /** Search index entries; absent once deleted. */
  idx?: IndexEntries;
  /** The conditional-create guard this resource holds, released when it is deleted. */
  guardKey?: string;
}

export interface HistoryDocument {
  _id: string;
  type: string;
  id: string;
  versionId: number;
  lastUpdated: string;
  deleted: boolean;
  resource?: Resource;
  /** The index entries of this version (history documents: see the file comment). */
  idx?: IndexEntries;
}

export interface GuardDocument {
  _id: string;
  type: string;
  id: string;
  /**
   * False between the claim and the write of the holder when the deployment has
   * no transactions: others wait for it to settle (or for its lease to expire,
   * if the claiming process died) before deciding.
   */
  settled: boolean;
  claimedAt: Date;
}

export const resourceKey = (type: string, id: string): string => `${type}/${id}`;
export const versionKey = (type: string, id: string, versionId: number): string => `${type}/${id}/${versionId}`;

export { withVersionMeta } from '../version-meta.js';

/** The history record of a version; a deletion keeps `deletedIdx`, the entries of the version it deleted. */
export function historyDocumentOf(doc: CurrentDocument, deletedIdx?: IndexEntries): HistoryDocument {
  const idx = doc.deleted ? deletedIdx : doc.idx;
  return {
    _id: versionKey(doc.type, doc.id, doc.versionId),
    type: doc.type,
    id: doc.id,
    versionId: doc.versionId,
    lastUpdated: doc.lastUpdated,
    deleted: doc.deleted,
    ...(doc.resource ? { resource: doc.resource } : {}),
    ...(idx ? { idx } : {}),
  };
}

export function storedVersionOf(doc: Pick<HistoryDocument, 'type' | 'id' | 'versionId' | 'lastUpdated' | 'deleted' | 'resource'>): StoredVersion {
  return {
    resourceType: doc.type,
    id: doc.id,
    versionId: doc.versionId,
    lastUpdated: doc.lastUpdated,
    deleted: doc.deleted,
    ...(doc.resource ? { resource: doc.resource } : {}),
  };
}

/** The fields a StoredVersion needs, for projections (never the index entries). */
export const VERSION_PROJECTION = { _id: 0, type: 1, id: 1, versionId: 1, lastUpdated: 1, deleted: 1, resource: 1 } as const;
