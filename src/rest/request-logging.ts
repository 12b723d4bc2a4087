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

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A request's logger: the pino child with its bindings, made at the first line written through it at an enabled level. */
export class RequestLogger implements FastifyBaseLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger & { isLevelEnabled(level: string): boolean },
    private readonly bindings: Bindings,
  ) {}

  private get logger(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings));
  }

  private logAt(level: Level, args: unknown[]): void {
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

  fatal: LogFn = (...args: unknown[]) => this.logAt('fatal', args);
  error: LogFn = (...args: unknown[]) => this.logAt('error', args);
  warn: LogFn = (...args: unknown[]) => this.logAt('warn', args);
  info: LogFn = (...args: unknown[]) => this.logAt('info', args);
  debug: LogFn = (...args: unknown[]) => this.logAt('debug', args);
  trace: LogFn = (...args: unknown[]) => this.logAt('trace', args);
  silent: LogFn = () => undefined;

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.logger.child(bindings, options);
  }

  /**
   * Writes an info line as the child would (its bindings first, then `fields`), without making the child
   * when it was not made: a pino child's line is its parent's with the child's bindings before the fields.
   */
  infoAsChild(fields: Record<string, unknown>, message: string): void {
    if (this.made !== undefined) this.made.info(fields, message);
    else this.parent.info({ ...this.bindings, ...fields }, message);
  }
}

/** Fastify's childLoggerFactory: a RequestLogger, or the child at once when the route sets its own level or serialisers. */
export const requestLoggerFactory: NonNullable<FastifyServerOptions['childLoggerFactory']> = function (logger, bindings, options) {
  const parent = logger as FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };
  // Not a pino logger (Fastify's own when logging is off), or a route's own level or serialisers: as Fastify does.
  if (typeof parent.isLevelEnabled !== 'function' || options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options);
  return new RequestLogger(parent as FastifyBaseLogger & { isLevelEnabled(level: string): boolean }, bindings);
};

export class RequestLogging extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (reply.log instanceof RequestLogger) reply.log.infoAsChild({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
