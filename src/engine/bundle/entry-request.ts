/**
 * Reads one Bundle.entry.request of a batch or transaction (R4 http page,
 * "batch/transaction"): the method, and the URL split into what the REST API
 * would route — [type], [type]/[id], [type]/[id]/_history/[vid], [type]?query,
 * _history, ?query — relative to this server's base (an absolute URL on the
 * same base is accepted too).
 */
import type { BundleEntry, Resource } from 'fhir/r4';
import { errors } from '../../errors.js';
import type { EngineContext } from '../engine-context.js';

export type EntryMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface EntryRequest {
  /** Position in the request Bundle (response entries keep this order). */
  index: number;
  method: EntryMethod;
  url: string;
  fullUrl?: string;
  resource?: Resource;
  resourceType?: string;
  id?: string;
  versionId?: string;
  /** The query string without '?', when the URL has one. */
  query?: string;
  /** `_history` at type or system level. */
  history?: boolean;
  ifNoneExist?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
}

/** R4 processing order: DELETE, then POST, then PUT/PATCH, then GET/HEAD. */
export const PROCESSING_RANK: Record<EntryMethod, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

const METHODS = new Set<EntryMethod>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const SEGMENT = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * A Bundle's bounds (issue 18): at most LIMIT_BUNDLE_ENTRIES entries (a batch
 * counted as one request must not carry unbounded work), and a fresh read
 * budget its read entries share (read-entry.ts).
 */
export function withBundleBounds(ctx: EngineContext, bundle: unknown): EngineContext {
  const entries = (bundle as { entry?: unknown } | null)?.entry;
  const max = ctx.limits.maxBundleEntries;
  if (max !== undefined && Array.isArray(entries) && entries.length > max) {
    throw errors.overLimit(`a Bundle may hold at most ${max} entries, this one has ${entries.length} (LIMIT_BUNDLE_ENTRIES)`, ['Bundle.entry']);
  }
  return ctx.limits.maxBundleReadResources === undefined ? ctx : { ...ctx, readBudget: { remaining: ctx.limits.maxBundleReadResources } };
}

export function parseEntries(bundle: unknown, baseUrl: string, expectedType: 'batch' | 'transaction'): EntryRequest[] {
  if (typeof bundle !== 'object' || bundle === null || (bundle as { resourceType?: unknown }).resourceType !== 'Bundle') {
    throw errors.invalidBundle('The body must be a Bundle of type batch or transaction', ['resourceType']);
  }
  const { type, entry } = bundle as { type?: unknown; entry?: unknown };
  if (type !== expectedType) throw errors.invalidBundle(`Expected a Bundle of type ${expectedType}, got '${String(type)}'`, ['Bundle.type']);
  if (entry !== undefined && !Array.isArray(entry)) throw errors.invalidBundle('Bundle.entry must be an array', ['Bundle.entry']);
  return ((entry as BundleEntry[] | undefined) ?? []).map((e, index) => parseEntry(e, index, baseUrl));
}

function parseEntry(entry: BundleEntry, index: number, baseUrl: string): EntryRequest {
  const where = [`Bundle.entry[${index}].request`];
  const request = entry?.request;
  if (!request || typeof request !== 'object') throw errors.invalidBundle(`Bundle.entry[${index}] has no request`, where);
  const method = request.method as EntryMethod;
  if (!METHODS.has(method)) throw errors.unsupportedEntryMethod(request.method);
  if (typeof request.url !== 'string' || request.url.length === 0) throw errors.invalidBundle(`Bundle.entry[${index}].request.url is missing`, where);
  const parsed: EntryRequest = { index, method, url: request.url, ...splitUrl(request.url, baseUrl, index) };
  if (entry.fullUrl !== undefined) parsed.fullUrl = entry.fullUrl;
  if (entry.resource !== undefined) parsed.resource = structuredClone(entry.resource);
  if (request.ifNoneExist !== undefined) parsed.ifNoneExist = request.ifNoneExist.replace(/^[^?]*\?/, '');
  if (request.ifMatch !== undefined) parsed.ifMatch = request.ifMatch;
  if (request.ifNoneMatch !== undefined) parsed.ifNoneMatch = request.ifNoneMatch;
  if (request.ifModifiedSince !== undefined) parsed.ifModifiedSince = request.ifModifiedSince;
  if ((method === 'POST' || method === 'PUT') && !parsed.resource) {
    throw errors.invalidBundle(`Bundle.entry[${index}] (${method} ${request.url}) has no resource`, [`Bundle.entry[${index}].resource`]);
  }
  if (method === 'PATCH' && !parsed.resource) {
    throw errors.invalidBundle(`Bundle.entry[${index}] (PATCH) needs a Binary resource holding the JSON Patch`, [`Bundle.entry[${index}].resource`]);
  }
  return parsed;
}

function splitUrl(url: string, baseUrl: string, index: number): Pick<EntryRequest, 'resourceType' | 'id' | 'versionId' | 'query' | 'history'> {
  let relative = url.startsWith(`${baseUrl}/`) ? url.slice(baseUrl.length + 1) : url;
  if (/^[a-z]+:/i.test(relative)) throw errors.invalidBundle(`Bundle.entry[${index}].request.url '${url}' is not on this server`, [`Bundle.entry[${index}].request.url`]);
  relative = relative.replace(/^\/+/, '');
  const queryAt = relative.indexOf('?');
  const path = queryAt >= 0 ? relative.slice(0, queryAt) : relative;
  const query = queryAt >= 0 ? relative.slice(queryAt + 1) : undefined;
  const segments = path.split('/').filter((s) => s.length > 0);
  if (segments.some((s) => s.startsWith('$'))) throw errors.operationInBundle(url);
  const result: Pick<EntryRequest, 'resourceType' | 'id' | 'versionId' | 'query' | 'history'> = {};
  if (query !== undefined) result.query = query;
  if (segments.length === 0) return result;
  if (segments[0] === '_history' && segments.length === 1) return { ...result, history: true };
  result.resourceType = segments[0];
  if (segments.length === 1) return result;
  if (segments[1] === '_history' && segments.length === 2) return { ...result, history: true };
  if (!SEGMENT.test(segments[1])) throw errors.invalidId(segments[1]);
  result.id = segments[1];
  if (segments.length === 2) return result;
  if (segments[2] === '_history' && segments.length === 3) return { ...result, history: true };
  if (segments[2] === '_history' && segments.length === 4) return { ...result, versionId: segments[3] };
  throw errors.invalidBundle(`Bundle.entry[${index}].request.url '${url}' is not a FHIR interaction URL`, [`Bundle.entry[${index}].request.url`]);
}
