/**
 * Recognises a discharge to home in what a transaction commits, and gathers
 * what the bundle says about it: the Encounter (planned discharge in
 * period.end or FR Core's estimated-discharge-date, disposition "home"), the
 * patient, care orders, medication and equipment requests, the discharge
 * letter and the messages sent to family and GP.
 */
import type {
  Bundle,
  CareTeam,
  Communication,
  Composition,
  DeviceRequest,
  DocumentReference,
  Encounter,
  MedicationDispense,
  MedicationRequest,
  Patient,
  Resource,
  ServiceRequest,
} from 'fhir/r4';
import { DISCHARGE_DISPOSITION, DISCHARGE_SUMMARY, FR_CORE_ESTIMATED_DISCHARGE, LOINC, TECHNICAL_ACTS } from './coordination-codes.js';
import { ResourceLookup } from './resource-lookup.js';

export interface Discharge {
  encounter: Encounter;
  patient?: Patient;
  /** Stable key of this discharge (encounterKey): the Encounter's first identifier and its id. */
  key: string;
  /** When the patient leaves; `dateOnly` when only a date is known (FR Core estimated date). */
  at?: Date;
  dateOnly: boolean;
  /** When the network learnt of it: Bundle.timestamp, else the time of receipt. */
  noticeFrom: Date;
  serviceRequests: ServiceRequest[];
  medicationRequests: MedicationRequest[];
  medicationDispenses: MedicationDispense[];
  deviceRequests: DeviceRequest[];
  letters: Array<DocumentReference | Composition>;
  communications: Communication[];
  careTeams: CareTeam[];
  /** relais-technical-acts codes ordered by the ServiceRequests. */
  acts: string[];
}

export function isDischargeHome(encounter: Encounter): boolean {
  return (encounter.hospitalization?.dischargeDisposition?.coding ?? []).some((c) => c.code === 'home' && (!c.system || c.system === DISCHARGE_DISPOSITION));
}

function dischargeMoment(encounter: Encounter): { at?: Date; dateOnly: boolean } {
  const end = encounter.period?.end;
  if (end) return end.length > 10 ? { at: new Date(end), dateOnly: false } : { at: new Date(`${end}T12:00:00Z`), dateOnly: true };
  const estimated = encounter.extension?.find((e) => e.url === FR_CORE_ESTIMATED_DISCHARGE)?.valueDate;
  return estimated ? { at: new Date(`${estimated}T12:00:00Z`), dateOnly: true } : { dateOnly: true };
}

function refersTo(reference: string | undefined, identity: string): boolean {
  return reference === identity || (reference?.endsWith(`/${identity}`) ?? false);
}

/**
 * The stay's identity: its first identifier (system|value) AND its id. The id
 * keeps two stays apart that carry the same identifier — two hospitals' systems
 * can both send one, and a hospital's criteria never match what another sent —
 * so one stay's coordination never stands in for (nor reveals) another's; a
 * re-post or an update of the same stay keeps both, hence the same key.
 */
export function encounterKey(encounter: Encounter): string {
  const identifier = encounter.identifier?.find((i) => i.value);
  return identifier ? `${identifier.system ?? ''}|${identifier.value}|Encounter/${encounter.id}` : `Encounter/${encounter.id}`;
}

export async function readDischarge(lookup: ResourceLookup, bundle: Bundle, encounter: Encounter, pending: Resource[]): Promise<Discharge> {
  const encounterRef = `Encounter/${encounter.id}`;
  const patientRef = ResourceLookup.identity(encounter.subject, lookup.baseUrl);
  const about = (r: { encounter?: { reference?: string }; subject?: { reference?: string } }) =>
    refersTo(r.encounter?.reference, encounterRef) || (!!patientRef && refersTo(r.subject?.reference, patientRef));
  const ofType = <T extends Resource>(type: string) => pending.filter((r) => r.resourceType === type) as T[];

  const serviceRequests = ofType<ServiceRequest>('ServiceRequest').filter(about).filter((s) => s.status !== 'revoked' && s.status !== 'entered-in-error');
  const acts = [...new Set(serviceRequests.flatMap((s) => (s.code?.coding ?? []).filter((c) => c.system === TECHNICAL_ACTS && c.code).map((c) => c.code!)))];
  const isLetter = (codings: Array<{ system?: string; code?: string }> | undefined) => (codings ?? []).some((c) => c.system === LOINC && c.code === DISCHARGE_SUMMARY);
  const letters = [
    ...ofType<DocumentReference>('DocumentReference').filter((d) => isLetter(d.type?.coding) && (refersTo(d.subject?.reference, patientRef ?? '') || (d.context?.encounter ?? []).some((e) => refersTo(e.reference, encounterRef)))),
    ...ofType<Composition>('Composition').filter((c) => isLetter(c.type.coding) && (refersTo(c.encounter?.reference, encounterRef) || refersTo(c.subject?.reference, patientRef ?? ''))),
  ];
  const patient = patientRef ? await lookup.read<Patient>(patientRef) : undefined;
  const careTeams = [
    ...ofType<CareTeam>('CareTeam').filter((c) => patientRef && refersTo(c.subject?.reference, patientRef)),
    ...(patientRef ? await lookup.searchAll<CareTeam>('CareTeam', [['subject', patientRef]]) : []),
  ].filter((c, i, all) => c.status !== 'inactive' && c.status !== 'entered-in-error' && all.findIndex((o) => o.id === c.id) === i);
  const timestamp = bundle.timestamp ? new Date(bundle.timestamp) : undefined;
  return {
    encounter,
    ...(patient ? { patient } : {}),
    key: encounterKey(encounter),
    ...dischargeMoment(encounter),
    noticeFrom: timestamp && !Number.isNaN(timestamp.getTime()) ? timestamp : new Date(),
    serviceRequests,
    medicationRequests: ofType<MedicationRequest>('MedicationRequest').filter(about).filter((m) => m.status !== 'cancelled' && m.status !== 'entered-in-error'),
    medicationDispenses: ofType<MedicationDispense>('MedicationDispense').filter((m) => refersTo(m.subject?.reference, patientRef ?? '') || refersTo(m.context?.reference, encounterRef)),
    deviceRequests: ofType<DeviceRequest>('DeviceRequest').filter(about).filter((d) => d.status !== 'revoked' && d.status !== 'entered-in-error'),
    letters,
    communications: ofType<Communication>('Communication').filter(about),
    careTeams,
    acts,
  };
}
