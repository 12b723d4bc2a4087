/**
 * Registers a backend-service client (SMART Backend Services) with the
 * development authorization server (AUTH_MODE=dev): a regional platform or a
 * hospital's software, its public key(s), and the most it may be granted.
 *
 *   npm run -s register-client -- --client plateforme-ars --role platform --generate-key ./ars-private.jwk.json
 *   npm run -s register-client -- --client plateforme-ars --role platform --jwks ./ars-jwks.json
 *   npm run -s register-client -- --client dpi-chu --role hospital --finess 370000481 --jwks ./chu-jwks.json --scope "system/*.crs"
 *
 * `--generate-key FILE` makes an ES384 key pair for trials: the private JWK is
 * written to FILE (mode 0600; the client signs its assertions with it) and
 * the public key registered. Same DATA_DIR as the server; no restart needed.
 * With an OpenID Connect provider (AUTH_MODE=oidc), register the client there
 * instead (see the README, "Regional platforms").
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';
import { loadConfig } from '../src/config.js';
import { registerDevClient, type DevClient } from '../src/auth/dev-clients.js';
import { devTokenEndpointUrl } from '../src/auth/smart-configuration.js';

const DEFAULT_SCOPE: Record<DevClient['role'], string> = { platform: 'system/*.rs', hospital: 'system/*.crs' };

export async function registerClient(values: { client?: string; role?: string; finess?: string; name?: string; scope?: string; jwks?: string; 'generate-key'?: string }, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const config = loadConfig(env);
  const role = values.role as DevClient['role'] | undefined;
  if (!values.client || !/^[A-Za-z0-9._-]{1,64}$/.test(values.client)) throw new Error('--client <id> is required (letters, digits, . _ -)');
  if (role !== 'platform' && role !== 'hospital') throw new Error('--role must be platform or hospital');
  if (role === 'hospital' && !/^(?:[0-9]{2}|2A|2B)[0-9]{7}$/.test(values.finess ?? '')) throw new Error('a hospital client needs --finess <its 9-character FINESS>');
  let jwks: JSONWebKeySet;
  if (values['generate-key']) {
    const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
    const kid = `${values.client}-${Date.now().toString(36)}`;
    writeFileSync(values['generate-key'], JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES384' }) + '\n', { mode: 0o600 });
    jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] };
  } else if (values.jwks) {
    const parsed = JSON.parse(readFileSync(values.jwks, 'utf8')) as JSONWebKeySet | JSONWebKeySet['keys'][number];
    jwks = 'keys' in parsed ? (parsed as JSONWebKeySet) : { keys: [parsed] };
    if (jwks.keys.some((k) => 'd' in k)) throw new Error('--jwks must hold public keys only (a "d" member is a private key)');
  } else {
    throw new Error('give the client\'s public keys (--jwks FILE) or --generate-key FILE');
  }
  registerDevClient(config.DATA_DIR, {
    clientId: values.client,
    role,
    ...(values.finess ? { finess: values.finess } : {}),
    ...(values.name ? { name: values.name } : {}),
    scope: values.scope ?? DEFAULT_SCOPE[role],
    jwks,
  });
  return devTokenEndpointUrl(config);
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values } = parseArgs({
    options: {
      client: { type: 'string' },
      role: { type: 'string' },
      finess: { type: 'string' },
      name: { type: 'string' },
      scope: { type: 'string' },
      jwks: { type: 'string' },
      'generate-key': { type: 'string' },
    },
  });
  registerClient(values).then(
    (tokenUrl) => process.stdout.write(`registered '${values.client}'; its token endpoint: ${tokenUrl}\n`),
    (error: Error) => {
      process.stderr.write(`register-client: ${error.message}\n`);
      process.exit(2);
    },
  );
}
