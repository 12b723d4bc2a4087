/**
 * Reads a Subscription into what the server will do with it, refusing what it
 * cannot honour (422 naming the element, nothing stored) — the checks of the
 * Backport IG's "Accepting Subscription Requests": the topic is known, each
 * filter is one the topic allows, the channel type and the payload are
 * offered, the endpoint is an allowed absolute URL.
 *
 * Two kinds, told apart by `criteria`:
 * - R4 (Subscription page of R4): `criteria` is a search URL `Type?params`;
 *   rest-hook without payload POSTs no body, with a payload PUTs the resource
 *   to [endpoint]/[type]/[id] (R4 subscription-channel-type "rest-hook"); a
 *   websocket client is sent `ping <id>`;
 * - topic-based (Subscriptions R5 Backport IG): `criteria` is a topic
 *   canonical, filters in the backport-filter-criteria extension, content in
 *   backport-payload-content, heartbeat/timeout/max-count on the channel;
 *   notifications are history Bundles led by a SubscriptionStatus Parameters.
 */
import type { Extension, Subscription } from 'fhir/r4';
import type { Principal } from '../identity/principal.js';
import { ownerOf } from '../identity/principal-record.js';
import { CriteriaRefused, splitCriteria, type CompiledCriteria, type CriteriaCompiler } from './criteria-filter.js';
import { EndpointRefused, type EndpointPolicy } from './endpoint-policy.js';
import type { ResourceTrigger, SubscriptionTopic, TopicCatalogue } from './topic-catalogue.js';

const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/';
export const FILTER_CRITERIA = `${BACKPORT}backport-filter-criteria`;
export const PAYLOAD_CONTENT = `${BACKPORT}backport-payload-content`;
export const HEARTBEAT_PERIOD = `${BACKPORT}backport-heartbeat-period`;
export const TIMEOUT = `${BACKPORT}backport-timeout`;
export const MAX_COUNT = `${BACKPORT}backport-max-count`;
export const CHANNEL_TYPE = `${BACKPORT}backport-channel-type`;

/** Types whose writes never trigger notifications: the audit trail (every delivery writes one) and subscriptions themselves. */
export const UNSUBSCRIBABLE_TYPES: ReadonlySet<string> = new Set(['AuditEvent', 'Subscription']);

const PAYLOAD_TYPES = new Map<string, 'json' | 'xml'>([
  ['application/fhir+json', 'json'],
  ['application/json', 'json'],
  ['application/fhir+xml', 'xml'],
  ['application/xml', 'xml'],
]);

export type Content = 'empty' | 'id-only' | 'full-resource';

export interface TriggerMatcher {
  resourceType: string;
  trigger?: ResourceTrigger;
  /** R4 criteria, or the filters that apply to this trigger's type (ANDed). */
  filter?: CompiledCriteria;
  previous?: CompiledCriteria;
  current?: CompiledCriteria;
}

export interface SubscriptionSpec {
  id: string;
  versionId?: string;
  status: 'requested' | 'active' | 'error' | 'off' | 'entered-in-error';
  end?: string;
  topic?: SubscriptionTopic;
  matchers: TriggerMatcher[];
  channel: {
    type: 'rest-hook' | 'websocket';
    endpoint?: string;
    /** The payload MIME type as given (absent: R4 "no payload"). */
    payload?: string;
    format: 'json' | 'xml';
    headers: string[];
    content: Content;
    heartbeatSeconds?: number;
    timeoutMs?: number;
    maxCount: number;
  };
  /** Who created it (the access layer records it); undefined on a deployment without authentication. */
  owner?: Principal;
  error?: string;
}

/** A refusal naming the element at fault (becomes a 422 OperationOutcome). */
export class SubscriptionRefused extends Error {
  constructor(
    readonly element: string,
    message: string,
  ) {
    super(message);
  }
}

const ext = (list: Extension[] | undefined, url: string) => (list ?? []).filter((e) => e.url === url);

export interface RequestReaderDeps {
  topics: TopicCatalogue;
  criteria: CriteriaCompiler;
  endpoints: EndpointPolicy;
  resourceTypes: ReadonlySet<string>;
}

export class SubscriptionRequestReader {
  constructor(private readonly deps: RequestReaderDeps) {}

  /**
   * `fromClient`: a client's create or update (only `requested` or `off` may be
   * sent: R4 Subscription.status, "only the server can move a subscription from
   * requested to active, and then to error"); the endpoint's addresses are resolved.
   */
  async read(subscription: Subscription, fromClient: boolean): Promise<SubscriptionSpec> {
    const status = subscription.status;
    if (fromClient && status !== 'requested' && status !== 'off') {
      throw new SubscriptionRefused('Subscription.status', `a client submits a Subscription as 'requested' (or 'off'); the server moves it to active or error (got '${status}')`);
    }
    const channel = subscription.channel;
    const channelType = channel?.type;
    if (ext(channel?._type?.extension, CHANNEL_TYPE).length > 0) throw new SubscriptionRefused('Subscription.channel.type', 'custom channel types (backport-channel-type) are not offered: use rest-hook or websocket');
    if (channelType !== 'rest-hook' && channelType !== 'websocket') {
      throw new SubscriptionRefused('Subscription.channel.type', `the ${channelType ?? '(missing)'} channel is not offered: use rest-hook or websocket`);
    }
    const criteria = subscription.criteria ?? '';
    const topic = /^[a-z][a-z0-9+.-]*:/i.test(criteria) ? this.deps.topics.get(criteria) : undefined;
    const isTopic = topic !== undefined || /^[a-z][a-z0-9+.-]*:/i.test(criteria);
    if (isTopic && !topic) throw new SubscriptionRefused('Subscription.criteria', `unknown topic '${criteria}': the topics offered are listed in the CapabilityStatement`);

    const payload = channel.payload?.split(';')[0].trim().toLowerCase();
    if (payload !== undefined && !PAYLOAD_TYPES.has(payload)) {
      throw new SubscriptionRefused('Subscription.channel.payload', `payload '${channel.payload}' is not offered: use application/fhir+json or application/fhir+xml`);
    }
    const fhirVersion = /fhirVersion\s*=\s*([0-9.]+)/.exec(channel.payload ?? '')?.[1];
    if (fhirVersion && !fhirVersion.startsWith('4.0')) throw new SubscriptionRefused('Subscription.channel.payload', `notifications are FHIR R4 (4.0); fhirVersion=${fhirVersion} is not offered`);
    const contentCodes = ext(channel._payload?.extension, PAYLOAD_CONTENT).map((e) => e.valueCode);
    let content: Content;
    if (topic) {
      const code = contentCodes[0] ?? 'id-only';
      if (code !== 'empty' && code !== 'id-only' && code !== 'full-resource') throw new SubscriptionRefused('Subscription.channel.payload', `content '${code}' is not one of empty, id-only, full-resource`);
      content = code;
    } else {
      if (contentCodes.length > 0) throw new SubscriptionRefused('Subscription.channel.payload', 'backport-payload-content applies to topic-based subscriptions (criteria = a topic canonical)');
      content = payload ? 'full-resource' : 'empty';
    }

    let endpoint: string | undefined;
    if (channelType === 'rest-hook') {
      if (!channel.endpoint) throw new SubscriptionRefused('Subscription.channel.endpoint', 'a rest-hook subscription needs an endpoint');
      try {
        if (fromClient) await this.deps.endpoints.check(channel.endpoint);
        else this.deps.endpoints.checkUrl(channel.endpoint);
      } catch (error) {
        if (error instanceof EndpointRefused) throw new SubscriptionRefused('Subscription.channel.endpoint', error.message);
        throw error;
      }
      endpoint = channel.endpoint;
    }
    for (const [i, header] of (channel.header ?? []).entries()) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e]*$/.test(header)) {
        throw new SubscriptionRefused(`Subscription.channel.header[${i}]`, "a header is 'Name: value' in visible ASCII");
      }
    }
    const unsigned = (url: string, element: string) => {
      const value = ext(channel.extension, url)[0];
      if (!value) return undefined;
      const n = value.valueUnsignedInt ?? value.valuePositiveInt;
      if (!topic) throw new SubscriptionRefused(element, `${url.slice(BACKPORT.length)} applies to topic-based subscriptions`);
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new SubscriptionRefused(element, 'expected a non-negative integer');
      return n;
    };
    const heartbeatSeconds = unsigned(HEARTBEAT_PERIOD, 'Subscription.channel.extension:heartbeatPeriod');
    const timeoutSeconds = unsigned(TIMEOUT, 'Subscription.channel.extension:timeout');
    const maxCount = unsigned(MAX_COUNT, 'Subscription.channel.extension:maxCount');
    if (maxCount === 0) throw new SubscriptionRefused('Subscription.channel.extension:maxCount', 'max-count is a positive integer');

    const matchers = topic ? await this.topicMatchers(topic, subscription) : [await this.criteriaMatcher(criteria)];
    return {
      id: subscription.id ?? '',
      ...(subscription.meta?.versionId ? { versionId: subscription.meta.versionId } : {}),
      status,
      ...(subscription.end ? { end: subscription.end } : {}),
      ...(topic ? { topic } : {}),
      matchers,
      channel: {
        type: channelType,
        ...(endpoint ? { endpoint } : {}),
        ...(payload ? { payload } : {}),
        format: PAYLOAD_TYPES.get(payload ?? '') ?? 'json',
        headers: channel.header ?? [],
        content,
        ...(heartbeatSeconds ? { heartbeatSeconds } : {}),
        ...(timeoutSeconds ? { timeoutMs: timeoutSeconds * 1000 } : {}),
        maxCount: maxCount ?? 1,
      },
      ...(ownerOf(subscription.extension) ? { owner: ownerOf(subscription.extension) } : {}),
      ...(subscription.error ? { error: subscription.error } : {}),
    };
  }

  private async criteriaMatcher(criteria: string): Promise<TriggerMatcher> {
    try {
      const { resourceType, params } = splitCriteria(criteria);
      this.checkType(resourceType, 'Subscription.criteria');
      return { resourceType, filter: await this.deps.criteria.compile(resourceType, params) };
    } catch (error) {
      if (error instanceof CriteriaRefused) throw new SubscriptionRefused('Subscription.criteria', `criteria '${criteria}': ${error.message}`);
      throw error;
    }
  }

  /** One matcher per trigger, each with the filters that apply to its type (Backport IG "Subscription Filters"). */
  private async topicMatchers(topic: SubscriptionTopic, subscription: Subscription): Promise<TriggerMatcher[]> {
    const filters = ext(subscription._criteria?.extension, FILTER_CRITERIA).map((e, i) => ({ text: e.valueString ?? '', element: `Subscription.criteria.extension:filterCriteria[${i}]` }));
    const perType = new Map<string, Array<[string, string]>>();
    for (const filter of filters) {
      // The IG's own examples write a filter as a search on the filtered type
      // (`Encounter?patient=Patient/123`, the backport-filter-criteria of its R4 Subscription
      // example); the bare form (`patient=Patient/123`) applies to every type the topic filters.
      const typed = /^([A-Z][A-Za-z]+)\?(.*)$/s.exec(filter.text);
      const filterType = typed?.[1];
      const parsed = [...new URLSearchParams(typed ? typed[2] : filter.text)];
      if (parsed.length === 0) throw new SubscriptionRefused(filter.element, `filter '${filter.text}' is not [parameter]=[value]`);
      for (const [rawName, value] of parsed) {
        const dot = rawName.indexOf('.');
        const dotted = !filterType && dot > 0 && /^[A-Z]/.test(rawName) ? rawName.slice(0, dot) : undefined;
        const qualified = filterType ?? dotted;
        const name = dotted ? rawName.slice(dot + 1) : rawName;
        const code = name.split(':')[0];
        const allowed = topic.canFilterBy.filter((f) => f.filterParameter === code && (!qualified || f.resourceType === qualified));
        if (allowed.length === 0) {
          const offered = [...new Set(topic.canFilterBy.map((f) => f.filterParameter))].join(', ');
          throw new SubscriptionRefused(filter.element, `filter '${rawName}' is not allowed by topic ${topic.url} (allowed: ${offered})`);
        }
        for (const f of allowed) perType.set(f.resourceType, [...(perType.get(f.resourceType) ?? []), [name, value]]);
      }
    }
    const matchers: TriggerMatcher[] = [];
    for (const trigger of topic.triggers) {
      const compile = async (params: Array<[string, string]>, element: string) => {
        try {
          return await this.deps.criteria.compile(trigger.resourceType, params);
        } catch (error) {
          if (error instanceof CriteriaRefused) throw new SubscriptionRefused(element, error.message);
          throw error;
        }
      };
      const filterParams = perType.get(trigger.resourceType) ?? [];
      const query = trigger.queryCriteria;
      matchers.push({
        resourceType: trigger.resourceType,
        trigger,
        ...(filterParams.length > 0 ? { filter: await compile(filterParams, 'Subscription.criteria.extension:filterCriteria') } : {}),
        ...(query?.previous ? { previous: await compile([...new URLSearchParams(query.previous)], 'Subscription.criteria') } : {}),
        ...(query?.current ? { current: await compile([...new URLSearchParams(query.current)], 'Subscription.criteria') } : {}),
      });
    }
    return matchers;
  }

  private checkType(resourceType: string, element: string): void {
    if (!this.deps.resourceTypes.has(resourceType)) throw new SubscriptionRefused(element, `unknown resource type '${resourceType}'`);
    if (UNSUBSCRIBABLE_TYPES.has(resourceType)) throw new SubscriptionRefused(element, `writes of ${resourceType} do not trigger notifications`);
  }
}
