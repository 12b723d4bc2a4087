/**
 * Subscriptions, assembled once per process from the configuration (built in
 * src/context.ts, started and stopped with the application): the topic
 * catalogue, the request reader, the registry, the outbox writer (the store
 * decorator the engine writes through), the websocket hub, the delivery
 * worker and the operations. The engine imports none of it.
 */
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { RelaisConfig } from '../config.js';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { FhirOperation } from '../operations/operation-registry.js';
import type { FhirDefinitions } from '../fhir/definitions.js';
import { FhirXml } from '../fhir/xml/fhir-xml.js';
import type { IndexExtractor } from '../search/index-extractor.js';
import type { SearchCompiler } from '../search/search-query.js';
import type { SearchParameterRegistry } from '../search/search-parameters.js';
import type { ResourceStore } from '../store/resource-store.js';
import { BindingTokens } from './binding-tokens.js';
import { CriteriaCompiler } from './criteria-filter.js';
import { DeliveryWorker } from './delivery-worker.js';
import { EndpointPolicy } from './endpoint-policy.js';
import { notificationBundle } from './notification-bundle.js';
import { OutboxWriter } from './outbox-writer.js';
import { bindingTokenOperation, eventsOperation, statusOperation } from './subscription-operations.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import { SubscriptionRequestReader } from './subscription-request.js';
import { TopicCatalogue } from './topic-catalogue.js';
import { WebsocketHub } from './websocket-hub.js';

/** Where the websocket channel listens (outside /fhir: a browser's socket carries no bearer token). */
export const SUBSCRIPTION_WEBSOCKET_PATH = '/ws/subscriptions';

const PROFILES_DIR = fileURLToPath(new URL('../../profiles', import.meta.url));

export interface SubscriptionServiceDeps {
  config: RelaisConfig;
  definitions: FhirDefinitions;
  searchParameters: SearchParameterRegistry;
  compiler: SearchCompiler;
  extractor: IndexExtractor;
  baseUrl: string;
  profilesDir?: string;
}

export class SubscriptionService {
  readonly topics: TopicCatalogue;
  readonly registry = new SubscriptionRegistry();
  readonly writer: OutboxWriter;
  readonly hub: WebsocketHub;
  readonly tokens: BindingTokens;
  readonly endpoints: EndpointPolicy;
  readonly websocketUrl: string;
  private worker: DeliveryWorker | undefined;
  private deliveringFrom: ResourceStore | undefined;
  private readonly xml: FhirXml;

  constructor(private readonly deps: SubscriptionServiceDeps) {
    const { config } = deps;
    this.topics = TopicCatalogue.fromDirectory(deps.profilesDir ?? PROFILES_DIR);
    this.endpoints = new EndpointPolicy({
      schemes: config.SUBSCRIPTION_ENDPOINT_SCHEMES.split(',').map((s) => s.trim()).filter(Boolean),
      hosts: config.SUBSCRIPTION_ENDPOINT_HOSTS.split(',').map((s) => s.trim()).filter(Boolean),
      allowPrivateAddresses: config.SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES,
    });
    const reader = new SubscriptionRequestReader({
      topics: this.topics,
      criteria: new CriteriaCompiler(deps.compiler, deps.searchParameters, deps.baseUrl),
      endpoints: this.endpoints,
      resourceTypes: new Set(deps.definitions.resourceTypes),
    });
    this.writer = new OutboxWriter({ registry: this.registry, reader, extractor: deps.extractor, committed: (queues) => this.worker?.wake(queues) });
    this.tokens = new BindingTokens(config.SUBSCRIPTION_TOKEN_SECRET);
    this.hub = new WebsocketHub(this.tokens);
    this.xml = new FhirXml(deps.definitions);
    const base = new URL(deps.baseUrl);
    this.websocketUrl = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}${SUBSCRIPTION_WEBSOCKET_PATH}`;
  }

  /** The store the engine must write through (records notifications in the same atomic write). */
  decorate(store: ResourceStore): ResourceStore {
    return this.writer.decorate(store);
  }

  operations(store: ResourceStore): FhirOperation[] {
    const deps = { store, writer: this.writer, tokens: this.tokens, baseUrl: this.deps.baseUrl, websocketUrl: this.websocketUrl };
    return [statusOperation(deps), eventsOperation(deps), bindingTokenOperation(deps)];
  }

  /** What the CapabilityStatement advertises: the websocket URL (R4 capabilitystatement-websocket) and the topics (Backport IG). */
  capabilityExtras(): { websocketUrl: string; subscriptionTopics: string[] } {
    return { websocketUrl: this.websocketUrl, subscriptionTopics: this.topics.all().map((t) => t.url) };
  }

  /** Starts delivering (after the store is open). */
  async start(store: ResourceStore, engine: FhirEngine, log: Pick<Logger, 'info' | 'warn' | 'debug'>): Promise<void> {
    const { config } = this.deps;
    this.deliveringFrom = store;
    this.worker = new DeliveryWorker({
      store,
      engine,
      registry: this.registry,
      writer: this.writer,
      endpoints: this.endpoints,
      hub: this.hub,
      xml: this.xml,
      baseUrl: this.deps.baseUrl,
      log,
      settings: {
        errorAfterFailures: config.SUBSCRIPTION_ERROR_AFTER_FAILURES,
        retryBaseMs: config.SUBSCRIPTION_RETRY_BASE_MS,
        retryMaxMs: config.SUBSCRIPTION_RETRY_MAX_MS,
        timeoutMs: config.SUBSCRIPTION_TIMEOUT_MS,
        pollMs: config.SUBSCRIPTION_POLL_MS,
        eventsKept: config.SUBSCRIPTION_EVENTS_KEPT,
        leaseMs: Math.max(30_000, config.SUBSCRIPTION_TIMEOUT_MS * 3),
        authenticationOff: config.AUTH_MODE === 'none',
      },
    });
    const worker = this.worker;
    this.hub.events = {
      mayBind: async (request) => {
        const spec = this.registry.get(request.subscriptionId);
        if (!spec || spec.channel.type !== 'websocket') return 'no websocket subscription with this id';
        if (request.style === 'r4' && config.AUTH_MODE !== 'none') {
          const owner = spec.owner;
          if (!request.principal || !owner || owner.issuer !== request.principal.issuer || owner.subject !== request.principal.subject) return 'bind <id> needs the bearer token of the subscription owner (or use bind-with-token)';
        }
        return undefined;
      },
      bound: (id) => {
        const spec = this.registry.get(id);
        if (spec?.topic) {
          this.hub.send(id, { ping: `bound ${id}`, bundle: JSON.stringify(this.handshakeBundle(id)) });
        }
        worker.wake([id]);
      },
    };
    await this.worker.start();
  }

  async stop(): Promise<void> {
    await this.worker?.stop();
    this.deliveringFrom = undefined;
  }

  /**
   * Notifications committed and numbered but not yet acknowledged, all
   * subscriptions together (the metrics' queue depth); undefined while delivery
   * is not running (the store may not be open).
   */
  async pendingNotifications(): Promise<number | undefined> {
    if (!this.deliveringFrom) return undefined;
    let pending = 0;
    for (const { head, acked, unnumbered } of await this.deliveringFrom.outboxBacklog()) pending += Math.max(0, head - acked) + (unnumbered ?? 0);
    return pending;
  }

  /** The Backport IG: on bind-with-token, one handshake Bundle per subscription bound. */
  private handshakeBundle(id: string) {
    return notificationBundle(this.registry.get(id)!, this.deps.baseUrl, 'handshake', 0, []);
  }
}
