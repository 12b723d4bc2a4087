/**
 * The second question, for grants restricted to some resources: may the
 * caller reach THIS resource? Through the patients whose compartment holds it
 * (consent, care team, agreement: decidePatients), for a practitioner through
 * a request addressed to her (decideRequestGrant), or, for a hospital, because
 * it sent it or it tells the coordination status of something it sent — a
 * coordination Task or an alert Flag about it (decideOwnSubmission). A refusal
 * here must look exactly like "not found".
 */
import type { Flag, Reference, Resource, Task } from 'fhir/r4';
import type { ClientCaller } from '../engine/caller.js';
import type { Principal } from '../identity/principal.js';
import type { StoredVersion } from '../store/resource-store.js';
import {
  COORDINATED_SUBMISSION_TYPES,
  COORDINATION_STATUS_LINKS,
  decideOwnSubmission,
  decidePatients,
  decideRequestGrant,
  ownerMark,
  submissionSource,
  type InstanceDecision,
  type PolicyInteraction,
} from './access-policy.js';
import type { FactGatherer } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { compartmentParams, compartmentPatients } from './patient-compartment.js';
import type { AllowedType } from './type-gate.js';

const REF = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;
/** How many of a hospital's requests a Task search matches coordination Tasks against (see ownSubmissionRefs). */
const OWN_SUBMISSIONS_LIMIT = 50_000;

export interface ResourceDecision {
  decision: InstanceDecision;
  /** The patients whose compartment holds the resource (named in the audit). */
  patients: string[];
}

/**
 * The patients whose compartment holds a resource, from its compartment
 * parameters only: the access decision and the audit of every read need it,
 * and extracting every search parameter of the resource just read cost a
 * sixth of a read (issue 17's profile).
 */
export function patientsOf(deps: GuardDeps, resource: Resource): string[] {
  const entries = Object.fromEntries(compartmentParams(resource.resourceType).map((code) => [code, deps.ctx.extractor.extractParameter(resource, code)]));
  return compartmentPatients(resource.resourceType, resource.id, entries);
}

/**
 * May the caller reach this resource under this grant, for this interaction?
 * Also names the patients it belongs to. `interaction` matters only to the
 * request grant (what a request names is read, never written).
 */
export async function decideResource(
  deps: GuardDeps,
  caller: ClientCaller,
  grant: AllowedType,
  resource: Resource,
  gatherer: FactGatherer,
  interaction: PolicyInteraction = 'read',
): Promise<ResourceDecision> {
  const patients = patientsOf(deps, resource);
  const restriction = grant.restriction;
  if (restriction.kind === 'unrestricted') return { decision: { allowed: true, breakTheGlass: false }, patients };
  if (restriction.kind === 'patient-compartment') {
    const decision = decidePatients(caller.principal, restriction, patients, await gatherer.lookup(patients), grant.breakTheGlass);
    if (decision.allowed && !decision.breakTheGlass) return { decision, patients };
    // A request addressed to her opens it without the patient's grants (and without breaking the glass).
    if (caller.principal.kind === 'practitioner' && restriction.launchPatient === undefined) {
      const { reach, task } = await gatherer.requestReach(resource);
      if (decideRequestGrant(caller.principal, interaction, reach)) return { decision: { allowed: true, breakTheGlass: false, viaRequest: `Task/${task}` }, patients };
    }
    return { decision, patients };
  }
  const source = ownerMark(caller.principal, resource.resourceType);
  return { decision: decideOwnSubmission(resource.meta?.source === source, await isStatusOfOwnSubmission(deps, resource, source)), patients };
}

/** A coordination Task (focus, basedOn) or alert Flag (encounter) about a request the caller sent (COORDINATED_SUBMISSION_TYPES). */
async function isStatusOfOwnSubmission(deps: GuardDeps, resource: Resource, source: string): Promise<boolean> {
  let refs: Reference[];
  if (resource.resourceType === 'Task') refs = [...((resource as Task).focus ? [(resource as Task).focus!] : []), ...((resource as Task).basedOn ?? [])];
  else if (resource.resourceType === 'Flag') refs = (resource as Flag).encounter ? [(resource as Flag).encounter!] : [];
  else return false;
  for (const ref of refs) {
    const match = REF.exec(ref.reference ?? '');
    if (!match || !COORDINATED_SUBMISSION_TYPES.includes(match[1])) continue;
    const target = await deps.ctx.store.readCurrent(match[1], match[2]);
    if (target?.resource?.meta?.source === source) return true;
  }
  return false;
}

/** The types whose resources may tell the coordination status of a hospital's submissions (searched with ownSubmissionRefs). */
export const COORDINATION_STATUS_TYPES: readonly string[] = Object.keys(COORDINATION_STATUS_LINKS);

/**
 * "Type/id" of the requests a hospital sent (meta.source = its submission
 * source) that coordination Tasks and alert Flags may be about: the list a
 * Task or Flag search's access filter matches their links against (search-access.ts). Read
 * from the store unfiltered, ids only. Bounded by OWN_SUBMISSIONS_LIMIT (the
 * most recent first): past it, Tasks about the oldest requests are left out
 * of searches (never others' Tasks let in); instance reads still find them.
 */
export async function ownSubmissionRefs(deps: GuardDeps, principal: Principal): Promise<string[]> {
  const result = await deps.ctx.store.search({
    resourceTypes: [...COORDINATED_SUBMISSION_TYPES],
    filter: { 'idx._source': { $elemMatch: { v: submissionSource(principal) } } },
    sort: [{ path: 'lastUpdated', direction: -1 }],
    offset: 0,
    count: OWN_SUBMISSIONS_LIMIT,
    withTotal: false,
    idsOnly: true,
  });
  return result.versions.map((v) => `${v.resourceType}/${v.id}`);
}

/** The newest version of a resource that has content (what a deletion deleted). */
export async function lastLiveVersion(deps: GuardDeps, resourceType: string, id: string): Promise<StoredVersion | undefined> {
  const current = await deps.ctx.store.readCurrent(resourceType, id);
  for (let v = current?.versionId ?? 0; v >= 1; v--) {
    const version = v === current!.versionId ? current : await deps.ctx.store.readVersion(resourceType, id, v);
    if (version && !version.deleted) return version;
  }
  return undefined;
}

export function deniedReason(decision: InstanceDecision): string {
  return decision.allowed ? 'allowed' : decision.reason;
}
