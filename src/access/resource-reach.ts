/**
 * The second question, for grants restricted to some resources: may the
 * caller reach THIS resource? Through the patients whose compartment holds it
 * (consent, care team, agreement: decidePatients) or, for a hospital, because
 * it sent it or it is a coordination Task about something it sent
 * (decideOwnSubmission). A refusal here must look exactly like "not found".
 */
import type { Reference, Resource, Task } from 'fhir/r4';
import type { ClientCaller } from '../engine/caller.js';
import type { Principal } from '../identity/principal.js';
import type { StoredVersion } from '../store/resource-store.js';
import { COORDINATED_SUBMISSION_TYPES, decideOwnSubmission, decidePatients, ownerMark, submissionSource, type InstanceDecision } from './access-policy.js';
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

/** May the caller reach this resource under this grant? Also names the patients it belongs to. */
export async function decideResource(deps: GuardDeps, caller: ClientCaller, grant: AllowedType, resource: Resource, gatherer: FactGatherer): Promise<ResourceDecision> {
  const patients = patientsOf(deps, resource);
  const restriction = grant.restriction;
  if (restriction.kind === 'unrestricted') return { decision: { allowed: true, breakTheGlass: false }, patients };
  if (restriction.kind === 'patient-compartment') {
    return { decision: decidePatients(caller.principal, restriction, patients, await gatherer.lookup(patients), grant.breakTheGlass), patients };
  }
  const source = ownerMark(caller.principal, resource.resourceType);
  return { decision: decideOwnSubmission(resource.meta?.source === source, await isTaskAboutOwnSubmission(deps, resource, source)), patients };
}

/** A coordination Task whose focus or basedOn is a request the caller sent (COORDINATED_SUBMISSION_TYPES). */
async function isTaskAboutOwnSubmission(deps: GuardDeps, resource: Resource, source: string): Promise<boolean> {
  if (resource.resourceType !== 'Task') return false;
  const task = resource as Task;
  const refs: Reference[] = [...(task.focus ? [task.focus] : []), ...(task.basedOn ?? [])];
  for (const ref of refs) {
    const match = REF.exec(ref.reference ?? '');
    if (!match || !COORDINATED_SUBMISSION_TYPES.includes(match[1])) continue;
    const target = await deps.ctx.store.readCurrent(match[1], match[2]);
    if (target?.resource?.meta?.source === source) return true;
  }
  return false;
}

/**
 * "Type/id" of the requests a hospital sent (meta.source = its submission
 * source) that coordination Tasks may be about: the list a Task search's
 * access filter matches focus and basedOn against (search-access.ts). Read
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
