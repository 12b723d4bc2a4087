/**
 * Communication/$inbox: the messages addressed to the caller — to her, one of
 * her roles, her organisation (the coordination team for the coordination
 * cell) or a care team she belongs to (src/coordination/message-addressees.ts)
 * — newest first, with her read receipts, so each reader has her own "unread".
 * The messages are searched through the caller's own session: only what she
 * may read is found, counted and audited as her search.
 *
 * Input (query or Parameters): status = unread | read | all (default all),
 * priority (routine | urgent | asap | stat), _count (default 20), _offset.
 * Output: a searchset Bundle — the messages (search.mode match, `total`
 * counting them), and for each message she has read, her receipt (search.mode
 * include).
 */
import type { Bundle, BundleEntry, Communication, Resource } from 'fhir/r4';
import { addressesOf, ID_READ_RECEIPT } from '../coordination/message-addressees.js';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { errors } from '../errors.js';
import { bodyParameters, numberParameter } from './operation-parameters.js';
import type { FhirOperation, OperationRequest } from './operation-registry.js';

/** Messages an inbox looks through (the newest): bounded, as any page of results. */
const INBOX_WINDOW = 1000;

function textParameter(request: OperationRequest, name: string): string | undefined {
  const fromBody = bodyParameters(request).find((p) => p.name === name);
  return fromBody?.valueCode ?? fromBody?.valueString ?? request.query.find(([n]) => n === name)?.[1];
}

export function inboxOperation(settings: { coordinationTeamFiness?: string }): FhirOperation {
  return {
    name: 'inbox',
    definition: 'https://relais-sante.fr/fhir/OperationDefinition/Communication-inbox',
    levels: ['type'],
    resourceTypes: ['Communication'],
    affectsState: false,
    access: {
      // Professionals and the coordination cell; what it lists is what the caller's own search finds.
      type: { roles: ['practitioner', 'coordinator'], requires: 'search-type', reveals: 'readable-only' },
    },
    async invoke(request) {
      const status = textParameter(request, 'status') ?? 'all';
      if (!['unread', 'read', 'all'].includes(status)) throw errors.invalidParameter('status', `status must be unread, read or all, got '${status}'`);
      const priority = textParameter(request, 'priority');
      const count = numberParameter(request, '_count', true) ?? 20;
      const offset = numberParameter(request, '_offset', true) ?? 0;
      const caller = request.session.caller;
      if (caller.kind !== 'client') throw errors.badRequest('$inbox lists the messages of an identified reader');
      const lookup = new ResourceLookup(request.server, request.server.baseUrl);
      const addresses = await addressesOf(lookup, caller.principal, settings.coordinationTeamFiness);
      const found: Communication[] = [];
      if (addresses.references.length > 0) found.push(...(await search(request, [['recipient', addresses.references.join(',')]], priority)));
      if (addresses.identifiers.length > 0) found.push(...(await search(request, [['recipient:identifier', addresses.identifiers.join(',')]], priority)));
      const messages = [...new Map(found.map((m) => [m.id!, m])).values()]
        .filter((m) => !(m.category ?? []).some((c) => (c.coding ?? []).some((x) => x.code === 'read-receipt')))
        .sort((a, b) => (b.sent ?? b.meta?.lastUpdated ?? '').localeCompare(a.sent ?? a.meta?.lastUpdated ?? ''));
      const receipts = new Map<string, Communication>();
      const reader = addresses.reader.identifier!;
      for (let i = 0; i < messages.length; i += 100) {
        const ids = messages.slice(i, i + 100).map((m) => `Communication/${m.id}`);
        const mine = await lookup.searchAll<Communication>('Communication', [['in-response-to', ids.join(',')], ['sender:identifier', `${reader.system}|${reader.value}`], ['identifier', `${ID_READ_RECEIPT}|`]]);
        for (const receipt of mine) receipts.set(receipt.inResponseTo![0].reference!.slice('Communication/'.length), receipt);
      }
      const listed = messages.filter((m) => status === 'all' || (status === 'read') === receipts.has(m.id!));
      const page = listed.slice(offset, offset + count);
      const entry: BundleEntry<Resource>[] = [];
      for (const message of page) {
        entry.push({ fullUrl: `${request.server.baseUrl}/Communication/${message.id}`, resource: message, search: { mode: 'match' } });
        const receipt = receipts.get(message.id!);
        if (receipt) entry.push({ fullUrl: `${request.server.baseUrl}/Communication/${receipt.id}`, resource: receipt, search: { mode: 'include' } });
      }
      const bundle: Bundle<Resource> = { resourceType: 'Bundle', type: 'searchset', total: listed.length, entry };
      return { status: 200, resource: bundle as Resource };
    },
  };
}

/** The caller's own search (allowed, filtered and audited as hers), newest first, within INBOX_WINDOW. */
async function search(request: OperationRequest, criteria: Array<[string, string]>, priority: string | undefined): Promise<Communication[]> {
  const bundle = await request.session.search('Communication', [...criteria, ...(priority ? [['priority', priority] as [string, string]] : []), ['_sort', '-sent'], ['_count', String(INBOX_WINDOW)]], { strict: true });
  return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as Communication);
}
