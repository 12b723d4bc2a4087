/**
 * How many requests a client may send per window, by role. Requests are
 * counted per client (token issuer and subject, else the IP address; see
 * http-security.ts), and the maximum depends on who the client is:
 *
 * - people (practitioners, coordinators, auditors) and anonymous callers:
 *   RATE_LIMIT_MAX, 1,200 a minute by default (20 a second, far above what a
 *   person's software sends, low enough to stop a runaway script);
 * - system clients (a hospital's software, a regional platform): 60,000 a
 *   minute by default. A platform's `_history` sync or a hospital's import
 *   must never meet the limit: the embedded store ingests ~230 resources/s on
 *   the reference machine (README, "Batch, transaction"), so 1,000 requests a
 *   second is above what the server itself can serve; the limit only stops a
 *   client stuck in a loop.
 *
 * RATE_LIMIT_MAX_BY_ROLE overrides any role ("platform=120000,hospital=30000").
 * With AUTH_MODE=none there is no client identity to count per, and a local
 * integration run would be throttled by IP: no rate limit unless one of
 * RATE_LIMIT_MAX / RATE_LIMIT_MAX_BY_ROLE is set.
 */
import type { RATE_LIMIT_ROLES, RelaisConfig } from '../config.js';
import type { Principal, PrincipalKind } from '../identity/principal.js';

export type RateLimitRole = (typeof RATE_LIMIT_ROLES)[number];

export const DEFAULT_PEOPLE_MAX = 1200;
export const DEFAULT_SYSTEM_MAX = 60_000;

const ROLE_OF_KIND: Record<PrincipalKind, RateLimitRole> = {
  practitioner: 'practitioner',
  coordinator: 'coordinator',
  auditor: 'auditor',
  system: 'hospital',
  platform: 'platform',
};

export interface RateLimits {
  windowMs: number;
  /** The maximum number of requests per window for this caller (undefined: unauthenticated). */
  maxFor(principal: Principal | undefined): number;
}

/** The rate limits in force, or undefined when there are none (AUTH_MODE=none without explicit limits). */
export function rateLimitsFromConfig(config: Pick<RelaisConfig, 'AUTH_MODE' | 'RATE_LIMIT_MAX' | 'RATE_LIMIT_MAX_BY_ROLE' | 'RATE_LIMIT_WINDOW_MS'>): RateLimits | undefined {
  if (config.AUTH_MODE === 'none' && config.RATE_LIMIT_MAX === undefined && config.RATE_LIMIT_MAX_BY_ROLE === undefined) return undefined;
  const people = config.RATE_LIMIT_MAX ?? DEFAULT_PEOPLE_MAX;
  const max: Record<RateLimitRole, number> = {
    practitioner: people,
    coordinator: people,
    auditor: people,
    anonymous: people,
    hospital: Math.max(DEFAULT_SYSTEM_MAX, people),
    platform: Math.max(DEFAULT_SYSTEM_MAX, people),
  };
  // The schema (config.ts) has checked the syntax and the role names.
  for (const pair of (config.RATE_LIMIT_MAX_BY_ROLE ?? '').split(',').filter(Boolean)) {
    const [role, value] = pair.split('=');
    max[role as RateLimitRole] = Number(value);
  }
  return {
    windowMs: config.RATE_LIMIT_WINDOW_MS,
    maxFor: (principal) => max[principal ? ROLE_OF_KIND[principal.kind] : 'anonymous'],
  };
}
