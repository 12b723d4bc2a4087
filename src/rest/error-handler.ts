/**
 * The single place where failures become responses: every error a client sees
 * is an OperationOutcome with the status the R4 http page prescribes, and
 * never a stack trace. Anything unexpected is logged (without body) and
 * answered with a plain 500 outcome.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errors, FhirError } from '../errors.js';
import { operationOutcome } from '../fhir/operation-outcome.js';
import { FHIR_JSON, negotiateForError } from './content-negotiation.js';
import { serialise } from './responses.js';

/** Fastify's own errors for things a client sent, mapped to FHIR outcomes. */
function fromFastifyError(error: FastifyError, bodyLimit: number): FhirError | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return errors.bodyTooLarge(bodyLimit);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return errors.unsupportedMediaType(String((error as { message: string }).message.split(': ').pop()));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return errors.badRequest('The body is empty; a FHIR resource was expected');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return errors.malformedJson('it could not be parsed');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return errors.badRequest('Content-Length does not match the body');
    default:
      break;
  }
  if (error instanceof SyntaxError || (error as { statusCode?: number }).statusCode === 400 && /JSON/i.test(error.message)) {
    return errors.malformedJson(error.message.replace(/^Unexpected/, 'unexpected'));
  }
  const status = (error as { statusCode?: number }).statusCode;
  if (status && status >= 400 && status < 500) {
    return new FhirError(status, [{ severity: 'error', code: 'invalid', diagnostics: error.message }]);
  }
  return undefined;
}

export function sendError(reply: FastifyReply, error: FhirError, pretty = false): FastifyReply {
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  const body = operationOutcome(error.issues);
  // In the format the client asked for (XML included); JSON when that format is the problem (406).
  const request = reply.request;
  const format = (request.query as Record<string, unknown> | undefined)?._format;
  const mediaType = error.status === 406 ? FHIR_JSON : negotiateForError(request.headers.accept, typeof format === 'string' ? format : undefined);
  return reply
    .code(error.status)
    .type(`${mediaType}; charset=utf-8`)
    .send(serialise(request, mediaType, body, pretty));
}

/** How long a client is told to wait when the server is shutting down or its store is not available. */
export const RETRY_AFTER_SECONDS = 5;

export interface ErrorHandlerOptions {
  /** Whether the store is available: an unexpected failure while it is not is a 503 (retry), not a 500. */
  storeReady?: () => boolean;
}

export function installErrorHandler(app: FastifyInstance, bodyLimit: number, options: ErrorHandlerOptions = {}): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const pretty = (request.query as Record<string, unknown> | undefined)?._pretty === 'true';
    if (error instanceof FhirError) {
      if (error.status >= 500) request.log.error({ err: { message: error.message } }, 'server-side failure');
      return sendError(reply, error, pretty);
    }
    const mapped = fromFastifyError(error, bodyLimit);
    if (mapped) return sendError(reply, mapped, pretty);
    // A request caught by the store's closing (shutdown) or failure: the client may retry (issue 18).
    if (options.storeReady && !options.storeReady()) {
      request.log.warn({ err: { message: error.message } }, 'request failed while the store is not available');
      return sendError(reply, errors.serviceUnavailable('The server is not available (shutting down or its store is unavailable)', RETRY_AFTER_SECONDS), pretty);
    }
    // Unexpected: log the error itself (no body, no query string), answer generically.
    request.log.error({ err: error }, 'unexpected error');
    return sendError(reply, errors.internal(), pretty);
  });
  app.setNotFoundHandler((request, reply) => {
    sendError(reply, errors.routeNotFound(request.method, request.url.split('?')[0]));
  });
}
