/**
 * ServiceRequest/[id]/$find-professionals: who could take the patient home,
 * for the WHOLE discharge the order belongs to (every active care order of its
 * stay): one nurse mastering every technical act, or a pair of nurses covering
 * them together, ranked by acts covered, distance, explicit capacity (accepting
 * new patients, visits a day declared, against the visits a day the orders
 * imply) and availability, each with its reasons in French
 * (src/coordination/professional-ranking.ts). When the load exceeds a liberal
 * round, the result says it is a complex case and lists the HAD, SSIAD and
 * home-help services near the patient with their places.
 *
 * The patient's own nurse comes first: while the patient's care team holds a
 * nurse they chose who has not declined (her acceptance Task is not
 * "rejected"), the operation refuses (422) rather than propose a replacement;
 * nurses who declined are never proposed. With nobody with capacity within the
 * radius, the result says so in an OperationOutcome.
 *
 * Input (query or Parameters): radius (km), count. Output: Parameters — see
 * profiles/OperationDefinition-ServiceRequest-find-professionals.json.
 */
import type { CareTeam, Encounter, Parameters, ParametersParameter, Patient, ServiceRequest, Task } from 'fhir/r4';
import { careLoad, exceedsLiberalRound, type LiberalRoundLimits } from '../coordination/care-load.js';
import { actCoding, isTaskOfType, TECHNICAL_ACTS } from '../coordination/coordination-codes.js';
import { homePosition } from '../coordination/geo-position.js';
import { findHomeCareServices } from '../coordination/home-care-services.js';
import { findChosenNurse, ownerOf } from '../coordination/nurse-first.js';
import { practitionerName, rankProfessionals, type Offer } from '../coordination/professional-ranking.js';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { errors } from '../errors.js';
import { numberParameter } from './operation-parameters.js';
import type { FhirOperation } from './operation-registry.js';

export interface FindProfessionalsSettings {
  radiusKm: number;
  maxCandidates: number;
  liberalRound: LiberalRoundLimits;
  serviceRadiusKm: number;
}

function firstDay(orders: ServiceRequest[]): Date | undefined {
  const days = orders
    .map((order) => order.occurrenceDateTime ?? order.occurrencePeriod?.start ?? order.occurrenceTiming?.repeat?.boundsPeriod?.start)
    .filter((v): v is string => !!v)
    .map((value) => new Date(value.length === 10 ? `${value}T12:00:00Z` : value))
    .filter((d) => !Number.isNaN(d.getTime()))
    .sort((a, b) => a.getTime() - b.getTime());
  return days[0];
}

const ACTIVE_ORDER = new Set(['draft', 'active', 'on-hold']);

/** The order and the other active care orders of its stay. */
async function dischargeOrders(lookup: ResourceLookup, order: ServiceRequest): Promise<ServiceRequest[]> {
  const stay = ResourceLookup.identity(order.encounter, lookup.baseUrl);
  if (!stay?.startsWith('Encounter/')) return [order];
  const orders = (await lookup.searchAll<ServiceRequest>('ServiceRequest', [['encounter', stay]])).filter((o) => ACTIVE_ORDER.has(o.status));
  return orders.some((o) => o.id === order.id) ? orders : [order, ...orders];
}

function offerParameter(offer: Offer, rank: number): ParametersParameter {
  const first = offer.members[0].candidate;
  const part: ParametersParameter[] = [
    { name: 'rank', valueInteger: rank },
    { name: 'kind', valueCode: offer.kind },
    ...offer.members.map((m) => {
      const display = practitionerName(m.candidate.practitioner);
      return { name: 'practitionerRole', valueReference: { reference: `PractitionerRole/${m.candidate.role.id}`, ...(display ? { display } : {}) } };
    }),
    { name: 'score', valueDecimal: offer.score },
    { name: 'distanceKm', valueDecimal: offer.distanceKm },
  ];
  if (offer.kind === 'single') {
    part.push(...first.mastered.map((code) => ({ name: 'masteredAct', valueCoding: actCoding(code) })));
    part.push(...first.missing.map((code) => ({ name: 'missingAct', valueCoding: actCoding(code) })));
    if (first.acceptingNewPatients !== undefined) part.push({ name: 'acceptingNewPatients', valueBoolean: first.acceptingNewPatients });
    if (first.declaredVisitsPerDay !== undefined) part.push({ name: 'visitsPerDay', valueInteger: first.declaredVisitsPerDay });
  } else {
    for (const member of offer.members) {
      part.push({
        name: 'member',
        part: [
          { name: 'practitionerRole', valueReference: { reference: `PractitionerRole/${member.candidate.role.id}` } },
          ...member.acts.map((code) => ({ name: 'act', valueCoding: actCoding(code) })),
          { name: 'visitsPerDay', valueDecimal: Math.round(member.visitsPerDay * 10) / 10 },
        ],
      });
    }
  }
  part.push({ name: 'hasCapacity', valueBoolean: offer.hasCapacity }, { name: 'available', valueBoolean: offer.available }, { name: 'explanation', valueString: offer.explanation });
  return { name: 'candidate', part };
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
      // shows the directory (professionals, services, distances, acts), never other patients' data.
      instance: { roles: ['coordinator', 'practitioner'], requires: 'read-instance', reveals: 'no-patient-data' },
    },
    async invoke(request) {
      const radiusKm = numberParameter(request, 'radius', false) ?? settings.radiusKm;
      const limit = numberParameter(request, 'count', true) ?? settings.maxCandidates;
      // The caller may read the order (checked by the engine); the lookups behind the ranking are the server's.
      const order = (await request.server.read('ServiceRequest', request.id!)).resource as ServiceRequest;
      const lookup = new ResourceLookup(request.server, request.server.baseUrl);
      const patient = await lookup.resolve<Patient>(order.subject, 'Patient');
      const orders = await dischargeOrders(lookup, order);
      const stay = await lookup.resolve<Encounter>(order.encounter, 'Encounter');
      const tasks = stay ? await lookup.searchAll<Task>('Task', [['encounter', `Encounter/${stay.id}`]]) : [];
      const asked = tasks.filter((t) => isTaskOfType(t, 'nurse-acceptance'));
      const exclude = new Set(asked.filter((t) => t.status === 'rejected').map(ownerOf).filter((o): o is string => !!o));
      if (patient) {
        const careTeams = (await lookup.searchAll<CareTeam>('CareTeam', [['subject', `Patient/${patient.id}`]])).filter((c) => c.status !== 'inactive' && c.status !== 'entered-in-error');
        const nurse = await findChosenNurse(lookup, careTeams);
        if (nurse) {
          const label = nurse.role ? `PractitionerRole/${nurse.role.id}` : (nurse.member.reference ?? nurse.member.display ?? 'care team member');
          const declined = asked.some((t) => t.status === 'rejected' && ownerOf(t) === label);
          if (!declined) throw errors.ownNurseFirst(label);
          for (const ref of [label, nurse.member.reference, nurse.role?.practitioner?.reference]) if (ref) exclude.add(ref);
        }
      }
      const home = homePosition(patient);
      if (!home) throw errors.homeNotGeolocated();
      // Sorted: the orders come in the store's order (by id), which differs between two servers holding the same record.
      const acts = [...new Set(orders.flatMap((o) => (o.code?.coding ?? []).filter((c) => c.system === TECHNICAL_ACTS && c.code).map((c) => c.code!)))].sort();
      const load = careLoad(orders);
      const when = firstDay(orders);
      const ranking = await rankProfessionals(lookup, { home, acts, load, ...(when ? { when } : {}), radiusKm, limit, exclude });
      const complex = exceedsLiberalRound(load, settings.liberalRound);

      const parameter: ParametersParameter[] = [
        { name: 'radiusKm', valueDecimal: radiusKm },
        { name: 'considered', valueInteger: ranking.considered },
        { name: 'inRange', valueInteger: ranking.inRange },
        { name: 'withCapacity', valueInteger: ranking.withCapacity },
        ...acts.map((code) => ({ name: 'act', valueCoding: actCoding(code) })),
        { name: 'careLoad', part: [{ name: 'visitsPerDay', valueDecimal: load.visitsPerDay }, { name: 'minutesPerDay', valueInteger: load.minutesPerDay }] },
        { name: 'complexCase', valueBoolean: complex },
      ];
      ranking.offers.forEach((offer, i) => parameter.push(offerParameter(offer, i + 1)));
      if (complex) {
        const services = await findHomeCareServices(lookup, { home, acts, radiusKm: settings.serviceRadiusKm, limit });
        for (const service of services) {
          parameter.push({
            name: 'service',
            part: [
              { name: 'organization', valueReference: { reference: `Organization/${service.organization.id}`, ...(service.organization.name ? { display: service.organization.name } : {}) } },
              { name: 'category', valueString: service.label },
              { name: 'distanceKm', valueDecimal: service.distanceKm },
              ...(service.places !== undefined ? [{ name: 'places', valueInteger: service.places }] : []),
              { name: 'hasCapacity', valueBoolean: service.hasCapacity },
              { name: 'explanation', valueString: service.explanation },
            ],
          });
        }
      }
      if (ranking.withCapacity === 0) {
        const diagnostics =
          ranking.inRange === 0
            ? `Aucun(e) infirmier(e) dans un rayon de ${radiusKm} km du domicile (${ranking.considered} dans l'annuaire)`
            : `Aucun(e) infirmier(e) avec de la capacité dans un rayon de ${radiusKm} km : ${ranking.inRange} dans le secteur, qui ne prennent pas de nouveaux patients ou ont déclaré une capacité insuffisante`;
        parameter.push({ name: 'outcome', resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-found', diagnostics }] } });
      }
      const result: Parameters = { resourceType: 'Parameters', parameter };
      return { status: 200, resource: result };
    },
  };
}
