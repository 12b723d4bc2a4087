/**
 * Searches return only what the caller may see: the access policy becomes a
 * store filter, ANDed with the search's own filter in every store query the
 * search makes (the matches, `_total` and `_summary=count`, `_include` and
 * `_revinclude`, and the sub-queries of chains and `_has`). Filtering in the
 * store rather than after it is what keeps counts, paging and includes from
 * revealing anything about resources the caller may not reach.
 *
 * Filter shape (search documents are { id, type, lastUpdated, idx }, see
 * src/store/resource-store.ts): per type, either everything of the type, or
 * the resources whose compartment references (HL7's Patient
 * CompartmentDefinition parameters) all point to reachable patients and name
 * at least one — plus, for a practitioner, the resources a request addressed
 * to her opens (her request Tasks, what the open ones name, by id: the same
 * rule as decideRequestGrant) — or (hospitals) those whose meta.source is the
 * caller's and, for Task and Flag, also the coordination status of what it
 * sent: those whose focus or basedOn (Task) or encounter (Flag) reference
 * (index entries `idx.focus` / `idx.based-on` / `idx.encounter`, field `r`
 * = "Type/id") is one of the caller's submissions, listed beforehand by the
 * engine (ownSubmissionRefs) — the same rule as an instance read
 * (decideOwnSubmission), as a filter both stores evaluate.
 */
import type { Principal } from '../identity/principal.js';
import { COORDINATION_STATUS_LINKS, decideRequestGrant, decideType, ownerMark, type PolicyInteraction, type PolicySettings } from './access-policy.js';
import { compartmentParams } from './patient-compartment.js';

const NOTHING = { id: { $in: [] as string[] } };

/** A practitioner's request grants: her request Tasks (ids) and what the open ones name ("Type/id"). */
export interface RequestGrants {
  tasks: readonly string[];
  named: readonly string[];
}

/** The ids of `resourceType` a practitioner's requests open for this interaction (decideRequestGrant). */
function requestOpened(principal: Principal, interaction: PolicyInteraction, resourceType: string, requests: RequestGrants): string[] {
  const ids: string[] = [];
  if (resourceType === 'Task' && decideRequestGrant(principal, interaction, 'addressed')) ids.push(...requests.tasks);
  if (decideRequestGrant(principal, interaction, 'named-by-open-request')) {
    for (const named of requests.named) if (named.startsWith(`${resourceType}/`)) ids.push(named.slice(resourceType.length + 1));
  }
  return [...new Set(ids)];
}

/** Which patients a practitioner's search may reach: a list, or any patient (break-the-glass). */
type PatientScope = { any: true } | { any: false; ids: string[] };

function compartmentClause(resourceType: string, scope: PatientScope): Record<string, unknown> {
  if (resourceType === 'Patient') return scope.any ? { type: 'Patient' } : { type: 'Patient', id: { $in: scope.ids } };
  const params = compartmentParams(resourceType);
  if (params.length === 0) return NOTHING;
  const namesAPatient = { $or: params.map((p) => ({ [`idx.${p}`]: { $elemMatch: { t: 'Patient' } } })) };
  if (scope.any) return { $and: [{ type: resourceType }, namesAPatient] };
  const namesAnother = params.map((p) => ({ [`idx.${p}`]: { $elemMatch: { t: 'Patient', i: { $nin: scope.ids } } } }));
  return { $and: [{ type: resourceType }, namesAPatient, { $nor: namesAnother }] };
}

/**
 * The filter restricting a store query over these types to what the
 * principal may see; undefined when nothing is restricted. Types the
 * principal may not search at all match nothing (the gate has refused them
 * already when named; here they can only be reached through chains and includes).
 * `reachable`: the patients a practitioner may reach (FactGatherer.reachablePatients).
 * `ownSubmissions`: for a hospital, the "Type/id" of what it sent that Tasks
 * and Flags may be about (COORDINATED_SUBMISSION_TYPES); needed only when Task
 * or Flag is among the types.
 * `requests`: for a practitioner, the ids of her request Tasks and the
 * "Type/id" the open ones name (FactGatherer.addressedRequests).
 */
export function searchAccessFilter(
  principal: Principal,
  interaction: PolicyInteraction,
  resourceTypes: readonly string[],
  reachable: readonly string[],
  breakTheGlass: { reason: string } | undefined,
  ownSubmissions: readonly string[] = [],
  settings?: PolicySettings,
  requests: RequestGrants = { tasks: [], named: [] },
): Record<string, unknown> | undefined {
  const clauses: Record<string, unknown>[] = [];
  // Types seen whole: one `$in` clause rather than one clause each (a system-wide listing names them all).
  const whole: string[] = [];
  let restricted = false;
  for (const resourceType of resourceTypes) {
    const grant = decideType({ principal, interaction, resourceType, ...(breakTheGlass ? { breakTheGlass } : {}), ...(settings ? { settings } : {}) });
    if (!grant.allowed) {
      restricted = true;
      continue;
    }
    const restriction = grant.restriction;
    if (restriction.kind === 'unrestricted' || (restriction.kind === 'patient-compartment' && principal.kind === 'coordinator' && !restriction.launchPatient)) {
      // One deployment, one network: a coordinator reaches every patient it holds.
      whole.push(resourceType);
      continue;
    }
    restricted = true;
    if (restriction.kind === 'own-submissions') {
      const sentByCaller = { 'idx._source': { $elemMatch: { v: ownerMark(principal, resourceType) } } };
      const links = COORDINATION_STATUS_LINKS[resourceType];
      if (links && ownSubmissions.length > 0) {
        const aboutWhatItSent = links.map((p) => ({ [`idx.${p}`]: { $elemMatch: { r: { $in: [...ownSubmissions] } } } }));
        clauses.push({ $and: [{ type: resourceType }, { $or: [sentByCaller, ...aboutWhatItSent] }] });
      } else {
        clauses.push({ $and: [{ type: resourceType }, sentByCaller] });
      }
      continue;
    }
    if (grant.breakTheGlass) {
      clauses.push(compartmentClause(resourceType, restriction.launchPatient ? { any: false, ids: [restriction.launchPatient] } : { any: true }));
      continue;
    }
    if (principal.kind === 'coordinator') {
      clauses.push(compartmentClause(resourceType, { any: false, ids: restriction.launchPatient ? [restriction.launchPatient] : [] }));
      continue;
    }
    if (principal.kind !== 'practitioner') {
      clauses.push(NOTHING);
      continue;
    }
    const ids = restriction.launchPatient ? reachable.filter((id) => id === restriction.launchPatient) : [...reachable];
    const clause = compartmentClause(resourceType, { any: false, ids });
    const opened = restriction.launchPatient ? [] : requestOpened(principal, interaction, resourceType, requests);
    clauses.push(opened.length > 0 ? { $or: [clause, { $and: [{ type: resourceType }, { id: { $in: opened } }] }] } : clause);
  }
  if (!restricted) return undefined;
  if (whole.length > 0) clauses.unshift(whole.length === 1 ? { type: whole[0] } : { type: { $in: whole } });
  return clauses.length === 0 ? NOTHING : clauses.length === 1 ? clauses[0] : { $or: clauses };
}
