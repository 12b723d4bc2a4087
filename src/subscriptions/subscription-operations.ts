/**
 * The Backport IG's operations on Subscription, each with its access rule
 * declared here (src/engine/operation.ts):
 * - `$status` (instance, type): the SubscriptionStatus of subscriptions the
 *   caller may read (its own), as a searchset Bundle of Parameters;
 * - `$events` (instance): past notifications by event number
 *   (eventsSinceNumber, eventsUntilNumber, content), from the events the outbox
 *   keeps; each event's resource is read through the caller's session
 *   (allowed and audited like a read: what it may no longer see is left out);
 * - `$get-ws-binding-token` (instance, type): a short-lived token for the
 *   websocket channel (binding-tokens.ts) and the websocket URL.
 */
import type { Bundle, Parameters, Subscription } from 'fhir/r4';
import type { OperationRequest } from '../engine/operation.js';
import type { FhirOperation } from '../operations/operation-registry.js';
import { errors, FhirError } from '../errors.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { BindingTokens } from './binding-tokens.js';
import { notificationBundle, subscriptionStatus, type NotifiedEvent } from './notification-bundle.js';
import type { EventData, OutboxWriter } from './outbox-writer.js';
import type { Content, SubscriptionSpec } from './subscription-request.js';

export interface OperationDeps {
  store: ResourceStore;
  writer: OutboxWriter;
  tokens: BindingTokens;
  baseUrl: string;
  websocketUrl: string;
}

const MAX_EVENTS = 1000;
const DEFINITIONS = 'http://hl7.org/fhir/uv/subscriptions-backport/OperationDefinition/';

function param(request: OperationRequest, name: string): string[] {
  const fromQuery = request.query.filter(([n]) => n === name).map(([, v]) => v);
  const body = request.body as Parameters | undefined;
  const fromBody = body?.resourceType === 'Parameters' ? (body.parameter ?? []).filter((p) => p.name === name).map((p) => String(p.valueString ?? p.valueId ?? p.valueCode ?? p.valueInteger ?? '')) : [];
  return [...fromQuery, ...fromBody];
}

/** The subscriptions named (instance: the target; type: `id` parameters, else all the caller may read), read as the caller. */
async function targets(request: OperationRequest, deps: OperationDeps): Promise<SubscriptionSpec[]> {
  const ids = request.level === 'instance' ? [request.id!] : param(request, 'id');
  const resources: Subscription[] = [];
  if (ids.length > 0) {
    for (const id of ids) resources.push((await request.session.read('Subscription', id)).resource as Subscription);
  } else {
    const bundle = await request.session.search('Subscription', [['_count', '1000']]);
    for (const entry of bundle.entry ?? []) if (entry.resource?.resourceType === 'Subscription') resources.push(entry.resource as Subscription);
  }
  const specs: SubscriptionSpec[] = [];
  for (const resource of resources) specs.push(await deps.writer.readStored(resource));
  return specs;
}

export function statusOperation(deps: OperationDeps): FhirOperation {
  return {
    name: 'status',
    definition: `${DEFINITIONS}backport-subscription-status`,
    levels: ['instance', 'type'],
    resourceTypes: ['Subscription'],
    affectsState: false,
    // Status of the caller's own subscriptions: no patient data.
    access: { instance: { requires: 'read-instance', reveals: 'no-patient-data' }, type: { requires: 'search-type', reveals: 'no-patient-data' } },
    async invoke(request) {
      const statuses = param(request, 'status');
      const specs = (await targets(request, deps)).filter((s) => request.level === 'instance' || statuses.length === 0 || statuses.includes(s.status));
      const entry = [];
      for (const spec of specs) {
        const state = await deps.store.outboxState(spec.id);
        const status = subscriptionStatus(spec, deps.baseUrl, 'query-status', state.head);
        entry.push({ fullUrl: `urn:uuid:${status.id}`, resource: status, search: { mode: 'match' as const } });
      }
      const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
      return { status: 200, resource: bundle };
    },
  };
}

export function eventsOperation(deps: OperationDeps): FhirOperation {
  return {
    name: 'events',
    definition: `${DEFINITIONS}backport-subscription-events`,
    levels: ['instance'],
    resourceTypes: ['Subscription'],
    affectsState: false,
    // The owner's past notifications; each event's resource is read (and audited) through the caller's session.
    access: { instance: { requires: 'read-instance', reveals: 'readable-only' } },
    async invoke(request) {
      const [spec] = await targets(request, deps);
      const number = (name: string) => {
        const raw = param(request, name)[0];
        if (raw === undefined) return undefined;
        if (!/^[0-9]{1,15}$/.test(raw)) throw errors.invalidParameter(name, `${name} is a non-negative event number`);
        return Number(raw);
      };
      const state = await deps.store.outboxState(spec.id);
      const since = Math.max(1, number('eventsSinceNumber') ?? 1);
      const until = Math.min(state.head, number('eventsUntilNumber') ?? state.head, since + MAX_EVENTS - 1);
      const contentParam = param(request, 'content')[0];
      if (contentParam !== undefined && !['empty', 'id-only', 'full-resource'].includes(contentParam)) throw errors.invalidParameter('content', 'content is empty, id-only or full-resource');
      const content = (contentParam as Content | undefined) ?? spec.channel.content;
      const entries = until >= since ? await deps.store.readOutbox(spec.id, since - 1, until - since + 1) : [];
      if (entries.length > 0 && entries[0].seq > since) throw errors.subscriptionEventsUnavailable(`events before ${entries[0].seq} are no longer kept (SUBSCRIPTION_EVENTS_KEPT)`);
      const events: NotifiedEvent[] = [];
      for (const entry of entries) {
        try {
          const version = await request.session.vread(entry.resourceType, entry.id, String(entry.versionId));
          events.push({
            eventNumber: entry.seq,
            timestamp: entry.committedAt,
            resourceType: entry.resourceType,
            id: entry.id,
            versionId: entry.versionId,
            interaction: (entry.data as EventData).interaction ?? 'update',
            ...(version.resource ? { resource: version.resource } : {}),
          });
        } catch (error) {
          if (error instanceof FhirError && error.status < 500) continue; // the caller may not (or no longer) see it
          throw error;
        }
      }
      return { status: 200, resource: notificationBundle(spec, deps.baseUrl, 'query-event', state.head, events, content) };
    },
  };
}

export function bindingTokenOperation(deps: OperationDeps): FhirOperation {
  return {
    name: 'get-ws-binding-token',
    definition: `${DEFINITIONS}backport-subscription-get-ws-binding-token`,
    levels: ['instance', 'type'],
    resourceTypes: ['Subscription'],
    affectsState: false,
    // A token for the caller's own websocket subscriptions.
    access: { instance: { requires: 'read-instance', reveals: 'no-patient-data' }, type: { requires: 'search-type', reveals: 'no-patient-data' } },
    async invoke(request) {
      const specs = (await targets(request, deps)).filter((s) => s.channel.type === 'websocket');
      if (specs.length === 0) throw errors.badRequest('none of these subscriptions uses the websocket channel', ['id']);
      const { token, expires } = deps.tokens.mint(specs.map((s) => s.id));
      const result: Parameters = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'token', valueString: token },
          { name: 'expiration', valueDateTime: expires.toISOString() },
          ...specs.map((s) => ({ name: 'subscription', valueString: s.id })),
          { name: 'websocket-url', valueUrl: deps.websocketUrl },
        ],
      };
      return { status: 200, resource: result };
    },
  };
}
