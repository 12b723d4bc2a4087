/**
 * `relais token`: mints a development bearer token signed by the local dev key
 * (AUTH_MODE=dev, the default), so every access path can be tried without an
 * identity provider. Prints the token alone on stdout:
 *
 *   TOKEN=$(relais token --role coordinator)            # in the image
 *   TOKEN=$(npm run -s token -- --role coordinator)     # from a clone
 *   relais token --role nurse --rpps 10001234567
 *   relais token --role hospital --finess 750712184 --client his-hopital
 *   relais token --role auditor --sub audit-1
 *   relais token --role platform --client plateforme-ars
 *
 * The key lives in the dev-auth folder (<DATA_DIR>/dev-auth, or AUTH_DEV_DIR),
 * created on first use by the server or by this command; the issuer and
 * audience follow the server's configuration (AUTH_ISSUER, AUTH_AUDIENCE,
 * BASE_URL, PORT), read from the same environment.
 */
import { parseArgs } from 'node:util';
import { importJWK, SignJWT } from 'jose';
import { baseUrlOf, ConfigError, loadConfig } from '../config.js';
import { DEV_ALGORITHM, DEV_ISSUER, devAuthDirectory, ensureDevKeys } from '../auth/dev-keys.js';
import { DEFAULT_CLAIMS_MAPPING } from '../auth/claims-mapping.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, type CliCommand } from './command.js';

/** Scopes each kind of principal gets by default (what the policy could ever grant it). */
const DEFAULT_SCOPES: Record<string, string> = {
  practitioner: 'openid fhirUser user/*.crus',
  coordinator: 'openid fhirUser user/*.cruds',
  system: 'system/*.crus',
  auditor: 'openid user/AuditEvent.rs',
  platform: 'system/*.rs',
};

export interface MintOptions {
  role: string;
  rpps?: string;
  finess?: string;
  sub?: string;
  name?: string;
  client?: string;
  scope?: string;
  patient?: string;
  ttlSeconds: number;
}

/** Thrown for options that cannot make a token (exit code 2). */
export class TokenUsageError extends Error {}

export async function mintDevToken(options: MintOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const config = loadConfig(env);
  const kind = DEFAULT_CLAIMS_MAPPING.roles[options.role];
  if (!kind) throw new TokenUsageError(`unknown role '${options.role}'; one of: ${Object.keys(DEFAULT_CLAIMS_MAPPING.roles).join(', ')}`);
  if (!Number.isInteger(options.ttlSeconds) || options.ttlSeconds <= 0) throw new TokenUsageError('--ttl must be a positive number of seconds');
  const { privateJwk } = await ensureDevKeys(devAuthDirectory(config));
  const key = await importJWK(privateJwk, DEV_ALGORITHM);
  const subject = options.sub ?? options.rpps ?? options.client ?? `${options.role}-dev`;
  return new SignJWT({
    relais_role: options.role,
    scope: options.scope ?? DEFAULT_SCOPES[kind],
    ...(options.rpps ? { rpps: options.rpps } : {}),
    ...(options.finess ? { finess: options.finess } : {}),
    ...(options.name ? { name: options.name } : {}),
    ...(options.client ? { azp: options.client } : {}),
    ...(options.patient ? { patient: options.patient } : {}),
  })
    .setProtectedHeader({ alg: DEV_ALGORITHM, kid: privateJwk.kid, typ: 'JWT' })
    .setIssuer(config.AUTH_ISSUER ?? DEV_ISSUER)
    .setAudience(config.AUTH_AUDIENCE ?? baseUrlOf(config))
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
    .sign(key);
}

const USAGE =
  'usage: relais token --role <nurse|physician|practitioner|coordinator|hospital|auditor|platform> [--rpps 11digits] [--finess 9chars] [--client id] [--sub s] [--name n] [--scope "user/*.rs"] [--patient id] [--ttl seconds]\n';

export const tokenCommand: CliCommand = {
  summary: 'print a development bearer token (AUTH_MODE=dev) for a role',
  async run(args, env) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          role: { type: 'string' },
          rpps: { type: 'string' },
          finess: { type: 'string' },
          sub: { type: 'string' },
          name: { type: 'string' },
          client: { type: 'string' },
          scope: { type: 'string' },
          patient: { type: 'string' },
          ttl: { type: 'string', default: '3600' },
          help: { type: 'boolean', short: 'h' },
        },
      }));
    } catch (error) {
      process.stderr.write(`token: ${(error as Error).message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (values.help || !values.role) {
      process.stderr.write(USAGE);
      return values.help ? EXIT_OK : EXIT_USAGE;
    }
    const { ttl, help: _help, ...rest } = values;
    try {
      process.stdout.write(`${await mintDevToken({ ...rest, role: values.role, ttlSeconds: Number(ttl) }, env)}\n`);
      return EXIT_OK;
    } catch (error) {
      process.stderr.write(`token: ${(error as Error).message}\n`);
      return error instanceof TokenUsageError || error instanceof ConfigError ? EXIT_USAGE : EXIT_FAILED;
    }
  },
};
