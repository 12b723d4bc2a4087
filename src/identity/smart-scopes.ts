/**
 * SMART on FHIR scopes (App Launch 2.x "Scopes and Launch Context"): parsing
 * the token's `scope` claim and answering "does it grant permission P on type T
 * in context C?". Written here because no maintained npm library parses SMART
 * scopes; the grammar is small and fixed by the specification.
 *
 * - v2: `patient/Observation.rs`, `user/*.cruds`, `system/Patient.c`; the
 *   letters must appear in the order c, r, u, d, s.
 * - v1 (accepted for older clients): `.read` = rs, `.write` = cud, `.*` = cruds.
 * - v2 granular scopes with a query (`patient/Observation.rs?category=...`)
 *   restrict a grant to matching resources; Relais does not evaluate those
 *   restrictions, so rather than over-grant it ignores such scopes (they grant
 *   nothing) and says so in the parse result.
 * - Other scopes (openid, fhirUser, launch/patient, offline_access...) are kept
 *   verbatim but grant no data access.
 *
 * Which permission an interaction needs (SMART 2.x, permissions table):
 * c = create; r = read, vread, instance history; u = update, patch;
 * d = delete; s = type/system search and type/system history.
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  context: ScopeContext;
  /** A resource type or '*'. */
  resourceType: string;
  permissions: ReadonlySet<Permission>;
  raw: string;
}

export interface ParsedScopes {
  resourceScopes: ResourceScope[];
  /** Scopes that grant no resource access (openid, launch/patient, ...). */
  other: string[];
  /** Syntactically resource scopes that Relais ignores (granular queries, bad permission strings). */
  ignored: string[];
}

const ORDER: Permission[] = ['c', 'r', 'u', 'd', 's'];
const V1: Record<string, Permission[]> = { read: ['r', 's'], write: ['c', 'u', 'd'], '*': ['c', 'r', 'u', 'd', 's'] };
const RESOURCE_SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]{1,63})\.([^?\s]+)(\?.*)?$/;

/** v2 permission letters, in the mandated order, each at most once. */
function v2Permissions(text: string): Permission[] | undefined {
  let last = -1;
  const result: Permission[] = [];
  for (const ch of text) {
    const position = ORDER.indexOf(ch as Permission);
    if (position <= last) return undefined;
    last = position;
    result.push(ch as Permission);
  }
  return result.length > 0 ? result : undefined;
}

export function parseScopes(scope: string | string[] | undefined): ParsedScopes {
  const tokens = (Array.isArray(scope) ? scope : String(scope ?? '').split(/\s+/)).map((s) => s.trim()).filter(Boolean);
  const parsed: ParsedScopes = { resourceScopes: [], other: [], ignored: [] };
  for (const raw of tokens) {
    const match = RESOURCE_SCOPE.exec(raw);
    if (!match) {
      parsed.other.push(raw);
      continue;
    }
    const [, context, resourceType, permissionText, query] = match;
    const permissions = V1[permissionText] ?? v2Permissions(permissionText);
    if (!permissions || query !== undefined) {
      parsed.ignored.push(raw);
      continue;
    }
    parsed.resourceScopes.push({ context: context as ScopeContext, resourceType, permissions: new Set(permissions), raw });
  }
  return parsed;
}

/** True when some scope of an allowed context grants `permission` on `resourceType`. */
export function scopesGrant(
  scopes: ParsedScopes,
  contexts: readonly ScopeContext[],
  resourceType: string,
  permission: Permission,
): boolean {
  return scopes.resourceScopes.some(
    (s) => contexts.includes(s.context) && (s.resourceType === '*' || s.resourceType === resourceType) && s.permissions.has(permission),
  );
}

/** The permission letter a FHIR interaction needs (see the file comment). */
export type Interaction =
  | 'create'
  | 'read'
  | 'vread'
  | 'update'
  | 'patch'
  | 'delete'
  | 'history-instance'
  | 'history-type'
  | 'history-system'
  | 'search-type'
  | 'search-system';

export function permissionFor(interaction: Interaction): Permission {
  switch (interaction) {
    case 'create':
      return 'c';
    case 'read':
    case 'vread':
    case 'history-instance':
      return 'r';
    case 'update':
    case 'patch':
      return 'u';
    case 'delete':
      return 'd';
    default:
      return 's';
  }
}

/** The scopes this server understands, for the SMART configuration document. */
export const SUPPORTED_SCOPE_EXAMPLES = [
  'openid',
  'fhirUser',
  'launch/patient',
  'patient/*.rs',
  'user/*.cruds',
  'system/*.cruds',
  'system/*.rs',
  'system/*.read',
  'patient/*.read',
  'user/*.read',
  'user/*.write',
];
