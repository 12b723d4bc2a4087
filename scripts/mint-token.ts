/**
 * Mints a development bearer token signed by the local dev key (AUTH_MODE=dev,
 * the default), so every access path can be tried without an identity provider:
 *
 *   npm run token -- --role nurse --rpps 10001234567
 *   npm run token -- --role coordinator --rpps 10009876543
 *   npm run token -- --role hospital --finess 750712184 --client his-hopital
 *   npm run token -- --role auditor --sub audit-1
 *   npm run token -- --role platform --client plateforme-ars
 *   curl -H "Authorization: Bearer $(npm run -s token -- --role nurse --rpps 10001234567)" localhost:8080/fhir/Patient?_id=...
 *
 * The key lives in <DATA_DIR>/dev-auth/ (created on first use by the server or
 * by this script); the issuer and audience follow the server's configuration
 * (AUTH_ISSUER, AUTH_AUDIENCE, BASE_URL, PORT), read from the same environment.
 * Prints the token alone on stdout.
 */
import { parseArgs } from 'node:util';
import { importJWK, SignJWT } from 'jose';
import { baseUrlOf, loadConfig } from '../src/config.js';
import { DEV_ALGORITHM, DEV_ISSUER, ensureDevKeys } from '../src/auth/dev-keys.js';
import { DEFAULT_CLAIMS_MAPPING } from '../src/auth/claims-mapping.js';

/** Scopes each kind of principal gets by default (what the policy could ever grant it). */
const DEFAULT_SCOPES: Record<string, string> = {
  practitioner: 'openid fhirUser user/*.crus',
  coordinator: 'openid fhirUser user/*.cruds',
  system: 'system/*.crs',
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

export async function mintDevToken(options: MintOptions, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const config = loadConfig(env);
  const kind = DEFAULT_CLAIMS_MAPPING.roles[options.role];
  if (!kind) throw new Error(`unknown role '${options.role}'; one of: ${Object.keys(DEFAULT_CLAIMS_MAPPING.roles).join(', ')}`);
  const { privateJwk } = await ensureDevKeys(config.DATA_DIR);
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

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const { values } = parseArgs({
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
  });
  if (values.help || !values.role) {
    process.stderr.write(
      'usage: npm run token -- --role <nurse|physician|practitioner|coordinator|hospital|auditor> [--rpps 11digits] [--finess 9chars] [--client id] [--sub s] [--name n] [--scope "user/*.rs"] [--patient id] [--ttl seconds]\n',
    );
    process.exit(values.help ? 0 : 2);
  }
  mintDevToken({ ...values, role: values.role, ttlSeconds: Number(values.ttl) }).then(
    (token) => process.stdout.write(`${token}\n`),
    (error: Error) => {
      process.stderr.write(`token: ${error.message}\n`);
      process.exit(1);
    },
  );
}
