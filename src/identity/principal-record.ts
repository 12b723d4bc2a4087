/**
 * A principal kept with what it owns: a Subscription belongs to whoever
 * created it, and every notification is checked, when it is delivered, against
 * what that principal may read (src/subscriptions). The access layer stamps
 * the creator on the Subscription as this extension (whatever the body said);
 * the delivery worker reads it back to act as that principal. Its scopes are
 * those of the token that created the subscription.
 */
import type { Extension } from 'fhir/r4';
import type { Principal, PrincipalKind } from './principal.js';
import { parseScopes } from './smart-scopes.js';

export const SUBSCRIPTION_OWNER_EXTENSION = 'https://relais-sante.fr/fhir/StructureDefinition/subscription-owner';

const KINDS: readonly PrincipalKind[] = ['practitioner', 'system', 'coordinator', 'auditor', 'platform'];

export function ownerExtension(principal: Principal): Extension {
  const scopes = [...principal.scopes.resourceScopes.map((s) => s.raw), ...principal.scopes.other].join(' ');
  const parts: Array<[string, string | undefined, 'valueCode' | 'valueString' | 'valueUri']> = [
    ['kind', principal.kind, 'valueCode'],
    ['issuer', principal.issuer, 'valueUri'],
    ['subject', principal.subject, 'valueString'],
    ['clientId', principal.clientId, 'valueString'],
    ['rpps', principal.rpps, 'valueString'],
    ['finess', principal.finess, 'valueString'],
    ['role', principal.role, 'valueString'],
    ['scope', scopes, 'valueString'],
    ['launchPatient', principal.launchPatient, 'valueString'],
  ];
  return {
    url: SUBSCRIPTION_OWNER_EXTENSION,
    extension: parts.filter(([, value]) => value !== undefined && value !== '').map(([url, value, field]) => ({ url, [field]: value }) as Extension),
  };
}

/** The owner recorded on a resource, or undefined when there is none (or it is malformed). */
export function ownerOf(extensions: readonly Extension[] | undefined): Principal | undefined {
  const record = extensions?.find((e) => e.url === SUBSCRIPTION_OWNER_EXTENSION);
  if (!record) return undefined;
  const get = (name: string) => {
    const part = record.extension?.find((e) => e.url === name);
    return part?.valueCode ?? part?.valueString ?? part?.valueUri;
  };
  const kind = get('kind') as PrincipalKind | undefined;
  const issuer = get('issuer');
  const subject = get('subject');
  if (!kind || !KINDS.includes(kind) || !issuer || !subject) return undefined;
  const optional = (name: string, key: keyof Principal) => (get(name) !== undefined ? { [key]: get(name) } : {});
  return {
    kind,
    issuer,
    subject,
    role: get('role') ?? kind,
    scopes: parseScopes(get('scope') ?? ''),
    ...optional('clientId', 'clientId'),
    ...optional('rpps', 'rpps'),
    ...optional('finess', 'finess'),
    ...optional('launchPatient', 'launchPatient'),
  } as Principal;
}

/** Without the owner record (what a client sends back is not trusted: the server sets it). */
export function withoutOwner(extensions: readonly Extension[] | undefined): Extension[] {
  return (extensions ?? []).filter((e) => e.url !== SUBSCRIPTION_OWNER_EXTENSION);
}
