/**
 * What the server logs of each request (Fastify's LogController, its own hook
 * for this): one line at info level once it is answered — request id, method,
 * path (the serialisers in app.ts drop the query string), status and time — and
 * the arrival line at debug level only (to follow a request still in flight).
 * Fastify's default writes both lines at info: each a child-logger
 * serialisation and a synchronous write to stdout, together about a tenth of
 * the CPU of a read without a token (profile of scripts/bench-http.ts,
 * issue 17); the completion line now carries what the arrival line said.
 * Every other internal line (errors, 404s) keeps Fastify's behaviour.
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class RequestLogging extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
