/**
 * Bearer JWT validation with `jose`: signature (the provider's JWKS URL, with
 * key rotation handled by createRemoteJWKSet refetching on an unknown `kid`; or
 * a local JWKS/PEM file), issuer, audience, expiry and not-before with a small
 * clock skew. Knows nothing of HTTP or of principals.
 */
import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  importSPKI,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

export type KeySource =
  | { kind: 'jwks-url'; url: string; cooldownMs?: number; cacheMaxAgeMs?: number }
  | { kind: 'jwks'; jwks: JSONWebKeySet }
  | { kind: 'pem'; pem: string; algorithm: string };

export interface TokenVerifierOptions {
  issuer: string;
  audience: string;
  algorithms: string[];
  clockToleranceSeconds: number;
  /** Longest lifetime accepted (exp − iat, and exp − now), in seconds. */
  maxLifetimeSeconds?: number;
  keys: KeySource;
  now?: () => number;
}

/** Why a token was refused; `reason` is safe to tell the client (no token content). */
export class TokenError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'TokenError';
  }
}

/** Reads AUTH_KEY_FILE: a JWKS document, a single JWK, or a PEM public key. */
export function keySourceFromFile(file: string, algorithms: string[]): KeySource {
  const text = readFileSync(file, 'utf8');
  if (text.includes('-----BEGIN PUBLIC KEY-----')) return { kind: 'pem', pem: text, algorithm: algorithms[0] };
  const json = JSON.parse(text) as JSONWebKeySet | JSONWebKeySet['keys'][number];
  return { kind: 'jwks', jwks: 'keys' in json ? (json as JSONWebKeySet) : { keys: [json] } };
}

export class TokenVerifier {
  private readonly getKey: JWTVerifyGetKey | ReturnType<typeof importSPKI>;

  constructor(private readonly options: TokenVerifierOptions) {
    const source = options.keys;
    if (source.kind === 'jwks-url') {
      this.getKey = createRemoteJWKSet(new URL(source.url), {
        ...(source.cooldownMs !== undefined ? { cooldownDuration: source.cooldownMs } : {}),
        ...(source.cacheMaxAgeMs !== undefined ? { cacheMaxAge: source.cacheMaxAgeMs } : {}),
      });
    } else if (source.kind === 'jwks') {
      this.getKey = createLocalJWKSet(source.jwks);
    } else {
      this.getKey = importSPKI(source.pem, source.algorithm);
    }
  }

  async verify(token: string): Promise<JWTPayload> {
    const verifyOptions = {
      issuer: this.options.issuer,
      audience: this.options.audience,
      algorithms: this.options.algorithms,
      clockTolerance: this.options.clockToleranceSeconds,
      requiredClaims: ['exp', 'sub'],
    };
    try {
      const getKey = this.getKey;
      const { payload } =
        typeof getKey === 'function' ? await jwtVerify(token, getKey, verifyOptions) : await jwtVerify(token, await getKey, verifyOptions);
      this.checkLifetime(payload);
      return payload;
    } catch (error) {
      if (error instanceof TokenError) throw error;
      throw new TokenError(describe(error));
    }
  }

  /**
   * Beyond what jose checks (signature, iss, aud, exp, nbf): a token issued in
   * the future (iat past the clock skew) is refused, and so is one living
   * longer than allowed — an `exp` of 10^20 or an `iat` a year ahead were
   * accepted before (issue 18): a stolen token must not stay usable for ever.
   */
  private checkLifetime(payload: JWTPayload): void {
    const now = Math.floor((this.options.now ?? Date.now)() / 1000);
    const skew = this.options.clockToleranceSeconds;
    if (payload.iat !== undefined && (typeof payload.iat !== 'number' || payload.iat > now + skew)) throw new TokenError('the token is issued in the future (iat)');
    const max = this.options.maxLifetimeSeconds;
    if (max === undefined) return;
    const exp = payload.exp!;
    if (exp - now > max + skew || (payload.iat !== undefined && exp - payload.iat > max)) {
      throw new TokenError(`the token lives longer than this server accepts (${max} s)`);
    }
  }
}

function describe(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'the token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'the token was not issued by the expected issuer';
    if (error.claim === 'aud') return 'the token is not meant for this server (audience)';
    if (error.claim === 'nbf') return 'the token is not valid yet';
    return `the token's ${error.claim} claim is missing or invalid`;
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'the token was signed with an unknown key';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'the token uses a signing algorithm this server does not accept';
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) return 'the token is malformed';
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) return 'the signing keys could not be obtained';
  return 'the token could not be verified';
}
