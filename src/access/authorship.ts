/**
 * Authorship is the caller's (issue 11): the author-like element of what a
 * practitioner writes — who sent the message, who requested the task, who
 * wrote the evaluation or raised the alert — must be that practitioner, one of
 * their PractitionerRoles, or their organisation; naming another
 * professional or organisation is refused (422, naming the element).
 * References to the patient or a relative stay open: a nurse may record what
 * the patient said or wants. A coordinator may write on someone's behalf:
 * whoever the element names is then recorded as an author agent of the
 * write's AuditEvent.
 *
 * Only an element whose value the write changes is judged, so a nurse may
 * update a Task a coordinator requested without becoming its requester.
 */
import type { Reference, Resource } from 'fhir/r4';
import type { PractitionerIdentity } from './access-facts.js';
import { FINESS_SYSTEM, RPPS_SYSTEM } from '../identity/principal.js';

/** The author-like elements, per type (R4 names; arrays and single references alike). */
export const AUTHOR_ELEMENTS: Readonly<Record<string, readonly string[]>> = {
  Communication: ['sender'],
  CommunicationRequest: ['requester', 'sender'],
  QuestionnaireResponse: ['author'],
  Flag: ['author'],
  Task: ['requester'],
  ServiceRequest: ['requester'],
  MedicationRequest: ['requester'],
  DeviceRequest: ['requester'],
  CarePlan: ['author'],
  Goal: ['expressedBy'],
  DocumentReference: ['author'],
  Composition: ['author'],
  Condition: ['recorder', 'asserter'],
  AllergyIntolerance: ['recorder', 'asserter'],
  ClinicalImpression: ['assessor'],
};

/** Types that name a professional or an organisation: the ones authorship is about. */
const PROFESSIONAL_TYPES = new Set(['Practitioner', 'PractitionerRole', 'Organization', 'HealthcareService', 'CareTeam', 'Device']);
const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

export interface AuthorNamed {
  element: string;
  reference: Reference;
}

function referencesAt(resource: Resource, element: string): Reference[] {
  const value = (resource as unknown as Record<string, unknown>)[element];
  const list = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return list.filter((r): r is Reference => typeof r === 'object' && r !== null);
}

const sameReference = (a: Reference, b: Reference) =>
  a.reference === b.reference && a.identifier?.system === b.identifier?.system && a.identifier?.value === b.identifier?.value && a.display === b.display;

/** The author references this write sets or changes (those of `before` kept as they were are not judged). */
export function authorsChanged(resource: Resource, before: Resource | undefined): AuthorNamed[] {
  const named: AuthorNamed[] = [];
  for (const element of AUTHOR_ELEMENTS[resource.resourceType] ?? []) {
    const previous = before ? referencesAt(before, element) : [];
    for (const reference of referencesAt(resource, element)) {
      if (!previous.some((p) => sameReference(p, reference))) named.push({ element: `${resource.resourceType}.${element}`, reference });
    }
  }
  return named;
}

/** Whether a reference names a professional or organisation (as opposed to the patient, a relative...). */
function namesProfessional(reference: Reference, resource: Resource): boolean {
  const literal = LITERAL.exec(reference.reference ?? '');
  if (literal) return PROFESSIONAL_TYPES.has(literal[1]);
  if (reference.reference?.startsWith('#')) {
    const contained = (resource as { contained?: Resource[] }).contained?.find((c) => `#${c.id}` === reference.reference);
    return contained === undefined || PROFESSIONAL_TYPES.has(contained.resourceType);
  }
  if (reference.type) return PROFESSIONAL_TYPES.has(reference.type);
  // An identifier-only or display-only author: a professional unless it says otherwise.
  return true;
}

/** Is this reference the practitioner themselves, one of their roles, or their organisation? */
export function isSelf(reference: Reference, who: PractitionerIdentity, resource: Resource): boolean {
  const literal = LITERAL.exec(reference.reference ?? '');
  if (literal) {
    const [, type, id] = literal;
    return (
      (type === 'Practitioner' && who.practitionerIds.has(id)) ||
      (type === 'PractitionerRole' && who.roleIds.has(id)) ||
      (type === 'Organization' && who.organizationIds.has(id))
    );
  }
  if (reference.reference?.startsWith('#')) {
    const contained = (resource as { contained?: Resource[] }).contained?.find((c) => `#${c.id}` === reference.reference) as
      | { identifier?: Array<{ system?: string; value?: string }> }
      | undefined;
    return (contained?.identifier ?? []).some((i) => i.system === RPPS_SYSTEM && i.value === who.rpps);
  }
  if (reference.reference) return false; // an absolute URL to another server: not verifiable as the caller
  const identifier = reference.identifier;
  return (identifier?.system === RPPS_SYSTEM && identifier.value === who.rpps) || (identifier?.system === FINESS_SYSTEM && who.finess !== undefined && identifier.value === who.finess);
}

/** The first author element naming a professional or organisation other than the practitioner, if any. */
export function spoofedAuthor(resource: Resource, before: Resource | undefined, who: PractitionerIdentity | undefined): AuthorNamed | undefined {
  for (const named of authorsChanged(resource, before)) {
    if (!namesProfessional(named.reference, resource)) continue;
    if (!who || !isSelf(named.reference, who, resource)) return named;
  }
  return undefined;
}

/** How an author is shown in messages and audit agents. */
export function describeReference(reference: Reference): string {
  return reference.reference ?? (reference.identifier ? `${reference.identifier.system ?? ''}|${reference.identifier.value ?? ''}` : (reference.display ?? 'someone'));
}
