/**
 * Turns an Authorization header into a principal, in the mode the
 * configuration chose:
 * - `dev` (the default, so `npm start` is authenticated from the first run):
 *   tokens signed by the local development key (see dev-keys.ts), minted with
 *   `npm run token`;
 * - `oidc`: tokens from an external OpenID Connect provider (Keycloak, Pro Santé
 *   Connect...), keys from its JWKS URL or a local key file;
 * - `none`: no authentication at all; every request acts as the server itself.
 *   Only with AUTH_MODE=none written explicitly, and the server says so loudly.
 */
import { baseUrlOf, ConfigError, type RelaisConfig } from '../config.js';
import { DEV_ALGORITHM, DEV_ISSUER, devAuthDirectory, ensureDevKeys } from './dev-keys.js';
import { LRUCache } from 'lru-cache';
import type { Principal } from '../identity/principal.js';
import { parseClaimsMapping, principalFromClaims, PrincipalError, type ClaimsMapping } from './claims-mapping.js';
import { keySourceFromFile, TokenError, TokenVerifier, type KeySource } from './token-verifier.js';

export type AuthMode = RelaisConfig['AUTH_MODE'];

export interface Authenticator {
  mode: AuthMode;
  issuer?: string;
  audience?: string;
  /** Undefined principal = no authentication in this mode. Throws AuthenticationError. */
  authenticate(authorization: string | undefined): Promise<Principal | undefined>;
  /**
   * The principal of a token verified before and still valid (the token cache), at once; undefined
   * otherwise (then authenticate() decides). What authenticate() would answer for it, without a promise.
   */
  remembered?(authorization: string | undefined): Principal | undefined;
}

/** Why a request is not authenticated; `missing` = no token at all. */
export class AuthenticationError extends Error {
  constructor(
    readonly reason: string,
    readonly missing = false,
  ) {
    super(reason);
    this.name = 'AuthenticationError';
  }
}

/**
 * Verified tokens, remembered for AUTH_TOKEN_CACHE_SECONDS (never past their
 * expiry) so a client sending the same token on every request does not pay a
 * signature check each time (11 % of a read, issue 17). Bounded (LRU, keyed
 * by the token itself, which only a holder of the signing key can mint valid):
 * a flood of distinct tokens evicts, it does not grow. The directory check of
 * the holder (src/access/directory-identity.ts) still runs on every request.
 */
function tokenCache(seconds: number): LRUCache<string, { principal: Principal; exp: number }> | undefined {
  return seconds > 0 ? new LRUCache({ max: 10_000 }) : undefined;
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/i;

export interface AuthenticatorOverrides {
  /** Tests: shorten the JWKS refetch cooldown to see a key rotation at once. */
  jwksCooldownMs?: number;
}

export async function buildAuthenticator(config: RelaisConfig, overrides: AuthenticatorOverrides = {}): Promise<Authenticator> {
  if (config.AUTH_MODE === 'none') {
    return { mode: 'none', authenticate: async () => undefined };
  }
  let mapping: ClaimsMapping;
  try {
    mapping = parseClaimsMapping(config.AUTH_CLAIMS_MAPPING);
  } catch (error) {
    throw new ConfigError(`invalid configuration: ${(error as Error).message}`);
  }
  const algorithms = config.AUTH_ALGORITHMS.split(',');
  const audience = config.AUTH_AUDIENCE ?? baseUrlOf(config);
  let issuer: string;
  let keys: KeySource;
  if (config.AUTH_MODE === 'dev') {
    issuer = config.AUTH_ISSUER ?? DEV_ISSUER;
    keys = { kind: 'jwks', jwks: (await ensureDevKeys(devAuthDirectory(config))).jwks };
    if (!algorithms.includes(DEV_ALGORITHM)) algorithms.push(DEV_ALGORITHM);
  } else {
    if (!config.AUTH_ISSUER) throw new ConfigError('invalid configuration: AUTH_MODE=oidc needs AUTH_ISSUER');
    issuer = config.AUTH_ISSUER;
    if (config.AUTH_JWKS_URL) {
      keys = { kind: 'jwks-url', url: config.AUTH_JWKS_URL, ...(overrides.jwksCooldownMs !== undefined ? { cooldownMs: overrides.jwksCooldownMs } : {}) };
    } else if (config.AUTH_KEY_FILE) {
      try {
        keys = keySourceFromFile(config.AUTH_KEY_FILE, algorithms);
      } catch (error) {
        throw new ConfigError(`invalid configuration: AUTH_KEY_FILE could not be read (${(error as Error).message})`);
      }
    } else {
      throw new ConfigError('invalid configuration: AUTH_MODE=oidc needs AUTH_JWKS_URL or AUTH_KEY_FILE');
    }
  }
  const remembered = tokenCache(config.AUTH_TOKEN_CACHE_SECONDS);
  const verifier = new TokenVerifier({ issuer, audience, algorithms, clockToleranceSeconds: config.AUTH_CLOCK_SKEW_SECONDS, maxLifetimeSeconds: config.AUTH_MAX_TOKEN_LIFETIME_SECONDS, keys });
  /** The token of a well-formed header, or undefined. */
  const tokenOf = (authorization: string | undefined): string | undefined => (authorization ? BEARER.exec(authorization.trim())?.[1] : undefined);
  /** A remembered principal whose token has not expired. */
  const rememberedFor = (token: string): Principal | undefined => {
    const known = remembered?.get(token);
    return known && known.exp * 1000 > Date.now() ? known.principal : undefined;
  };
  return {
    mode: config.AUTH_MODE,
    issuer,
    audience,
    remembered(authorization) {
      const token = remembered ? tokenOf(authorization) : undefined;
      return token === undefined ? undefined : rememberedFor(token);
    },
    async authenticate(authorization) {
      if (authorization === undefined || authorization === '') throw new AuthenticationError('no bearer token', true);
      const match = BEARER.exec(authorization.trim());
      if (!match) throw new AuthenticationError('the Authorization header is not "Bearer <JWT>"');
      const known = rememberedFor(match[1]);
      if (known) return known;
      try {
        const payload = (await verifier.verify(match[1])) as Record<string, unknown> & { exp: number };
        const principal = principalFromClaims(payload, mapping);
        remembered?.set(match[1], { principal, exp: payload.exp }, { ttl: Math.max(1, Math.min(config.AUTH_TOKEN_CACHE_SECONDS * 1000, payload.exp * 1000 - Date.now())) });
        return principal;
      } catch (error) {
        if (error instanceof TokenError || error instanceof PrincipalError) throw new AuthenticationError(error.message);
        throw error;
      }
    },
  };
}
