/**
 * Websocket binding tokens ($get-ws-binding-token, Backport IG "Websockets"):
 * a browser's WebSocket cannot send an Authorization header, so the client
 * asks over REST (authenticated, audited) for a short-lived token naming the
 * subscriptions it may bind, then sends `bind-with-token <token>` on the
 * socket. The token is self-contained and HMAC-SHA256 signed (node:crypto):
 * any process sharing SUBSCRIPTION_TOKEN_SECRET verifies it; without that
 * secret each process signs with a random key of its own.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface BindingGrant {
  subscriptions: string[];
  /** Epoch milliseconds. */
  expires: number;
}

export class BindingTokens {
  private readonly key: Buffer;

  constructor(
    secret: string | undefined,
    readonly lifetimeMs = 10 * 60_000,
  ) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  mint(subscriptions: string[], now = Date.now()): { token: string; expires: Date } {
    const grant: BindingGrant = { subscriptions, expires: now + this.lifetimeMs };
    const payload = Buffer.from(JSON.stringify(grant)).toString('base64url');
    return { token: `${payload}.${this.sign(payload)}`, expires: new Date(grant.expires) };
  }

  /** The grant of a valid, unexpired token; undefined otherwise. */
  verify(token: string, now = Date.now()): BindingGrant | undefined {
    const [payload, signature] = token.trim().split('.');
    if (!payload || !signature) return undefined;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    try {
      const grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as BindingGrant;
      return Array.isArray(grant.subscriptions) && typeof grant.expires === 'number' && grant.expires > now ? grant : undefined;
    } catch {
      return undefined;
    }
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
