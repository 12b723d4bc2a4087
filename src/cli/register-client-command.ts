/**
 * `relais register-client`: registers a backend-service client (SMART Backend
 * Services) with the development authorization server (AUTH_MODE=dev): a
 * regional platform or a hospital's software, its public key(s), and the most
 * it may be granted.
 *
 *   relais register-client --client plateforme-ars --role platform --generate-key ./ars-private.jwk.json
 *   relais register-client --client plateforme-ars --role platform --jwks ./ars-jwks.json
 *   relais register-client --client dpi-chu --role hospital --finess 370000481 --jwks ./chu-jwks.json --scope "system/*.crus"
 *
 * `--generate-key FILE` makes an ES384 key pair for trials: the private JWK is
 * written to FILE (mode 0600; the client signs its assertions with it) and
 * the public key registered. Same DATA_DIR (or AUTH_DEV_DIR) as the server; no
 * restart needed. With an OpenID Connect provider (AUTH_MODE=oidc), register
 * the client there instead (see docs/access-control.md, "Regional platforms").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import { ConfigError, loadConfig } from '../config.js';
import { registerDevClient, type DevClient } from '../auth/dev-clients.js';
import { devAuthDirectory } from '../auth/dev-keys.js';
import { devTokenEndpointUrl } from '../auth/smart-configuration.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';

const DEFAULT_SCOPE: Record<DevClient['role'], string> = { platform: 'system/*.rs', hospital: 'system/*.crus' };

export interface RegisterClientOptions {
  client?: string;
  role?: string;
  finess?: string;
  name?: string;
  scope?: string;
  jwks?: string;
  'generate-key'?: string;
}

/** Thrown for options that cannot register a client (exit code 2). */
export class RegisterUsageError extends Error {}

/** Registers the client; returns the token endpoint it will use. */
export async function registerClient(values: RegisterClientOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const config = loadConfig(env);
  const role = values.role as DevClient['role'] | undefined;
  if (!values.client || !/^[A-Za-z0-9._-]{1,64}$/.test(values.client)) throw new RegisterUsageError('--client <id> is required (letters, digits, . _ -)');
  if (role !== 'platform' && role !== 'hospital') throw new RegisterUsageError('--role must be platform or hospital');
  if (role === 'hospital' && !/^(?:[0-9]{2}|2A|2B)[0-9]{7}$/.test(values.finess ?? '')) throw new RegisterUsageError('a hospital client needs --finess <its 9-character FINESS>');
  let jwks: JSONWebKeySet;
  if (values['generate-key']) {
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = `${values.client}-${Date.now().toString(36)}`;
    writeFileSync(values['generate-key'], JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES384' }) + '\n', { mode: 0o600 });
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  } else if (values.jwks) {
    const parsed = JSON.parse(readFileSync(values.jwks, 'utf8')) as JSONWebKeySet | JSONWebKeySet['keys'][number];
    jwks = 'keys' in parsed ? (parsed as JSONWebKeySet) : { keys: [parsed] };
    if (jwks.keys.some((k) => 'd' in k)) throw new RegisterUsageError('--jwks must hold public keys only (a "d" member is a private key)');
  } else {
    throw new RegisterUsageError("give the client's public keys (--jwks FILE) or --generate-key FILE");
  }
  registerDevClient(devAuthDirectory(config), {
    clientId: values.client,
    role,
    ...(values.finess ? { finess: values.finess } : {}),
    ...(values.name ? { name: values.name } : {}),
    scope: values.scope ?? DEFAULT_SCOPE[role],
    jwks,
  });
  return devTokenEndpointUrl(config);
}

export const registerClientCommand: CliCommand = {
  summary: 'register a SMART Backend Services client (platform or hospital) with the dev token endpoint',
  async run(args, env) {
    let values: RegisterClientOptions;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          client: { type: 'string' },
          role: { type: 'string' },
          finess: { type: 'string' },
          name: { type: 'string' },
          scope: { type: 'string' },
          jwks: { type: 'string' },
          'generate-key': { type: 'string' },
        },
      }));
    } catch (error) {
      process.stderr.write(`register-client: ${(error as Error).message}\n`);
      return EXIT_USAGE;
    }
    try {
      const tokenUrl = await registerClient(values, env);
      process.stdout.write(`registered '${values.client}'; its token endpoint: ${tokenUrl}\n`);
      return EXIT_OK;
    } catch (error) {
      process.stderr.write(`register-client: ${(error as Error).message}\n`);
      return error instanceof RegisterUsageError || error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED;
    }
  },
};
