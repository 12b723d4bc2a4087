/**
 * Makes the network's conformance resources (profiles/) available like any
 * other resource: written into the store at start when absent, so they are
 * read, searched (StructureDefinition?url=..., ValueSet?url=...) and versioned
 * by the ordinary machinery. A resource already stored is left as is: an
 * administrator's later version wins over the shipped file, and restarts do not
 * create new versions. Package resources (FR Core...) are used by the validator
 * but not copied into the store.
 */
import { FhirError } from '../errors.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { ConformanceRegistry } from '../conformance/conformance-registry.js';

export async function seedNetworkConformance(engine: FhirEngine, registry: ConformanceRegistry): Promise<number> {
  // The server's own work: its writes are audited as the server's, for this reason.
  const server = engine.asServer('seeding the network conformance resources (profiles/)');
  let written = 0;
  for (const resource of registry.network()) {
    if (!resource.id) continue;
    try {
      await server.read(resource.resourceType, resource.id);
      continue;
    } catch (error) {
      if (error instanceof FhirError && error.status === 410) continue; // deleted on purpose: stays deleted
      if (!(error instanceof FhirError) || error.status !== 404) throw error;
    }
    await server.update(resource.resourceType, resource.id, resource);
    written++;
  }
  return written;
}
