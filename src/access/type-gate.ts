/**
 * The first question of every access: may this principal perform this
 * interaction on this type at all (role and SMART scopes; access-policy.ts
 * decideType)? A refusal is audited and answered 403 with the rule that
 * refused, in the caller's terms: the rule is public, it reveals no resource.
 */
import type { AuditInteraction } from '../audit/audit-event.js';
import type { ClientCaller } from '../engine/caller.js';
import { errors } from '../errors.js';
import { decideType, refusalText, type PolicyInteraction, type TypeDecision, type TypeRequest } from './access-policy.js';
import { recordRefusal } from './caller-audit.js';
import type { GuardDeps } from './guard-deps.js';

export type AllowedType = Extract<TypeDecision, { allowed: true }>;

export function typeRequest(deps: GuardDeps, caller: ClientCaller, interaction: PolicyInteraction, resourceType: string): TypeRequest {
  return {
    principal: caller.principal,
    interaction,
    resourceType,
    settings: deps.settings.policy,
    ...(caller.breakTheGlass ? { breakTheGlass: caller.breakTheGlass } : {}),
  };
}

/** The grant for this interaction on this type, or a 403 (audited as `auditAs`, default the interaction itself). */
export async function allowType(
  deps: GuardDeps,
  caller: ClientCaller,
  interaction: PolicyInteraction,
  resourceType: string,
  audit: { id?: string; as?: AuditInteraction; operation?: string } = {},
): Promise<AllowedType> {
  const decision = decideType(typeRequest(deps, caller, interaction, resourceType));
  if (decision.allowed) return decision;
  await recordRefusal(deps, caller, {
    interaction: audit.as ?? interaction,
    ...(audit.operation ? { operation: audit.operation } : {}),
    resourceType,
    ...(audit.id ? { id: audit.id } : {}),
    patients: [],
    outcomeDetail: decision.reason,
  });
  throw errors.forbidden(refusalText(caller.principal, interaction, resourceType, decision.reason), decision.reason === 'no-scope');
}

/**
 * A grant under which the caller sees every resource of the type: no
 * restriction, or a coordinator without a launch patient (one deployment, one
 * network: they reach every patient it holds; see search-access.ts).
 */
export function seesEverything(caller: ClientCaller, grant: AllowedType): boolean {
  const restriction = grant.restriction;
  if (restriction.kind === 'unrestricted') return true;
  return restriction.kind === 'patient-compartment' && caller.principal.kind === 'coordinator' && restriction.launchPatient === undefined;
}
