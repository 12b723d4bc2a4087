/**
 * The professional or system a token names must exist, and be active, in the
 * network's directory (issue 18): a token for a practitioner since deleted,
 * or for an RPPS in no directory, opened the API until it expired. A
 * practitioner is found by RPPS (Practitioner.identifier), a hospital's
 * software by its organisation's FINESS (Organization.identifier); coordinators,
 * auditors and platforms are the network's own clients and are not looked up.
 * Refused with 403 (the token is genuine; its holder is not, or no longer,
 * in the network), audited.
 *
 * Looked up with the caller's other access facts (fact-gatherer.ts), kept
 * only while no Practitioner or Organization has been written since
 * (fact-cache.ts), so a deletion or deactivation applies to the very next
 * request on every process.
 */
import type { Organization, Practitioner, Resource } from 'fhir/r4';
import type { PolicyInteraction } from './access-policy.js';
import type { ClientCaller } from '../engine/caller.js';
import { search } from '../engine/interactions/search.js';
import { errors } from '../errors.js';
import { FINESS_SYSTEM, RPPS_SYSTEM } from '../identity/principal.js';
import { recordRefusal } from './caller-audit.js';
import { gathererFor } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';

/** Why the caller's directory identity is missing or inactive; undefined when it is fine (or not looked up for its kind). */
async function directoryProblem(deps: GuardDeps, caller: ClientCaller): Promise<string | undefined> {
  const principal = caller.principal;
  const lookup = async <T extends Resource & { active?: boolean }>(type: 'Practitioner' | 'Organization', system: string, value: string): Promise<T[]> => {
    const bundle = await search(deps.ctx, type, [['identifier', `${system}|${value}`], ['_count', '20']]);
    return (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource as T);
  };
  if (principal.kind === 'practitioner' && principal.rpps) {
    const found = await lookup<Practitioner>('Practitioner', RPPS_SYSTEM, principal.rpps);
    if (found.length === 0) return 'the practitioner this token names (RPPS) is not in the network\'s directory';
    if (found.every((p) => p.active === false)) return 'the practitioner this token names (RPPS) is no longer active in the network\'s directory';
  }
  if (principal.kind === 'system' && principal.finess) {
    const found = await lookup<Organization>('Organization', FINESS_SYSTEM, principal.finess);
    if (found.length === 0) return 'the organisation this token names (FINESS) is not in the network\'s directory';
    if (found.every((o) => o.active === false)) return 'the organisation this token names (FINESS) is no longer active in the network\'s directory';
  }
  return undefined;
}

export async function assertInDirectory(deps: GuardDeps, caller: ClientCaller, interaction: PolicyInteraction | 'operation' | 'transaction' | 'batch', resourceType?: string): Promise<void> {
  const reason = await gathererFor(deps, caller).directoryProblem(() => directoryProblem(deps, caller));
  if (reason === undefined) return;
  await recordRefusal(deps, caller, { interaction, ...(resourceType ? { resourceType } : {}), patients: [], outcomeDetail: 'not-in-directory' });
  throw errors.forbidden(reason);
}
