/**
 * The backend-service clients registered with the development authorization
 * server (AUTH_MODE=dev; SMART Backend Services): each a client id, the role
 * its tokens carry (a regional platform, or a hospital's software with its
 * FINESS), the most it may be granted (its scopes), and the public keys that
 * verify its signed client assertions (a JWKS). Kept in
 * `clients.json` of the dev-auth folder (`<DATA_DIR>/dev-auth`, or AUTH_DEV_DIR:
 * see dev-keys.ts), written by `relais register-client`.
 * In production the identity provider (AUTH_MODE=oidc) registers clients.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JSONWebKeySet } from 'jose';

export interface DevClient {
  clientId: string;
  /** A role label of the claims mapping: "platform" or "hospital". */
  role: 'platform' | 'hospital';
  /** The organisation a hospital client acts for (required for hospitals). */
  finess?: string;
  name?: string;
  /** The most this client may be granted (space-separated SMART system/ scopes). */
  scope: string;
  jwks: JSONWebKeySet;
}

interface ClientsFile {
  clients: DevClient[];
}

/** `devAuthDir`: see devAuthDirectory() in dev-keys.ts. */
export function devClientsFile(devAuthDir: string): string {
  return join(resolve(devAuthDir), 'clients.json');
}

/** The registered clients (none when the file does not exist). */
export function readDevClients(devAuthDir: string): DevClient[] {
  try {
    return (JSON.parse(readFileSync(devClientsFile(devAuthDir), 'utf8')) as ClientsFile).clients ?? [];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Adds or replaces a client (by id), through a temporary file and a rename. */
export function registerDevClient(devAuthDir: string, client: DevClient): void {
  const file = devClientsFile(devAuthDir);
  mkdirSync(resolve(devAuthDir), { recursive: true, mode: 0o700 });
  const clients = [...readDevClients(devAuthDir).filter((c) => c.clientId !== client.clientId), client];
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ clients }, null, 1) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}
