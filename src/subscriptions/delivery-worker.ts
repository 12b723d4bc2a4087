/**
 * The delivery worker: sends what the outbox holds, per subscription, in
 * eventNumber order, at least once. It runs after commit, never in the write
 * path, as the server's session named after its job for status changes, and
 * as each subscription's OWNER for the content of every notification:
 * - an event is read through the owner's session (a vread of the very
 *   version): allowed, filtered and audited like the owner's own read, judged
 *   on the access facts of the moment of delivery (consent withdrawn since →
 *   refused). A refused event is not sent at all, whatever the content level
 *   (an id-only or empty notification would still tell that something happened);
 * - one task per subscription at a time, each under the queue's lease (several
 *   processes on one MongoDB share subscriptions, each delivered by one of them);
 *   subscriptions run independently, so a slow or dead endpoint only delays its own;
 * - a failed delivery is retried after an exponential backoff with full jitter
 *   (SUBSCRIPTION_RETRY_BASE_MS doubled per failure, capped at
 *   SUBSCRIPTION_RETRY_MAX_MS); after SUBSCRIPTION_ERROR_AFTER_FAILURES in a row
 *   the subscription turns to `error` (with the reason) and keeps being retried;
 *   the first success turns it back to `active`;
 * - the position is acknowledged in the store after each delivered batch, so
 *   after a crash or restart delivery resumes after the last acknowledged event
 *   (what was sent but not acknowledged is sent again: at least once).
 * Lifecycle: requested → active after a successful handshake (rest-hook) or at
 * once (websocket); error/active as above; `off` stops deliveries; a
 * subscription past its `end` is turned off.
 * Logs carry subscription ids and counts, never resource bodies or identifiers.
 */
import { randomUUID } from 'node:crypto';
import type { Resource, Subscription } from 'fhir/r4';
import type { Logger } from 'pino';
import type { FhirEngine } from '../engine/fhir-engine.js';
import type { EngineSession } from '../engine/engine-session.js';
import { FhirError } from '../errors.js';
import type { FhirXml } from '../fhir/xml/fhir-xml.js';
import type { OutboxEntry, ResourceStore } from '../store/resource-store.js';
import type { EndpointPolicy } from './endpoint-policy.js';
import { notificationBundle, type NotificationType, type NotifiedEvent } from './notification-bundle.js';
import type { EventData, OutboxWriter } from './outbox-writer.js';
import { sendHook } from './rest-hook-sender.js';
import { SubscriptionRegistry } from './subscription-registry.js';
import type { SubscriptionSpec } from './subscription-request.js';
import type { WebsocketHub } from './websocket-hub.js';

export interface DeliverySettings {
  errorAfterFailures: number;
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  pollMs: number;
  eventsKept: number;
  /** How long a lease lasts without renewal (a crashed holder's subscriptions are taken over after it). */
  leaseMs: number;
  /** AUTH_MODE=none: deliveries act as the anonymous caller (there is nobody to restrict). */
  authenticationOff: boolean;
}

interface QueueMemory {
  failures: number;
  notBefore: number;
  lastSent: number;
  /** Entries up to this number were trimmed (retention: SUBSCRIPTION_EVENTS_KEPT). */
  trimmed: number;
}

export interface DeliveryDeps {
  store: ResourceStore;
  engine: FhirEngine;
  registry: SubscriptionRegistry;
  writer: OutboxWriter;
  endpoints: EndpointPolicy;
  hub: WebsocketHub;
  xml: FhirXml;
  baseUrl: string;
  settings: DeliverySettings;
  log: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

export class DeliveryWorker {
  /** Names this process in leases. */
  readonly holder = `relais-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly memory = new Map<string, QueueMemory>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lastRefresh: string | undefined;

  constructor(private readonly deps: DeliveryDeps) {}

  async start(): Promise<void> {
    this.stopped = false;
    await this.refreshRegistry();
    this.schedulePoll(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Something was committed for these subscriptions (or they changed): deliver now. */
  wake(subscriptionIds: readonly string[]): void {
    for (const id of subscriptionIds) this.kick(id);
  }

  private schedulePoll(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.poll()
        .catch((error: unknown) => this.deps.log.warn({ component: 'subscriptions', err: (error as Error).message }, 'subscription poll failed'))
        .finally(() => this.schedulePoll(this.deps.settings.pollMs));
    }, delay);
    this.timer.unref();
  }

  /** What this process finds to do: undelivered events (also those other processes left), handshakes, heartbeats, ends. */
  private async poll(): Promise<void> {
    await this.refreshRegistry();
    for (const { queue } of await this.deps.store.outboxBacklog()) this.kick(queue);
    const now = Date.now();
    for (const spec of this.deps.registry.all()) {
      const memory = this.memory.get(spec.id);
      const heartbeatDue = spec.channel.heartbeatSeconds && now - (memory?.lastSent ?? 0) >= spec.channel.heartbeatSeconds * 1000;
      const ended = spec.end && Date.parse(spec.end) <= now && spec.status !== 'off';
      if (spec.status === 'requested' || heartbeatDue || ended || (memory && memory.failures > 0)) this.kick(spec.id);
    }
  }

  /**
   * Subscriptions written by other processes (or before a restart): their
   * definitions are read from the store's Subscription history since the last
   * look — configuration, not health data, so no audited session is needed; the
   * notifications themselves are read as their owners.
   */
  private async refreshRegistry(): Promise<void> {
    const since = this.lastRefresh;
    // Five seconds of overlap: versions committed by another process whose clock runs a little behind are not missed.
    const started = new Date(Date.now() - 5000).toISOString();
    let offset = 0;
    const seen = new Set<string>();
    for (;;) {
      const page = await this.deps.store.history({ resourceType: 'Subscription', ...(since ? { since } : {}), offset, count: 500 });
      for (const version of page.versions) {
        if (seen.has(version.id)) continue; // newest first: the first seen is the current one
        seen.add(version.id);
        if (version.deleted || !version.resource) {
          this.deps.registry.remove(version.id);
          continue;
        }
        const known = this.deps.registry.get(version.id);
        if (known?.versionId === String(version.versionId)) continue;
        try {
          const spec = await this.deps.writer.readStored(version.resource as Subscription);
          this.deps.registry.set(spec);
        } catch (error) {
          this.deps.log.warn({ component: 'subscriptions', subscription: version.id, err: (error as Error).message }, 'a stored subscription cannot be honoured any more');
        }
      }
      offset += page.versions.length;
      if (page.versions.length === 0 || offset >= page.total) break;
    }
    this.lastRefresh = started;
  }

  private kick(id: string): void {
    if (this.stopped) return;
    if (this.running.has(id)) {
      this.again.add(id);
      return;
    }
    const task = this.run(id)
      .catch((error: unknown) => this.deps.log.warn({ component: 'subscriptions', subscription: id, err: (error as Error).message }, 'subscription delivery task failed'))
      .finally(() => {
        this.running.delete(id);
        if (this.again.delete(id)) this.kick(id);
      });
    this.running.set(id, task);
  }

  private async run(id: string): Promise<void> {
    const spec = this.deps.registry.get(id);
    if (!spec) {
      // Deleted (or never a subscription): its queue goes too.
      const state = await this.deps.store.outboxState(id);
      if (state.head > 0 || (await this.deps.store.outboxBacklog()).some((q) => q.queue === id)) await this.deps.store.dropOutbox(id);
      return;
    }
    // A websocket subscription is served by the process its client is connected to.
    if (spec.channel.type === 'websocket' && !this.deps.hub.isBound(id) && spec.status !== 'requested') return;
    const { store } = this.deps;
    if (!(await store.leaseOutbox(id, this.holder, this.deps.settings.leaseMs))) return;
    try {
      const memory = this.memoryOf(id);
      if (Date.now() < memory.notBefore) {
        setTimeout(() => this.kick(id), memory.notBefore - Date.now() + 5).unref();
        return;
      }
      let current = spec;
      if (current.end && Date.parse(current.end) <= Date.now() && current.status !== 'off') {
        await this.setStatus(current, 'off');
        return;
      }
      if (current.status === 'off' || current.status === 'entered-in-error') return;
      if (current.status === 'requested') {
        const handshake = await this.handshake(current);
        if (!handshake.ok) return this.failed(current, handshake.error);
        current = (await this.setStatus(current, 'active')) ?? current;
        memory.lastSent = Date.now();
      }
      await this.deliverBacklog(current, memory);
    } finally {
      await store.releaseOutbox(id, this.holder).catch(() => undefined);
    }
  }

  private async deliverBacklog(spec: SubscriptionSpec, memory: QueueMemory): Promise<void> {
    const { store } = this.deps;
    const batchSize = spec.topic ? spec.channel.maxCount : 1;
    let state = await store.outboxState(spec.id);
    for (;;) {
      await this.deps.store.leaseOutbox(spec.id, this.holder, this.deps.settings.leaseMs); // renew
      const entries = await store.readOutbox(spec.id, state.acked, batchSize);
      if (entries.length === 0) break;
      state = await store.outboxState(spec.id);
      const events = await this.visibleEvents(spec, entries);
      const last = entries[entries.length - 1].seq;
      if (events.length > 0) {
        const result = await this.send(spec, 'event-notification', state.head, events);
        if (!result.ok) return this.failed(spec, result.error);
        memory.lastSent = Date.now();
      }
      await store.ackOutbox(spec.id, last);
      state = { ...state, acked: last };
      this.deps.log.debug({ component: 'subscriptions', subscription: spec.id, delivered: events.length, withheld: entries.length - events.length, upTo: last }, 'notifications delivered');
      if (memory.failures > 0 || spec.status === 'error') {
        memory.failures = 0;
        memory.notBefore = 0;
        if (spec.status === 'error') spec = (await this.setStatus(spec, 'active')) ?? spec;
      }
      // Retention, in steps of 100 so that trimming costs one store write per hundred events.
      const upTo = last - this.deps.settings.eventsKept;
      if (upTo - memory.trimmed >= 100) {
        await store.trimOutbox(spec.id, upTo);
        memory.trimmed = upTo;
      }
    }
    const period = spec.channel.heartbeatSeconds;
    if (period && Date.now() - memory.lastSent >= period * 1000) {
      const result = await this.send(spec, 'heartbeat', state.head, []);
      if (!result.ok) return this.failed(spec, result.error);
      memory.lastSent = Date.now();
    }
  }

  /** The events the owner may read now, with their content (each read audited as the owner's). */
  private async visibleEvents(spec: SubscriptionSpec, entries: OutboxEntry[]): Promise<NotifiedEvent[]> {
    const session = this.ownerSession(spec);
    const events: NotifiedEvent[] = [];
    for (const entry of entries) {
      if (!session) continue;
      let resource: Resource | undefined;
      try {
        resource = (await session.vread(entry.resourceType, entry.id, String(entry.versionId))).resource;
      } catch (error) {
        if (error instanceof FhirError && error.status < 500) continue; // not the owner's to see (or gone): withheld
        throw error;
      }
      events.push({
        eventNumber: entry.seq,
        timestamp: entry.committedAt,
        resourceType: entry.resourceType,
        id: entry.id,
        versionId: entry.versionId,
        interaction: (entry.data as EventData).interaction ?? 'update',
        ...(resource ? { resource } : {}),
      });
    }
    return events;
  }

  /** The owner's session; undefined when the subscription has no owner on an authenticated deployment (nothing is delivered). */
  ownerSession(spec: SubscriptionSpec): EngineSession | undefined {
    if (spec.owner) return this.deps.engine.as({ kind: 'client', principal: spec.owner, requestId: `subscription-${spec.id}` });
    return this.deps.settings.authenticationOff ? this.deps.engine.asAnonymous({ requestId: `subscription-${spec.id}` }) : undefined;
  }

  private handshake(spec: SubscriptionSpec): Promise<{ ok: true } | { ok: false; error: string }> {
    if (spec.channel.type === 'websocket') return Promise.resolve({ ok: true });
    if (!spec.topic) {
      // R4 defines no handshake; the first contact is an empty POST, as a payload-less notification is.
      return this.post(spec, { method: 'POST', url: spec.channel.endpoint!, headers: this.headers(spec, false) });
    }
    return this.send(spec, 'handshake', 0, []);
  }

  /** Sends one notification on the subscription's channel. */
  async send(spec: SubscriptionSpec, type: NotificationType, eventsSinceStart: number, events: NotifiedEvent[]): Promise<{ ok: true } | { ok: false; error: string }> {
    if (spec.channel.type === 'websocket') {
      const bundle = spec.topic ? JSON.stringify(notificationBundle(spec, this.deps.baseUrl, type, eventsSinceStart, events)) : undefined;
      const sent = this.deps.hub.send(spec.id, { ping: `ping ${spec.id}`, ...(bundle ? { bundle } : {}) });
      return sent || type === 'heartbeat' ? { ok: true } : { ok: false, error: 'no websocket client is bound' };
    }
    const endpoint = spec.channel.endpoint!;
    if (spec.topic) {
      const bundle = notificationBundle(spec, this.deps.baseUrl, type, eventsSinceStart, events);
      return this.post(spec, { method: 'POST', url: endpoint, headers: this.headers(spec, true), body: this.serialise(spec, bundle) });
    }
    // R4 criteria: one event per request (batches of 1).
    const event = events[0];
    if (spec.channel.payload && event?.resource) {
      const url = `${endpoint.replace(/\/$/, '')}/${event.resourceType}/${event.id}`;
      return this.post(spec, { method: 'PUT', url, headers: this.headers(spec, true), body: this.serialise(spec, event.resource) });
    }
    return this.post(spec, { method: 'POST', url: endpoint, headers: this.headers(spec, false) });
  }

  private async post(spec: SubscriptionSpec, request: { method: 'POST' | 'PUT'; url: string; headers: Record<string, string>; body?: string }) {
    const timeoutMs = Math.min(spec.channel.timeoutMs ?? this.deps.settings.timeoutMs, this.deps.settings.timeoutMs);
    return sendHook(this.deps.endpoints, { ...request, timeoutMs });
  }

  private headers(spec: SubscriptionSpec, withBody: boolean): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const line of spec.channel.headers) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    if (withBody) headers['Content-Type'] = spec.channel.format === 'xml' ? 'application/fhir+xml' : 'application/fhir+json';
    return headers;
  }

  private serialise(spec: SubscriptionSpec, resource: Resource): string {
    return spec.channel.format === 'xml' ? this.deps.xml.write(resource) : JSON.stringify(resource);
  }

  private async failed(spec: SubscriptionSpec, error: string): Promise<void> {
    const memory = this.memoryOf(spec.id);
    memory.failures += 1;
    const { retryBaseMs, retryMaxMs, errorAfterFailures } = this.deps.settings;
    // Full jitter (a random delay up to the exponential bound) spreads the retries of many subscriptions.
    const bound = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(memory.failures - 1, 30));
    const delay = Math.round(bound / 2 + Math.random() * (bound / 2));
    memory.notBefore = Date.now() + delay;
    setTimeout(() => this.kick(spec.id), delay + 5).unref();
    this.deps.log.info({ component: 'subscriptions', subscription: spec.id, failures: memory.failures, retryInMs: delay }, 'notification delivery failed');
    if (memory.failures >= errorAfterFailures && spec.status !== 'error') {
      await this.setStatus(spec, 'error', `${memory.failures} deliveries failed in a row; last: ${error}`);
    }
  }

  /** The server's own write of a subscription's state, audited as the server's. */
  private async setStatus(spec: SubscriptionSpec, status: SubscriptionSpec['status'], error?: string): Promise<SubscriptionSpec | undefined> {
    const server = this.deps.engine.asServer('subscription delivery: status change');
    try {
      const current = await server.read('Subscription', spec.id);
      const resource = current.resource as Subscription;
      const { error: _old, ...rest } = resource;
      const next: Subscription = { ...rest, status: status as Subscription['status'], ...(error ? { error } : {}) };
      await this.deps.writer.serverStateWrites.run(true, () => server.update('Subscription', spec.id, next, { ifMatch: current.versionId }));
      this.deps.log.info({ component: 'subscriptions', subscription: spec.id, status }, 'subscription status changed');
      return this.deps.registry.get(spec.id);
    } catch (failure) {
      // A client changed it meanwhile (its version wins; the next pass reads it), or it was deleted.
      if (failure instanceof FhirError && failure.status < 500) return undefined;
      throw failure;
    }
  }

  private memoryOf(id: string): QueueMemory {
    let memory = this.memory.get(id);
    if (!memory) this.memory.set(id, (memory = { failures: 0, notBefore: 0, lastSent: 0, trimmed: 0 }));
    return memory;
  }

  /** Registry snapshot for $status (events since start = the queue's head). */
  static isLive(spec: SubscriptionSpec): boolean {
    return SubscriptionRegistry.matches(spec);
  }
}
