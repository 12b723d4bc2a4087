/**
 * ServiceRequest/[id]/$find-professionals: ranks the nurses who could carry
 * out a home-care order, by the technical acts they master, distance from the
 * patient's home, whether they accept new patients and their availability,
 * with the reasons of each rank (src/coordination/professional-ranking.ts).
 *
 * The patient's own nurse comes first: while the patient's care team holds a
 * nurse they chose who has not declined (their acceptance Task is not
 * "rejected"), the operation refuses (422) rather than propose a replacement.
 * With nobody within the radius, the result says so in an OperationOutcome.
 *
 * Input (query or Parameters): radius (km), count. Output: Parameters with one
 * `candidate` per professional (rank, practitionerRole, score, distanceKm,
 * masteredAct*, missingAct*, acceptingNewPatients, available, explanation).
 */
import type { Encounter, Parameters, ParametersParameter, Patient, Practitioner, ServiceRequest, Task } from 'fhir/r4';
import { TECHNICAL_ACTS } from '../coordination/coordination-codes.js';
import { dischargeHash } from '../coordination/discharge-intake.js';
import { encounterKey } from '../coordination/discharge.js';
import { homePosition } from '../coordination/geo-position.js';
import { findChosenNurse, nurseTaskIdentifier } from '../coordination/nurse-first.js';
import { rankProfessionals } from '../coordination/professional-ranking.js';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { errors } from '../errors.js';
import { numberParameter } from './operation-parameters.js';
import type { FhirOperation } from './operation-registry.js';

export interface FindProfessionalsSettings {
  radiusKm: number;
  maxCandidates: number;
}

function practitionerName(practitioner: Practitioner | undefined): string | undefined {
  const name = practitioner?.name?.[0];
  return name ? [...(name.given ?? []), name.family].filter(Boolean).join(' ') : undefined;
}

/** Whether the patient's own nurse declined this discharge (their acceptance Task is rejected). */
async function ownNurseDeclined(lookup: ResourceLookup, order: ServiceRequest): Promise<boolean> {
  const encounter = await lookup.resolve<Encounter>(order.encounter, 'Encounter');
  if (!encounter) return false;
  const { system, value } = nurseTaskIdentifier(dischargeHash(encounterKey(encounter)), 'accept');
  const tasks = await lookup.searchAll<Task>('Task', [['identifier', `${system}|${value}`]]);
  return tasks.some((t) => t.status === 'rejected');
}

function firstDay(order: ServiceRequest): Date | undefined {
  const value = order.occurrenceDateTime ?? order.occurrencePeriod?.start;
  const date = value ? new Date(value.length === 10 ? `${value}T12:00:00Z` : value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? date : undefined;
}

export function findProfessionalsOperation(settings: FindProfessionalsSettings): FhirOperation {
  return {
    name: 'find-professionals',
    definition: 'https://relais-sante.fr/fhir/OperationDefinition/ServiceRequest-find-professionals',
    levels: ['instance'],
    resourceTypes: ['ServiceRequest'],
    affectsState: false,
    access: {
      // For the coordination team and the patient's care team: whoever may read the order. The ranking
      // shows the directory (professionals, distances, acts), never other patients' data.
      instance: { roles: ['coordinator', 'practitioner'], requires: 'read-instance', reveals: 'no-patient-data' },
    },
    async invoke(request) {
      const radiusKm = numberParameter(request, 'radius', false) ?? settings.radiusKm;
      const limit = numberParameter(request, 'count', true) ?? settings.maxCandidates;
      // The caller may read the order (checked by the engine); the lookups behind the ranking are the server's.
      const order = (await request.server.read('ServiceRequest', request.id!)).resource as ServiceRequest;
      const lookup = new ResourceLookup(request.server, request.server.baseUrl);
      const patient = await lookup.resolve<Patient>(order.subject, 'Patient');
      const exclude = new Set<string>();
      if (patient) {
        const careTeams = await lookup.searchAll<import('fhir/r4').CareTeam>('CareTeam', [['subject', `Patient/${patient.id}`]]);
        const nurse = await findChosenNurse(lookup, careTeams.filter((c) => c.status !== 'inactive' && c.status !== 'entered-in-error'));
        if (nurse) {
          const label = nurse.role ? `PractitionerRole/${nurse.role.id}` : (nurse.member.reference ?? nurse.member.display ?? 'care team member');
          if (!(await ownNurseDeclined(lookup, order))) throw errors.ownNurseFirst(label);
          for (const ref of [label, nurse.member.reference, nurse.role?.practitioner?.reference]) if (ref) exclude.add(ref);
        }
      }
      const home = homePosition(patient);
      if (!home) throw errors.homeNotGeolocated();
      const acts = (order.code?.coding ?? []).filter((c) => c.system === TECHNICAL_ACTS && c.code).map((c) => c.code!);
      const when = firstDay(order);
      const ranking = await rankProfessionals(lookup, { home, acts, ...(when ? { when } : {}), radiusKm, limit, exclude });

      const parameter: ParametersParameter[] = [
        { name: 'radiusKm', valueDecimal: radiusKm },
        { name: 'considered', valueInteger: ranking.considered },
      ];
      ranking.candidates.forEach((c, i) => {
        const display = practitionerName(c.practitioner);
        parameter.push({
          name: 'candidate',
          part: [
            { name: 'rank', valueInteger: i + 1 },
            { name: 'practitionerRole', valueReference: { reference: `PractitionerRole/${c.role.id}`, ...(display ? { display } : {}) } },
            { name: 'score', valueDecimal: c.score },
            { name: 'distanceKm', valueDecimal: c.distanceKm },
            ...c.mastered.map((code) => ({ name: 'masteredAct', valueCoding: { system: TECHNICAL_ACTS, code } })),
            ...c.missing.map((code) => ({ name: 'missingAct', valueCoding: { system: TECHNICAL_ACTS, code } })),
            ...(c.acceptingNewPatients !== undefined ? [{ name: 'acceptingNewPatients', valueBoolean: c.acceptingNewPatients }] : []),
            { name: 'available', valueBoolean: c.available },
            { name: 'explanation', valueString: c.explanation },
          ],
        });
      });
      if (ranking.candidates.length === 0) {
        parameter.push({
          name: 'outcome',
          resource: {
            resourceType: 'OperationOutcome',
            issue: [
              {
                severity: 'warning',
                code: 'not-found',
                diagnostics: `No nurse found within ${radiusKm} km of the patient's home (${ranking.considered} nurse(s) in the directory, none in range)`,
              },
            ],
          },
        });
      }
      const result: Parameters = { resourceType: 'Parameters', parameter };
      return { status: 200, resource: result };
    },
  };
}
