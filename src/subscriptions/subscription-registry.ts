/**
 * The live subscriptions of this process, indexed so that a write is compared
 * with the few that could match it rather than with all of them: by resource
 * type, then — for each subscription whose criteria require an exact
 * reference or token (patient=Patient/123, recipient=CareTeam/7, code=…) — by
 * that value. A write looks up its own index values for the parameters that
 * key subscriptions of its type; the rest (criteria without such a value) are
 * tested one by one. Measured in scripts/bench-subscriptions.ts.
 *
 * Then the event test of each candidate (R4: the criteria on the new version;
 * topics: the trigger's interactions, query criteria on the previous and
 * current versions, FHIRPath criteria, then the subscription's filters).
 */
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from 'fhir/r4';
import type { IndexEntries } from '../store/resource-store.js';
import { indexKeysOf, type SearchDocument } from './criteria-filter.js';
import type { SubscriptionSpec, TriggerMatcher } from './subscription-request.js';

export interface VersionSeen {
  resource: Resource;
  doc: SearchDocument;
}

export interface WriteEvent {
  resourceType: string;
  interaction: 'create' | 'update' | 'delete';
  current?: VersionSeen;
  previous?: VersionSeen;
}

interface Entry {
  spec: SubscriptionSpec;
  matcher: TriggerMatcher;
}

interface TypeBucket {
  unkeyed: Set<Entry>;
  keyed: Map<string, Map<string, Set<Entry>>>;
  /** Entries filed here (so that "does anyone listen?" costs nothing per write). */
  size: number;
}

type Compiled = (resource: unknown, env: Record<string, unknown>) => unknown[];

export class SubscriptionRegistry {
  private readonly specs = new Map<string, { spec: SubscriptionSpec; entries: Entry[] }>();
  private readonly byType = new Map<string, TypeBucket>();
  private readonly fhirPaths = new Map<string, Compiled>();

  /** Subscriptions that can receive events: not off, not past their end. */
  static matches(spec: SubscriptionSpec, now = Date.now()): boolean {
    if (spec.status === 'off' || spec.status === 'entered-in-error') return false;
    return !spec.end || Date.parse(spec.end) > now;
  }

  get(id: string): SubscriptionSpec | undefined {
    return this.specs.get(id)?.spec;
  }

  all(): SubscriptionSpec[] {
    return [...this.specs.values()].map((s) => s.spec);
  }

  get size(): number {
    return this.specs.size;
  }

  set(spec: SubscriptionSpec): void {
    this.remove(spec.id);
    const entries = spec.matchers.map((matcher) => ({ spec, matcher }));
    this.specs.set(spec.id, { spec, entries });
    for (const entry of entries) {
      const bucket = this.bucket(entry.matcher.resourceType);
      bucket.size += 1;
      const key = entry.matcher.filter?.key;
      if (!key) {
        bucket.unkeyed.add(entry);
        continue;
      }
      let byValue = bucket.keyed.get(key.param);
      if (!byValue) bucket.keyed.set(key.param, (byValue = new Map()));
      for (const value of key.values) {
        let set = byValue.get(value);
        if (!set) byValue.set(value, (set = new Set()));
        set.add(entry);
      }
    }
  }

  remove(id: string): void {
    const known = this.specs.get(id);
    if (!known) return;
    this.specs.delete(id);
    for (const entry of known.entries) {
      const bucket = this.byType.get(entry.matcher.resourceType);
      if (!bucket) continue;
      bucket.size -= 1;
      bucket.unkeyed.delete(entry);
      const key = entry.matcher.filter?.key;
      if (!key) continue;
      const byValue = bucket.keyed.get(key.param);
      for (const value of key.values) {
        const set = byValue?.get(value);
        set?.delete(entry);
        if (set?.size === 0) byValue!.delete(value);
      }
    }
  }

  /** Whether any subscription listens to writes of this type (else a write costs nothing more). */
  listensTo(resourceType: string): boolean {
    return (this.byType.get(resourceType)?.size ?? 0) > 0;
  }

  /** The subscriptions a write of this type, carrying these index entries, could match. */
  candidates(resourceType: string, index: IndexEntries | undefined): Entry[] {
    const bucket = this.byType.get(resourceType);
    if (!bucket) return [];
    const found = new Set<Entry>(bucket.unkeyed);
    for (const [param, byValue] of bucket.keyed) {
      for (const key of indexKeysOf(index?.[param])) for (const entry of byValue.get(key) ?? []) found.add(entry);
    }
    return [...found].filter((e) => SubscriptionRegistry.matches(e.spec));
  }

  /** The subscriptions (ids, once each) this write event notifies. */
  notified(event: WriteEvent, candidates: Entry[]): SubscriptionSpec[] {
    const result = new Map<string, SubscriptionSpec>();
    for (const entry of candidates) if (!result.has(entry.spec.id) && this.test(entry.matcher, event)) result.set(entry.spec.id, entry.spec);
    return [...result.values()];
  }

  /** Whether matching these candidates needs the version the write replaces (topics with previous-state criteria). */
  static needsPrevious(candidates: Entry[]): boolean {
    return candidates.some((e) => e.matcher.previous !== undefined || (e.matcher.trigger?.fhirPathCriteria ?? '').includes('%previous'));
  }

  private test(matcher: TriggerMatcher, event: WriteEvent): boolean {
    const trigger = matcher.trigger;
    if (!trigger) {
      // R4: "checks every resource that is created or updated, and if the resource matches the given criteria".
      return event.interaction !== 'delete' && !!event.current && (matcher.filter?.test(event.current.doc) ?? true);
    }
    if (!trigger.interactions.includes(event.interaction)) return false;
    const query = trigger.queryCriteria;
    if (query && (matcher.previous || matcher.current)) {
      const results: boolean[] = [];
      if (matcher.previous) results.push(event.interaction === 'create' || !event.previous ? query.resultForCreate === 'test-passes' : matcher.previous.test(event.previous.doc));
      if (matcher.current) results.push(event.interaction === 'delete' || !event.current ? query.resultForDelete === 'test-passes' : matcher.current.test(event.current.doc));
      if (!(query.requireBoth ? results.every(Boolean) : results.some(Boolean))) return false;
    }
    if (trigger.fhirPathCriteria && !this.fhirPathHolds(trigger.fhirPathCriteria, event)) return false;
    const subject = event.current ?? event.previous;
    return !matcher.filter || (!!subject && matcher.filter.test(subject.doc));
  }

  private fhirPathHolds(expression: string, event: WriteEvent): boolean {
    let compiled = this.fhirPaths.get(expression);
    if (!compiled) this.fhirPaths.set(expression, (compiled = fhirpath.compile(expression, r4model) as Compiled));
    const focus = event.current?.resource ?? event.previous?.resource;
    const result = compiled(focus, { current: event.current?.resource ?? null, previous: event.previous?.resource ?? null });
    return result.length === 1 && result[0] === true;
  }

  private bucket(resourceType: string): TypeBucket {
    let bucket = this.byType.get(resourceType);
    if (!bucket) this.byType.set(resourceType, (bucket = { unkeyed: new Set(), keyed: new Map(), size: 0 }));
    return bucket;
  }
}
