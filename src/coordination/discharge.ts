/**
 * Recognises a discharge to home and gathers everything the record holds
 * about it — at the intake and again on every later write concerning it: the
 * Encounter (planned discharge in period.end or FR Core's
 * estimated-discharge-date, disposition "home"), the patient, care orders,
 * medication (prescriptions and doses dispensed in advance), equipment
 * requests, the discharge letter, the messages to family and GP, the care team.
 *
 * What belongs to a discharge: what refers to its Encounter (encounter,
 * context), and what refers only to its patient, without naming any stay, and
 * was written during the stay (since Encounter.period.start) — a follow-up push
 * rarely repeats the stay on every resource. The resources the write being
 * committed holds replace their stored versions (`pending`), and those it
 * deletes are left out.
 */
import type {
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
import { DISCHARGE_DISPOSITION, DISCHARGE_SUMMARY, FR_CORE_ESTIMATED_DISCHARGE, GRADED_RESPONSE, LOINC, TECHNICAL_ACTS } from './coordination-codes.js';
import { ResourceLookup } from './resource-lookup.js';

export interface Discharge {
  encounter: Encounter;
  patient?: Patient;
  /** Stable key of this discharge (encounterKey): the Encounter's first identifier and its id. */
  key: string;
  /** When the patient leaves; `dateOnly` when only a date is known (FR Core estimated date). */
  at?: Date;
  dateOnly: boolean;
  /** When the network learnt of it: the coordination Task's authoredOn, else Bundle.timestamp, else now. */
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
  /** The stay was cancelled (Encounter.status cancelled or entered-in-error). */
  cancelled: boolean;
}

export function isDischargeHome(encounter: Encounter): boolean {
  return (encounter.hospitalization?.dischargeDisposition?.coding ?? []).some((c) => c.code === 'home' && (!c.system || c.system === DISCHARGE_DISPOSITION));
}

export function dischargeMoment(encounter: Encounter): { at?: Date; dateOnly: boolean } {
  const end = encounter.period?.end;
  if (end) return end.length > 10 ? { at: new Date(end), dateOnly: false } : { at: new Date(`${end}T12:00:00Z`), dateOnly: true };
  const estimated = encounter.extension?.find((e) => e.url === FR_CORE_ESTIMATED_DISCHARGE)?.valueDate;
  return estimated ? { at: new Date(`${estimated}T12:00:00Z`), dateOnly: true } : { dateOnly: true };
}

export function refersTo(reference: string | undefined, identity: string): boolean {
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

/** How each kind of discharge content names its stay and its patient (R4 search parameters). */
interface ContentKind {
  type: string;
  /** The search parameter naming the stay, and how to read it from a resource. */
  stayParam: string;
  stays: (r: Resource) => Array<string | undefined>;
  patients: (r: Resource) => Array<string | undefined>;
}

const CONTENT: ContentKind[] = [
  { type: 'ServiceRequest', stayParam: 'encounter', stays: (r) => [(r as ServiceRequest).encounter?.reference], patients: (r) => [(r as ServiceRequest).subject?.reference] },
  { type: 'MedicationRequest', stayParam: 'encounter', stays: (r) => [(r as MedicationRequest).encounter?.reference], patients: (r) => [(r as MedicationRequest).subject?.reference] },
  { type: 'MedicationDispense', stayParam: 'context', stays: (r) => [(r as MedicationDispense).context?.reference], patients: (r) => [(r as MedicationDispense).subject?.reference] },
  { type: 'DeviceRequest', stayParam: 'encounter', stays: (r) => [(r as DeviceRequest).encounter?.reference], patients: (r) => [(r as DeviceRequest).subject?.reference] },
  { type: 'Communication', stayParam: 'encounter', stays: (r) => [(r as Communication).encounter?.reference], patients: (r) => [(r as Communication).subject?.reference] },
  {
    type: 'DocumentReference',
    stayParam: 'encounter',
    stays: (r) => ((r as DocumentReference).context?.encounter ?? []).map((e) => e.reference),
    patients: (r) => [(r as DocumentReference).subject?.reference],
  },
  { type: 'Composition', stayParam: 'encounter', stays: (r) => [(r as Composition).encounter?.reference], patients: (r) => [(r as Composition).subject?.reference] },
];

/** The resource types whose writes may concern a discharge. */
export const DISCHARGE_CONTENT_TYPES: readonly string[] = CONTENT.map((c) => c.type);

/** The stays (Encounter ids) and patients (Patient ids) a discharge content resource names. */
export function contentLinks(resource: Resource, baseUrl: string): { stays: string[]; patients: string[] } {
  const kind = CONTENT.find((c) => c.type === resource.resourceType);
  if (!kind) return { stays: [], patients: [] };
  const ids = (refs: Array<string | undefined>, type: string) =>
    refs.map((reference) => ResourceLookup.identity({ ...(reference ? { reference } : {}) }, baseUrl)).filter((i): i is string => !!i && i.startsWith(`${type}/`)).map((i) => i.slice(type.length + 1));
  return { stays: ids(kind.stays(resource), 'Encounter'), patients: ids(kind.patients(resource), 'Patient') };
}

export interface DischargeReadOptions {
  /** The resources the write being committed writes (they replace stored versions). */
  pending: Resource[];
  /** "Type/id" of what the write being committed deletes. */
  deleted: ReadonlySet<string>;
  /** When the network learnt of the discharge. */
  noticeFrom: Date;
  /**
   * The stay is created by the write being committed: nothing stored can name
   * it yet (its id is new), so only its patient's resources are looked up.
   */
  newStay?: boolean;
}

export async function readDischarge(lookup: ResourceLookup, encounter: Encounter, options: DischargeReadOptions): Promise<Discharge> {
  const stay = `Encounter/${encounter.id}`;
  const patientRef = ResourceLookup.identity(encounter.subject, lookup.baseUrl);
  const since = encounter.period?.start;
  const pendingById = new Map(options.pending.map((r) => [`${r.resourceType}/${r.id}`, r]));
  const belongs = (kind: ContentKind, r: Resource) => {
    const stays = kind.stays(r).filter((s): s is string => !!s);
    if (stays.length > 0) return stays.some((s) => refersTo(s, stay));
    return !!patientRef && kind.patients(r).some((p) => refersTo(p, patientRef));
  };

  const content = new Map<string, Resource[]>();
  for (const kind of CONTENT) {
    const found = new Map<string, Resource>();
    if (!options.newStay) for (const r of await lookup.searchAll<Resource>(kind.type, [[kind.stayParam, stay]])) found.set(`${kind.type}/${r.id}`, r);
    if (patientRef && since) {
      const byPatient = await lookup.searchAll<Resource>(kind.type, [['patient', patientRef], ['_lastUpdated', `ge${since}`]]);
      for (const r of byPatient) if (belongs(kind, r)) found.set(`${kind.type}/${r.id}`, r);
    }
    for (const [identity, r] of pendingById) {
      if (r.resourceType !== kind.type) continue;
      if (belongs(kind, r)) found.set(identity, r);
      else found.delete(identity); // moved away from this stay by the write
    }
    for (const identity of options.deleted) found.delete(identity);
    content.set(kind.type, [...found.values()]);
  }
  const of = <T extends Resource>(type: string) => (content.get(type) ?? []) as T[];

  // Care orders: not a request to the network itself (an escalation of the graded response).
  const serviceRequests = of<ServiceRequest>('ServiceRequest').filter(
    (s) => s.status !== 'revoked' && s.status !== 'entered-in-error' && s.status !== 'completed' && !(s.code?.coding ?? []).some((c) => c.system === GRADED_RESPONSE),
  );
  const acts = [...new Set(serviceRequests.flatMap((s) => (s.code?.coding ?? []).filter((c) => c.system === TECHNICAL_ACTS && c.code).map((c) => c.code!)))];
  const isLetter = (codings: Array<{ system?: string; code?: string }> | undefined) => (codings ?? []).some((c) => c.system === LOINC && c.code === DISCHARGE_SUMMARY);
  const letters = [
    ...of<DocumentReference>('DocumentReference').filter((d) => d.status !== 'entered-in-error' && isLetter(d.type?.coding)),
    ...of<Composition>('Composition').filter((c) => c.status !== 'entered-in-error' && isLetter(c.type.coding)),
  ];
  const patient = patientRef ? await lookup.read<Patient>(patientRef) : undefined;
  const careTeams = [
    ...options.pending.filter((r): r is CareTeam => r.resourceType === 'CareTeam' && !!patientRef && refersTo((r as CareTeam).subject?.reference, patientRef)),
    ...(patientRef ? await lookup.searchAll<CareTeam>('CareTeam', [['subject', patientRef]]) : []),
  ].filter((c, i, all) => c.status !== 'inactive' && c.status !== 'entered-in-error' && all.findIndex((o) => o.id === c.id) === i);
  return {
    encounter,
    ...(patient ? { patient } : {}),
    key: encounterKey(encounter),
    ...dischargeMoment(encounter),
    noticeFrom: options.noticeFrom,
    serviceRequests,
    medicationRequests: of<MedicationRequest>('MedicationRequest').filter((m) => m.status !== 'cancelled' && m.status !== 'entered-in-error'),
    medicationDispenses: of<MedicationDispense>('MedicationDispense').filter((m) => m.status !== 'cancelled' && m.status !== 'entered-in-error' && m.status !== 'declined'),
    deviceRequests: of<DeviceRequest>('DeviceRequest').filter((d) => d.status !== 'revoked' && d.status !== 'entered-in-error'),
    letters,
    communications: of<Communication>('Communication').filter((c) => c.status !== 'entered-in-error' && c.status !== 'not-done'),
    careTeams,
    acts,
    cancelled: encounter.status === 'cancelled' || encounter.status === 'entered-in-error',
  };
}
