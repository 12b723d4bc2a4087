/**
 * Formats (R4 http page, "Content Types and encodings"): this server speaks
 * JSON only. `_format` overrides Accept; `json`, `application/json`,
 * `application/fhir+json` and wildcards are accepted; anything else (XML,
 * Turtle...) is a 406.
 */
import { errors } from '../errors.js';

export const FHIR_JSON = 'application/fhir+json';

const JSON_FORMATS = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'text/json', '*/*', 'application/*']);

/** Returns the media type to answer with. */
export function negotiate(accept: string | undefined, format: string | undefined): string {
  if (format !== undefined) {
    // An unencoded `_format=application/fhir+json` arrives with its '+' decoded as a space.
    const wanted = format.split(';')[0].trim().toLowerCase().replace(/ /g, '+');
    if (!JSON_FORMATS.has(wanted)) throw errors.notAcceptable(format);
    return wanted === 'application/json' ? 'application/json' : FHIR_JSON;
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
  const chosen = ranges.find((r) => JSON_FORMATS.has(r.type));
  if (!chosen) throw errors.notAcceptable(accept);
  return chosen.type === 'application/json' ? 'application/json' : FHIR_JSON;
}
