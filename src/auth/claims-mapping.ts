/**
 * The configurable mapping from a verified token's claims to the principal
 * (src/identity/principal.ts) it names. Identity providers differ
 * (Keycloak puts roles in `realm_access.roles`, Pro Santé Connect names its
 * claims in French...), so the claim names and the role vocabulary are
 * configuration (AUTH_CLAIMS_MAPPING, a JSON object), not code.
 */
import { parseScopes } from '../identity/smart-scopes.js';
import type { Principal, PrincipalKind } from '../identity/principal.js';

export interface ClaimsMapping {
  /** Claim (dotted path allowed, e.g. "realm_access.roles") holding the role(s). */
  roleClaim: string;
  rppsClaim: string;
  finessClaim: string;
  nameClaim: string;
  scopeClaim: string;
  patientClaim: string;
  clientIdClaims: string[];
  /** Role label in the token → principal kind. Labels not listed are ignored. */
  roles: Record<string, PrincipalKind>;
}

export const DEFAULT_CLAIMS_MAPPING: ClaimsMapping = {
  roleClaim: 'relais_role',
  rppsClaim: 'rpps',
  finessClaim: 'finess',
  nameClaim: 'name',
  scopeClaim: 'scope',
  patientClaim: 'patient',
  clientIdClaims: ['azp', 'client_id'],
  roles: {
    practitioner: 'practitioner',
    nurse: 'practitioner',
    physician: 'practitioner',
    pharmacist: 'practitioner',
    physiotherapist: 'practitioner',
    coordinator: 'coordinator',
    auditor: 'auditor',
    hospital: 'system',
    system: 'system',
    platform: 'platform',
  },
};

const KINDS: PrincipalKind[] = ['practitioner', 'system', 'coordinator', 'auditor', 'platform'];

/** Parses AUTH_CLAIMS_MAPPING (a JSON object overriding some defaults); throws Error with a one-line reason. */
export function parseClaimsMapping(json: string | undefined): ClaimsMapping {
  if (!json) return DEFAULT_CLAIMS_MAPPING;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('AUTH_CLAIMS_MAPPING is not valid JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('AUTH_CLAIMS_MAPPING must be a JSON object');
  const merged = { ...DEFAULT_CLAIMS_MAPPING, ...(value as Partial<ClaimsMapping>) };
  for (const key of ['roleClaim', 'rppsClaim', 'finessClaim', 'nameClaim', 'scopeClaim', 'patientClaim'] as const) {
    if (typeof merged[key] !== 'string' || merged[key].length === 0) throw new Error(`AUTH_CLAIMS_MAPPING.${key} must be a non-empty string`);
  }
  if (!Array.isArray(merged.clientIdClaims) || merged.clientIdClaims.some((c) => typeof c !== 'string')) {
    throw new Error('AUTH_CLAIMS_MAPPING.clientIdClaims must be an array of strings');
  }
  if (!merged.roles || typeof merged.roles !== 'object') throw new Error('AUTH_CLAIMS_MAPPING.roles must be an object');
  for (const [label, kind] of Object.entries(merged.roles)) {
    if (!KINDS.includes(kind)) throw new Error(`AUTH_CLAIMS_MAPPING.roles.${label} must be one of ${KINDS.join(', ')}`);
  }
  return merged;
}

function claimAt(payload: Record<string, unknown>, path: string): unknown {
  if (path in payload) return payload[path];
  let current: unknown = payload;
  for (const part of path.split('.')) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

function stringClaim(payload: Record<string, unknown>, path: string): string | undefined {
  const value = claimAt(payload, path);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** Why a verified token still does not name a usable principal (answered as 401 invalid_token). */
export class PrincipalError extends Error {}

const RPPS = /^[0-9]{11}$/;
/** FINESS: 9 characters, digits, with 2A/2B for Corsica's départements. */
const FINESS = /^(?:[0-9]{2}|2A|2B)[0-9]{7}$/;

export function principalFromClaims(payload: Record<string, unknown>, mapping: ClaimsMapping): Principal {
  const subject = stringClaim(payload, 'sub');
  const issuer = stringClaim(payload, 'iss');
  if (!subject || !issuer) throw new PrincipalError('the token has no sub or iss');
  const rawRoles = claimAt(payload, mapping.roleClaim);
  const labels = (Array.isArray(rawRoles) ? rawRoles : [rawRoles]).filter((r): r is string => typeof r === 'string');
  const known = labels.filter((label) => Object.hasOwn(mapping.roles, label));
  const kinds = new Set(known.map((label) => mapping.roles[label]));
  // A token that maps to two kinds of principal is ambiguous: refusing it is safer than guessing.
  if (kinds.size === 0) throw new PrincipalError(`the token's ${mapping.roleClaim} claim names no role this server knows`);
  if (kinds.size > 1) throw new PrincipalError(`the token's ${mapping.roleClaim} claim maps to several kinds of principal`);
  const kind = [...kinds][0];
  const rpps = stringClaim(payload, mapping.rppsClaim);
  const finess = stringClaim(payload, mapping.finessClaim);
  if (rpps !== undefined && !RPPS.test(rpps)) throw new PrincipalError('the RPPS claim is not 11 digits');
  if (finess !== undefined && !FINESS.test(finess)) throw new PrincipalError('the FINESS claim is not a 9-character FINESS number');
  if (kind === 'practitioner' && !rpps) throw new PrincipalError('a practitioner token must carry an RPPS number');
  if (kind === 'system' && !finess) throw new PrincipalError("a system client's token must carry its organisation's FINESS number");
  const clientId = mapping.clientIdClaims.map((c) => stringClaim(payload, c)).find((c) => c !== undefined);
  const name = stringClaim(payload, mapping.nameClaim);
  const launchPatient = stringClaim(payload, mapping.patientClaim);
  return {
    kind,
    subject,
    issuer,
    role: known[0],
    scopes: parseScopes(claimAt(payload, mapping.scopeClaim) as string | string[] | undefined),
    ...(clientId ? { clientId } : {}),
    ...(rpps ? { rpps } : {}),
    ...(finess ? { finess } : {}),
    ...(name ? { name } : {}),
    ...(launchPatient ? { launchPatient } : {}),
  };
}

