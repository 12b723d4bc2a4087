/**
 * Request body parsers: FHIR JSON (and plain JSON), FHIR XML (turned into the
 * JSON form here, so the engine validates it exactly like JSON; see
 * src/fhir/xml/), JSON Patch, and form bodies for POST _search. JSON is parsed with Fastify's own secure parser
 * (prototype-poisoning keys rejected). Any other media type gets a 415 from
 * Fastify, turned into an OperationOutcome by the error handler.
 *
 * Before parsing, a JSON body must be UTF-8 (FHIR's only JSON encoding; a lenient
 * decode would silently store U+FFFD in place of the client's bytes) and nested no
 * deeper than MAX_JSON_DEPTH: the parsed tree is walked recursively later
 * (validation, FHIRPath, patching), and an absurd depth would exhaust the stack.
 *
 * An XML body of BODY_WORKER_THRESHOLD_BYTES or more is parsed by a body worker
 * (src/body-work): fast-xml-parser's validation and parse of a 9 MB document held
 * the event loop about a second (issue 18). JSON stays here: decoding, the depth
 * scan and the parse of 9 MB take about 30 ms together on an idle machine.
 */
import type { FastifyInstance } from 'fastify';
import type { BodyWorkPool } from '../body-work/body-work-pool.js';
import { errors } from '../errors.js';
import type { FhirDefinitions } from '../fhir/definitions.js';
import { FhirXml } from '../fhir/xml/fhir-xml.js';
import { XML_BODY_TYPES } from './content-negotiation.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The FHIR XML reader/writer, shared by the body parser, the responses and the error handler. */
    fhirXml: FhirXml;
  }
}

/** Far beyond any real resource (a Questionnaire nested 20 items deep is ~60 levels). */
export const MAX_JSON_DEPTH = 256;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deepest nesting of arrays/objects in JSON text, stopping early past `limit` (strings skipped). */
export function exceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // A string: jump to its closing quote (indexOf is native, a megabyte string costs microseconds),
      // one not escaped by an odd number of backslashes before it.
      let end = text.indexOf('"', i + 1);
      while (end !== -1) {
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end = text.indexOf('"', end + 1);
      }
      if (end === -1) return false; // unterminated: the parser reports it
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

export function installBodyParsers(app: FastifyInstance, definitions: FhirDefinitions, maxFormFields = Number.POSITIVE_INFINITY, bodyWork?: Pick<BodyWorkPool, 'readXml'>): void {
  app.removeAllContentTypeParsers();
  const fhirXml = new FhirXml(definitions);
  app.decorate('fhirXml', fhirXml);
  app.addContentTypeParser(XML_BODY_TYPES, { parseAs: 'buffer' }, async (_request: unknown, body: Buffer | string) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      throw errors.malformedXml('it is not UTF-8 text');
    }
    if (text.trim() === '') throw errors.badRequest('The body is empty; a FHIR resource was expected');
    return (await bodyWork?.readXml(text)) ?? fhirXml.read(text);
  });
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
      void secureJson(request, text, done);
    },
  );
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    // Counted before parsing: 200,000 form fields took 4 s and 540 MB to parse (issue 18).
    const text = String(body);
    let fields = text.length > 0 ? 1 : 0;
    for (let i = text.indexOf('&'); i !== -1 && fields <= maxFormFields; i = text.indexOf('&', i + 1)) fields++;
    if (fields > maxFormFields) {
      done(errors.overLimit(`a request takes at most ${maxFormFields} parameters (LIMIT_QUERY_PARAMETERS)`), undefined);
      return;
    }
    // Ordered pairs, repeats kept: in FHIR search a repeated parameter means AND.
    done(null, [...new URLSearchParams(text).entries()]);
  });
}
