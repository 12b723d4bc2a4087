/**
 * The access policy, as pure decisions (no I/O): the engine gathers the facts
 * (consent, care team, agreement, who sent what) and asks here. Deny by default:
 * every allowed path is written out below; anything else is refused.
 *
 * Two questions, asked for every interaction:
 * 1. `decideType`: may this principal perform this interaction on this type at
 *    all (role and SMART scopes)? If yes, under which restriction: none, the
 *    compartments of patients it may reach, or only what it sent itself. A
 *    refusal here is a 403: the rule is public, it reveals no resource.
 * 2. `decidePatients` / `decideOwnSubmission`: for a restricted grant, may it
 *    reach this resource (through the patients whose compartment holds it)? A
 *    refusal here is a 404 for the caller, exactly as if the resource did not
 *    exist, so nothing is learnt by probing ids.
 *
 * The rules (issue 6, "Access control for health data"):
 * - practitioner: patient data within the compartments of patients for whom
 *   there is an active Consent to share, the practitioner is an active member
 *   of the patient's CareTeam, and the practitioner (or their organisation) has
 *   an executed Contract with the network; create/read/update/search, no delete
 *   (entries are corrected, not erased; coordinators delete). Consent and
 *   CareTeam are read-only for them (otherwise they could grant themselves
 *   access). Directory, reference data and definitions: read/search.
 *   Break-the-glass (a stated reason) replaces the three conditions for reads
 *   and searches only, per request, and is flagged in the audit trail.
 * - coordinator: everything of the patients of their network (one Relais
 *   deployment serves one network, so the gatherer answers `inNetwork` for the
 *   deployment), Consent, CareTeam, Contract, directory, definitions; never the
 *   audit trail.
 * - practitioner, request grant (issue 14): a Task addressed to her (owner: her
 *   Practitioner or one of her PractitionerRoles) that asks her something
 *   (relais-task-type nurse-acceptance, nurse-support) opens, without consent,
 *   care team or agreement, that Task — read, and update to answer it (only its
 *   answer: status, statusReason, businessStatus, output, note) — and, while it
 *   is open, read of the minimum data to decide: the resources it names (its
 *   patient, stay, focus, the orders in its input). Nothing else of the record.
 * - system (a hospital's software): create the contents of referrals and
 *   discharges, update what it sent among the stay and what it orders for the
 *   return home (HOSPITAL_UPDATE_TYPES), run Patient/$match, read back what it
 *   sent and the coordination status of its requests (the Tasks and the alert
 *   Flags about them); nothing else.
 * - auditor: read and search AuditEvent; nothing else.
 * - platform (a regional health platform, a data warehouse; SMART Backend
 *   Services with system/ scopes): read, search and page the history of the
 *   types the network shares with it (PolicySettings.platformSharedTypes, set in
 *   configuration; not the agreements by default); never writes, never the audit trail.
 * - Subscription (issue 12): every client role but the auditor may create
 *   subscriptions; each belongs to its creator (marked by the server, see
 *   ownerMark), who alone reads, searches, updates and deletes it. What it
 *   delivers is checked, event by event, against what that creator may read.
 * - AuditEvent is written by the server only.
 *
 * Operations are decided from the rule each declares where it is registered
 * (src/engine/operation.ts), in terms of these same interactions: see
 * operation-guard.ts.
 */
import type { Principal, PrincipalKind } from '../identity/principal.js';
import { permissionFor, scopesGrant, type Interaction, type Permission, type ScopeContext } from '../identity/smart-scopes.js';
import { HOSPITAL_CREATE_TYPES, HOSPITAL_UPDATE_TYPES, resourceClass, type ResourceClass } from './resource-classes.js';

export type PolicyInteraction = Interaction;

export interface TypeRequest {
  principal: Principal;
  interaction: PolicyInteraction;
  resourceType: string;
  /** Break-the-glass: the reason the caller stated. */
  breakTheGlass?: { reason: string };
  /** Deployment settings of the policy (default: DEFAULT_POLICY_SETTINGS). */
  settings?: PolicySettings;
}

export interface PolicySettings {
  /** The types a platform may read, search and page the history of (PLATFORM_SHARED_TYPES). */
  platformSharedTypes: ReadonlySet<string>;
}

/**
 * What a regional platform synchronises by default: the patients, their
 * coordination record (episodes, stays, the PPS and its goals, the care team,
 * requests, tasks, alerts, messages, documents, evaluations, consents) and the
 * directory. Not the agreements (Contract), never the audit trail.
 */
export const DEFAULT_PLATFORM_SHARED_TYPES: readonly string[] = [
  'Patient',
  'RelatedPerson',
  'EpisodeOfCare',
  'Encounter',
  'CarePlan',
  'Goal',
  'CareTeam',
  'Condition',
  'Observation',
  'AllergyIntolerance',
  'MedicationRequest',
  'ServiceRequest',
  'DeviceRequest',
  'Task',
  'Appointment',
  'Flag',
  'Communication',
  'CommunicationRequest',
  'DocumentReference',
  'QuestionnaireResponse',
  'Consent',
  'Group',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
  'HealthcareService',
];

export const DEFAULT_POLICY_SETTINGS: PolicySettings = { platformSharedTypes: new Set(DEFAULT_PLATFORM_SHARED_TYPES) };

export type Restriction =
  /** Every resource of the type. */
  | { kind: 'unrestricted' }
  /** Only resources in the compartments of patients the caller may reach (ask decidePatients). */
  | { kind: 'patient-compartment'; launchPatient?: string }
  /** Only resources the caller sent, and the coordination status of them (Tasks, alert Flags). */
  | { kind: 'own-submissions' };

export type DenialReason =
  | 'no-scope'
  | 'role'
  | 'server-managed'
  | 'launch-patient'
  | 'consent'
  | 'care-team'
  | 'agreement'
  | 'network'
  | 'not-in-compartment'
  | 'not-sent-by-caller'
  | 'not-shared';

export type TypeDecision =
  | { allowed: true; restriction: Restriction; breakTheGlass: boolean }
  | { allowed: false; reason: DenialReason; status: 403 };

export interface PatientFacts {
  /** An active Consent to share exists for the patient. */
  consent: boolean;
  /** The practitioner is an active member of the patient's CareTeam. */
  careTeam: boolean;
  /** The practitioner or their organisation has an executed Contract with the network. */
  agreement: boolean;
  /** The patient is one of the network's (coordinators). */
  inNetwork: boolean;
}

export type InstanceDecision =
  | { allowed: true; breakTheGlass: boolean; /** Allowed by a request addressed to the caller (Task/id), not by the patient's grants. */ viaRequest?: string }
  | { allowed: false; reason: DenialReason; status: 404 };

const SCOPE_CONTEXTS: Record<PrincipalKind, ScopeContext[]> = {
  practitioner: ['user', 'patient'],
  coordinator: ['user'],
  system: ['system'],
  auditor: ['user', 'system'],
  platform: ['system'],
};

/** What each kind may do with each class of resource (permission letters), and under which restriction. */
type Grant = { permissions: string; restriction: Restriction['kind'] };
const GRANTS: Record<PrincipalKind, Partial<Record<ResourceClass, Grant>>> = {
  practitioner: {
    subscription: { permissions: 'cruds', restriction: 'own-submissions' },
    'patient-data': { permissions: 'crus', restriction: 'patient-compartment' },
    'access-control': { permissions: 'rs', restriction: 'patient-compartment' },
    directory: { permissions: 'rs', restriction: 'unrestricted' },
    'reference-data': { permissions: 'rs', restriction: 'unrestricted' },
    conformance: { permissions: 'rs', restriction: 'unrestricted' },
  },
  coordinator: {
    subscription: { permissions: 'cruds', restriction: 'own-submissions' },
    'patient-data': { permissions: 'cruds', restriction: 'patient-compartment' },
    'access-control': { permissions: 'cruds', restriction: 'patient-compartment' },
    agreement: { permissions: 'cruds', restriction: 'unrestricted' },
    directory: { permissions: 'cruds', restriction: 'unrestricted' },
    'reference-data': { permissions: 'cruds', restriction: 'unrestricted' },
    conformance: { permissions: 'rs', restriction: 'unrestricted' },
    other: { permissions: 'cruds', restriction: 'unrestricted' },
  },
  // The hospital's reads and updates are limited to its own submissions; creates are checked against
  // HOSPITAL_CREATE_TYPES, updates against HOSPITAL_UPDATE_TYPES.
  system: {
    subscription: { permissions: 'cruds', restriction: 'own-submissions' },
    'patient-data': { permissions: 'crus', restriction: 'own-submissions' },
    directory: { permissions: 'crs', restriction: 'own-submissions' },
    // A discharge names the patient's chosen nurse in a CareTeam (the nurse-first workflow reads it);
    // the hospital may send it, not read CareTeams, and what it sends grants nobody access (fact-gatherer.ts).
    'access-control': { permissions: 'c', restriction: 'own-submissions' },
    other: { permissions: 'crs', restriction: 'own-submissions' },
  },
  auditor: {
    audit: { permissions: 'rs', restriction: 'unrestricted' },
  },
  // Read only, and only the shared types (checked in decideType).
  platform: {
    // A platform writes nothing but its own subscriptions.
    subscription: { permissions: 'cruds', restriction: 'own-submissions' },
    'patient-data': { permissions: 'rs', restriction: 'unrestricted' },
    'access-control': { permissions: 'rs', restriction: 'unrestricted' },
    agreement: { permissions: 'rs', restriction: 'unrestricted' },
    directory: { permissions: 'rs', restriction: 'unrestricted' },
    'reference-data': { permissions: 'rs', restriction: 'unrestricted' },
    conformance: { permissions: 'rs', restriction: 'unrestricted' },
    other: { permissions: 'rs', restriction: 'unrestricted' },
  },
};

function deny(reason: DenialReason): TypeDecision {
  return { allowed: false, reason, status: 403 };
}

export function decideType(request: TypeRequest): TypeDecision {
  const { principal, resourceType } = request;
  const klass = resourceClass(resourceType);
  const contexts = SCOPE_CONTEXTS[principal.kind];

  const permission: Permission = permissionFor(request.interaction);

  if (klass === 'audit' && permission !== 'r' && permission !== 's') return deny('server-managed');
  const grant = GRANTS[principal.kind][klass];
  if (!grant || !grant.permissions.includes(permission)) return deny('role');
  if (principal.kind === 'system' && permission === 'c' && klass !== 'subscription' && !HOSPITAL_CREATE_TYPES.has(resourceType)) return deny('role');
  if (principal.kind === 'system' && permission === 'u' && klass !== 'subscription' && !HOSPITAL_UPDATE_TYPES.has(resourceType)) return deny('role');
  if (principal.kind === 'platform' && klass !== 'subscription' && !(request.settings ?? DEFAULT_POLICY_SETTINGS).platformSharedTypes.has(resourceType)) return deny('not-shared');

  // Scopes: the token must grant the permission; a patient/ scope binds to the launch patient.
  const viaUserOrSystem = scopesGrant(principal.scopes, contexts.filter((c) => c !== 'patient'), resourceType, permission);
  const viaPatient = contexts.includes('patient') && scopesGrant(principal.scopes, ['patient'], resourceType, permission);
  if (!viaUserOrSystem && !viaPatient) return deny('no-scope');

  let restriction: Restriction;
  if (grant.restriction === 'patient-compartment') {
    if (!viaUserOrSystem) {
      if (!principal.launchPatient) return deny('launch-patient');
      restriction = { kind: 'patient-compartment', launchPatient: principal.launchPatient };
    } else {
      restriction = { kind: 'patient-compartment' };
    }
  } else if (grant.restriction === 'own-submissions') {
    // A hospital's creates are not restricted (it creates the referral); its reads are.
    // Same for a subscription: anyone granted may create one, then reaches only their own.
    restriction = permission === 'c' ? { kind: 'unrestricted' } : { kind: 'own-submissions' };
  } else {
    restriction = { kind: 'unrestricted' };
  }
  const breakTheGlass =
    request.breakTheGlass !== undefined && principal.kind === 'practitioner' && restriction.kind === 'patient-compartment' && (permission === 'r' || permission === 's');
  return { allowed: true, restriction, breakTheGlass };
}

/**
 * May the caller reach a resource in the compartments of these patients? All of
 * them must be reachable (a resource naming two patients tells about both). A
 * resource of a compartment type that names no patient is reachable only by
 * coordinators (it belongs to nobody the others are habilitated for).
 */
export function decidePatients(
  principal: Principal,
  restriction: Extract<Restriction, { kind: 'patient-compartment' }>,
  patients: readonly string[],
  facts: (patientId: string) => PatientFacts,
  breakTheGlass: boolean,
): InstanceDecision {
  if (patients.length === 0) {
    return principal.kind === 'coordinator' ? { allowed: true, breakTheGlass: false } : { allowed: false, reason: 'not-in-compartment', status: 404 };
  }
  let usedGlass = false;
  for (const patient of patients) {
    if (restriction.launchPatient !== undefined && patient !== restriction.launchPatient) return { allowed: false, reason: 'launch-patient', status: 404 };
    const f = facts(patient);
    if (principal.kind === 'coordinator') {
      if (!f.inNetwork) return { allowed: false, reason: 'network', status: 404 };
      continue;
    }
    if (principal.kind !== 'practitioner') return { allowed: false, reason: 'role', status: 404 };
    const missing: DenialReason | undefined = !f.consent ? 'consent' : !f.careTeam ? 'care-team' : !f.agreement ? 'agreement' : undefined;
    if (missing === undefined) continue;
    if (breakTheGlass) {
      usedGlass = true;
      continue;
    }
    return { allowed: false, reason: missing, status: 404 };
  }
  return { allowed: true, breakTheGlass: usedGlass };
}

/**
 * What a hospital asks the network to act on: a Task whose focus or basedOn
 * is one of these, or an alert Flag whose encounter is one of these, sent by
 * the hospital, tells the coordination status of its request (the discharge
 * coordination's Tasks focus the discharged Encounter, the nurse-support Tasks
 * a ServiceRequest; a referral's Task is basedOn its ServiceRequest; the
 * discharge alerts name the stay — "Friday evening, family not informed").
 * Patients, professionals and clinical facts the hospital sent are
 * deliberately not in the list: a Task merely focused on a patient the
 * hospital once referred is the network's work, not the status of the
 * hospital's request.
 */
export const COORDINATED_SUBMISSION_TYPES: readonly string[] = [
  'ServiceRequest',
  'Encounter',
  'DeviceRequest',
  'MedicationRequest',
  'CommunicationRequest',
  'CarePlan',
  'Task',
];

/** Per type, the search parameters linking a coordination status resource to what it is about (Task: focus and based-on; Flag: encounter). */
export const COORDINATION_STATUS_LINKS: Readonly<Record<string, readonly string[]>> = { Task: ['focus', 'based-on'], Flag: ['encounter'] };

/** For own-submissions grants: the resource was sent by the caller, or tells the coordination status of something it sent (a Task, an alert Flag). */
export function decideOwnSubmission(sentByCaller: boolean, statusOfCallerSubmission: boolean): InstanceDecision {
  return sentByCaller || statusOfCallerSubmission ? { allowed: true, breakTheGlass: false } : { allowed: false, reason: 'not-sent-by-caller', status: 404 };
}

/**
 * How a resource stands to the requests addressed to a practitioner (issue 14,
 * "the nurse asked sees her request ... as soon as it exists"):
 * - 'addressed': a Task asking her something (owner: her; relais-task-type
 *   nurse-acceptance or nurse-support);
 * - 'named-by-open-request': named by such a Task still open (its patient, stay,
 *   focus, the orders in its input): the minimum data to decide;
 * - 'none'.
 */
export type RequestReach = 'addressed' | 'named-by-open-request' | 'none';

/**
 * The request grant, for a practitioner the patient's grants (consent, care
 * team, agreement) do not open: her request itself may be read and answered
 * (update, patch; what the answer may change is requestAnswerOnly's), what it
 * names only read, and only while it is open. Searches see the same
 * (search-access.ts). Never any other interaction, never another role.
 */
export function decideRequestGrant(principal: Principal, interaction: PolicyInteraction, reach: RequestReach): boolean {
  if (principal.kind !== 'practitioner' || reach === 'none') return false;
  const permission = permissionFor(interaction);
  if (reach === 'addressed') return permission === 'r' || permission === 's' || permission === 'u';
  return permission === 'r' || permission === 's';
}

/** The elements of a request the professional it is addressed to answers with; the rest (who, what, for whom) is the requester's. */
export const REQUEST_ANSWER_ELEMENTS: ReadonlySet<string> = new Set(['status', 'statusReason', 'businessStatus', 'output', 'note', 'lastModified', 'executionPeriod', 'meta', 'text']);

/** Whether an update of a request changes only its answer (REQUEST_ANSWER_ELEMENTS). */
export function requestAnswerOnly(before: Record<string, unknown>, after: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const key of keys) {
    if (REQUEST_ANSWER_ELEMENTS.has(key)) continue;
    if (canonical(before[key]) !== canonical(after[key])) return false;
  }
  return true;
}

/** JSON with object keys sorted, so the order a client writes keys in changes nothing. */
function canonical(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

/** The meta.source value marking what a system client sent (set by the server on its writes, never taken from the body). */
export function submissionSource(principal: Principal): string {
  return `${principal.issuer}#${principal.clientId ?? principal.subject}`;
}

/**
 * The mark (meta.source) of what a principal owns among resources of this
 * type: a hospital's submissions are its client's (submissionSource); a
 * Subscription is its creator's — the person, not the app (issuer#subject), so
 * two nurses using one application do not share subscriptions.
 */
export function ownerMark(principal: Principal, resourceType: string): string {
  return resourceType === 'Subscription' ? `${principal.issuer}#${principal.subject}` : submissionSource(principal);
}

/**
 * Whether a meta.source value has the shape of a submission mark (`issuer#client`):
 * such values are set by the server only (write-guard.ts settleSource strips them
 * from every other writer), so one on a stored resource means a system client sent it.
 */
export function isSubmissionSource(source: string | undefined): boolean {
  return source !== undefined && source.includes('#');
}

const ROLE_NAMES: Record<PrincipalKind, string> = {
  practitioner: 'practitioner',
  system: 'hospital system',
  coordinator: 'coordinator',
  auditor: 'auditor',
  platform: 'regional platform',
};

const VERBS: Record<PolicyInteraction, string> = {
  create: 'create',
  read: 'read',
  vread: 'read',
  update: 'update',
  patch: 'update',
  delete: 'delete',
  'history-instance': 'read the history of',
  'history-type': 'read the history of',
  'history-system': 'read the history of',
  'search-type': 'search',
  'search-system': 'search',
};

/**
 * The sentence a client reads when decideType refuses (403): which rule
 * refused, in the caller's terms ("the hospital system role may not read
 * Flag"). It names a public rule only, never a resource.
 */
export function refusalText(principal: Principal, interaction: PolicyInteraction, resourceType: string, reason: DenialReason): string {
  const verb = VERBS[interaction];
  const role = ROLE_NAMES[principal.kind];
  switch (reason) {
    case 'no-scope':
      return `the token's scopes do not grant this: to ${verb} ${resourceType} it needs a ${SCOPE_CONTEXTS[principal.kind].join('/ or ')}/ scope with '${permissionFor(interaction)}' on ${resourceType} (or *)`;
    case 'server-managed':
      return `${resourceType} is written by the server only: nobody may ${verb} it through the API`;
    case 'launch-patient':
      return `a patient/ scope needs a patient launch context (the token names no patient)`;
    case 'not-shared':
      return `the ${role} role may not ${verb} ${resourceType}: it is not among the types this network shares with platforms (PLATFORM_SHARED_TYPES)`;
    default:
      return `the ${role} role may not ${verb} ${resourceType}`;
  }
}
