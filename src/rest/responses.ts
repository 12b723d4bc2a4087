/**
 * Writes FHIR results to HTTP: ETag, Last-Modified, Location, the
 * Prefer: return=minimal|representation|OperationOutcome choice, _pretty,
 * and the negotiated media type (FHIR JSON or FHIR XML).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Resource } from 'fhir/r4';
import { informational } from '../fhir/operation-outcome.js';
import type { StoredVersion } from '../store/resource-store.js';
import { isXml, negotiate, type MediaType } from './content-negotiation.js';

export type PreferReturn = 'minimal' | 'representation' | 'OperationOutcome';

export function queryOf(request: FastifyRequest): Record<string, string | string[] | undefined> {
  return (request.query ?? {}) as Record<string, string | string[] | undefined>;
}

function firstQueryValue(request: FastifyRequest, name: string): string | undefined {
  const value = queryOf(request)[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Preference tokens from the Prefer header (RFC 7240), e.g. return=minimal, handling=strict;
 * a preference without a value (respond-async) is '' when present. Repeated headers count.
 */
export function preference(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.prefer;
  if (!header) return undefined;
  for (const part of (Array.isArray(header) ? header.join(',') : String(header)).split(/[,;]/)) {
    const [key, value] = part.trim().split('=');
    if (key?.trim().toLowerCase() === name) return value === undefined ? '' : value.trim().replace(/^"|"$/g, '');
  }
  return undefined;
}

export function preferReturn(request: FastifyRequest): PreferReturn {
  const value = preference(request, 'return');
  if (value === 'minimal') return 'minimal';
  if (value?.toLowerCase() === 'operationoutcome') return 'OperationOutcome';
  return 'representation';
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** An instant as the stores write lastUpdated (Date.prototype.toISOString, years 1000–9999). */
const ISO_UTC = /^[1-9]\d{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?Z$/;

/**
 * An instant as an HTTP date (RFC 9110 §5.6.7 IMF-fixdate, what Date.prototype.toUTCString gives):
 * formatted from its digits for the stores' own instants — parsing the string into a Date and
 * formatting it again was 2 % of a read (issue 17's profiles) — and through Date for anything else.
 */
export function httpDate(instant: string): string {
  if (!ISO_UTC.test(instant)) return new Date(instant).toUTCString();
  const year = Number(instant.slice(0, 4));
  const month = Number(instant.slice(5, 7));
  const day = Number(instant.slice(8, 10));
  // Days that do not exist (30 February) go through Date, as anything else.
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31)) return new Date(instant).toUTCString();
  const days = Date.UTC(year, month - 1, day) / 86_400_000;
  // 1970-01-01 was a Thursday (day 4 of DAYS).
  return `${DAYS[((days % 7) + 11) % 7]}, ${instant.slice(8, 10)} ${MONTHS[month - 1]} ${instant.slice(0, 4)} ${instant.slice(11, 19)} GMT`;
}

export function versionHeaders(reply: FastifyReply, version: StoredVersion): void {
  reply.header('ETag', `W/"${version.versionId}"`);
  reply.header('Last-Modified', httpDate(version.lastUpdated));
}

/** The Content-Type of an answer in each media type (made once, not per answer). */
const CONTENT_TYPES: Readonly<Record<MediaType, string>> = {
  'application/fhir+json': 'application/fhir+json; charset=utf-8',
  'application/json': 'application/json; charset=utf-8',
  'application/fhir+xml': 'application/fhir+xml; charset=utf-8',
  'application/xml': 'application/xml; charset=utf-8',
};

/** Serialises a FHIR body with the negotiated media type and _pretty. */
export function sendFhir(request: FastifyRequest, reply: FastifyReply, status: number, body: Resource | undefined): FastifyReply {
  const mediaType = negotiate(request.headers.accept, firstQueryValue(request, '_format'));
  reply.code(status);
  if (body === undefined) return reply.send();
  const pretty = firstQueryValue(request, '_pretty') === 'true';
  return reply.type(CONTENT_TYPES[mediaType]).send(serialise(request, mediaType, body, pretty));
}

/**
 * Sends a body's JSON text as it is (a stored version unchanged: src/store/stored-json.ts) when compact JSON
 * is the answer — what sendFhir() would send for that body; false (nothing sent) for XML or _pretty.
 */
export function sendStoredJson(request: FastifyRequest, reply: FastifyReply, status: number, json: string): boolean {
  const mediaType = negotiate(request.headers.accept, firstQueryValue(request, '_format'));
  if (isXml(mediaType) || firstQueryValue(request, '_pretty') === 'true') return false;
  reply.code(status).type(CONTENT_TYPES[mediaType]).send(json);
  return true;
}

/** A resource as text in the negotiated format (FHIR XML or JSON). */
export function serialise(request: FastifyRequest, mediaType: string, body: object, pretty: boolean): string {
  if (isXml(mediaType)) return request.server.fhirXml.write(body, pretty);
  return pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
}

/**
 * Responds to a write (create, update, patch) honouring Prefer: return.
 *
 * `versionUrl` ([base]/Type/id/_history/vid) goes into Content-Location when there is no
 * Location (R4 sends Location only for create and an update that created): a 200 update or
 * patch still tells which version it wrote (RFC 9110 §8.7: the content is a representation of
 * that URL), and HAPI's generic client reads MethodOutcome.getId() from Location, then
 * Content-Location, and has no id otherwise. Not sent with an OperationOutcome body, which is
 * not a representation of the resource.
 */
export function sendWriteResult(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  version: StoredVersion,
  location: string | undefined,
  versionUrl?: string,
): FastifyReply {
  versionHeaders(reply, version);
  if (location) reply.header('Location', location);
  else if (versionUrl && preferReturn(request) !== 'OperationOutcome') reply.header('Content-Location', versionUrl);
  switch (preferReturn(request)) {
    case 'minimal':
      return sendFhir(request, reply, status, undefined);
    case 'OperationOutcome':
      return sendFhir(request, reply, status, informational(`${version.resourceType}/${version.id} is at version ${version.versionId}`));
    default:
      return sendFhir(request, reply, status, version.resource);
  }
}
