/**
 * Writes: decided before they run (role and scope; for a write by id, the
 * same answer whether or not a resource the caller may not see is there), and
 * checked again, resource by resource, inside the store write itself — the
 * version replaced and the version written must both be the caller's to
 * write, the author must be the caller — with one AuditEvent per written
 * resource appended to the same atomic write, so an acknowledged write is
 * never unaudited, whatever path produced it (single interaction, batch or
 * transaction entry, conditional write).
 */
import type { Resource } from 'fhir/r4';
import type { AuditRecord } from '../audit/audit-event.js';
import type { WriteInteraction } from '../engine/access-guard.js';
import type { ClientCaller, ServerCaller } from '../engine/caller.js';
import type { EngineContext } from '../engine/engine-context.js';
import { isServerWrite } from '../engine/transaction-extension.js';
import { errors } from '../errors.js';
import type { StoredVersion, WriteOperation } from '../store/resource-store.js';
import { isSubmissionSource, ownerMark, REQUEST_ANSWER_ELEMENTS, requestAnswerOnly, submissionSource } from './access-policy.js';
import { ownerExtension, withoutOwner } from '../identity/principal-record.js';
import { authorsChanged, describeReference, spoofedAuthor } from './authorship.js';
import { auditRecord, recordRefusal } from './caller-audit.js';
import { conditionalScope } from './conditional-scope.js';
import { gathererFor, forgetFacts, type FactGatherer } from './fact-gatherer.js';
import type { GuardDeps } from './guard-deps.js';
import { compartmentPatients } from './patient-compartment.js';
import { denyAsMissing, revealConditionalMatch } from './read-guard.js';
import { decideResource, lastLiveVersion, patientsOf } from './resource-reach.js';
import { resourceClass } from './resource-classes.js';
import { storeView } from './store-view.js';
import { allowType, seesEverything, type AllowedType } from './type-gate.js';
import { RPPS_SYSTEM } from '../identity/principal.js';

type WriteKind = WriteInteraction;

/**
 * Before a write. Role and scope first (403). Then, for an update, patch or
 * delete by id and callers who may not see everything (per-patient grants, a
 * coordinator bound to a launch patient, hospitals), the answer must not
 * depend on whether a resource they cannot see exists:
 * - update: R4 lets a server refuse client-defined ids ("405 Method Not
 *   allowed - the resource did not exist prior to the update, and the server
 *   does not allow client defined ids"). For these callers every id that is
 *   not a live resource they can reach (absent, deleted, or hidden) gets that
 *   same 405, same text, same audit outcome; updates of what they can read go
 *   on (200).
 * - patch, delete: an id they cannot see (absent, or hidden, live or deleted)
 *   is 404 like an unknown id (a delete of an absent id is 404 for them, not
 *   204), so nothing (not even a patch `test`) is learnt.
 * The facts of the patients named by the update's body are gathered in every
 * case, so a free id and a hidden one cost about the same store lookups.
 */
export async function beforeWrite(deps: GuardDeps, caller: ClientCaller, interaction: WriteInteraction, resourceType: string, id?: string, body?: unknown, inBundle = false): Promise<void> {
  const grant = await allowType(deps, caller, interaction, resourceType, id ? { id } : {});
  if (interaction === 'create' || id === undefined || seesEverything(caller, grant)) return;
  const gatherer = gathererFor(deps, caller);
  const current = await deps.ctx.store.readCurrent(resourceType, id);
  const live = current && !current.deleted ? current : undefined;
  if (interaction === 'update') {
    const bodyPatients = patientsNamedBy(deps, resourceType, id, body);
    const decided = live?.resource ? await decideResource(deps, caller, grant, live.resource, gatherer, 'update') : undefined;
    await gatherer.lookup(bodyPatients);
    if (decided?.decision.allowed && !decided.decision.breakTheGlass) return;
    await recordRefusal(deps, caller, { interaction: 'update', resourceType, id, patients: decided?.patients ?? [], outcomeDetail: 'client-assigned-id' });
    throw errors.clientAssignedIdRefused(resourceType, id, !inBundle);
  }
  const content = live ?? (current ? await lastLiveVersion(deps, resourceType, id) : undefined);
  if (!content?.resource) await denyAsMissing(deps, caller, interaction, resourceType, id, [], 'not-in-compartment');
  const { decision, patients } = await decideResource(deps, caller, grant, content!.resource!, gatherer, interaction);
  if (!decision.allowed || decision.breakTheGlass) await denyAsMissing(deps, caller, interaction, resourceType, id, patients, decision.allowed ? 'break-the-glass-read-only' : decision.reason);
}

/** The patients an update's body would file the resource under (none when the body is not a resource of this type). */
function patientsNamedBy(deps: GuardDeps, resourceType: string, id: string, body: unknown): string[] {
  if (typeof body !== 'object' || body === null || (body as Resource).resourceType !== resourceType) return [];
  try {
    return patientsOf(deps, { ...(body as Resource), id });
  } catch {
    return []; // an invalid body is answered by the update itself
  }
}

/**
 * The context a client's writes run in: its store checks every WriteOperation
 * (the version it replaces and the version it writes) and appends one
 * AuditEvent per written resource to the same atomic write; conditional
 * criteria are matched in the caller's scope; a conditional create's match is
 * shown as the caller may see it.
 */
export function clientWriteContext(deps: GuardDeps, caller: ClientCaller, interaction: WriteInteraction | 'bundle'): EngineContext {
  const scope = conditionalScope(deps, caller);
  return {
    ...deps.ctx,
    store: auditedStore(deps, (operations) => checkWrites(deps, caller, operations, interaction === 'patch'), caller),
    ...(scope ? { conditionalScope: scope } : {}),
    revealMatch: (version) => revealConditionalMatch(deps, caller, version),
  };
}

/** The server's own writes (seeding, workers): never refused, audited as the server's, for its stated reason. */
export function serverWriteContext(deps: GuardDeps, caller: ServerCaller): EngineContext {
  return {
    ...deps.ctx,
    store: auditedStore(deps, async (operations) => {
      const records: AuditRecord[] = [];
      for (const op of operations) {
        const current = await deps.ctx.store.readCurrent(op.resourceType, op.id);
        const kind: WriteKind = op.kind === 'delete' ? 'delete' : current && !current.deleted ? 'update' : 'create';
        const patients = op.resource ? (op.index ? compartmentPatients(op.resourceType, op.id, op.index) : patientsOf(deps, op.resource)) : [];
        records.push(auditRecord(caller, { interaction: kind, resourceType: op.resourceType, id: op.id, patients, outcome: 'success' }));
      }
      return records;
    }),
  };
}

/**
 * Writes of an anonymous caller (AUTH_MODE=none): nothing to check or audit,
 * but a Subscription's owner record is the server's to set (src/identity/principal-record.ts):
 * one sent anonymously is dropped, so a deployment that later turns
 * authentication on never delivers as a principal nobody authenticated.
 */
export function anonymousWriteContext(deps: GuardDeps): EngineContext {
  const inner = deps.ctx.store;
  const write = (operations: WriteOperation[]): Promise<StoredVersion[]> =>
    inner.write(
      operations.map((op) => {
        if (op.resourceType !== 'Subscription' || op.kind !== 'put' || !op.resource) return op;
        const resource = op.resource as Resource & { extension?: import('fhir/r4').Extension[] };
        const kept = withoutOwner(resource.extension);
        if (kept.length === (resource.extension ?? []).length) return op;
        const { extension: _dropped, ...rest } = resource;
        const stripped = (kept.length > 0 ? { ...rest, extension: kept } : rest) as Resource;
        return { ...op, resource: stripped, index: deps.ctx.extractor.extract(stripped) };
      }),
    );
  return { ...deps.ctx, store: storeView(inner, { write }) };
}

/** A store whose writes carry the AuditEvents `check` returns for them (it throws to refuse). */
function auditedStore(deps: GuardDeps, check: (operations: WriteOperation[]) => Promise<AuditRecord[]>, forget?: object) {
  const inner = deps.ctx.store;
  const write = async (operations: WriteOperation[]): Promise<StoredVersion[]> => {
    const records = await check(operations);
    const audits = records.map((r) => deps.trail.operation(r));
    if (operations.length === 1 && !inner.capabilities.atomicMultiWrite) {
      // A store without multi-document transactions (standalone MongoDB): the AuditEvent is made
      // durable first, so the access is never unaudited; if the access then fails, a second
      // record says so.
      await inner.write(audits);
      try {
        return await inner.write(operations);
      } catch (error) {
        await deps.trail.record(records.map((r) => ({ ...r, outcome: 'failed' as const, outcomeDetail: 'the write was not applied' }))).catch(() => undefined);
        throw error;
      }
    }
    const versions = await inner.write([...operations, ...audits]);
    return versions.slice(0, operations.length);
  };
  return storeView(inner, { write: async (operations) => {
    try {
      return await write(operations);
    } finally {
      // What this write changed (a Consent, a CareTeam...) counts for the caller's next decisions.
      if (forget) forgetFacts(forget);
    }
  } });
}

async function checkWrites(deps: GuardDeps, caller: ClientCaller, operations: WriteOperation[], patching: boolean): Promise<AuditRecord[]> {
  const gatherer = gathererFor(deps, caller);
  const records: AuditRecord[] = [];
  for (const op of operations) records.push(await checkWrite(deps, caller, op, gatherer, patching));
  return records;
}

async function checkWrite(deps: GuardDeps, caller: ClientCaller, op: WriteOperation, gatherer: FactGatherer, patching: boolean): Promise<AuditRecord> {
  const current = await deps.ctx.store.readCurrent(op.resourceType, op.id);
  const exists = current !== undefined && !current.deleted;
  if (isServerWrite(op)) return checkServerWrite(deps, caller, op, exists);
  settleSource(deps, caller, op, current?.deleted ? undefined : current?.resource);
  const kind: WriteKind = op.kind === 'delete' ? 'delete' : !exists ? 'create' : patching ? 'patch' : 'update';
  const grant = await allowType(deps, caller, kind, op.resourceType, { id: op.id });
  if (op.kind === 'put' && !exists && op.expect !== 'absent' && !seesEverything(caller, await allowType(deps, caller, 'update', op.resourceType, { id: op.id }))) {
    // An update as create (a PUT with an id the client chose; creates expect 'absent') by a caller
    // refused client-assigned ids: beforeWrite refuses it up front; this catches the resource
    // deleted between that check and this write, and conditional updates, with the very same answer.
    await recordRefusal(deps, caller, { interaction: 'update', resourceType: op.resourceType, id: op.id, patients: [], outcomeDetail: 'client-assigned-id' });
    throw errors.clientAssignedIdRefused(op.resourceType, op.id);
  }
  const patients = new Set<string>();
  if (exists && current.resource) {
    const before = await decideResource(deps, caller, grant, current.resource, gatherer, kind);
    before.patients.forEach((p) => patients.add(p));
    if (!before.decision.allowed) {
      // An update naming a hidden id (a conditional update that matched nothing the caller sees, with
      // the body's own id) answers as for a free id: client-chosen ids are refused (405), never 404.
      if (kind === 'update') {
        await recordRefusal(deps, caller, { interaction: 'update', resourceType: op.resourceType, id: op.id, patients: before.patients, outcomeDetail: 'client-assigned-id' });
        throw errors.clientAssignedIdRefused(op.resourceType, op.id);
      }
      await denyAsMissing(deps, caller, kind, op.resourceType, op.id, before.patients, before.decision.reason);
    }
  }
  let onBehalfOf: AuditRecord['onBehalfOf'];
  let grantedBy: string | undefined;
  if (op.kind === 'put' && op.resource) {
    const after = await decideResource(deps, caller, grant, op.resource, gatherer, kind);
    after.patients.forEach((p) => patients.add(p));
    if (!after.decision.allowed) {
      await recordRefusal(deps, caller, { interaction: kind, resourceType: op.resourceType, id: op.id, patients: after.patients, outcomeDetail: after.decision.reason });
      throw errors.forbidden(`this ${op.resourceType} would belong to the record of a patient you may not reach`);
    }
    if (after.decision.viaRequest) {
      // A request addressed to her, not her patient: she answers it, she does not rewrite it.
      grantedBy = after.decision.viaRequest;
      const before = exists ? current.resource : undefined;
      if (!before || !requestAnswerOnly(before as unknown as Record<string, unknown>, op.resource as unknown as Record<string, unknown>)) {
        await recordRefusal(deps, caller, { interaction: kind, resourceType: op.resourceType, id: op.id, patients: after.patients, outcomeDetail: 'request-answer-only' });
        throw errors.forbidden(`a request addressed to you is answered (${[...REQUEST_ANSWER_ELEMENTS].filter((e) => e !== 'meta' && e !== 'text').join(', ')}), not rewritten`);
      }
    }
    onBehalfOf = await checkAuthorship(deps, caller, op, exists ? current.resource : undefined, gatherer, [...patients], kind);
  }
  return auditRecord(caller, {
    interaction: kind,
    resourceType: op.resourceType,
    id: op.id,
    patients: [...patients],
    outcome: 'success',
    ...(onBehalfOf && onBehalfOf.length > 0 ? { onBehalfOf } : {}),
    ...(grantedBy ? { grantedBy, outcomeDetail: 'request grant' } : {}),
  });
}

/**
 * Authorship (authorship.ts): a practitioner's write naming another
 * professional as its author is refused (422); a coordinator's is recorded
 * with the authors it names.
 */
async function checkAuthorship(
  deps: GuardDeps,
  caller: ClientCaller,
  op: WriteOperation,
  before: Resource | undefined,
  gatherer: FactGatherer,
  patients: string[],
  kind: WriteKind,
): Promise<AuditRecord['onBehalfOf']> {
  const principal = caller.principal;
  if (principal.kind === 'practitioner') {
    const spoofed = spoofedAuthor(op.resource!, before, await gatherer.identity());
    if (!spoofed) return undefined;
    await recordRefusal(deps, caller, { interaction: kind, resourceType: op.resourceType, id: op.id, patients, outcomeDetail: 'author-not-caller' });
    throw errors.authorNotCaller(spoofed.element, describeReference(spoofed.reference));
  }
  if (principal.kind === 'coordinator') {
    return authorsChanged(op.resource!, before)
      .map((a) => a.reference)
      .filter((r) => !(r.identifier?.system === RPPS_SYSTEM && r.identifier.value === principal.rpps))
      .map((r) => ({
        ...(r.reference ? { reference: r.reference } : {}),
        ...(r.identifier ? { identifier: { ...(r.identifier.system ? { system: r.identifier.system } : {}), ...(r.identifier.value ? { value: r.identifier.value } : {}) } } : {}),
        ...(r.display ? { display: r.display } : {}),
      }));
  }
  return undefined;
}

/**
 * meta.source marks a hospital's submissions (what it may read back, and what
 * its coordination Tasks are about), so only the server sets that mark:
 * - a system client's write always carries its own submissionSource, whatever the body says;
 * - any other writer's meta.source in the submission format (`issuer#client`,
 *   isSubmissionSource) is removed, unless the resource already carried that
 *   very value (an update passing a hospital's resource back unchanged keeps
 *   its mark; nobody can mark a resource as a hospital's).
 */
function settleSource(deps: GuardDeps, caller: ClientCaller, op: WriteOperation, before: Resource | undefined): void {
  if (op.kind !== 'put' || !op.resource) return;
  if (op.resourceType === 'Subscription') {
    // A subscription is its writer's: marked (meta.source, what its reads are filtered on) and recorded
    // with the principal its notifications are checked against (src/subscriptions), whatever the body said.
    const resource = op.resource as Resource & { extension?: import('fhir/r4').Extension[] };
    op.resource = { ...resource, meta: { ...resource.meta, source: ownerMark(caller.principal, op.resourceType) }, extension: [...withoutOwner(resource.extension), ownerExtension(caller.principal)] } as Resource;
    op.index = deps.ctx.extractor.extract(op.resource);
    return;
  }
  const given = op.resource.meta?.source;
  let source: string | undefined = given;
  if (caller.principal.kind === 'system') source = submissionSource(caller.principal);
  else if (given !== undefined && isSubmissionSource(given) && given !== before?.meta?.source) source = undefined;
  if (source === given) return;
  const { source: _dropped, ...meta } = op.resource.meta ?? {};
  op.resource = { ...op.resource, meta: source === undefined ? meta : { ...meta, source } };
  op.index = deps.ctx.extractor.extract(op.resource);
}

/**
 * A write a write extension adds (the discharge coordination's Tasks, Flags,
 * Communications, re-evaluated on later writes): the server's work, caused by
 * the caller's request. It is checked as a server write — a create of a new
 * resource, or an update of an existing one at the version the extension read;
 * never a deletion, never the audit trail — not against the caller's grants (a
 * hospital may not create a Flag; the coordination does), carries no
 * submission mark (the hospital reaches the coordination's Tasks and Flags only
 * as the status of its requests), and is audited like every other write of the
 * request.
 */
function checkServerWrite(deps: GuardDeps, caller: ClientCaller, op: WriteOperation, exists: boolean): AuditRecord {
  const shape = op.kind === 'put' && op.resource && resourceClass(op.resourceType) !== 'audit' && (exists ? typeof op.expect === 'number' : op.expect === 'absent');
  if (!shape || !op.resource) {
    throw new Error(`a server write must create a new resource or update one at a known version (${op.resourceType})`);
  }
  const source = op.resource.meta?.source;
  if (source !== undefined && isSubmissionSource(source)) {
    const { source: _dropped, ...meta } = op.resource.meta!;
    op.resource = { ...op.resource, meta };
    op.index = deps.ctx.extractor.extract(op.resource);
  }
  const patients = op.index ? compartmentPatients(op.resourceType, op.id, op.index) : patientsOf(deps, op.resource);
  return auditRecord(caller, { interaction: exists ? 'update' : 'create', resourceType: op.resourceType, id: op.id, patients, outcome: 'success' });
}

export type { AllowedType };
