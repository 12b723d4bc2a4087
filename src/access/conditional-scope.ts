/**
 * Where a caller's conditional criteria are matched — If-None-Exist,
 * conditional update, patch and delete, conditional references in Bundles
 * (R4 http "Conditional references": exactly one match, else the transaction
 * fails) — so that a match never reveals what the caller may not see and a
 * resource it may not see never stands in for, nor races, its own:
 * - the directory (Practitioner, PractitionerRole, Organization, Location,
 *   HealthcareService...): all of it, as everyone may read it (a hospital
 *   addresses its referral to the network's professionals and services);
 * - a Patient by exactly one INS (`identifier=<INS system>|<value>`, nothing
 *   else): the whole network, as Patient/$match by INS answers. The national
 *   identifier names one person, so the network's patient is found, never
 *   duplicated; if the caller may not read that record, the conditional create
 *   answers 200 with its identity only (read-guard.ts revealConditionalMatch);
 * - anything else: only what the caller may see (a hospital: what it sent; a
 *   practitioner: the records of the patients it is habilitated for), exactly
 *   the filter of its searches, so 0, 1 or many counts only that, and a
 *   resource it may not see looks like "not found" (its conditional create
 *   then creates in its own scope; a conditional reference fails as unresolved).
 * The guard key of a conditional create is taken in the same scope ('global',
 * or the caller's own), so a hidden resource created under the same criteria
 * cannot hold the key and reveal itself through the conflict.
 * Callers who see everything (a coordinator of the whole network) get no scope.
 */
import type { ClientCaller } from '../engine/caller.js';
import type { ConditionalScope } from '../engine/transaction-extension.js';
import { INS_SYSTEMS } from '../coordination/identity-matching.js';
import { decideType, submissionSource } from './access-policy.js';
import { gathererFor } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { HOSPITAL_CREATE_TYPES, resourceClass } from './resource-classes.js';
import { searchAccessFilter } from './search-access.js';
import { seesEverything, typeRequest } from './type-gate.js';

/** Criteria naming exactly one INS (system|value of an INS system) and nothing else: how $match finds a patient by INS. */
function isOneIns(criteria: Array<[string, string]>): boolean {
  if (criteria.length !== 1 || criteria[0][0] !== 'identifier') return false;
  const value = criteria[0][1];
  const bar = value.indexOf('|');
  return !value.includes(',') && bar > 0 && bar < value.length - 1 && INS_SYSTEMS.has(value.slice(0, bar));
}

/** Criteria over the directory's own elements (no chain, no modifier): matched over all of it. */
function isDirectoryLookup(resourceType: string, criteria: Array<[string, string]>): boolean {
  return resourceClass(resourceType) === 'directory' && criteria.every(([name]) => !name.includes(':') && !name.includes('.'));
}

export function conditionalScope(deps: GuardDeps, caller: ClientCaller): ConditionalScope | undefined {
  const principal = caller.principal;
  const sees = (type: string) => {
    const grant = decideType(typeRequest(deps, caller, 'search-type', type));
    return grant.allowed && seesEverything(caller, grant);
  };
  // A coordinator of the whole network (or the server) matches over everything.
  if (principal.kind === 'coordinator' && !principal.launchPatient) return undefined;
  const own = `caller:${principal.issuer}|${principal.clientId ?? principal.subject}`;

  if (principal.kind === 'system') {
    // The directory: all of it; what the hospital may send: what it sent (a CareTeam too, which it may
    // send but not search, so a re-posted discharge matches it); any other type: nothing.
    const sentByCaller = { 'idx._source': { $elemMatch: { v: submissionSource(principal) } } };
    const ownFilter = async (types: readonly string[]) => {
      const clauses = types.map((type) =>
        resourceClass(type) === 'directory' ? { type } : HOSPITAL_CREATE_TYPES.has(type) ? { $and: [{ type }, sentByCaller] } : { id: { $in: [] as string[] } },
      );
      return clauses.length === 1 ? clauses[0] : { $or: clauses };
    };
    return {
      forCriteria: (resourceType, criteria) => {
        if (isDirectoryLookup(resourceType, criteria)) return { filterFor: ownFilter, guardScope: 'global' };
        if (resourceType === 'Patient' && isOneIns(criteria)) return { filterFor: async () => undefined, guardScope: 'global' };
        return { filterFor: ownFilter, guardScope: `source:${submissionSource(principal)}` };
      },
    };
  }

  // Practitioners, and coordinators bound to a launch patient: what their searches see.
  let reachable: Promise<string[]> | undefined;
  let requests: Promise<{ tasks: string[]; named: string[] }> | undefined;
  const gatherer = gathererFor(deps, caller);
  const visible = async (types: readonly string[]) => {
    reachable ??= principal.kind === 'practitioner' ? gatherer.reachablePatients() : Promise.resolve([]);
    requests ??= gatherer.requestGrants();
    return searchAccessFilter(principal, 'search-type', types, await reachable, undefined, [], deps.settings.policy, await requests);
  };
  return {
    forCriteria: (resourceType, criteria) => {
      if (sees(resourceType) && isDirectoryLookup(resourceType, criteria)) return { filterFor: async () => undefined, guardScope: 'global' };
      if (resourceType === 'Patient' && isOneIns(criteria)) return { filterFor: async () => undefined, guardScope: 'global' };
      return { filterFor: visible, guardScope: own };
    },
  };
}
