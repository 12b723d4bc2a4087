/**
 * PATCH inside a batch or transaction (R4 http page, "patch"): the entry's
 * resource is a Binary whose data is the JSON Patch document, base64-encoded.
 */
import type { Resource } from 'fhir/r4';
import { errors } from '../../errors.js';

export function patchDocumentOf(resource: Resource | undefined): unknown {
  const binary = resource as { resourceType?: string; contentType?: string; data?: unknown } | undefined;
  if (binary?.resourceType !== 'Binary' || binary.contentType !== 'application/json-patch+json' || typeof binary.data !== 'string') {
    throw errors.patchEntryNotBinary();
  }
  try {
    return JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8'));
  } catch {
    throw errors.invalidPatch('Binary.data does not decode to JSON');
  }
}
