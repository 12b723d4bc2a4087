/**
 * The write path's part of subscriptions: a decorator of the store the engine
 * writes through (installed in src/context.ts, under the access layer, so
 * every write — a client's, a transaction's, the discharge intake's, the
 * server's — passes here). For each operation of a write it
 * - finds the subscriptions the change notifies (subscription-registry.ts) and
 *   adds one outbox record per subscription to THAT operation: the store
 *   commits them in the same atomic write as the version, or not at all, so a
 *   committed change is never without its notifications and a change that did
 *   not commit has none;
 * - reads a Subscription being written (subscription-request.ts) and refuses
 *   what cannot be honoured (422, nothing stored), then, once committed, puts
 *   it in the registry.
 * The engine knows nothing of this (it sees a ResourceStore).
 */
import type { Resource, Subscription } from 'fhir/r4';
import { AsyncLocalStorage } from 'node:async_hooks';
import { errors } from '../errors.js';
import type { OutboxRecord, ResourceStore, StoredVersion, WriteOperation } from '../store/resource-store.js';
import type { IndexExtractor } from '../search/index-extractor.js';
import { SubscriptionRegistry, type VersionSeen } from './subscription-registry.js';
import { SubscriptionRefused, UNSUBSCRIBABLE_TYPES, type SubscriptionRequestReader, type SubscriptionSpec } from './subscription-request.js';

export interface OutboxWriterDeps {
  registry: SubscriptionRegistry;
  reader: SubscriptionRequestReader;
  extractor: IndexExtractor;
  /** Called once a write that added records (or changed a subscription) has committed. */
  committed(queues: string[]): void;
}

/** The data of an outbox record: what happened (the version is the record's own). */
export interface EventData extends Record<string, unknown> {
  interaction: 'create' | 'update' | 'delete';
}

export class OutboxWriter {
  /** Set while the server writes a subscription's state (status, error): those writes may carry any status. */
  readonly serverStateWrites = new AsyncLocalStorage<true>();

  constructor(private readonly deps: OutboxWriterDeps) {}

  /** `inner` with write() adding the outbox records; every other member is the store's own. */
  decorate(inner: ResourceStore): ResourceStore {
    const write = (operations: WriteOperation[]) => this.write(inner, operations);
    return new Proxy(inner, {
      get(target, property) {
        if (property === 'write') return write;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  private async write(inner: ResourceStore, operations: WriteOperation[]): Promise<StoredVersion[]> {
    const subscriptions: Array<{ op: WriteOperation; spec?: SubscriptionSpec }> = [];
    const queues = new Set<string>();
    const prepared: WriteOperation[] = [];
    for (const op of operations) {
      if (op.resourceType === 'Subscription') {
        subscriptions.push({ op, ...(op.kind === 'put' && op.resource ? { spec: await this.readSubscription(op.resource as Subscription) } : {}) });
        prepared.push(op);
        continue;
      }
      const records = await this.recordsFor(inner, op);
      for (const r of records) queues.add(r.queue);
      prepared.push(records.length > 0 ? { ...op, outbox: [...(op.outbox ?? []), ...records] } : op);
    }
    const versions = await inner.write(prepared);
    for (const { op, spec } of subscriptions) {
      if (op.kind === 'delete') this.deps.registry.remove(op.id);
      else if (spec) {
        const version = versions.find((v) => v.resourceType === 'Subscription' && v.id === op.id);
        this.deps.registry.set({ ...spec, id: op.id, ...(version ? { versionId: String(version.versionId) } : {}) });
      }
      queues.add(op.id);
    }
    if (queues.size > 0) this.deps.committed([...queues]);
    return versions;
  }

  /** A stored subscription, as the server reads it back (no client-only checks, no DNS resolution). */
  readStored(resource: Subscription): Promise<SubscriptionSpec> {
    return this.deps.reader.read(resource, false);
  }

  private async readSubscription(resource: Subscription): Promise<SubscriptionSpec> {
    try {
      return await this.deps.reader.read(resource, this.serverStateWrites.getStore() !== true);
    } catch (error) {
      if (error instanceof SubscriptionRefused) throw errors.subscriptionRefused(error.element, error.message);
      throw error;
    }
  }

  private async recordsFor(inner: ResourceStore, op: WriteOperation): Promise<OutboxRecord[]> {
    if (UNSUBSCRIBABLE_TYPES.has(op.resourceType) || !this.deps.registry.listensTo(op.resourceType)) return [];
    const { registry } = this.deps;
    let current: VersionSeen | undefined;
    let candidates;
    if (op.kind === 'put' && op.resource) {
      current = this.seen(op.resource, op.index);
      candidates = registry.candidates(op.resourceType, current.doc.idx);
      if (candidates.length === 0) return [];
    }
    // Create or update — and the version replaced, when a topic looks at it (or a delete is judged on it).
    const before = await inner.readCurrent(op.resourceType, op.id);
    const live = before && !before.deleted && before.resource ? before : undefined;
    let previous: VersionSeen | undefined;
    if (op.kind === 'delete') {
      if (!live?.resource) return []; // deleting nothing notifies nobody
      previous = this.seen(live.resource);
      candidates = registry.candidates(op.resourceType, previous.doc.idx);
    } else if (live?.resource && SubscriptionRegistry.needsPrevious(candidates!)) {
      previous = this.seen(live.resource);
    }
    const interaction = op.kind === 'delete' ? 'delete' : live ? 'update' : 'create';
    const notified = registry.notified({ resourceType: op.resourceType, interaction, ...(current ? { current } : {}), ...(previous ? { previous } : {}) }, candidates ?? []);
    return notified.map((spec) => ({ queue: spec.id, data: { interaction } satisfies EventData }));
  }

  private seen(resource: Resource, index = this.deps.extractor.extract(resource)): VersionSeen {
    return { resource, doc: { id: resource.id ?? '', type: resource.resourceType, lastUpdated: resource.meta?.lastUpdated ?? '', idx: index } };
  }
}
