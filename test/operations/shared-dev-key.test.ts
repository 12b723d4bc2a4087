/**
 * Several replicas in AUTH_MODE=dev share one development key through
 * AUTH_DEV_DIR: replicas started at the same moment end up with one key (the
 * first to link it wins), and a token minted for one is accepted by all.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { devKeyFiles, ensureDevKeys } from '../../src/auth/dev-keys.js';
import { mintDevToken } from '../../scripts/mint-token.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const folders: string[] = [];
const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});
const folder = () => {
  const f = mkdtempSync(join(tmpdir(), 'relais-devkey-'));
  folders.push(f);
  return f;
};

describe('a development key shared by replicas (AUTH_DEV_DIR)', () => {
  it('replicas creating the key at the same moment all end up with the same one, and the JWKS matches it', async () => {
    const shared = folder();
    const keys = await Promise.all(Array.from({ length: 8 }, () => ensureDevKeys(shared)));
    expect(new Set(keys.map((k) => k.privateJwk.kid)).size).toBe(1);
    const onDisk = JSON.parse(readFileSync(devKeyFiles(shared).jwksFile, 'utf8')) as { keys: Array<{ x: string; d?: string }> };
    expect(onDisk.keys[0].x).toBe(keys[0].privateJwk.x);
    expect(onDisk.keys[0].d).toBeUndefined();
  });

  it('a token minted once is accepted by two servers with their own DATA_DIR and one AUTH_DEV_DIR', async () => {
    const shared = folder();
    const env = { AUTH_MODE: 'dev', AUTH_DEV_DIR: shared, VALIDATION_ENFORCEMENT: 'off', RATE_LIMIT_MAX: '1000' };
    const [first, second] = await Promise.all([startTestServer(env), startTestServer(env)]);
    servers.push(first, second);
    expect(first.dataDir).not.toBe(second.dataDir);
    const token = await mintDevToken({ role: 'coordinator', ttlSeconds: 600 }, { DATA_DIR: folder(), AUTH_DEV_DIR: shared, BASE_URL: 'http://relais.test/fhir' });
    for (const server of [first, second]) {
      const response = await server.app.inject({ url: '/fhir/Organization', headers: { authorization: `Bearer ${token}` } });
      expect(response.statusCode).toBe(200);
    }
    // Without the shared folder, a replica has a key of its own and refuses the token.
    const alone = await startTestServer({ AUTH_MODE: 'dev', VALIDATION_ENFORCEMENT: 'off' });
    servers.push(alone);
    expect((await alone.app.inject({ url: '/fhir/Organization', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(401);
  });
});
