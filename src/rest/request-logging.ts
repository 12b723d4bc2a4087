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
 *
 * The request's own logger (`request.log`, a pino child carrying `reqId`) is
 * made only when something logs through it (RequestLogger): Fastify made one
 * for every request (Object.create, its bindings serialised, its formatters
 * rebuilt), and most requests never use it — the completion line is written by
 * the parent logger with the child's bindings (`reqId`) first among its fields,
 * which gives the same line, byte for byte, as the child wrote
 * (test/http/request-logging.test.ts).
 */
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;
type Level = (typeof LEVELS)[number];
type PinoParent = FastifyBaseLogger & { isLevelEnabled(level: string): boolean };

/**
 * A request's logger: the pino child with its bindings (`reqId`), made at the first line written through it
 * at an enabled level. Its log methods live on the prototype (below): made per request as closures, they
 * cost more than the child they spare (measured: 2 µs a request).
 */
export class RequestLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: PinoParent,
    private readonly bindings: { reqId: unknown },
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  logAt(level: Level, args: unknown[]): void {
    // A level the server does not log (the arrival line at debug): nothing to make.
    if (this.made === undefined && !this.parent.isLevelEnabled(level)) return;
    (this.logger[level] as (...values: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.made?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.logger.level = level;
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  /**
   * The line of a request answered, as the child writes it — its bindings (`reqId`) first, then the fields —
   * without making the child when it was not made (a pino child's line is its parent's with the child's
   * bindings before the fields). An object literal: spreading the bindings into the fields was 2.5 times slower.
   */
  requestCompleted(req: unknown, res: unknown, responseTime: number): void {
    if (this.made !== undefined) this.made.info({ req, res, responseTime }, 'request completed');
    else this.parent.info({ reqId: this.bindings.reqId, req, res, responseTime }, 'request completed');
  }
}

export interface RequestLogger extends Pick<FastifyBaseLogger, Level> {}
for (const level of LEVELS) {
  RequestLogger.prototype[level] = function (this: RequestLogger, ...args: unknown[]) {
    this.logAt(level, args);
  } as LogFn;
}

/**
 * Fastify's childLoggerFactory: a RequestLogger; or the child at once, as Fastify makes it, when the parent
 * is not a pino logger, the route sets its own level or serialisers, or the request id has another label.
 */
export const requestLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = function (logger, bindings, options) {
  const parent = logger as FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };
  if (typeof parent.isLevelEnabled !== 'function' || options.level !== undefined || options.serializers !== undefined || !('reqId' in bindings)) return logger.child(bindings, options);
  return new RequestLogger(parent as PinoParent, bindings as { reqId: unknown }) as unknown as FastifyBaseLogger;
};

export class RequestLogging extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (reply.log instanceof RequestLogger) reply.log.requestCompleted(request, reply, reply.elapsedTime);
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
