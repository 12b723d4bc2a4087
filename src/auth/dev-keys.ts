/**
 * The local development signing key (AUTH_MODE=dev): an ES256 key pair made on
 * first use in `<DATA_DIR>/dev-auth/` (or AUTH_DEV_DIR), so `npm start` is
 * authenticated from the first run and `relais token` can mint tokens the
 * server accepts. The private key never leaves that folder (mode 0600) and is
 * not a secret worth keeping: it only opens a development server's own data.
 * Never use dev mode in production; the server logs a warning when it runs in it.
 *
 * Several replicas (e.g. `docker compose up --scale relais=2` on MongoDB) share
 * one key by pointing AUTH_DEV_DIR at one shared folder: the first process to
 * start creates the key with an exclusive link, the others read it, so a token
 * minted for one replica works on all of them.
 */
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { RelaisConfig } from '../config.js';

export const DEV_ISSUER = 'relais-dev';
export const DEV_ALGORITHM = 'ES256';

/** How to get a token, said the same way by the start-up log and the README's quick start. */
export const DEV_TOKEN_HINT = 'TOKEN=$(npm run -s token -- --role coordinator) from a clone, TOKEN=$(relais token --role coordinator) in the image';

export interface DevKeyFiles {
  directory: string;
  privateKeyFile: string;
  jwksFile: string;
}

/** The folder of the development key and registered clients: AUTH_DEV_DIR, else DATA_DIR/dev-auth. */
export function devAuthDirectory(config: Pick<RelaisConfig, 'DATA_DIR' | 'AUTH_DEV_DIR'>): string {
  return resolve(config.AUTH_DEV_DIR ?? join(config.DATA_DIR, 'dev-auth'));
}

export function devKeyFiles(directory: string): DevKeyFiles {
  return { directory, privateKeyFile: join(directory, 'dev-signing-key.jwk.json'), jwksFile: join(directory, 'dev-jwks.json') };
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The public half of a private JWK (EC or RSA members), as published in the JWKS. */
function publicJwkOf(privateJwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...publicJwk } = privateJwk;
  return publicJwk;
}

/**
 * Reads the dev key pair from `directory`, creating it when absent. Returns the
 * private JWK and the public JWKS (derived from the private key, so the two
 * always match even when several processes start at once).
 */
export async function ensureDevKeys(directory: string): Promise<{ privateJwk: JWK; jwks: { keys: JWK[] }; files: DevKeyFiles }> {
  const files = devKeyFiles(directory);
  let privateJwk = readJson<JWK>(files.privateKeyFile);
  if (!privateJwk) {
    mkdirSync(files.directory, { recursive: true, mode: 0o700 });
    const { privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
    const kid = `relais-dev-${Date.now().toString(36)}`;
    const created = { ...(await exportJWK(privateKey)), kid, alg: DEV_ALGORITHM, use: 'sig' };
    // Written to a temporary file, then linked into place: link() fails if the
    // key exists, so of two processes starting together one key wins and both use it.
    const tmpKey = `${files.privateKeyFile}.${process.pid}.tmp`;
    writeFileSync(tmpKey, JSON.stringify(created) + '\n', { mode: 0o600 });
    chmodSync(tmpKey, 0o600);
    try {
      linkSync(tmpKey, files.privateKeyFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(tmpKey);
    }
    privateJwk = readJson<JWK>(files.privateKeyFile)!;
  }
  const jwks = { keys: [publicJwkOf(privateJwk)] };
  // The public JWKS, for an OIDC-mode server or a client that wants to verify dev tokens (AUTH_KEY_FILE).
  if (JSON.stringify(readJson(files.jwksFile)) !== JSON.stringify(jwks)) {
    const tmpJwks = `${files.jwksFile}.${process.pid}.tmp`;
    writeFileSync(tmpJwks, JSON.stringify(jwks, null, 1) + '\n');
    renameSync(tmpJwks, files.jwksFile);
  }
  return { privateJwk, jwks, files };
}
