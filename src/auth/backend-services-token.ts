/**
 * The development authorization server's token endpoint for SMART Backend
 * Services (SMART App Launch 2.x, "Backend Services" and "Client
 * Authentication: Asymmetric"), AUTH_MODE=dev only: a registered client
 * (dev-clients.ts) posts `grant_type=client_credentials`, `scope`, and a client
 * assertion (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`)
 * — a JWT it signed with its private key, iss = sub = its client id, aud = this
 * token endpoint's URL, exp at most five minutes ahead, a jti never used
 * before. The answer is an access token signed by the development key
 * (accepted by this server like any dev token), with the scopes requested
 * that the client's registration allows, valid five minutes.
 *
 * Errors follow OAuth 2.0 (RFC 6749 §5.2: a JSON body with `error` and
 * `error_description`, not an OperationOutcome: this is OAuth, not FHIR);
 * SMART asks for `invalid_client` whenever authenticating the client fails.
 * jose verifies signatures; the rules above are checked here.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, SignJWT, type JWK } from 'jose';
import type { FastifyInstance } from 'fastify';
import { parseScopes, type Permission } from '../identity/smart-scopes.js';
import type { DevClient } from './dev-clients.js';
import { DEV_ALGORITHM, DEV_ISSUER } from './dev-keys.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** Algorithms SMART requires servers to support for client assertions (RS384, ES384), plus their usual siblings. */
const ASSERTION_ALGORITHMS = ['RS384', 'ES384', 'RS256', 'ES256', 'PS384'];
/** SMART: "exp ... no more than five minutes in the future"; tokens are short-lived too. */
const MAX_ASSERTION_SECONDS = 300;
export const ACCESS_TOKEN_SECONDS = 300;
/** Bound of the replay memory (jti values seen within their assertion's lifetime). */
const MAX_REMEMBERED_JTI = 100_000;

export interface TokenEndpointOptions {
  /** The absolute URL clients put in their assertions' `aud`. */
  tokenUrl: string;
  /** Audience of the access tokens (this FHIR server's base URL). */
  audience: string;
  issuer?: string;
  privateJwk: JWK;
  clients: () => DevClient[];
  clockToleranceSeconds: number;
  now?: () => number;
}

class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope',
    readonly description: string,
    readonly status = error === 'invalid_client' ? 401 : 400,
  ) {
    super(description);
  }
}

/** The requested system/ scopes, narrowed to what the registration allows (v2 letters). */
export function grantedScopes(requested: string, allowed: string): string[] {
  const wanted = parseScopes(requested).resourceScopes.filter((s) => s.context === 'system');
  const max = parseScopes(allowed).resourceScopes.filter((s) => s.context === 'system');
  const granted: string[] = [];
  for (const scope of wanted) {
    const letters = (['c', 'r', 'u', 'd', 's'] as Permission[]).filter(
      (p) => scope.permissions.has(p) && max.some((m) => (m.resourceType === '*' || m.resourceType === scope.resourceType) && m.permissions.has(p)),
    );
    if (letters.length > 0) granted.push(`system/${scope.resourceType}.${letters.join('')}`);
  }
  return [...new Set(granted)];
}

export function registerBackendServicesToken(app: FastifyInstance, options: TokenEndpointOptions): void {
  const seen = new Map<string, number>();
  const now = options.now ?? (() => Date.now());
  const signingKey = importJWK(options.privateJwk, DEV_ALGORITHM);

  const remember = (jti: string, exp: number) => {
    const t = now() / 1000;
    for (const [key, expiry] of seen) if (expiry < t || seen.size >= MAX_REMEMBERED_JTI) seen.delete(key);
    seen.set(jti, exp);
  };

  async function authenticate(assertion: string): Promise<DevClient> {
    let claims;
    try {
      decodeProtectedHeader(assertion);
      claims = decodeJwt(assertion);
    } catch {
      throw new OAuthError('invalid_client', 'the client assertion is not a JWT');
    }
    const clientId = typeof claims.iss === 'string' ? claims.iss : undefined;
    const client = options.clients().find((c) => c.clientId === clientId);
    if (!client) throw new OAuthError('invalid_client', 'the client is not registered with this server');
    if (claims.sub !== client.clientId) throw new OAuthError('invalid_client', 'the client assertion must have sub = iss = the client id');
    try {
      const { payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
        issuer: client.clientId,
        audience: options.tokenUrl,
        algorithms: ASSERTION_ALGORITHMS,
        clockTolerance: options.clockToleranceSeconds,
        requiredClaims: ['exp', 'jti'],
        currentDate: new Date(now()),
      });
      const exp = payload.exp!;
      if (exp - now() / 1000 > MAX_ASSERTION_SECONDS + options.clockToleranceSeconds) throw new OAuthError('invalid_client', 'the client assertion expires more than five minutes ahead');
      const jti = `${client.clientId}\u0000${String(payload.jti)}`;
      if (seen.has(jti)) throw new OAuthError('invalid_client', 'this client assertion (jti) was already used');
      remember(jti, exp);
      return client;
    } catch (error) {
      if (error instanceof OAuthError) throw error;
      throw new OAuthError('invalid_client', `the client assertion could not be verified (${(error as Error).message})`);
    }
  }

  app.post('/auth/token', { config: { rateLimit: false } }, async (request, reply) => {
    reply.header('Cache-Control', 'no-store').header('Pragma', 'no-cache');
    try {
      // The content type first: another body (a JSON array...) is never read as the form's pairs.
      if (!String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
        throw new OAuthError('invalid_request', 'the token request must be application/x-www-form-urlencoded');
      }
      const form = new URLSearchParams(Array.isArray(request.body) ? (request.body as Array<[string, string]>) : []);
      if (form.get('grant_type') !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'only grant_type=client_credentials is supported (SMART Backend Services)');
      if (form.get('client_assertion_type') !== CLIENT_ASSERTION_TYPE) throw new OAuthError('invalid_client', `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`);
      const assertion = form.get('client_assertion');
      if (!assertion) throw new OAuthError('invalid_client', 'client_assertion is missing');
      const client = await authenticate(assertion);
      const scopes = grantedScopes(form.get('scope') ?? '', client.scope);
      if (scopes.length === 0) throw new OAuthError('invalid_scope', `none of the requested scopes is granted to this client (it may be granted: ${client.scope})`);
      const accessToken = await new SignJWT({
        relais_role: client.role,
        scope: scopes.join(' '),
        azp: client.clientId,
        ...(client.finess ? { finess: client.finess } : {}),
        ...(client.name ? { name: client.name } : {}),
      })
        .setProtectedHeader({ alg: DEV_ALGORITHM, kid: options.privateJwk.kid, typ: 'JWT' })
        .setIssuer(options.issuer ?? DEV_ISSUER)
        .setAudience(options.audience)
        .setSubject(client.clientId)
        .setIssuedAt(Math.floor(now() / 1000))
        .setExpirationTime(Math.floor(now() / 1000) + ACCESS_TOKEN_SECONDS)
        .sign(await signingKey);
      request.log.info({ clientId: client.clientId, scope: scopes.join(' ') }, 'backend-services access token issued');
      return reply.code(200).send({ access_token: accessToken, token_type: 'bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: scopes.join(' ') });
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      if (error.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="relais"');
      return reply.code(error.status).send({ error: error.error, error_description: error.description });
    }
  });
}
