/**
 * Formats (R4 http page, "Content Types and encodings"): FHIR JSON (the default)
 * and FHIR XML. `_format` overrides Accept; Accept is read with its q-values
 * (the highest acceptable range we can produce wins; among equals, the first
 * listed). `json`, `application/json`, `application/fhir+json` and wildcards mean
 * JSON; `xml`, `text/xml`, `application/xml`, `application/fhir+xml` mean XML;
 * anything else (Turtle...) is a 406.
 */
import { errors } from '../errors.js';

export const FHIR_JSON = 'application/fhir+json';
export const FHIR_XML = 'application/fhir+xml';

export type MediaType = 'application/fhir+json' | 'application/json' | 'application/fhir+xml' | 'application/xml';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'text/json', '*/*', 'application/*']);
const XML_FORMATS = new Set(['xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'application/xml+fhir']);

/** Request bodies read as FHIR XML. */
export const XML_BODY_TYPES = ['application/fhir+xml', 'application/xml', 'text/xml', 'application/xml+fhir'];

export function isXml(mediaType: string): boolean {
  return mediaType === FHIR_XML || mediaType === 'application/xml';
}

/** The media type answered for an acceptable format name (plain JSON/XML when asked for by name, FHIR's otherwise). */
function answerFor(wanted: string): MediaType | undefined {
  if (JSON_FORMATS.has(wanted)) return wanted === 'application/json' ? 'application/json' : FHIR_JSON;
  if (XML_FORMATS.has(wanted)) return wanted === 'application/xml' ? 'application/xml' : FHIR_XML;
  return undefined;
}

/**
 * The answer for an Accept header naming one format, as clients send it on every request
 * ("application/fhir+json"): what the parse below gives for it, found without splitting, mapping and
 * sorting the header (negotiation runs on every request, up to twice). A fixed table: nothing a client
 * sends is added to it.
 */
const SINGLE_ACCEPT: ReadonlyMap<string, MediaType> = new Map([...JSON_FORMATS, ...XML_FORMATS].map((format) => [format, answerFor(format)!]));

/** Returns the media type to answer with. */
export function negotiate(accept: string | undefined, format: string | undefined): MediaType {
  if (format === undefined && accept !== undefined) {
    const single = SINGLE_ACCEPT.get(accept);
    if (single !== undefined) return single;
  }
  if (format !== undefined) {
    // An unencoded `_format=application/fhir+json` arrives with its '+' decoded as a space.
    const wanted = format.split(';')[0].trim().toLowerCase().replace(/ /g, '+');
    const answer = answerFor(wanted);
    if (!answer) throw errors.notAcceptable(format);
    return answer;
  }
  if (!accept || accept.trim() === '') return FHIR_JSON;
  const ranges = accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { type: type.trim(), q: q ? Number(q.slice(2)) : 1 };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const range of ranges) {
    const answer = answerFor(range.type);
    if (answer) return answer;
  }
  throw errors.notAcceptable(accept);
}

/** The format for an error response: the negotiated one, or JSON when negotiation itself fails. */
export function negotiateForError(accept: string | undefined, format: string | undefined): MediaType {
  try {
    return negotiate(accept, format);
  } catch {
    return FHIR_JSON;
  }
}
