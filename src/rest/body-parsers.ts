/**
 * Request body parsers: FHIR JSON (and plain JSON), JSON Patch, and form
 * bodies for POST _search. JSON is parsed with Fastify's own secure parser
 * (prototype-poisoning keys rejected). Any other media type gets a 415 from
 * Fastify, turned into an OperationOutcome by the error handler.
 *
 * Before parsing, a JSON body must be UTF-8 (FHIR's only JSON encoding; a lenient
 * decode would silently store U+FFFD in place of the client's bytes) and nested no
 * deeper than MAX_JSON_DEPTH: the parsed tree is walked recursively later
 * (validation, FHIRPath, patching), and an absurd depth would exhaust the stack.
 */
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

/** Far beyond any real resource (a Questionnaire nested 20 items deep is ~60 levels). */
export const MAX_JSON_DEPTH = 256;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deepest nesting of arrays/objects in JSON text, stopping early past `limit` (strings skipped). */
function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const secureJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(
    ['application/fhir+json', 'application/json', 'application/json+fhir', 'application/json-patch+json'],
    { parseAs: 'buffer' },
    (request, body, done) => {
      let text: string;
      try {
        text = utf8.decode(body as Buffer);
      } catch {
        done(errors.malformedJson('it is not UTF-8 text'), undefined);
        return;
      }
      if (exceedsDepth(text, MAX_JSON_DEPTH)) {
        done(errors.nestingTooDeep(MAX_JSON_DEPTH), undefined);
        return;
      }
      secureJson(request, text, done);
    },
  );
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    // Ordered pairs, repeats kept: in FHIR search a repeated parameter means AND.
    done(null, [...new URLSearchParams(String(body)).entries()]);
  });
}
