/**
 * Request body parsers: FHIR JSON (and plain JSON), JSON Patch, and form
 * bodies for POST _search. JSON is parsed with Fastify's own secure parser
 * (prototype-poisoning keys rejected). Any other media type gets a 415 from
 * Fastify, turned into an OperationOutcome by the error handler.
 */
import type { FastifyInstance } from 'fastify';

export function installBodyParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const secureJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser(['application/fhir+json', 'application/json', 'application/json+fhir', 'application/json-patch+json'], { parseAs: 'string' }, secureJson);
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    // Ordered pairs, repeats kept: in FHIR search a repeated parameter means AND.
    done(null, [...new URLSearchParams(String(body)).entries()]);
  });
}
