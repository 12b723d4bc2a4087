/**
 * Reads of one resource: read, vread, the history of one instance, and what a
 * conditional create that matched shows. A resource the caller may not reach
 * answers 404 exactly like an unknown id; a deleted one (410) only to those
 * who could reach what it was. Every access is audited before it is answered.
 */
import type { Bundle, Resource } from 'fhir/r4';
import type { ClientCaller } from '../engine/caller.js';
import type { EngineContext } from '../engine/engine-context.js';
import { errors, FhirError } from '../errors.js';
import type { StoredVersion } from '../store/resource-store.js';
import { decideType, type PolicyInteraction } from './access-policy.js';
import { auditRecord, recordListing, recordRefusal, recordSuccess } from './caller-audit.js';
import { gathererFor } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { historyVisibleTo } from './listing-guard.js';
import { decideResource, deniedReason, lastLiveVersion, patientsOf } from './resource-reach.js';
import { allowType, seesEverything, typeRequest } from './type-gate.js';

/** Audits the refusal, then answers exactly as for an unknown id. */
export async function denyAsMissing(deps: GuardDeps, caller: ClientCaller, interaction: PolicyInteraction, resourceType: string, id: string, patients: readonly string[], reason: string): Promise<never> {
  await recordRefusal(deps, caller, { interaction, resourceType, id, patients, outcomeDetail: reason });
  throw errors.notFound(resourceType, id);
}

/**
 * The version `load` fetches, if the caller may read it (404 otherwise). With
 * `audit` (reads), the access is recorded before the version is returned;
 * without (an operation's target, audited with the operation), only refusals are.
 */
export async function guardRead(
  deps: GuardDeps,
  caller: ClientCaller,
  interaction: 'read' | 'vread',
  resourceType: string,
  id: string,
  load: () => Promise<StoredVersion>,
  audit = true,
): Promise<StoredVersion> {
  const grant = await allowType(deps, caller, interaction, resourceType, { id });
  const gatherer = gathererFor(deps, caller);
  let version: StoredVersion;
  try {
    version = await load();
  } catch (error) {
    if (grant.restriction.kind !== 'unrestricted' && error instanceof FhirError && error.status === 404) {
      // An unknown id must cost what a hidden one costs (issue 18: 4 ms against 9 ms told them apart):
      // the same facts are gathered (for one patient, as most resources name one) and the attempt is
      // audited as a refusal, as a hidden one is — which also leaves a trace of id probing.
      await gatherer.lookup([id]);
      await denyAsMissing(deps, caller, interaction, resourceType, id, [], 'not-found');
    }
    if (grant.restriction.kind !== 'unrestricted' && error instanceof FhirError && error.status === 410) {
      const lastLive = await lastLiveVersion(deps, resourceType, id);
      const decided = lastLive?.resource ? await decideResource(deps, caller, grant, lastLive.resource, gatherer, interaction) : undefined;
      if (!decided?.decision.allowed) await denyAsMissing(deps, caller, interaction, resourceType, id, decided?.patients ?? [], decided ? deniedReason(decided.decision) : 'not-in-compartment');
    }
    throw error;
  }
  const { decision, patients } = await decideResource(deps, caller, grant, version.resource!, gatherer, interaction);
  if (!decision.allowed) await denyAsMissing(deps, caller, interaction, resourceType, id, patients, decision.reason);
  if (!audit) return version;
  const glass = decision.allowed && decision.breakTheGlass;
  const via = decision.allowed ? decision.viaRequest : undefined;
  const record = auditRecord(
    caller,
    { interaction, resourceType, id, versionId: String(version.versionId), patients, outcome: 'success', ...(via ? { grantedBy: via, outcomeDetail: 'request grant' } : {}) },
    glass,
  );
  await recordSuccess(deps, caller, record, glass ? patients : []);
  return version;
}

/**
 * A conditional create (If-None-Exist) that matched an existing resource
 * answers 200 with it (R4 http, "conditional create"): the caller learns of
 * that resource, so the access is audited as a read of it. Returns whether
 * the caller may see its content; when not (criteria matched over the whole
 * network — a Patient by one INS, as Patient/$match would — a resource it may
 * not read), it gets the identity only, and no twin is created.
 */
export async function revealConditionalMatch(deps: GuardDeps, caller: ClientCaller, version: StoredVersion): Promise<boolean> {
  const resource = version.resource!;
  const grant = decideType(typeRequest(deps, caller, 'read', version.resourceType));
  const decided = grant.allowed ? await decideResource(deps, caller, grant, resource, gathererFor(deps, caller)) : undefined;
  const patients = decided?.patients ?? patientsOf(deps, resource);
  const shown = decided?.decision.allowed === true;
  const record = auditRecord(caller, { interaction: 'read', resourceType: version.resourceType, id: version.id, versionId: String(version.versionId), patients, outcome: 'success' });
  await recordSuccess(deps, caller, record, []);
  return shown;
}

/**
 * History of one instance. A caller who sees everything gets every version;
 * a restricted caller, as for type history, only the versions it may see,
 * each judged on its own content (a resource moved from another patient's
 * record shows only the versions that were in records the caller reaches),
 * and a 404 when there is none (it may not know the resource exists).
 */
export async function guardInstanceHistory(
  deps: GuardDeps,
  caller: ClientCaller,
  resourceType: string,
  id: string,
  run: (ctx: EngineContext) => Promise<Bundle<Resource>>,
): Promise<Bundle<Resource>> {
  const grant = await allowType(deps, caller, 'history-instance', resourceType, { id });
  if (seesEverything(caller, grant)) {
    const bundle = await run(deps.ctx);
    const gatherer = gathererFor(deps, caller);
    const patients = new Set<string>();
    for (const resource of (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined)) {
      (await decideResource(deps, caller, grant, resource, gatherer, 'history-instance')).patients.forEach((p) => patients.add(p));
    }
    await recordSuccess(deps, caller, auditRecord(caller, { interaction: 'history-instance', resourceType, id, patients: [...patients], outcome: 'success' }), []);
    return bundle;
  }
  const { store, patients, reachable } = await historyVisibleTo(deps, caller, 'history-instance', [resourceType]);
  const bundle = await run({ ...deps.ctx, store });
  if ((bundle.total ?? 0) === 0) {
    // Nothing the caller may see: refused like an unknown id, the audit naming whose record it was.
    const lastLive = await lastLiveVersion(deps, resourceType, id);
    const decided = lastLive?.resource ? await decideResource(deps, caller, grant, lastLive.resource, gathererFor(deps, caller), 'history-instance') : undefined;
    await denyAsMissing(deps, caller, 'history-instance', resourceType, id, decided?.patients ?? [], decided && !decided.decision.allowed ? deniedReason(decided.decision) : 'not-in-compartment');
  }
  await recordListing(deps, caller, 'history-instance', [resourceType], undefined, patients, reachable, id);
  return bundle;
}
