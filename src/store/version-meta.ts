/**
 * The body a store keeps for a version: resourceType, id and meta first (as
 * FHIR serialisers do), with the server-owned meta values (versionId,
 * lastUpdated) set by the store. Shared by every store implementation.
 */
import type { Resource } from 'fhir/r4';

export function withVersionMeta(resource: Resource, id: string, versionId: number, lastUpdated: string): Resource {
  const { resourceType, id: _id, meta, ...rest } = resource;
  return { resourceType, id, meta: { ...meta, versionId: String(versionId), lastUpdated }, ...rest } as Resource;
}
