/**
 * Operations, decided by the rule each declares where it is registered
 * (src/engine/operation.ts, OperationRule), in terms of the policy's own
 * interactions: 'write-type' = may create or update the type (the input is the
 * body; no stored data is touched), 'search-type' = may search the type,
 * 'read-instance' = may read the target resource (404 otherwise, as a read).
 * A level without a rule is refused (403) and never run. The result leaves as
 * the rule's `reveals` allows — for 'readable-only', every resource the caller
 * may not read is taken out — and the call is audited with the patients its
 * result names.
 */
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource } from 'fhir/r4';
import type { ClientCaller } from '../engine/caller.js';
import type { OperationCall } from '../engine/operation.js';
import { read } from '../engine/interactions/read.js';
import { errors, FhirError } from '../errors.js';
import { decideType } from './access-policy.js';
import { auditRecord, recordRefusal } from './caller-audit.js';
import { gathererFor } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { guardRead } from './read-guard.js';
import { decideResource, patientsOf } from './resource-reach.js';
import { allowType, typeRequest } from './type-gate.js';

const ROLE_NAMES: Record<string, string> = { practitioner: 'practitioner', system: 'hospital system', coordinator: 'coordinator', auditor: 'auditor', platform: 'regional platform' };

export async function beforeOperation(deps: GuardDeps, caller: ClientCaller, call: OperationCall): Promise<void> {
  const { operation, level, resourceType, id } = call;
  const audit = { interaction: 'operation' as const, operation: operation.name, ...(resourceType ? { resourceType } : {}), ...(id ? { id } : {}), patients: [] };
  const rule = operation.access?.[level];
  if (!rule) {
    await recordRefusal(deps, caller, { ...audit, outcomeDetail: 'no-rule' });
    throw errors.operationWithoutRule(operation.name, level);
  }
  if (rule.roles && !rule.roles.includes(caller.principal.kind)) {
    await recordRefusal(deps, caller, { ...audit, outcomeDetail: 'role' });
    throw errors.forbidden(`the ${ROLE_NAMES[caller.principal.kind]} role may not run $${operation.name}`);
  }
  if (!resourceType) {
    // System level: the role is the rule, and 'search-system' asks for at least one type the caller may search.
    if (rule.requires !== 'search-system') return;
    if (deps.ctx.definitions.resourceTypes.some((type) => decideType(typeRequest(deps, caller, 'search-type', type)).allowed)) return;
    await recordRefusal(deps, caller, { ...audit, outcomeDetail: 'role' });
    throw errors.forbidden(`the ${ROLE_NAMES[caller.principal.kind]} role may search no resource type, so it may not run $${operation.name}`);
  }
  if (rule.requires === 'write-type') {
    const create = decideType(typeRequest(deps, caller, 'create', resourceType));
    if (create.allowed) return;
    // Neither create nor update: refused (and audited) with the update rule's words.
    await allowType(deps, caller, 'update', resourceType, { as: 'operation', operation: operation.name });
    return;
  }
  if (rule.requires === 'search-type' || rule.requires === 'search-system') {
    await allowType(deps, caller, 'search-type', resourceType, { as: 'operation', operation: operation.name });
    return;
  }
  if (!id) throw errors.badRequest(`$${operation.name} needs a resource id at the instance level`);
  // The target must be readable by the caller (a hidden one is a 404, audited); the access itself is audited with the operation.
  await guardRead(deps, caller, 'read', resourceType, id, () => read(deps.ctx, resourceType, id), false);
}

export async function afterOperation(deps: GuardDeps, caller: ClientCaller, call: OperationCall, result: Resource | undefined): Promise<Resource | undefined> {
  const rule = call.operation.access[call.level]!;
  const shown = rule.reveals === 'readable-only' && result ? await onlyReadable(deps, caller, result) : result;
  const patients = new Set<string>();
  for (const resource of resourcesIn(shown)) {
    if (resource.resourceType === 'OperationOutcome') continue;
    patientsOf(deps, resource).forEach((p) => patients.add(p));
  }
  if (call.resourceType === 'Patient' && call.id) patients.add(call.id);
  await deps.trail.record([
    auditRecord(caller, {
      interaction: 'operation',
      operation: call.operation.name,
      ...(call.resourceType ? { resourceType: call.resourceType } : {}),
      ...(call.id ? { id: call.id } : {}),
      patients: [...patients],
      outcome: 'success',
    }),
  ]);
  return shown;
}

/** An allowed operation that failed: audited (outcome 8, with the status the client got; never its diagnostics, which may name someone). */
export async function operationFailed(deps: GuardDeps, caller: ClientCaller, call: OperationCall, error: unknown): Promise<void> {
  const status = error instanceof FhirError ? error.status : 500;
  await deps.trail.record([
    auditRecord(caller, {
      interaction: 'operation',
      operation: call.operation.name,
      ...(call.resourceType ? { resourceType: call.resourceType } : {}),
      ...(call.id ? { id: call.id } : {}),
      patients: call.resourceType === 'Patient' && call.id ? [call.id] : [],
      outcome: 'failed',
      outcomeDetail: `answered ${status}`,
    }),
  ]);
}

/** Whether the caller may read each resource (role, scope, then the resource's own reach); nothing audited. */
export async function mayRead(deps: GuardDeps, caller: ClientCaller, resources: readonly Resource[]): Promise<boolean[]> {
  const gatherer = gathererFor(deps, caller);
  const answers: boolean[] = [];
  for (const resource of resources) {
    const grant = decideType(typeRequest(deps, caller, 'read', resource.resourceType));
    answers.push(grant.allowed && (await decideResource(deps, caller, grant, resource, gatherer)).decision.allowed);
  }
  return answers;
}

/** The resources a result carries: itself, a Bundle's entries, Parameters' resource parts. */
function resourcesIn(result: Resource | undefined): Resource[] {
  if (!result) return [];
  if (result.resourceType === 'Bundle') return ((result as Bundle<Resource>).entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined);
  if (result.resourceType === 'Parameters') return parametersResources((result as Parameters).parameter ?? []);
  return [result];
}

function parametersResources(parameters: ParametersParameter[]): Resource[] {
  return parameters.flatMap((p) => [...(p.resource ? [p.resource] : []), ...parametersResources(p.part ?? [])]);
}

/** The result without what the caller may not read (a searchset's total then counts what is left). */
async function onlyReadable(deps: GuardDeps, caller: ClientCaller, result: Resource): Promise<Resource | undefined> {
  const readable = async (resource: Resource) => resource.resourceType === 'OperationOutcome' || (await mayRead(deps, caller, [resource]))[0];
  if (result.resourceType === 'Bundle') {
    const bundle = result as Bundle<Resource>;
    const kept: BundleEntry<Resource>[] = [];
    for (const entry of bundle.entry ?? []) if (!entry.resource || (await readable(entry.resource))) kept.push(entry);
    if (kept.length === (bundle.entry ?? []).length) return bundle;
    const matches = kept.filter((e) => e.search?.mode === 'match').length;
    const filtered: Bundle<Resource> = { ...bundle, entry: kept, ...(bundle.total !== undefined ? { total: matches } : {}) };
    return filtered as Resource;
  }
  if (result.resourceType === 'Parameters') {
    const filter = async (parameters: ParametersParameter[]): Promise<ParametersParameter[]> => {
      const kept: ParametersParameter[] = [];
      for (const p of parameters) {
        if (p.resource && !(await readable(p.resource))) continue;
        kept.push(p.part ? { ...p, part: await filter(p.part) } : p);
      }
      return kept;
    };
    const filtered: Parameters = { ...(result as Parameters), parameter: await filter((result as Parameters).parameter ?? []) };
    return filtered;
  }
  return (await readable(result)) ? result : undefined;
}
