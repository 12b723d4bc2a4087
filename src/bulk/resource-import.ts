/**
 * Writes what the loader reads (import-sources.ts) through the engine, as the
 * server's own work, so every resource is validated exactly like any write
 * (structure, then the network's profiles; a failure is a rejected line with
 * the OperationOutcome's reason) and audited as the server's.
 *
 * Rerunnable without duplicates (an interrupted load is simply run again):
 * - a resource with an id is written to that id, and skipped when the stored
 *   version already holds the same content (no new version either);
 * - without an id, one with an identifier is created only if none has it
 *   (conditional create on its first system|value identifier);
 * - with neither, it gets an id derived from its content (`imp-` + SHA-256),
 *   so the same line always lands on the same resource;
 * - a transaction or batch Bundle runs as one (a transaction all or nothing),
 *   its POST entries made idempotent the same way (ifNoneExist on the first
 *   identifier, else a PUT to an id derived from the entry);
 * - the entries of a collection or searchset Bundle are imported one by one.
 */
import { createHash } from 'node:crypto';
import type { Bundle, BundleEntry, Identifier, OperationOutcome, Resource } from 'fhir/r4';
import type { EngineSession } from '../engine/engine-session.js';
import { FhirError } from '../errors.js';

export type ImportResult =
  | { kind: 'created' | 'updated' | 'unchanged'; resources: number }
  | { kind: 'rejected'; resources: number; reason: string };

/** Object keys sorted, so equal content serialises the same whatever its key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The content a rerun compares: everything but what the server sets (versionId, lastUpdated, source). */
function content(resource: Resource): string {
  const { meta, ...rest } = resource;
  const { versionId: _v, lastUpdated: _l, source: _s, ...kept } = meta ?? {};
  return canonical(Object.keys(kept).length > 0 ? { ...rest, meta: kept } : rest);
}

function contentId(resource: unknown, salt = ''): string {
  return `imp-${createHash('sha256').update(salt).update(canonical(resource)).digest('hex').slice(0, 40)}`;
}

function firstIdentifier(resource: Resource): Identifier | undefined {
  const identifiers = (resource as { identifier?: Identifier | Identifier[] }).identifier;
  const list = Array.isArray(identifiers) ? identifiers : identifiers ? [identifiers] : [];
  return list.find((i) => i.system && i.value && !/[|,$\\]/.test(i.system + i.value));
}

/** The reason a write was refused, in one line: the first error of its OperationOutcome, with where. */
export function reasonOf(error: unknown): string {
  if (error instanceof FhirError) {
    const issue = error.issues.find((i) => i.severity === 'error' || i.severity === 'fatal') ?? error.issues[0];
    return `${error.status} ${issue.diagnostics}${issue.expression?.length ? ` (${issue.expression.join(', ')})` : ''}`;
  }
  return (error as Error).message;
}

function outcomeReason(outcome: OperationOutcome | undefined): string {
  const issue = outcome?.issue?.find((i) => i.severity === 'error' || i.severity === 'fatal') ?? outcome?.issue?.[0];
  return issue ? `${issue.diagnostics ?? issue.code}${issue.expression?.length ? ` (${issue.expression.join(', ')})` : ''}` : 'refused';
}

const isResource = (value: unknown): value is Resource => !!value && typeof value === 'object' && typeof (value as { resourceType?: unknown }).resourceType === 'string';

export class ResourceImporter {
  constructor(private readonly session: EngineSession) {}

  /** Imports one parsed item (a resource, or a Bundle to run or to unpack). */
  async importValue(value: unknown): Promise<ImportResult[]> {
    if (!isResource(value)) return [{ kind: 'rejected', resources: 1, reason: 'not a FHIR resource (no resourceType)' }];
    if (value.resourceType === 'Bundle') {
      const bundle = value as Bundle;
      if (bundle.type === 'transaction' || bundle.type === 'batch') return [await this.importBundle(bundle)];
      if (bundle.type === 'collection' || bundle.type === 'searchset') {
        const results: ImportResult[] = [];
        for (const entry of bundle.entry ?? []) results.push(entry.resource ? await this.importResource(entry.resource) : { kind: 'rejected', resources: 1, reason: 'a Bundle entry without a resource' });
        return results;
      }
    }
    return [await this.importResource(value)];
  }

  async importResource(resource: Resource): Promise<ImportResult> {
    try {
      if (resource.id === undefined) {
        const identifier = firstIdentifier(resource);
        if (identifier) {
          const result = await this.session.create(resource.resourceType, resource, { ifNoneExist: `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}` });
          return { kind: result.status === 201 ? 'created' : 'unchanged', resources: 1 };
        }
        resource = { ...resource, id: contentId(resource) };
      }
      const current = await this.currentContent(resource.resourceType, resource.id!);
      if (current !== undefined && current === content(resource)) return { kind: 'unchanged', resources: 1 };
      const result = await this.session.update(resource.resourceType, resource.id!, resource);
      return { kind: result.status === 201 ? 'created' : 'updated', resources: 1 };
    } catch (error) {
      if (error instanceof FhirError && error.status < 500) return { kind: 'rejected', resources: 1, reason: reasonOf(error) };
      throw error;
    }
  }

  private async importBundle(bundle: Bundle): Promise<ImportResult> {
    const entries = (bundle.entry ?? []).map((entry) => idempotentEntry(entry));
    const size = entries.length;
    try {
      const run = bundle.type === 'transaction' ? this.session.transaction({ ...bundle, entry: entries }) : this.session.batch({ ...bundle, entry: entries });
      const response = await run;
      const failed = (response.entry ?? []).map((e, i) => ({ e, i })).filter(({ e }) => !/^2\d\d/.test(e.response?.status ?? ''));
      if (failed.length > 0) {
        const first = failed[0];
        return { kind: 'rejected', resources: failed.length, reason: `entry ${first.i}: ${first.e.response?.status} ${outcomeReason(first.e.response?.outcome as OperationOutcome | undefined)}${failed.length > 1 ? ` (and ${failed.length - 1} more entries)` : ''}` };
      }
      const created = (response.entry ?? []).some((e) => e.response?.status?.startsWith('201'));
      return { kind: created ? 'created' : 'updated', resources: size };
    } catch (error) {
      if (error instanceof FhirError && error.status < 500) return { kind: 'rejected', resources: size, reason: reasonOf(error) };
      throw error;
    }
  }

  private async currentContent(resourceType: string, id: string): Promise<string | undefined> {
    try {
      const version = await this.session.read(resourceType, id);
      return version.resource ? content(version.resource) : undefined;
    } catch (error) {
      if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    }
  }
}

/** A POST entry made safe to run twice: ifNoneExist on its first identifier, else a PUT to an id derived from the entry. */
function idempotentEntry(entry: BundleEntry): BundleEntry {
  const request = entry.request;
  const resource = entry.resource;
  if (!request || request.method !== 'POST' || request.ifNoneExist || !resource) return entry;
  const identifier = firstIdentifier(resource);
  if (identifier) return { ...entry, request: { ...request, ifNoneExist: `identifier=${encodeURIComponent(`${identifier.system}|${identifier.value}`)}` } };
  const id = resource.id ?? contentId(resource, entry.fullUrl ?? '');
  return { ...entry, resource: { ...resource, id }, request: { method: 'PUT', url: `${resource.resourceType}/${id}` } };
}
