/**
 * A token verified before is answered at once from the token cache (Authenticator.remembered, used by the
 * authentication hook to skip a promise per request): the principal authenticate() gave for it, and
 * nothing for a token never verified, a malformed header, or with the cache off.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { buildAuthenticator } from '../../src/auth/authenticator.js';
import { loadConfig } from '../../src/config.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';

const dataDir = mkdtempSync(join(tmpdir(), 'relais-remembered-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('remembered tokens', () => {
  it('give the principal authenticate() gave, only for a token it verified, only with the cache on', async () => {
    const env = devAuthEnv(dataDir);
    const authenticator = await buildAuthenticator(loadConfig(env));
    const coordinator = await mintDevToken({ role: 'coordinator', sub: 'remembered-coordinator', ttlSeconds: 600 }, env);
    const other = await mintDevToken({ role: 'coordinator', sub: 'other-coordinator', ttlSeconds: 600 }, env);
    const header = `Bearer ${coordinator}`;
    expect(authenticator.remembered?.(header)).toBeUndefined();
    const principal = await authenticator.authenticate(header);
    expect(principal).toBeDefined();
    expect(authenticator.remembered?.(header)).toBe(principal);
    expect(authenticator.remembered?.(`  bearer ${coordinator} `)).toBe(principal);
    for (const refused of [undefined, '', coordinator, `Basic ${coordinator}`, `Bearer ${other}`, `Bearer ${coordinator}x`]) expect(authenticator.remembered?.(refused)).toBeUndefined();

    const uncached = await buildAuthenticator(loadConfig({ ...env, AUTH_TOKEN_CACHE_SECONDS: '0' }));
    await uncached.authenticate(header);
    expect(uncached.remembered?.(header)).toBeUndefined();
  });
});
