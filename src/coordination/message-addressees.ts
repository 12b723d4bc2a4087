/**
 * Who a message is for, from the reader's side (the inbox): a message
 * (Communication.recipient) addressed to
 * - the reader herself (her Practitioner, or her RPPS as an identifier),
 * - one of her roles (her PractitionerRoles),
 * - her organisation (the Organization of her roles; for the coordination
 *   cell, the coordination team, COORDINATION_TEAM_FINESS),
 * - a care team she belongs to (a CareTeam listing her, one of her roles, or
 *   her organisation)
 * is hers to read. The same addresses say whether a message may be marked
 * read by her ($mark-read). Read receipts are one Communication per reader
 * (category read-receipt, inResponseTo the message, sender the reader),
 * identified by the message and the reader, so a second acknowledgement
 * finds the first.
 */
import { createHash } from 'node:crypto';
import type { CareTeam, Communication, Organization, Practitioner, PractitionerRole, Reference } from 'fhir/r4';
import type { Principal } from '../identity/principal.js';
import { principalIdentifier } from '../identity/principal.js';
import { COMMUNICATION_CATEGORY, FINESS, RPPS } from './coordination-codes.js';
import type { ResourceLookup } from './resource-lookup.js';

export const ID_READ_RECEIPT = 'https://relais-sante.fr/fhir/sid/read-receipt';

export interface Addresses {
  /** "Type/id" references a message to this reader may name as recipient. */
  references: string[];
  /** Identifier recipients (system|value): her RPPS, her organisations' FINESS. */
  identifiers: string[];
  /** How a receipt names the reader (Communication.sender). */
  reader: Reference;
}

export async function addressesOf(lookup: ResourceLookup, principal: Principal, coordinationTeamFiness: string | undefined): Promise<Addresses> {
  const references = new Set<string>();
  const identifiers = new Set<string>();
  const finess = new Set<string>();
  if (principal.finess) finess.add(principal.finess);
  if (principal.kind === 'coordinator' && coordinationTeamFiness) finess.add(coordinationTeamFiness);
  if (principal.rpps) {
    identifiers.add(`${RPPS}|${principal.rpps}`);
    for (const practitioner of await lookup.searchAll<Practitioner>('Practitioner', [['identifier', `${RPPS}|${principal.rpps}`]])) {
      references.add(`Practitioner/${practitioner.id}`);
      for (const role of await lookup.searchAll<PractitionerRole>('PractitionerRole', [['practitioner', `Practitioner/${practitioner.id}`]])) {
        if (role.active === false) continue;
        references.add(`PractitionerRole/${role.id}`);
        const organization = role.organization?.reference;
        if (organization?.startsWith('Organization/')) references.add(organization);
      }
    }
  }
  for (const value of finess) {
    identifiers.add(`${FINESS}|${value}`);
    for (const organization of await lookup.searchAll<Organization>('Organization', [['identifier', `${FINESS}|${value}`]])) references.add(`Organization/${organization.id}`);
  }
  const members = [...references];
  if (members.length > 0) {
    for (const team of await lookup.searchAll<CareTeam>('CareTeam', [['participant', members.join(',')], ['status', 'active']])) references.add(`CareTeam/${team.id}`);
  }
  const { system, value } = principalIdentifier(principal);
  return { references: [...references], identifiers: [...identifiers], reader: { identifier: { system, value }, ...(principal.name ? { display: principal.name } : {}) } };
}

/** Whether a message names one of these addresses among its recipients. */
export function isAddressedTo(message: Communication, addresses: Addresses, baseUrl: string): boolean {
  return (message.recipient ?? []).some((recipient) => {
    const reference = recipient.reference?.startsWith(`${baseUrl}/`) ? recipient.reference.slice(baseUrl.length + 1) : recipient.reference;
    if (reference && addresses.references.includes(reference)) return true;
    const identifier = recipient.identifier;
    return !!identifier && addresses.identifiers.includes(`${identifier.system ?? ''}|${identifier.value ?? ''}`);
  });
}

/** The identifier value of one reader's receipt of one message. */
export function receiptKey(messageId: string, reader: Reference): string {
  return createHash('sha256').update(`Communication/${messageId}\n${reader.identifier?.system}|${reader.identifier?.value}`).digest('hex').slice(0, 32);
}

/** The receipt recording that `reader` read `message`. */
export function readReceipt(message: Communication, reader: Reference, at: Date): Communication {
  return {
    resourceType: 'Communication',
    identifier: [{ system: ID_READ_RECEIPT, value: receiptKey(message.id!, reader) }],
    status: 'completed',
    category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'read-receipt', display: 'Accusé de lecture' }] }],
    ...(message.subject ? { subject: message.subject } : {}),
    inResponseTo: [{ reference: `Communication/${message.id}` }],
    sender: reader,
    sent: at.toISOString(),
    received: at.toISOString(),
  };
}
