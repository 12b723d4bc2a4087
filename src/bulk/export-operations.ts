/**
 * The three kick-offs of Bulk Data Access IG 2.0.0, registered as FHIR
 * operations with their access rules (src/engine/operation.ts):
 * - `[base]/$export` (system level): a regional platform or a coordinator — the
 *   roles that see data across patients; at least one type they may search;
 * - `[base]/Patient/$export`: also practitioners, who get only the patients
 *   they are habilitated for (every read of the export is their listing);
 * - `[base]/Group/[id]/$export`: the same roles; the Group must be one they may
 *   read (an unknown or hidden one is a 400, the "Bad input").
 * Each only checks and queues (202); nothing patient-related is in its
 * response, and the export's own reads are listings, audited one per file.
 * GET and POST (a Parameters body) are both accepted: GET does not change
 * resources (affectsState: false), it queues a job.
 */
import type { FhirOperation } from '../operations/operation-registry.js';
import { kickOff, type KickoffDeps } from './export-kickoff.js';

const IG = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

export function exportOperations(deps: KickoffDeps): FhirOperation[] {
  return [
    {
      name: 'export',
      definition: `${IG}/export`,
      levels: ['system'],
      affectsState: false,
      asynchronous: true,
      access: { system: { roles: ['platform', 'coordinator'], requires: 'search-system', reveals: 'no-patient-data' } },
      invoke: (request) => kickOff(request, deps, 'system'),
    },
    {
      name: 'export',
      definition: `${IG}/patient-export`,
      levels: ['type'],
      resourceTypes: ['Patient'],
      affectsState: false,
      asynchronous: true,
      access: { type: { roles: ['platform', 'coordinator', 'practitioner'], requires: 'search-type', reveals: 'no-patient-data' } },
      invoke: (request) => kickOff(request, deps, 'patient'),
    },
    {
      name: 'export',
      definition: `${IG}/group-export`,
      levels: ['instance'],
      resourceTypes: ['Group'],
      affectsState: false,
      asynchronous: true,
      access: { instance: { roles: ['platform', 'coordinator', 'practitioner'], requires: 'search-type', reveals: 'no-patient-data' } },
      invoke: (request) => kickOff(request, deps, 'group'),
    },
  ];
}
