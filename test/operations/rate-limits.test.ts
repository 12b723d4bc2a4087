/**
 * Rate limits are counted per token subject and sized by role: a person's
 * software has RATE_LIMIT_MAX a window, a hospital's or a platform's sync far
 * more (so an integration run never meets it), each role can be set with
 * RATE_LIMIT_MAX_BY_ROLE, and with AUTH_MODE=none there is no limit unless one
 * is configured.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_PEOPLE_MAX, DEFAULT_SYSTEM_MAX, rateLimitsFromConfig } from '../../src/auth/rate-limits.js';
import type { Principal } from '../../src/identity/principal.js';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { useTestServer } from '../helpers/test-server.js';

const principal = (kind: Principal['kind']) => ({ kind }) as Principal;

describe('rate limits by role', () => {
  it('defaults: people 1,200 a minute, hospitals and platforms 60,000; each role can be set', () => {
    const limits = rateLimitsFromConfig(loadConfig({ AUTH_MODE: 'dev' }))!;
    expect(limits.windowMs).toBe(60_000);
    for (const kind of ['practitioner', 'coordinator', 'auditor'] as const) expect(limits.maxFor(principal(kind))).toBe(DEFAULT_PEOPLE_MAX);
    expect(limits.maxFor(undefined)).toBe(DEFAULT_PEOPLE_MAX);
    expect(limits.maxFor(principal('system'))).toBe(DEFAULT_SYSTEM_MAX);
    expect(limits.maxFor(principal('platform'))).toBe(DEFAULT_SYSTEM_MAX);
    const tuned = rateLimitsFromConfig(loadConfig({ RATE_LIMIT_MAX: '300', RATE_LIMIT_MAX_BY_ROLE: 'platform=200000,coordinator=5000' }))!;
    expect(tuned.maxFor(principal('practitioner'))).toBe(300);
    expect(tuned.maxFor(principal('coordinator'))).toBe(5000);
    expect(tuned.maxFor(principal('platform'))).toBe(200_000);
    expect(tuned.maxFor(principal('system'))).toBe(DEFAULT_SYSTEM_MAX);
  });

  it('none with AUTH_MODE=none, unless configured', () => {
    expect(rateLimitsFromConfig(loadConfig({ AUTH_MODE: 'none' }))).toBeUndefined();
    expect(rateLimitsFromConfig(loadConfig({ AUTH_MODE: 'none', RATE_LIMIT_MAX: '50' }))!.maxFor(undefined)).toBe(50);
    expect(rateLimitsFromConfig(loadConfig({ AUTH_MODE: 'none', RATE_LIMIT_MAX_BY_ROLE: 'anonymous=70' }))!.maxFor(undefined)).toBe(70);
  });
});

describe('over HTTP (AUTH_MODE=dev, RATE_LIMIT_MAX=3)', () => {
  const { inject, server } = useTestServer({ VALIDATION_ENFORCEMENT: 'off', AUTH_MODE: 'dev', RATE_LIMIT_MAX: '3', RATE_LIMIT_MAX_BY_ROLE: 'auditor=5' });

  async function statuses(token: string, count: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await inject({ url: '/fhir/Organization?_count=1', headers: { authorization: `Bearer ${token}` } })).statusCode);
    return out;
  }

  it('a nurse meets the limit at her 4th request (429 OperationOutcome with Retry-After), a platform and a hospital do not, counted per subject', async () => {
    const env = devAuthEnv(server().dataDir);
    // Tokens name people and organisations the directory knows (the server refuses the others).
    await registerInDirectory(server(), { rpps: ['10001234567', '10007654321'], finess: ['370000481'] });
    const nurse = await mintDevToken({ role: 'nurse', rpps: '10001234567', ttlSeconds: 600 }, env);
    const otherNurse = await mintDevToken({ role: 'nurse', rpps: '10007654321', ttlSeconds: 600 }, env);
    const platform = await mintDevToken({ role: 'platform', client: 'plateforme-ars', ttlSeconds: 600 }, env);
    const hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'dpi-chu', ttlSeconds: 600 }, env);
    expect(await statuses(nurse, 4)).toEqual([200, 200, 200, 429]);
    const limited = await inject({ url: '/fhir/Organization', headers: { authorization: `Bearer ${nurse}` } });
    expect(limited.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'throttled' }] });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // Another person has her own count.
    expect(await statuses(otherNurse, 1)).toEqual([200]);
    // System clients: a sync of 30 requests in the same window is nowhere near their limit.
    expect((await statuses(platform, 30)).every((s) => s === 200)).toBe(true);
    expect((await statuses(hospital, 30)).every((s) => s === 200)).toBe(true);
    // A role set on its own (auditor=5): its 6th request is refused.
    const auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 600 }, env);
    const auditorStatuses: number[] = [];
    for (let i = 0; i < 6; i++) auditorStatuses.push((await inject({ url: '/fhir/AuditEvent?_count=1', headers: { authorization: `Bearer ${auditor}` } })).statusCode);
    expect(auditorStatuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('over HTTP (AUTH_MODE=none, nothing configured)', () => {
  const { inject } = useTestServer({ VALIDATION_ENFORCEMENT: 'off' });

  it('has no rate limit: no limit headers, no 429 after more requests than the people limit would allow', async () => {
    const first = await inject({ url: '/fhir/Organization?_count=1' });
    expect(first.headers['x-ratelimit-limit']).toBeUndefined();
    // More than the 1,200 a minute a person's software would get, in a few seconds.
    const seen = new Set<number>();
    for (let i = 0; i < DEFAULT_PEOPLE_MAX + 50; i++) seen.add((await inject({ url: `/fhir/Patient/unknown-${i}` })).statusCode);
    expect([...seen]).toEqual([404]);
  });
});
