/**
 * The facts the access policy decides on, read from the resources that record
 * them, as pure functions (the gatherer in fact-gatherer.ts fetches the
 * resources). Nothing is cached between requests: a Consent withdrawn, a
 * CareTeam membership ended or a Contract terminated cuts access on the very
 * next request.
 */
import type { CareTeam, Consent, Contract, Period, Reference, Task } from 'fhir/r4';
import { TASK_TYPE } from '../coordination/coordination-codes.js';
import { FINESS_SYSTEM, RPPS_SYSTEM } from '../identity/principal.js';

const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
/** Consent.scope codes that mean sharing for care (R4 consentscope): privacy (sharing) and treatment. */
const SHARING_SCOPES = new Set(['patient-privacy', 'treatment']);

/** True when `now` falls within the period (open ends are unbounded; dates are compared at their own precision). */
export function periodCovers(period: Period | undefined, now: Date): boolean {
  if (!period) return true;
  const t = now.getTime();
  if (period.start && Date.parse(period.start) > t) return false;
  if (period.end) {
    // A date without a time ("2025-06-30") covers that day, wherever it ends first.
    const end = /^\d{4}(-\d{2}(-\d{2})?)?$/.test(period.end) ? endOfDay(period.end) : Date.parse(period.end);
    if (end < t) return false;
  }
  return true;
}

/**
 * The instants at which periodCovers' answer for this period changes (its start, and the end as
 * periodCovers reads it): facts judged on a period stay true until the first of them (fact-cache.ts).
 */
export function periodBoundaries(period: Period | undefined): number[] {
  if (!period) return [];
  const boundaries: number[] = [];
  if (period.start) boundaries.push(Date.parse(period.start));
  if (period.end) boundaries.push((/^\d{4}(-\d{2}(-\d{2})?)?$/.test(period.end) ? endOfDay(period.end) : Date.parse(period.end)) + 1);
  return boundaries.filter((b) => Number.isFinite(b));
}

function endOfDay(date: string): number {
  const [y, m = '12', d] = date.split('-');
  const day = d ?? String(new Date(Date.UTC(Number(y), Number(m), 0)).getUTCDate());
  // The day ends first in the easternmost time zone (UTC+14): for access control, ending
  // early is the safe side (a withdrawn grant must not linger).
  return Date.parse(`${y}-${m}-${day}T23:59:59.999Z`) - 14 * 3600 * 1000;
}

function referenceIs(ref: Reference | undefined, type: string, ids: ReadonlySet<string>): boolean {
  if (!ref?.reference) return false;
  const match = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref.reference);
  return !!match && match[1] === type && ids.has(match[2]);
}

function identifierIs(ref: Reference | undefined, system: string, value: string | undefined): boolean {
  return value !== undefined && ref?.identifier?.system === system && ref.identifier.value === value;
}

/**
 * An active Consent to share, given by the patient or their carer: status
 * active, a sharing scope (patient-privacy or treatment) when a scope is coded,
 * a permitting base provision in force now, and a performer who is the patient
 * or a RelatedPerson (the aidant).
 */
export function consentPermitsSharing(consent: Consent, patientId: string, now: Date): boolean {
  if (consent.status !== 'active') return false;
  if (!referenceIs(consent.patient, 'Patient', new Set([patientId]))) return false;
  const scopeCodes = consent.scope?.coding?.filter((c) => c.system === CONSENT_SCOPE_SYSTEM).map((c) => c.code) ?? [];
  if (scopeCodes.length > 0 && !scopeCodes.some((c) => c !== undefined && SHARING_SCOPES.has(c))) return false;
  if (consent.provision?.type === 'deny') return false;
  if (!periodCovers(consent.provision?.period, now)) return false;
  const byPatientOrCarer = (consent.performer ?? []).some(
    (p) => referenceIs(p, 'Patient', new Set([patientId])) || /(?:^|\/)RelatedPerson\/[A-Za-z0-9\-.]{1,64}$/.test(p.reference ?? ''),
  );
  return byPatientOrCarer;
}

/** Who the practitioner is in the store: their Practitioner and PractitionerRole ids, their RPPS, their organisations. */
export interface PractitionerIdentity {
  rpps: string;
  practitionerIds: ReadonlySet<string>;
  roleIds: ReadonlySet<string>;
  organizationIds: ReadonlySet<string>;
  finess?: string;
}

/**
 * An active CareTeam with the practitioner as a participant in force now: by
 * Practitioner, PractitionerRole or RPPS, or through an Organization of hers
 * (she has an active PractitionerRole with it) whose convention with the
 * network is executed (`coveredOrganizations`): a service listed in the care
 * team covers its staff, who need not be listed one by one.
 */
export function careTeamIncludes(careTeam: CareTeam, who: PractitionerIdentity, now: Date, coveredOrganizations: ReadonlySet<string> = new Set()): boolean {
  if (careTeam.status !== 'active') return false;
  if (!periodCovers(careTeam.period, now)) return false;
  return (careTeam.participant ?? []).some(
    (p) =>
      periodCovers(p.period, now) &&
      (referenceIs(p.member, 'Practitioner', who.practitionerIds) ||
        referenceIs(p.member, 'PractitionerRole', who.roleIds) ||
        identifierIs(p.member, RPPS_SYSTEM, who.rpps) ||
        referenceIs(p.member, 'Organization', coveredOrganizations)),
  );
}

/**
 * The organisations of the practitioner whose agreement with the network (a
 * convention) is executed and in force: those a care team may list to cover
 * their staff.
 */
export function organizationsUnderConvention(contracts: readonly Contract[], who: PractitionerIdentity, now: Date): Set<string> {
  const covered = new Set<string>();
  for (const contract of contracts) {
    if (contract.status !== 'executed' || !periodCovers(contract.applies, now)) continue;
    const parties: Reference[] = [...(contract.signer ?? []).map((s) => s.party), ...(contract.subject ?? [])];
    for (const id of who.organizationIds) if (parties.some((party) => referenceIs(party, 'Organization', new Set([id])))) covered.add(id);
  }
  return covered;
}

/** The patient ids a CareTeam is about. */
export function careTeamPatient(careTeam: CareTeam): string | undefined {
  const match = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(careTeam.subject?.reference ?? '');
  return match?.[1];
}

/**
 * An executed agreement with the network (convention for a service, adhésion
 * for a liberal professional) that names the practitioner or their organisation
 * as a signer or subject, applicable now.
 */
export function contractCovers(contract: Contract, who: PractitionerIdentity, now: Date): boolean {
  if (contract.status !== 'executed') return false;
  if (!periodCovers(contract.applies, now)) return false;
  const parties: Reference[] = [...(contract.signer ?? []).map((s) => s.party), ...(contract.subject ?? [])];
  return parties.some(
    (party) =>
      referenceIs(party, 'Practitioner', who.practitionerIds) ||
      referenceIs(party, 'PractitionerRole', who.roleIds) ||
      referenceIs(party, 'Organization', who.organizationIds) ||
      identifierIs(party, RPPS_SYSTEM, who.rpps) ||
      identifierIs(party, FINESS_SYSTEM, who.finess),
  );
}

/** What a request addressed to a professional asks (relais-task-type): the codes that open the request grant. */
export const REQUEST_TASK_CODES: ReadonlySet<string> = new Set(['nurse-acceptance', 'nurse-support']);
/** A request still waiting for, or being carried out after, its answer: what it names stays readable. */
const OPEN_REQUEST = new Set(['requested', 'received', 'ready', 'accepted', 'in-progress', 'on-hold']);

/** A Task asking this practitioner something (owner: her Practitioner or one of her PractitionerRoles; a request code). */
export function isRequestAddressedTo(task: Task, who: PractitionerIdentity): boolean {
  const asks = (task.code?.coding ?? []).some((c) => c.system === TASK_TYPE && c.code !== undefined && REQUEST_TASK_CODES.has(c.code));
  return asks && (referenceIs(task.owner, 'Practitioner', who.practitionerIds) || referenceIs(task.owner, 'PractitionerRole', who.roleIds));
}

export function isOpenRequest(task: Task): boolean {
  return OPEN_REQUEST.has(task.status);
}

/** The resources ("Type/id") a request names: what its professional needs to decide (patient, stay, focus, orders and acts in its input). */
export function namedByRequest(task: Task): string[] {
  const refs: Array<Reference | undefined> = [task.for, task.encounter, task.focus, ...(task.basedOn ?? []), ...(task.input ?? []).map((i) => i.valueReference)];
  const named: string[] = [];
  for (const ref of refs) {
    const match = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(ref?.reference ?? '');
    if (match) named.push(`${match[1]}/${match[2]}`);
  }
  return named;
}
