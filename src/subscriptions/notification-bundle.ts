/**
 * Notification Bundles of topic-based subscriptions, as the Subscriptions R5
 * Backport IG defines them for R4 ("Notifications", profile
 * backport-subscription-notification-r4): a `history` Bundle whose first entry
 * is the SubscriptionStatus, encoded as a Parameters resource
 * (backport-subscription-status-r4) with its request set to the `$status`
 * call, then, by content level:
 * - empty: nothing else, and no focus in the events;
 * - id-only: the focus reference in each notification-event, and an entry per
 *   focus with fullUrl and request but no resource;
 * - full-resource: the same entries with the resource.
 * eventNumber and events-since-subscription-start are strings (R4 has no
 * integer64, the IG's choice).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from 'fhir/r4';
import type { SubscriptionSpec } from './subscription-request.js';

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export interface NotifiedEvent {
  eventNumber: number;
  timestamp: string;
  resourceType: string;
  id: string;
  versionId: number;
  interaction: 'create' | 'update' | 'delete';
  /** The version's content, when the subscriber may read it and content is full-resource. */
  resource?: Resource;
}

const STATUS_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-status-r4';
const NOTIFICATION_PROFILE = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription-notification-r4';

export function subscriptionStatus(
  spec: SubscriptionSpec,
  baseUrl: string,
  type: NotificationType,
  eventsSinceStart: number,
  events: readonly NotifiedEvent[] = [],
  content = spec.channel.content,
): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${baseUrl}/Subscription/${spec.id}` } },
    // The IG: topic SHOULD NOT be present with empty payloads.
    ...(spec.topic && content !== 'empty' ? [{ name: 'topic', valueCanonical: spec.topic.url }] : []),
    { name: 'status', valueCode: spec.status },
    { name: 'type', valueCode: type },
    { name: 'events-since-subscription-start', valueString: String(eventsSinceStart) },
    ...events.map((event) => ({
      name: 'notification-event',
      part: [
        { name: 'event-number', valueString: String(event.eventNumber) },
        { name: 'timestamp', valueInstant: event.timestamp },
        ...(content !== 'empty' ? [{ name: 'focus', valueReference: { reference: `${baseUrl}/${event.resourceType}/${event.id}` } }] : []),
      ],
    })),
    ...(spec.error && spec.status === 'error' ? [{ name: 'error', valueCodeableConcept: { text: spec.error } }] : []),
  ];
  return { resourceType: 'Parameters', id: randomUUID(), meta: { profile: [STATUS_PROFILE] }, parameter };
}

export function notificationBundle(
  spec: SubscriptionSpec,
  baseUrl: string,
  type: NotificationType,
  eventsSinceStart: number,
  events: readonly NotifiedEvent[] = [],
  content = spec.channel.content,
): Bundle {
  const status = subscriptionStatus(spec, baseUrl, type, eventsSinceStart, events, content);
  const entries: BundleEntry[] = [
    {
      fullUrl: `urn:uuid:${status.id}`,
      resource: status,
      request: { method: 'GET', url: `${baseUrl}/Subscription/${spec.id}/$status` },
      response: { status: '200' },
    },
  ];
  if (content !== 'empty') {
    for (const event of events) {
      const url = `${event.resourceType}/${event.id}`;
      entries.push({
        fullUrl: `${baseUrl}/${url}`,
        ...(content === 'full-resource' && event.resource ? { resource: event.resource as BundleEntry['resource'] } : {}),
        request: event.interaction === 'create' ? { method: 'POST', url: event.resourceType } : { method: event.interaction === 'delete' ? 'DELETE' : 'PUT', url },
        response: { status: event.interaction === 'create' ? '201' : '200', etag: `W/"${event.versionId}"`, lastModified: event.timestamp },
      });
    }
  }
  return { resourceType: 'Bundle', id: randomUUID(), meta: { profile: [NOTIFICATION_PROFILE] }, type: 'history', timestamp: new Date().toISOString(), entry: entries };
}
