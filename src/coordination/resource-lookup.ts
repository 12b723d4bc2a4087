/**
 * Reads the coordination workflow needs, through the engine's own read and
 * search interactions (so search semantics stay in one place), plus the
 * resources a transaction is about to commit, which are not stored yet.
 */
import type { Bundle, Reference, Resource } from 'fhir/r4';
import type { EngineContext } from '../engine/engine-context.js';
import { search } from '../engine/interactions/search.js';

export class ResourceLookup {
  private readonly pending = new Map<string, Resource>();

  constructor(readonly ctx: EngineContext, pending: Resource[] = []) {
    for (const resource of pending) this.pending.set(`${resource.resourceType}/${resource.id}`, resource);
  }

  /** A literal reference "Type/id" (relative or on this server's base), else undefined. */
  static identity(reference: Reference | undefined, baseUrl?: string): string | undefined {
    let value = reference?.reference;
    if (!value) return undefined;
    if (baseUrl && value.startsWith(`${baseUrl}/`)) value = value.slice(baseUrl.length + 1);
    return /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(value) ? value : undefined;
  }

  async resolve<T extends Resource>(reference: Reference | undefined, type?: string): Promise<T | undefined> {
    const identity = ResourceLookup.identity(reference, this.ctx.baseUrl);
    if (!identity || (type && !identity.startsWith(`${type}/`))) return undefined;
    return this.read<T>(identity);
  }

  async read<T extends Resource>(identity: string): Promise<T | undefined> {
    const pending = this.pending.get(identity);
    if (pending) return pending as T;
    const [type, id] = identity.split('/');
    const current = await this.ctx.store.readCurrent(type, id);
    return current && !current.deleted ? (current.resource as T) : undefined;
  }

  /** Every current match of a search (all pages), through the engine's search interaction. */
  async searchAll<T extends Resource>(resourceType: string, params: Array<[string, string]>): Promise<T[]> {
    const found: T[] = [];
    const pageSize = Math.min(this.ctx.limits.maxCount, 500);
    for (let offset = 0; ; offset += pageSize) {
      // Strict: a parameter that were ignored would widen the match to everything.
      const bundle: Bundle<Resource> = await search(this.ctx, resourceType, [...params, ['_count', String(pageSize)], ['_offset', String(offset)], ['_total', 'none']], { strict: true });
      const page = (bundle.entry ?? []).map((e) => e.resource as T);
      found.push(...page);
      if (page.length < pageSize) return found;
    }
  }

  pendingOfType<T extends Resource>(resourceType: string): T[] {
    return [...this.pending.values()].filter((r) => r.resourceType === resourceType) as T[];
  }
}
