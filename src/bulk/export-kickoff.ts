/**
 * The Bulk Data Kick-off Request (IG 2.0.0): checks everything a client sent
 * before a job exists — parameters (export-parameters.ts), `Prefer:
 * respond-async`, the types the caller may export, the Group and its members,
 * the `patient` list, each `_typeFilter`'s criteria (compiled within the
 * caller's view, as the export will) — then stores the job and answers 202
 * with the status URL in Content-Location. Bad input is a 400 and no job.
 *
 * Types: `_type`, or every type the caller may search (the IG: "all supported
 * resources within the scope of the client authorization"); at Patient and
 * Group level only the Patient compartment's types. A type named in `_type`
 * that the caller may not search is refused (403, audited) as a search of it
 * would be.
 */
import { randomBytes } from 'node:crypto';
import type { Group, OperationOutcome } from 'fhir/r4';
import type { EngineSession } from '../engine/engine-session.js';
import type { OperationRequest, OperationResult } from '../engine/operation.js';
import { errors, FhirError } from '../errors.js';
import type { BulkStorage } from './bulk-storage.js';
import type { BulkSettings } from './bulk-settings.js';
import { ACTIVE_STATUSES, type ExportJob, type ExportLevel } from './export-job.js';
import { inPatientCompartment } from './export-filters.js';
import { parseKickoff, type ExportParameters } from './export-parameters.js';
import { ownerOf, storeCaller } from './job-owner.js';

export interface KickoffDeps {
  storage: BulkStorage;
  settings: BulkSettings;
  baseUrl: string;
  resourceTypes: readonly string[];
  isResourceType: (type: string) => boolean;
  /** Wakes this process's worker (a job was queued). */
  notify: () => void;
  clock?: () => Date;
}

/** The status URL of a job (Content-Location of the kick-off). */
export function statusUrl(baseUrl: string, jobId: string): string {
  return `${baseUrl}/bulk-status/${jobId}`;
}

function requestUrl(baseUrl: string, request: OperationRequest): string {
  const path = request.level === 'system' ? '$export' : request.level === 'type' ? `${request.resourceType}/$export` : `${request.resourceType}/${request.id}/$export`;
  const query = request.query.filter(([name]) => name !== '_format' && name !== '_pretty');
  // A POST's parameters are in its body: the IG's `request` is then the URL alone.
  return query.length > 0 && request.method === 'GET' ? `${baseUrl}/${path}?${new URLSearchParams(query).toString()}` : `${baseUrl}/${path}`;
}

export async function kickOff(request: OperationRequest, deps: KickoffDeps, level: ExportLevel): Promise<OperationResult> {
  if (request.preferences['respond-async'] === undefined) throw errors.exportNeedsRespondAsync();
  const lenient = request.preferences.handling === 'lenient';
  const params = parseKickoff({ level, method: request.method, query: request.query, body: request.body, lenient, isResourceType: deps.isResourceType });
  const session = request.session;
  const types = await exportedTypes(session, params, level, deps);
  const notices = [...params.notices];
  let patients = params.patients;
  if (level === 'group') patients = await groupPatients(session, request.id!, params.patients);
  await checkCriteria(session, params, types, level === 'patient' ? params.patients : undefined, notices);

  const caller = session.caller;
  const owner = ownerOf(caller);
  const retryAfter = Math.max(5, Math.round(deps.settings.pollMs / 1000) * 5);
  if ((await deps.storage.jobsOf(owner, ACTIVE_STATUSES)).length >= deps.settings.maxActiveJobsPerOwner) {
    throw errors.tooManyExports(deps.settings.maxActiveJobsPerOwner, retryAfter);
  }
  const now = (deps.clock ?? (() => new Date()))().toISOString();
  const typeFilters: ExportJob['typeFilters'] = {};
  for (const filter of params.typeFilters) if (types.includes(filter.type)) (typeFilters[filter.type] ??= []).push(filter.params);
  const job: ExportJob = {
    id: randomBytes(16).toString('hex'),
    owner,
    caller: storeCaller(caller),
    level,
    ...(level === 'group' ? { groupId: request.id } : {}),
    request: requestUrl(deps.baseUrl, request),
    transactionTime: now,
    ...(params.since ? { since: params.since } : {}),
    types,
    typeFilters,
    ...(patients ? { patients } : {}),
    ...(params.elements ? { elements: params.elements } : {}),
    notices,
    status: 'queued',
    cursor: { typeIndex: 0 },
    output: [],
    deleted: [],
    error: [],
    written: 0,
    attempts: 0,
    revision: 0,
    createdAt: now,
    updatedAt: now,
  };
  await deps.storage.insertJob(job);
  // Two kick-offs racing past the check above: the oldest `limit` jobs stay, the others are withdrawn.
  const active = await deps.storage.jobsOf(owner, ACTIVE_STATUSES);
  if (active.slice(deps.settings.maxActiveJobsPerOwner).some((j) => j.id === job.id)) {
    await deps.storage.deleteJob(job.id);
    throw errors.tooManyExports(deps.settings.maxActiveJobsPerOwner, retryAfter);
  }
  deps.notify();
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: `Export accepted: ${types.length} resource type(s) as of ${now}; poll the Content-Location URL for its status` }],
  };
  return { status: 202, resource: outcome, headers: { 'Content-Location': statusUrl(deps.baseUrl, job.id) } };
}

async function exportedTypes(session: EngineSession, params: ExportParameters, level: ExportLevel, deps: KickoffDeps): Promise<string[]> {
  if (params.types) {
    if (level !== 'system') for (const type of params.types) if (!inPatientCompartment(type)) throw errors.exportTypeOutsideCompartment(type);
    const allowed = await session.maySearch(params.types);
    const refused = params.types.filter((_, i) => !allowed[i]);
    // Refused and audited exactly as a search of that type (the guard's own 403).
    for (const type of refused) await session.listing([type], `$export _type=${type}`, async () => undefined);
    return params.types;
  }
  const candidates = level === 'system' ? deps.resourceTypes : deps.resourceTypes.filter(inPatientCompartment);
  const allowed = await session.maySearch(candidates);
  return candidates.filter((_, i) => allowed[i]);
}

/** The Group's patients (active members), restricted to `requested` when the client named some. */
async function groupPatients(session: EngineSession, groupId: string, requested: string[] | undefined): Promise<string[]> {
  let group: Group;
  try {
    group = (await session.read('Group', groupId)).resource as Group;
  } catch (error) {
    if (error instanceof FhirError && (error.status === 404 || error.status === 410)) throw errors.exportGroupUnknown(groupId);
    throw error;
  }
  const members = new Set<string>();
  for (const member of group.member ?? []) {
    if (member.inactive) continue;
    const match = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(member.entity?.reference ?? '');
    if (match) members.add(match[1]);
  }
  if (!requested) return [...members];
  const outside = requested.filter((id) => !members.has(id));
  if (outside.length > 0) throw errors.exportPatientsUnknown(outside, true);
  return requested;
}

/**
 * Compiles each `_typeFilter` of an exported type and checks that the named
 * patients exist for the caller, in one listing of the caller's (restricted
 * and audited as such): a criterion the export could not run is a 400 now.
 */
async function checkCriteria(session: EngineSession, params: ExportParameters, types: string[], patients: string[] | undefined, notices: string[]): Promise<void> {
  const filters = params.typeFilters.filter((f) => types.includes(f.type));
  for (const filter of params.typeFilters) {
    if (!types.includes(filter.type) && !notices.some((n) => n.includes(`_typeFilter on ${filter.type}`))) {
      notices.push(`_typeFilter on ${filter.type} has no effect: ${filter.type} is not exported`);
    }
  }
  if (filters.length === 0 && !patients) return;
  const listed = [...new Set([...(patients ? ['Patient'] : []), ...filters.map((f) => f.type)])];
  await session.listing(listed, '$export kick-off: _typeFilter and patient', async (reader) => {
    for (const filter of filters) await reader.compile([filter.type], filter.params, true);
    if (patients) {
      const { versions } = await reader.search({ resourceTypes: ['Patient'], filter: { id: { $in: patients } }, offset: 0, count: patients.length, withTotal: false, idsOnly: true });
      const found = new Set(versions.map((v) => v.id));
      const missing = patients.filter((id) => !found.has(id));
      if (missing.length > 0) throw errors.exportPatientsUnknown(missing, false);
    }
  });
}
