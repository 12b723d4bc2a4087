/**
 * Communication/[id]/$mark-read: records that the caller read a message
 * addressed to her (to her, one of her roles, her organisation or a care team
 * she belongs to: src/coordination/message-addressees.ts). One receipt per
 * reader and message — a Communication of category read-receipt, inResponseTo
 * the message, sender the reader — written by the server under a
 * conditional-create guard on its identifier, so marking it twice (or twice at
 * once) records one receipt, the first. A message addressed to someone else
 * is a 422: there is nothing for her to acknowledge. Output: the receipt.
 */
import type { Communication } from 'fhir/r4';
import { addressesOf, ID_READ_RECEIPT, isAddressedTo, readReceipt, receiptKey } from '../coordination/message-addressees.js';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { errors } from '../errors.js';
import type { FhirOperation } from './operation-registry.js';

export function markReadOperation(settings: { coordinationTeamFiness?: string }): FhirOperation {
  return {
    name: 'mark-read',
    definition: 'https://relais-sante.fr/fhir/OperationDefinition/Communication-mark-read',
    levels: ['instance'],
    resourceTypes: ['Communication'],
    affectsState: true,
    access: {
      // Whoever may read the message (a hidden one is a 404); the receipt names the same patient.
      instance: { roles: ['practitioner', 'coordinator'], requires: 'read-instance', reveals: 'readable-only' },
    },
    async invoke(request) {
      const caller = request.session.caller;
      if (caller.kind !== 'client') throw errors.badRequest('$mark-read records the reading of an identified reader');
      const message = (await request.server.read('Communication', request.id!)).resource as Communication;
      const lookup = new ResourceLookup(request.server, request.server.baseUrl);
      const addresses = await addressesOf(lookup, caller.principal, settings.coordinationTeamFiness);
      if (!isAddressedTo(message, addresses, request.server.baseUrl)) throw errors.notAddressedToCaller();
      const key = receiptKey(message.id!, addresses.reader);
      const result = await request.server.create('Communication', readReceipt(message, addresses.reader, new Date()), { ifNoneExist: `identifier=${ID_READ_RECEIPT}|${key}` });
      return { status: result.status, resource: result.version.resource! };
    },
  };
}
