/**
 * The local development signing key (AUTH_MODE=dev): an ES256 key pair made on
 * first use in `<DATA_DIR>/dev-auth/`, so `npm start` is authenticated from the
 * first run and `npm run token` can mint tokens the server accepts. The private
 * key never leaves that folder (mode 0600) and is not a secret worth keeping:
 * it only opens a development server's own data. Never use dev mode in
 * production; the server logs a warning when it runs in it.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

export const DEV_ISSUER = 'relais-dev';
export const DEV_ALGORITHM = 'ES256';

export interface DevKeyFiles {
  directory: string;
  privateKeyFile: string;
  jwksFile: string;
}

export function devKeyFiles(dataDir: string): DevKeyFiles {
  const directory = join(resolve(dataDir), 'dev-auth');
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

/** Reads the dev key pair, creating it when absent. Returns the private JWK and the public JWKS. */
export async function ensureDevKeys(dataDir: string): Promise<{ privateJwk: JWK; jwks: { keys: JWK[] }; files: DevKeyFiles }> {
  const files = devKeyFiles(dataDir);
  const existing = readJson<JWK>(files.privateKeyFile);
  const existingJwks = readJson<{ keys: JWK[] }>(files.jwksFile);
  if (existing && existingJwks) return { privateJwk: existing, jwks: existingJwks, files };
  mkdirSync(files.directory, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  const kid = `relais-dev-${Date.now().toString(36)}`;
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: DEV_ALGORITHM, use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: DEV_ALGORITHM, use: 'sig' };
  const jwks = { keys: [publicJwk] };
  // Write both through temporary files and renames so a reader never sees half a key.
  const tmpKey = `${files.privateKeyFile}.${process.pid}.tmp`;
  writeFileSync(tmpKey, JSON.stringify(privateJwk) + '\n', { mode: 0o600 });
  chmodSync(tmpKey, 0o600);
  const tmpJwks = `${files.jwksFile}.${process.pid}.tmp`;
  writeFileSync(tmpJwks, JSON.stringify(jwks, null, 1) + '\n');
  renameSync(tmpJwks, files.jwksFile);
  renameSync(tmpKey, files.privateKeyFile);
  return { privateJwk, jwks, files };
}
