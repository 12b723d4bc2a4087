/**
 * Who is asking: the principal a verified bearer token maps to. A leaf of the
 * dependency graph: the engine (which names its caller), the access policy,
 * the audit trail and authentication all speak of it, none owns it.
 */
import type { ParsedScopes } from './smart-scopes.js';

/**
 * - practitioner: a professional (RPPS), working for the patients whose record they are habilitated for;
 * - system: a hospital's software (FINESS), pushing referrals and discharges;
 * - coordinator: the network's coordination team;
 * - auditor: reads the audit trail;
 * - platform: a regional health platform or data warehouse synchronising what the network shares (read only).
 */
export type PrincipalKind = 'practitioner' | 'system' | 'coordinator' | 'auditor' | 'platform';

/** National identifier systems (see /work/shared/FRENCH-CONVENTIONS.md, FR Core 2.2.0). */
export const RPPS_SYSTEM = 'https://rpps.esante.gouv.fr';
export const FINESS_SYSTEM = 'https://finess.esante.gouv.fr';

export interface Principal {
  kind: PrincipalKind;
  /** The token's `sub`. */
  subject: string;
  issuer: string;
  /** The OAuth client the token was issued to (`azp` / `client_id`). */
  clientId?: string;
  /** The person's RPPS number (11 digits): required for practitioners. */
  rpps?: string;
  /**
   * The FINESS of the organisation the principal acts for: required for system
   * clients (the hospital), optional for practitioners (their service) and
   * coordinators (the network's structure).
   */
  finess?: string;
  /** The raw role label from the token, e.g. "nurse" (for audit display). */
  role: string;
  name?: string;
  scopes: ParsedScopes;
  /** SMART launch context: the patient a `patient/` scope is bound to. */
  launchPatient?: string;
}

/** The identifier that names the principal in audit records: RPPS for people, FINESS for system clients. */
export function principalIdentifier(principal: Principal): { system: string; value: string } {
  if (principal.kind === 'system' && principal.finess) return { system: FINESS_SYSTEM, value: principal.finess };
  if (principal.rpps) return { system: RPPS_SYSTEM, value: principal.rpps };
  return { system: principal.issuer, value: principal.subject };
}

/**
 * The type of what principalIdentifier names, for `Reference.type` (R4: "the expected type of the
 * target of the reference"): a hospital's software by its FINESS is the Organization, a regional
 * platform's client a Device, a person a Practitioner (BALP's user agent). An identifier-only
 * reference with a type is not taken for another type's: the search parameters that keep only
 * `resolve() is Patient` (AuditEvent's `patient`) do not index the caller's own identifier.
 */
export function principalReferenceType(principal: Principal): 'Organization' | 'Device' | 'Practitioner' {
  if (principal.kind === 'system' && principal.finess) return 'Organization';
  if (principal.rpps) return 'Practitioner';
  return principal.kind === 'system' || principal.kind === 'platform' ? 'Device' : 'Practitioner';
}
