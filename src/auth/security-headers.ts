/**
 * The security headers of every response.
 *
 * The API's answers (FHIR JSON and XML, OperationOutcomes, metrics, health, token endpoint) carry the
 * set the OWASP REST Security Cheat Sheet names for API responses ("Security Headers"):
 * Cache-Control: no-store (health data stays out of browser and proxy caches; a route that may be
 * cached says so itself), a CSP that loads nothing and forbids framing, HSTS, nosniff,
 * X-Frame-Options: DENY — plus Referrer-Policy: no-referrer and Cross-Origin-Resource-Policy:
 * same-origin. helmet's other defaults (COOP, Origin-Agent-Cluster, X-DNS-Prefetch-Control,
 * X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection, its document CSP) act on
 * HTML documents, which the API never serves: they went on every answer before, twelve headers of
 * 700 bytes validated and written per request, about a fifth of the CPU of a read without a token
 * (bench-http, read, AUTH_MODE=none, with and without them back to back: 0.18 / 0.16 against
 * 0.15 / 0.12 ms per request; issue 17).
 *
 * The one HTML page, Swagger UI under /docs (src/rest/api-docs.ts), gets helmet's defaults, computed
 * once: helmet's middleware run at start against a recording response (@fastify/helmet, used
 * before, built the middleware again for every request: 7 % of a read's CPU, profiled).
 */
import type { FastifyReply } from 'fastify';
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The headers helmet's defaults set (name → value), and those it removes (X-Powered-By). */
export function helmetHeaders(): { set: Record<string, string>; removed: string[] } {
  const set: Record<string, string> = {};
  const removed: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set[name] = Array.isArray(value) ? value.join(', ') : String(value);
      return recorder;
    },
    removeHeader(name: string) {
      removed.push(name);
    },
  };
  let failure: Error | undefined;
  helmet()({ headers: {} } as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) failure = error instanceof Error ? error : new Error(String(error));
  });
  if (failure) throw failure;
  return { set, removed };
}

/** The headers of every API answer (above). */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
});

/**
 * Sets them on a reply: called on arrival by the app's first onRequest hook (src/app.ts), so that error
 * replies and 404s carry them too; a route may replace one (its own Cache-Control). (Fastify sends no
 * X-Powered-By.)
 */
export function setApiSecurityHeaders(reply: FastifyReply): void {
  reply.headers(API_SECURITY_HEADERS);
}
