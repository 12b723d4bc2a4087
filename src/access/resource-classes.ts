/**
 * How the access policy sees each resource type. The Patient compartment
 * (HL7's CompartmentDefinition, plus Task) decides what is patient data; the
 * rest is sorted by what it holds, and anything not listed is "other"
 * (coordinators only): deny by default.
 */
import { DEFINITIONAL_TYPES } from '../fhir/definitional-types.js';
import { isCompartmentType } from './patient-compartment.js';

export type ResourceClass =
  /** In the Patient compartment: reachable only through the patient's consent, care team and agreement. */
  | 'patient-data'
  /** The resources that grant access (Consent, CareTeam): readable like patient data, written by coordinators only. */
  | 'access-control'
  /** The network's agreements (Contract: convention, adhésion): coordinators only. */
  | 'agreement'
  /** The audit trail: auditors read it; nobody writes it through the API. */
  | 'audit'
  /** Who and where: professionals, organisations, services, places. */
  | 'directory'
  /** Shared reference data that names no patient. */
  | 'reference-data'
  /** Definitions: profiles, terminologies, questionnaires, search parameters. */
  | 'conformance'
  /** Subscriptions: each belongs to whoever created it (issue 12), who alone reads, changes or deletes it. */
  | 'subscription'
  | 'other';

const ACCESS_CONTROL = new Set(['Consent', 'CareTeam']);
const DIRECTORY = new Set(['Practitioner', 'PractitionerRole', 'Organization', 'OrganizationAffiliation', 'Location', 'HealthcareService', 'Endpoint']);
const REFERENCE_DATA = new Set(['Medication', 'MedicationKnowledge', 'Substance', 'Device', 'DeviceDefinition', 'Slot']);
const CONFORMANCE = DEFINITIONAL_TYPES;

export function resourceClass(resourceType: string): ResourceClass {
  if (resourceType === 'AuditEvent') return 'audit';
  if (resourceType === 'Contract') return 'agreement';
  if (resourceType === 'Subscription') return 'subscription';
  if (ACCESS_CONTROL.has(resourceType)) return 'access-control';
  if (isCompartmentType(resourceType)) return 'patient-data';
  if (DIRECTORY.has(resourceType)) return 'directory';
  if (REFERENCE_DATA.has(resourceType)) return 'reference-data';
  if (CONFORMANCE.has(resourceType)) return 'conformance';
  return 'other';
}

/**
 * What a hospital's software may create: the contents of a referral or a
 * discharge (patient, family contact, stay, orders, prescriptions, letters,
 * the people and places they name, the patient's chosen nurse as a CareTeam),
 * and nothing that grants access: a CareTeam a hospital sends is information
 * for the coordination team, never counted by the access policy (fact-gatherer.ts).
 */
export const HOSPITAL_CREATE_TYPES: ReadonlySet<string> = new Set([
  'Patient',
  'RelatedPerson',
  'CareTeam',
  'Encounter',
  'ServiceRequest',
  'Task',
  'Communication',
  'CommunicationRequest',
  'DocumentReference',
  'Binary',
  'Condition',
  'AllergyIntolerance',
  'Observation',
  'MedicationRequest',
  'MedicationDispense',
  'DeviceRequest',
  'CarePlan',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Location',
]);

/**
 * What a hospital's software may update — only what it sent itself (the grant
 * is restricted to its own submissions): the stay and what it orders for the
 * return home, which change as the discharge is prepared (a date moved, a
 * prescription completed, doses dispensed in advance, equipment ordered, the
 * family or the GP told, the letter sent). Not the patient's identity, the
 * people or the care team, which the network keeps.
 */
export const HOSPITAL_UPDATE_TYPES: ReadonlySet<string> = new Set([
  'Encounter',
  'ServiceRequest',
  'MedicationRequest',
  'MedicationDispense',
  'DeviceRequest',
  'Communication',
  'CommunicationRequest',
  'DocumentReference',
]);
