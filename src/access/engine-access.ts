/**
 * Per-resource enforcement of the access policy inside the engine, and the
 * audit of each access. The HTTP gate has already checked role and scopes per
 * type (403); here, for grants restricted to patient compartments or to the
 * caller's own submissions, each resource reached is checked against the facts
 * gathered from the store, and a refusal is a 404 exactly like an unknown id.
 *
 * Reads (read, vread, history of an instance) are audited before the response
 * is returned. Writes are checked and audited inside the store write itself:
 * `guardedContext` gives the interaction an EngineContext whose store checks
 * every WriteOperation (the version it replaces and the version it writes) and
 * appends the AuditEvent operations to the same atomic write, so a write that
 * is acknowledged is never unaudited, whatever path produced it.
 */
import type { Bundle, Communication, Reference, Resource, Task } from 'fhir/r4';
import { FINESS_SYSTEM, RPPS_SYSTEM } from '../identity/principal.js';
import { COMMUNICATION_CATEGORY } from '../coordination/coordination-codes.js';
import { createOperation } from '../engine/interactions/create.js';
import { search } from '../engine/interactions/search.js';
import type { AuditInteraction, AuditRecord } from '../audit/audit-event.js';
import type { AuditTrail } from '../audit/audit-trail.js';
import type { EngineContext } from '../engine/engine-context.js';
import { isServerWrite, type ConditionalScope } from '../engine/transaction-extension.js';
import { INS_SYSTEMS } from '../coordination/identity-matching.js';
import { errors, FhirError } from '../errors.js';
import type { ResourceStore, StoredVersion, WriteOperation } from '../store/resource-store.js';
import { COORDINATED_SUBMISSION_TYPES, decideOwnSubmission, decidePatients, decideType, isSubmissionSource, submissionSource, type InstanceDecision, type PolicyInteraction, type TypeDecision } from './access-policy.js';
import { FactGatherer } from './fact-gatherer.js';
import { searchAccessFilter } from './search-access.js';
import { HOSPITAL_CREATE_TYPES, resourceClass } from './resource-classes.js';
import { RESULT_SET_OWNER } from '../store/result-set-owner.js';
import { compartmentParams, compartmentPatients } from './patient-compartment.js';
import type { RequestContext } from './request-context.js';

type AllowedType = Extract<TypeDecision, { allowed: true }>;
type InstanceInteraction = 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history-instance' | 'create';

const REF = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;
/** How many of a hospital's requests a Task search matches coordination Tasks against (see ownSubmissionRefs). */
const OWN_SUBMISSIONS_LIMIT = 50_000;
/** The [type]/[id] a Bundle entry's request.url writes to (relative or absolute, no query). */
const ENTRY_TARGET = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

export interface ResourceDecision {
  decision: InstanceDecision;
  patients: string[];
}

export class EngineAccess {
  /** FINESS of the coordination team told about break-the-glass accesses (set from the configuration by the app). */
  coordinationTeamFiness: string | undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly trail: AuditTrail,
  ) {}

  private record(rc: RequestContext, base: Omit<AuditRecord, 'principal' | 'clientAddress' | 'requestId' | 'breakTheGlass'>, breakTheGlass: boolean): AuditRecord {
    return {
      principal: rc.principal,
      ...base,
      ...(breakTheGlass && rc.breakTheGlass ? { breakTheGlass: rc.breakTheGlass } : {}),
      ...(rc.clientAddress ? { clientAddress: rc.clientAddress } : {}),
      ...(rc.requestId ? { requestId: rc.requestId } : {}),
    };
  }

  /** Role and scopes for this interaction on this type; a refusal is audited and is a 403 (the rule reveals no resource). */
  async typeDecision(rc: RequestContext, interaction: PolicyInteraction, resourceType: string, id?: string): Promise<AllowedType> {
    const decision = decideType({ principal: rc.principal, interaction, resourceType, ...(rc.breakTheGlass ? { breakTheGlass: rc.breakTheGlass } : {}) });
    if (decision.allowed) return decision;
    await this.trail.record([
      this.record(rc, { interaction: auditInteraction(interaction), resourceType, ...(id ? { id } : {}), patients: [], outcome: 'denied', outcomeDetail: decision.reason }, false),
    ]);
    throw errors.forbidden(`this interaction on ${resourceType} is not open to you (${decision.reason})`, decision.reason === 'no-scope');
  }

  /** May the caller reach this resource under this grant? Also names the patients it belongs to (for the audit). */
  async decideResource(rc: RequestContext, grant: AllowedType, resource: Resource, gatherer: FactGatherer): Promise<ResourceDecision> {
    const patients = compartmentPatients(resource.resourceType, resource.id, this.ctx.extractor.extract(resource));
    const restriction = grant.restriction;
    if (restriction.kind === 'unrestricted') return { decision: { allowed: true, breakTheGlass: false }, patients };
    if (restriction.kind === 'patient-compartment') {
      return { decision: decidePatients(rc.principal, restriction, patients, await gatherer.lookup(patients), grant.breakTheGlass), patients };
    }
    const source = submissionSource(rc.principal);
    return { decision: decideOwnSubmission(resource.meta?.source === source, await this.isTaskAboutOwnSubmission(resource, source)), patients };
  }

  /** A coordination Task whose focus or basedOn is a request the caller sent (COORDINATED_SUBMISSION_TYPES). */
  private async isTaskAboutOwnSubmission(resource: Resource, source: string): Promise<boolean> {
    if (resource.resourceType !== 'Task') return false;
    const task = resource as Task;
    const refs: Reference[] = [...(task.focus ? [task.focus] : []), ...(task.basedOn ?? [])];
    for (const ref of refs) {
      const match = REF.exec(ref.reference ?? '');
      if (!match || !COORDINATED_SUBMISSION_TYPES.includes(match[1])) continue;
      const target = await this.ctx.store.readCurrent(match[1], match[2]);
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
  private async ownSubmissionRefs(rc: RequestContext): Promise<string[]> {
    const result = await this.ctx.store.search({
      resourceTypes: [...COORDINATED_SUBMISSION_TYPES],
      filter: { 'idx._source': { $elemMatch: { v: submissionSource(rc.principal) } } },
      sort: [{ path: 'lastUpdated', direction: -1 }],
      offset: 0,
      count: OWN_SUBMISSIONS_LIMIT,
      withTotal: false,
      idsOnly: true,
    });
    return result.versions.map((v) => `${v.resourceType}/${v.id}`);
  }

  /**
   * read / vread: loads the version, decides, audits (success or refusal)
   * before returning. A resource the caller may not reach is a 404; so is a
   * deleted one (410) whose last content they could not have reached.
   */
  async guardRead(rc: RequestContext, interaction: 'read' | 'vread', resourceType: string, id: string, load: () => Promise<StoredVersion>): Promise<StoredVersion> {
    const grant = await this.typeDecision(rc, interaction, resourceType, id);
    const gatherer = new FactGatherer(this.ctx, rc.principal);
    let version: StoredVersion;
    try {
      version = await load();
    } catch (error) {
      if (grant.restriction.kind !== 'unrestricted' && error instanceof FhirError && error.status === 410) {
        const lastLive = await this.lastLiveVersion(resourceType, id);
        const decided = lastLive?.resource ? await this.decideResource(rc, grant, lastLive.resource, gatherer) : undefined;
        if (!decided?.decision.allowed) await this.deny(rc, interaction, resourceType, id, decided?.patients ?? [], decided ? deniedReason(decided.decision) : 'not-in-compartment');
      }
      throw error;
    }
    const { decision, patients } = await this.decideResource(rc, grant, version.resource!, gatherer);
    if (!decision.allowed) await this.deny(rc, interaction, resourceType, id, patients, decision.reason);
    const glass = decision.allowed && decision.breakTheGlass;
    await this.recordSuccess(rc, this.record(rc, { interaction, resourceType, id, versionId: String(version.versionId), patients, outcome: 'success' }, glass), glass ? patients : []);
    return version;
  }

  /**
   * A conditional create (If-None-Exist) that matched an existing resource
   * answers 200 with it (R4 http, "conditional create"): the caller learns of
   * that resource, so the access is audited as a read of it. Returns whether
   * the caller may see its content; when not (a hospital whose Patient-by-INS
   * criteria matched the network's patient, as Patient/$match would tell it),
   * it gets the identity only.
   */
  async auditConditionalMatch(rc: RequestContext, version: StoredVersion): Promise<boolean> {
    const resource = version.resource!;
    const grant = decideType({ principal: rc.principal, interaction: 'read', resourceType: version.resourceType });
    const decided = grant.allowed ? await this.decideResource(rc, grant, resource, new FactGatherer(this.ctx, rc.principal)) : undefined;
    const patients = decided?.patients ?? compartmentPatients(version.resourceType, version.id, this.ctx.extractor.extract(resource));
    const shown = decided?.decision.allowed === true;
    await this.recordSuccess(
      rc,
      this.record(rc, { interaction: 'read', resourceType: version.resourceType, id: version.id, versionId: String(version.versionId), patients, outcome: 'success' }, false),
      [],
    );
    return shown;
  }

  /**
   * history of one instance. A caller who sees everything gets every version;
   * a restricted caller, as for type history (guardHistory), only the versions
   * it may see, each judged on its own content (a resource moved from another
   * patient's record shows only the versions that were in records the caller
   * reaches), and a 404 when there is none (it may not know the resource exists).
   */
  async guardInstanceHistory(rc: RequestContext, resourceType: string, id: string, run: (ctx: EngineContext) => Promise<Bundle<Resource>>): Promise<Bundle<Resource>> {
    const grant = await this.typeDecision(rc, 'history-instance', resourceType, id);
    if (seesEverything(rc, grant)) {
      const bundle = await run(this.ctx);
      const gatherer = new FactGatherer(this.ctx, rc.principal);
      const patients = new Set<string>();
      for (const resource of (bundle.entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined)) {
        (await this.decideResource(rc, grant, resource, gatherer)).patients.forEach((p) => patients.add(p));
      }
      await this.recordSuccess(rc, this.record(rc, { interaction: 'history-instance', resourceType, id, patients: [...patients], outcome: 'success' }, false), []);
      return bundle;
    }
    const { store, patients, reachable } = await this.historyVisibleTo(rc, 'history-instance', [resourceType]);
    const bundle = await run({ ...this.ctx, store });
    if ((bundle.total ?? 0) === 0) {
      // Nothing the caller may see: refused like an unknown id, the audit naming whose record it was.
      const lastLive = await this.lastLiveVersion(resourceType, id);
      const decided = lastLive?.resource ? await this.decideResource(rc, grant, lastLive.resource, new FactGatherer(this.ctx, rc.principal)) : undefined;
      await this.deny(rc, 'history-instance', resourceType, id, decided?.patients ?? [], decided && !decided.decision.allowed ? deniedReason(decided.decision) : 'not-in-compartment');
    }
    await this.recordListing(rc, 'history-instance', [resourceType], undefined, patients, reachable, id);
    return bundle;
  }

  /**
   * Before an update, patch or delete by id. For callers who may not see
   * everything (per-patient grants, a coordinator bound to a launch patient,
   * hospitals), the answer must not depend on whether a resource they cannot
   * see exists:
   * - update: R4 lets a server refuse client-defined ids ("405 Method Not
   *   allowed - the resource did not exist prior to the update, and the server
   *   does not allow client defined ids"). For these callers every id that is
   *   not a live resource they can reach (absent, deleted, or hidden) gets that
   *   same 405, same text, same audit outcome; updates of what they can read
   *   go on (200). Without this, a hidden id answered 404 and a free one 201.
   * - patch, delete: an id they cannot see (absent, or hidden, live or
   *   deleted) is 404 like an unknown id (a delete of an absent id is 404 for
   *   them, not 204), so nothing (not even a patch `test`) is learnt.
   * The facts of the patients named by the update's body are gathered in every
   * case, so a free id and a hidden one cost about the same store lookups.
   * The write itself is checked again by the guarded store.
   */
  async assertWritable(rc: RequestContext, interaction: 'update' | 'patch' | 'delete', resourceType: string, id: string, body?: unknown, inBundle = false): Promise<void> {
    const grant = await this.typeDecision(rc, interaction, resourceType, id);
    if (seesEverything(rc, grant)) return;
    const gatherer = new FactGatherer(this.ctx, rc.principal);
    const current = await this.ctx.store.readCurrent(resourceType, id);
    const live = current && !current.deleted ? current : undefined;
    if (interaction === 'update') {
      const bodyPatients = this.patientsNamedBy(resourceType, id, body);
      const decided = live?.resource ? await this.decideResource(rc, grant, live.resource, gatherer) : undefined;
      await gatherer.lookup(bodyPatients);
      if (decided?.decision.allowed && !decided.decision.breakTheGlass) return;
      await this.trail.record([
        this.record(rc, { interaction: 'update', resourceType, id, patients: decided?.patients ?? [], outcome: 'denied', outcomeDetail: 'client-assigned-id' }, false),
      ]);
      throw errors.clientAssignedIdRefused(resourceType, id, !inBundle);
    }
    const content = live ?? (current ? await this.lastLiveVersion(resourceType, id) : undefined);
    if (!content?.resource) await this.deny(rc, interaction, resourceType, id, [], 'not-in-compartment');
    const { decision, patients } = await this.decideResource(rc, grant, content!.resource!, gatherer);
    if (!decision.allowed || decision.breakTheGlass) await this.deny(rc, interaction, resourceType, id, patients, decision.allowed ? 'break-the-glass-read-only' : decision.reason);
  }

  /** The patients an update's body would file the resource under (none when the body is not a resource of this type). */
  private patientsNamedBy(resourceType: string, id: string, body: unknown): string[] {
    if (typeof body !== 'object' || body === null || (body as Resource).resourceType !== resourceType) return [];
    try {
      return compartmentPatients(resourceType, id, this.ctx.extractor.extract(body as Resource));
    } catch {
      return []; // an invalid body is answered by the update itself
    }
  }

  /** Conditional writes search with criteria over every resource: only for callers whose grant is unrestricted. */
  async assertUnrestricted(rc: RequestContext, interaction: PolicyInteraction, resourceType: string, what: string): Promise<void> {
    const grant = await this.typeDecision(rc, interaction, resourceType);
    if (grant.restriction.kind === 'unrestricted') return;
    await this.trail.record([this.record(rc, { interaction: auditInteraction(interaction), resourceType, patients: [], outcome: 'denied', outcomeDetail: 'conditional' }, false)]);
    throw errors.forbidden(`${what} is not available with per-patient access (its criteria would be matched over resources you may not see)`);
  }

  /**
   * An EngineContext for one write interaction: its store checks every write
   * against the policy and appends one AuditEvent per written resource to the same atomic write.
   */
  guardedContext(rc: RequestContext, interaction: 'create' | 'update' | 'patch' | 'delete'): EngineContext {
    const inner = this.ctx.store;
    const write = async (operations: WriteOperation[]) => {
      const gatherer = new FactGatherer(this.ctx, rc.principal);
      const records: AuditRecord[] = [];
      for (const op of operations) records.push(await this.checkWrite(rc, interaction, op, gatherer));
      const audits = records.map((r) => this.trail.operation(r));
      if (operations.length === 1 && !inner.capabilities.atomicMultiWrite) {
        // A store without multi-document transactions (standalone MongoDB): the AuditEvent is made
        // durable first, so the access is never unaudited; if the access then fails, a second
        // record says so.
        await inner.write(audits);
        try {
          return await inner.write(operations);
        } catch (error) {
          await this.trail.record(records.map((r) => ({ ...r, outcome: 'failed' as const, outcomeDetail: 'the write was not applied' }))).catch(() => undefined);
          throw error;
        }
      }
      const versions = await inner.write([...operations, ...audits]);
      return versions.slice(0, operations.length);
    };
    const scope = this.conditionalScope(rc);
    return {
      ...this.ctx,
      store: delegate(inner, { write }),
      ...(scope ? { conditionalScope: scope } : {}),
      revealMatch: (version) => this.auditConditionalMatch(rc, version),
    };
  }

  /**
   * Where a hospital's (system client's) transaction matches its conditional
   * criteria (If-None-Exist of a POST, conditional references; R4 http
   * "Conditional references": exactly one match, else the transaction fails):
   * - the directory (Practitioner, PractitionerRole, Organization, Location,
   *   HealthcareService...): all of it, the hospital addresses its referral to
   *   the network's professionals and services;
   * - a Patient by one INS (`identifier=<INS system>|<value>`, nothing else):
   *   the whole network, as Patient/$match by INS would answer the hospital; the
   *   one INS keeps one patient (no twin per hospital);
   * - anything else (patient data, a Patient by other criteria): only what the
   *   hospital sent (meta.source), so 0, 1 or many counts only its own
   *   submissions and a resource it may not see looks exactly like "not found"
   *   (its own conditional create then creates; a reference fails as unresolved).
   * A conditional create that matched something the hospital may not read
   * answers 200 with the identity only (auditConditionalMatch).
   */
  conditionalScope(rc: RequestContext): ConditionalScope | undefined {
    if (rc.principal.kind !== 'system') return undefined;
    const principal = rc.principal;
    // The directory: all of it; what the hospital may send: what it sent (a CareTeam too, which it may
    // send but not search, so a re-posted discharge matches it); any other type: nothing.
    const sentByCaller = { 'idx._source': { $elemMatch: { v: submissionSource(principal) } } };
    const ownFilter = (types: readonly string[]) => {
      const clauses = types.map((type) =>
        resourceClass(type) === 'directory' ? { type } : HOSPITAL_CREATE_TYPES.has(type) ? { $and: [{ type }, sentByCaller] } : { id: { $in: [] as string[] } },
      );
      return clauses.length === 1 ? clauses[0] : { $or: clauses };
    };
    const mine = `source:${submissionSource(principal)}`;
    return {
      forCriteria: (resourceType, criteria) => {
        if (resourceClass(resourceType) === 'directory' && criteria.every(([name]) => !name.includes(':') && !name.includes('.'))) {
          return { filterFor: ownFilter, guardScope: 'global' };
        }
        if (resourceType === 'Patient' && isOneIns(criteria)) return { filterFor: () => undefined, guardScope: 'global' };
        return { filterFor: ownFilter, guardScope: mine };
      },
    };
  }

  private async checkWrite(rc: RequestContext, interaction: InstanceInteraction, op: WriteOperation, gatherer: FactGatherer): Promise<AuditRecord> {
    const current = await this.ctx.store.readCurrent(op.resourceType, op.id);
    const exists = current !== undefined && !current.deleted;
    if (isServerWrite(op)) return this.checkServerWrite(rc, op, exists);
    this.settleSource(rc, op, current?.deleted ? undefined : current?.resource);
    const opInteraction: InstanceInteraction = op.kind === 'delete' ? 'delete' : !exists ? 'create' : interaction === 'patch' ? 'patch' : 'update';
    const grant = await this.typeDecision(rc, opInteraction, op.resourceType, op.id);
    if (op.kind === 'put' && !exists && interaction === 'update' && op.expect !== 'absent' && !seesEverything(rc, await this.typeDecision(rc, 'update', op.resourceType, op.id))) {
      // An update as create (a PUT with an id the client chose; creates have expect 'absent') by a
      // caller refused client-assigned ids: assertWritable refuses it up front; this catches the
      // resource deleted between that check and this write, with the very same answer.
      await this.trail.record([this.record(rc, { interaction: 'update', resourceType: op.resourceType, id: op.id, patients: [], outcome: 'denied', outcomeDetail: 'client-assigned-id' }, false)]);
      throw errors.clientAssignedIdRefused(op.resourceType, op.id);
    }
    const patients = new Set<string>();
    if (exists && current.resource) {
      const before = await this.decideResource(rc, grant, current.resource, gatherer);
      before.patients.forEach((p) => patients.add(p));
      if (!before.decision.allowed) await this.deny(rc, opInteraction, op.resourceType, op.id, before.patients, before.decision.reason);
    }
    if (op.kind === 'put' && op.resource) {
      const after = await this.decideResource(rc, grant, op.resource, gatherer);
      after.patients.forEach((p) => patients.add(p));
      if (!after.decision.allowed) {
        await this.trail.record([
          this.record(rc, { interaction: opInteraction, resourceType: op.resourceType, id: op.id, patients: after.patients, outcome: 'denied', outcomeDetail: after.decision.reason }, false),
        ]);
        throw errors.forbidden(`this ${op.resourceType} would belong to the record of a patient you may not reach`);
      }
    }
    return this.record(rc, { interaction: opInteraction, resourceType: op.resourceType, id: op.id, patients: [...patients], outcome: 'success' }, false);
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
  private settleSource(rc: RequestContext, op: WriteOperation, before: Resource | undefined): void {
    if (op.kind !== 'put' || !op.resource) return;
    const given = op.resource.meta?.source;
    let source: string | undefined = given;
    if (rc.principal.kind === 'system') source = submissionSource(rc.principal);
    else if (given !== undefined && isSubmissionSource(given) && given !== before?.meta?.source) source = undefined;
    if (source === given) return;
    const { source: _dropped, ...meta } = op.resource.meta ?? {};
    op.resource = { ...op.resource, meta: source === undefined ? meta : { ...meta, source } };
    op.index = this.ctx.extractor.extract(op.resource);
  }

  /**
   * A write a transaction extension adds (the discharge intake's Tasks, Flags,
   * Communications): the server's work, caused by the caller's request. It is
   * checked as a server write — a create of a new resource, never the audit
   * trail — not against the caller's grants (a hospital may not create a Flag;
   * the intake does), carries no submission mark (the hospital reaches the
   * intake's Tasks only as coordination Tasks about its requests), and is
   * audited like every other write of the request.
   */
  private async checkServerWrite(rc: RequestContext, op: WriteOperation, exists: boolean): Promise<AuditRecord> {
    if (op.kind !== 'put' || !op.resource || op.expect !== 'absent' || exists || resourceClass(op.resourceType) === 'audit') {
      throw new Error(`a server write must create a new resource (${op.resourceType})`);
    }
    const source = op.resource.meta?.source;
    if (source !== undefined && isSubmissionSource(source)) {
      const { source: _dropped, ...meta } = op.resource.meta!;
      op.resource = { ...op.resource, meta };
      op.index = this.ctx.extractor.extract(op.resource);
    }
    const patients = compartmentPatients(op.resourceType, op.id, op.index ?? this.ctx.extractor.extract(op.resource));
    return this.record(rc, { interaction: 'create', resourceType: op.resourceType, id: op.id, patients, outcome: 'success' }, false);
  }

  /**
   * search-type / search-system: every store query the search makes is
   * restricted by the access filter (see search-access.ts); the search is
   * audited with its query and the patients whose data it returned.
   */
  async guardSearch(
    rc: RequestContext,
    interaction: 'search-type' | 'search-system',
    resourceTypes: readonly string[],
    query: string,
    run: (ctx: EngineContext) => Promise<Bundle<Resource>>,
  ): Promise<Bundle<Resource>> {
    for (const resourceType of resourceTypes) await this.typeDecision(rc, interaction, resourceType);
    const gatherer = new FactGatherer(this.ctx, rc.principal);
    const reachable = rc.principal.kind === 'practitioner' ? await gatherer.reachablePatients() : [];
    // Per store query, for the types it reads: the matches, and the sub-queries of chains, _has and includes.
    const filters = new Map<string, Record<string, unknown> | undefined>();
    // A hospital's Task queries also match the coordination Tasks about what it sent: listed once per request, when first needed.
    let ownSubmissions: Promise<string[]> | undefined;
    const filterFor = async (types: readonly string[]) => {
      const key = types.join(',');
      if (!filters.has(key)) {
        const own = rc.principal.kind === 'system' && types.includes('Task') ? await (ownSubmissions ??= this.ownSubmissionRefs(rc)) : [];
        filters.set(key, searchAccessFilter(rc.principal, interaction, types, reachable, rc.breakTheGlass, own));
      }
      return filters.get(key);
    };
    const patients = new Set<string>();
    const inner = this.ctx.store;
    const extractor = this.ctx.extractor;
    const restrict = async <Q extends { resourceTypes: string[]; filter: Record<string, unknown> }>(q: Q): Promise<Q> => {
      const filter = await filterFor(q.resourceTypes);
      return filter ? { ...q, filter: { $and: [q.filter, filter] } } : q;
    };
    const search: ResourceStore['search'] = async (q) => {
      const result = await inner.search(await restrict(q));
      if (!q.idsOnly) {
        for (const v of result.versions) if (v.resource) compartmentPatients(v.resourceType, v.id, extractor.extract(v.resource)).forEach((p) => patients.add(p));
      }
      return result;
    };
    const distinct: ResourceStore['distinct'] = async (q, path) => inner.distinct(await restrict(q), path);
    // Paging snapshots belong to their caller (and break-the-glass state): a cursor is unknown
    // (410, as if expired) to anyone else, so its size cannot be learnt through another's link.
    const snapshotsOwner = `${rc.principal.issuer}|${rc.principal.subject}|${rc.breakTheGlass ? 'btg' : ''}`;
    const bundle = await run({ ...this.ctx, store: delegate(inner, { search, distinct }, snapshotsOwner) });
    await this.recordListing(rc, interaction, resourceTypes, query, patients, reachable);
    return bundle;
  }

  /**
   * history-type / history-system: the same decision as search. The store's
   * history is filtered by the search access filter, evaluated on each
   * version's OWN index entries (a deletion: those of the version it deleted;
   * see HistoryQuery.filter), so a restricted caller gets exactly the versions
   * it may see (a resource's versions from when it belonged to a patient the
   * caller cannot reach stay hidden) and Bundle.total and the paging links
   * count only those. Audited like a search: one AuditEvent with the query and
   * the patients whose versions were returned; break-the-glass as for search.
   */
  async guardHistory(
    rc: RequestContext,
    interaction: 'history-type' | 'history-system',
    resourceTypes: readonly string[],
    query: string,
    run: (ctx: EngineContext) => Promise<Bundle<Resource>>,
  ): Promise<Bundle<Resource>> {
    if (resourceTypes.length === 0) {
      // The HTTP gate refuses this first; kept here so no caller ever gets an unfiltered system history.
      await this.trail.record([this.record(rc, { interaction, patients: [], outcome: 'denied', outcomeDetail: 'role' }, false)]);
      throw errors.forbidden('a system-wide search or history must name its resource types with _type');
    }
    for (const resourceType of resourceTypes) await this.typeDecision(rc, interaction, resourceType);
    const { store, patients, reachable } = await this.historyVisibleTo(rc, interaction, resourceTypes);
    const bundle = await run({ ...this.ctx, store });
    await this.recordListing(rc, interaction, resourceTypes, query, patients, reachable);
    return bundle;
  }

  /**
   * The store a history runs on for this caller: its history filtered by the
   * search access filter, evaluated on each version's OWN index entries (a
   * deletion: those of the version it deleted; see HistoryQuery.filter), and
   * the patients of the versions it returned, collected for the audit.
   */
  private async historyVisibleTo(
    rc: RequestContext,
    interaction: 'history-instance' | 'history-type' | 'history-system',
    resourceTypes: readonly string[],
  ): Promise<{ store: ResourceStore; patients: Set<string>; reachable: readonly string[] }> {
    const reachable = rc.principal.kind === 'practitioner' ? await new FactGatherer(this.ctx, rc.principal).reachablePatients() : [];
    // A hospital's Task history shows the coordination Tasks about its requests, as its Task search does.
    const own = rc.principal.kind === 'system' && resourceTypes.includes('Task') ? await this.ownSubmissionRefs(rc) : [];
    const filter = searchAccessFilter(rc.principal, interaction, resourceTypes, reachable, rc.breakTheGlass, own);
    const inner = this.ctx.store;
    const patients = new Set<string>();
    const history: ResourceStore['history'] = async (q) => {
      const page = await inner.history(filter ? { ...q, filter: q.filter ? { $and: [q.filter, filter] } : filter } : q);
      for (const v of page.versions) {
        // A deletion told the caller about the content it deleted (the version before it).
        const content = v.resource ?? (v.versionId > 1 ? (await inner.readVersion(v.resourceType, v.id, v.versionId - 1))?.resource : undefined);
        if (!content) continue;
        // Only the compartment parameters are evaluated: a history page can be long, a full extraction per version is not needed.
        const entries = Object.fromEntries(compartmentParams(v.resourceType).map((code) => [code, this.ctx.extractor.extractParameter(content, code)]));
        compartmentPatients(v.resourceType, v.id, entries).forEach((p) => patients.add(p));
      }
      return page;
    };
    return { store: delegate(inner, { history }), patients, reachable };
  }

  /**
   * The audit of a search or history (of a type, or of one instance: `id`) that succeeded: one AuditEvent naming the
   * patients whose data was returned. Break-the-glass was used for those the
   * practitioner could not reach otherwise (flagged, and the team alerted).
   */
  private async recordListing(
    rc: RequestContext,
    interaction: AuditInteraction,
    resourceTypes: readonly string[],
    query: string | undefined,
    patients: ReadonlySet<string>,
    reachable: readonly string[],
    id?: string,
  ): Promise<void> {
    const glassPatients = rc.breakTheGlass !== undefined && rc.principal.kind === 'practitioner' ? [...patients].filter((p) => !reachable.includes(p)) : [];
    await this.recordSuccess(
      rc,
      this.record(
        rc,
        {
          interaction,
          ...(resourceTypes.length === 1 ? { resourceType: resourceTypes[0] } : {}),
          ...(id !== undefined ? { id } : {}),
          patients: [...patients],
          outcome: 'success',
          ...(query ? { query } : {}),
        },
        glassPatients.length > 0,
      ),
      glassPatients,
    );
  }

  /**
   * Before a batch or transaction Bundle: its writes go through
   * `guardedContext` (each checked and audited in the Bundle's own atomic
   * write); its read entries through the caller's guarded read, search and
   * history (FhirEngine.entryReader), each allowed, filtered and audited as if
   * sent alone. Refused as a whole (403, audited), for callers whose grants are
   * restricted: conditional URLs, If-None-Exist and conditional references,
   * whose criteria would be matched over resources the caller may not see —
   * except If-None-Exist and conditional references in a hospital's
   * transaction, matched within its conditional scope (conditionalScope).
   */
  async assertBundleEnforceable(rc: RequestContext, kind: 'transaction' | 'batch', body: unknown): Promise<void> {
    const entries = (body as { entry?: unknown })?.entry;
    if (!Array.isArray(entries)) return; // the engine answers the malformed Bundle
    // A coordinator without a launch context reaches every patient of the network: its criteria may match anything it could search.
    const seesAll = rc.principal.kind === 'coordinator' && !rc.principal.launchPatient;
    // A hospital's transaction matches its If-None-Exist and conditional references within its
    // conditional scope (conditionalScope): the discharge bundles it pushes rely on them.
    const scoped = kind === 'transaction' && this.conditionalScope(rc) !== undefined;
    let refusal: string | undefined;
    for (const entry of entries as Array<{ request?: { method?: unknown; url?: unknown; ifNoneExist?: unknown }; resource?: unknown }>) {
      const method = typeof entry?.request?.method === 'string' ? entry.request.method.toUpperCase() : '';
      const url = typeof entry?.request?.url === 'string' ? entry.request.url : '';
      // Read entries (GET/HEAD) go through the caller's guarded read/search/history (FhirEngine.entryReader);
      // a conditional URL on a write is matched over resources the caller may not see.
      if (!seesAll && method !== 'GET' && method !== 'HEAD' && url.includes('?')) refusal = 'conditional URLs in a Bundle are not available with per-patient access (their criteria would be matched over resources you may not see)';
      else if (!seesAll && !scoped && (entry?.request?.ifNoneExist !== undefined || /"reference"\s*:\s*"[A-Za-z]+\?/.test(JSON.stringify(entry?.resource ?? null)))) {
        refusal = 'conditional entries and conditional references in a Bundle are not available with per-patient access (their criteria would be matched over resources you may not see)';
      }
      if (refusal) break;
    }
    if (refusal) {
      await this.trail.record([this.record(rc, { interaction: kind, patients: [], outcome: 'denied', outcomeDetail: 'bundle-entries' }, false)]);
      throw errors.forbidden(refusal);
    }
    if (seesAll) return;
    // Writes by id get the answer the same request would get on its own (assertWritable: the same
    // status and text whether a resource the caller cannot see exists or not), before any entry is
    // processed: a PATCH `test` or a PUT's 200/201 must never run against a hidden resource.
    for (const entry of entries as Array<{ request?: { method?: unknown; url?: unknown }; resource?: unknown }>) {
      const method = typeof entry?.request?.method === 'string' ? entry.request.method.toUpperCase() : '';
      const interaction = method === 'PUT' ? 'update' : method === 'PATCH' ? 'patch' : method === 'DELETE' ? 'delete' : undefined;
      const target = typeof entry?.request?.url === 'string' ? ENTRY_TARGET.exec(entry.request.url) : null;
      if (!interaction || !target || !this.ctx.definitions.isResourceType(target[1])) continue; // the engine answers other entries
      await this.assertWritable(rc, interaction, target[1], target[2], entry.resource, true);
    }
  }

  /**
   * An operation the gate let through (only grants without per-patient
   * restriction reach one, e.g. a hospital's Patient/$match): audited before
   * the response with the patients its result names.
   */
  async auditOperation(rc: RequestContext, name: string, resourceType: string | undefined, id: string | undefined, result: Resource | undefined): Promise<void> {
    const patients = new Set<string>();
    const resources = result?.resourceType === 'Bundle' ? ((result as Bundle<Resource>).entry ?? []).map((e) => e.resource).filter((r): r is Resource => r !== undefined) : result ? [result] : [];
    for (const resource of resources) {
      if (resource.resourceType === 'OperationOutcome') continue;
      compartmentPatients(resource.resourceType, resource.id, this.ctx.extractor.extract(resource)).forEach((p) => patients.add(p));
    }
    if (resourceType === 'Patient' && id) patients.add(id);
    await this.trail.record([
      this.record(rc, { interaction: 'operation', operation: name, ...(resourceType ? { resourceType } : {}), ...(id ? { id } : {}), patients: [...patients], outcome: 'success' }, false),
    ]);
  }

  /**
   * Stores the AuditEvent of a successful read; when break-the-glass opened
   * it, the coordination team is told in the same write, so an emergency
   * access is never both answered and unnoticed. One alert per request,
   * listing every patient it opened, not one per patient: the coordination
   * team acts on the event (who broke the glass, why, when: one person, one
   * stated reason) and must be able to call that professional back; a broad
   * search touching fifty records would otherwise bury the team's alert
   * inbox under fifty identical alerts. The per-patient trace, which the law
   * on health data requires, is the AuditEvent (every patient is an entity of it).
   */
  private async recordSuccess(rc: RequestContext, record: AuditRecord, glassPatients: readonly string[]): Promise<void> {
    const operations: WriteOperation[] = [this.trail.operation(record)];
    if (glassPatients.length > 0) {
      operations.push(createOperation(this.ctx, 'Communication', breakTheGlassAlert(rc, [...new Set(glassPatients)], await this.coordinationTeam())));
    }
    if (this.ctx.store.capabilities.atomicMultiWrite) await this.ctx.store.write(operations);
    else for (const operation of operations) await this.ctx.store.write([operation]); // audit first, then the alerts
  }

  /** The network's coordination team, as configured (COORDINATION_TEAM_FINESS), as the discharge intake addresses it. */
  private async coordinationTeam(): Promise<Reference> {
    const finess = this.coordinationTeamFiness;
    if (!finess) return { display: 'Équipe de coordination du réseau' };
    const found = await search(this.ctx, 'Organization', [['identifier', `${FINESS_SYSTEM}|${finess}`], ['_count', '1']]);
    const organization = found.entry?.find((e) => e.search?.mode === 'match')?.resource;
    if (organization?.id) return { reference: `Organization/${organization.id}` };
    return { identifier: { system: FINESS_SYSTEM, value: finess }, display: 'Équipe de coordination du réseau' };
  }

  private async lastLiveVersion(resourceType: string, id: string): Promise<StoredVersion | undefined> {
    const current = await this.ctx.store.readCurrent(resourceType, id);
    for (let v = current?.versionId ?? 0; v >= 1; v--) {
      const version = v === current!.versionId ? current : await this.ctx.store.readVersion(resourceType, id, v);
      if (version && !version.deleted) return version;
    }
    return undefined;
  }

  /** Audits the refusal, then answers exactly as for an unknown id. */
  private async deny(rc: RequestContext, interaction: PolicyInteraction, resourceType: string, id: string, patients: readonly string[], reason: string): Promise<never> {
    await this.trail.record([this.record(rc, { interaction: auditInteraction(interaction), resourceType, id, patients, outcome: 'denied', outcomeDetail: reason }, false)]);
    throw errors.notFound(resourceType, id);
  }
}

/**
 * The store with some methods replaced; every other member is the store's
 * own, bound to it. `resultSetOwner` names the caller under RESULT_SET_OWNER:
 * the paging snapshots its searches store are usable by that caller only.
 */
function delegate(inner: ResourceStore, overrides: Partial<ResourceStore>, resultSetOwner?: string): ResourceStore {
  return new Proxy(inner, {
    get(target, property) {
      if (property === RESULT_SET_OWNER) return resultSetOwner;
      if (Object.prototype.hasOwnProperty.call(overrides, property)) return overrides[property as keyof ResourceStore];
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * The alert telling the coordination team that a practitioner opened patients'
 * records by break-the-glass in one request. Communication.subject holds one
 * patient at most (R4: 0..1), so the patients are listed in `about` (and named
 * in the text); with a single patient it is also the subject, so the alert is
 * found among that patient's communications. A page of results is bounded by
 * _count, so the list is too (each further page is its own request and alert).
 */
function breakTheGlassAlert(rc: RequestContext, patients: readonly string[], team: Reference): Communication {
  const who = rc.principal.name ?? (rc.principal.rpps ? `RPPS ${rc.principal.rpps}` : rc.principal.subject);
  const records = patients.length === 1 ? 'au dossier' : `aux dossiers de ${patients.length} patients`;
  return {
    resourceType: 'Communication',
    status: 'completed',
    category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'alert', display: 'Alerte' }] }],
    priority: 'urgent',
    ...(patients.length === 1 ? { subject: { reference: `Patient/${patients[0]}` } } : {}),
    about: patients.map((p) => ({ reference: `Patient/${p}` })),
    recipient: [team],
    ...(rc.principal.rpps ? { sender: { identifier: { system: RPPS_SYSTEM, value: rc.principal.rpps }, display: who } } : {}),
    sent: new Date().toISOString(),
    payload: [
      { contentString: `Accès en urgence (bris de glace) ${records} par ${who} : ${rc.breakTheGlass?.reason ?? ''}` },
      ...(patients.length > 1 ? [{ contentString: `Patients : ${patients.map((p) => `Patient/${p}`).join(', ')}` }] : []),
    ],
  };
}

/**
 * A grant under which the caller can see every resource of the type: no
 * restriction, or a coordinator without a launch patient (one deployment, one
 * network: they reach every patient it holds; see search-access.ts).
 */
function seesEverything(rc: RequestContext, grant: AllowedType): boolean {
  const restriction = grant.restriction;
  if (restriction.kind === 'unrestricted') return true;
  return restriction.kind === 'patient-compartment' && rc.principal.kind === 'coordinator' && restriction.launchPatient === undefined;
}

/** Criteria naming exactly one INS (system|value of an INS system) and nothing else: how $match finds a patient by INS. */
function isOneIns(criteria: Array<[string, string]>): boolean {
  if (criteria.length !== 1 || criteria[0][0] !== 'identifier') return false;
  const value = criteria[0][1];
  const bar = value.indexOf('|');
  return !value.includes(',') && bar > 0 && bar < value.length - 1 && INS_SYSTEMS.has(value.slice(0, bar));
}

function deniedReason(decision: InstanceDecision): string {
  return decision.allowed ? 'allowed' : decision.reason;
}

function auditInteraction(interaction: PolicyInteraction): AuditRecord['interaction'] {
  return interaction;
}
