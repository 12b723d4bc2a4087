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
 * at least one, or (hospitals) those whose meta.source is the caller's and,
 * for Task, also the coordination Tasks about what it sent: those whose focus
 * or basedOn reference (index entries `idx.focus` / `idx.based-on`, field `r`
 * = "Type/id") is one of the caller's submissions, listed beforehand by the
 * engine (ownSubmissionRefs) — the same rule as an instance read
 * (decideOwnSubmission), as a filter both stores evaluate.
 */
import type { Principal } from '../identity/principal.js';
import { COORDINATION_LINK_PARAMS, decideType, ownerMark, type PolicyInteraction, type PolicySettings } from './access-policy.js';
import { compartmentParams } from './patient-compartment.js';

const NOTHING = { id: { $in: [] as string[] } };

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
 * may be about (COORDINATED_SUBMISSION_TYPES); needed only when Task is among the types.
 */
export function searchAccessFilter(
  principal: Principal,
  interaction: PolicyInteraction,
  resourceTypes: readonly string[],
  reachable: readonly string[],
  breakTheGlass: { reason: string } | undefined,
  ownSubmissions: readonly string[] = [],
  settings?: PolicySettings,
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
      if (resourceType === 'Task' && ownSubmissions.length > 0) {
        const aboutWhatItSent = COORDINATION_LINK_PARAMS.map((p) => ({ [`idx.${p}`]: { $elemMatch: { r: { $in: [...ownSubmissions] } } } }));
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
    clauses.push(compartmentClause(resourceType, { any: false, ids }));
  }
  if (!restricted) return undefined;
  if (whole.length > 0) clauses.unshift(whole.length === 1 ? { type: whole[0] } : { type: { $in: whole } });
  return clauses.length === 0 ? NOTHING : clauses.length === 1 ? clauses[0] : { $or: clauses };
}
