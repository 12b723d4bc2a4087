/**
 * Reads the coordination workflow needs, through an engine session (the
 * server's, named after the work it does: the discharge coordination, an
 * operation's lookups), plus the resources a transaction is about to commit,
 * which are not stored yet.
 */
import type { Bundle, Reference, Resource } from 'fhir/r4';
import type { EngineSession } from '../engine/engine-session.js';
import { FhirError } from '../errors.js';

export class ResourceLookup {
  private readonly pending = new Map<string, Resource>();

  constructor(
    readonly session: EngineSession,
    readonly baseUrl: string,
    pending: Resource[] = [],
  ) {
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
    const identity = ResourceLookup.identity(reference, this.baseUrl);
    if (!identity || (type && !identity.startsWith(`${type}/`))) return undefined;
    return this.read<T>(identity);
  }

  /** The resource (pending or current), or undefined when absent or deleted. */
  async read<T extends Resource>(identity: string): Promise<T | undefined> {
    const pending = this.pending.get(identity);
    if (pending) return pending as T;
    const [type, id] = identity.split('/');
    try {
      return (await this.session.read(type, id)).resource as T;
    } catch (error) {
      if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    }
  }

  /** Every current match of a search (all pages). */
  async searchAll<T extends Resource>(resourceType: string, params: Array<[string, string]>, pageSize = 500): Promise<T[]> {
    const found: T[] = [];
    for (;;) {
      // Strict: a parameter that were ignored would widen the match to everything.
      const bundle: Bundle<Resource> = await this.session.search(resourceType, [...params, ['_count', String(pageSize)], ['_offset', String(found.length)], ['_total', 'none']], { strict: true });
      const page = (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
      found.push(...page);
      // A page may be shorter than asked (MAX_PAGE_SIZE): the next link says whether more follow.
      if (page.length === 0 || !bundle.link?.some((l) => l.relation === 'next')) return found;
    }
  }

  pendingOfType<T extends Resource>(resourceType: string): T[] {
    return [...this.pending.values()].filter((r) => r.resourceType === resourceType) as T[];
  }
}
