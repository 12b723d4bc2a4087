/**
 * Gathers the facts the access policy decides on, from the store, for one
 * request: who the practitioner is (Practitioner by RPPS, their
 * PractitionerRoles and organisations), whether they or their organisation
 * signed an executed Contract, and per patient the active Consents and
 * CareTeams. The judging is done by the pure functions of access-facts.ts.
 * Reads go through the search interaction on the engine's own context (the
 * server acting for itself): the facts must not depend on what the caller sees.
 * Kept across requests only while exact (fact-cache.ts), so a revocation
 * applies to the very next request.
 */
import type { Bundle, CareTeam, Consent, Contract, PractitionerRole, Resource, Task } from 'fhir/r4';
import type { Principal } from '../identity/principal.js';
import { RPPS_SYSTEM } from '../identity/principal.js';
import type { EngineContext } from '../engine/engine-context.js';
import { search } from '../engine/interactions/search.js';
import {
  careTeamIncludes,
  careTeamPatient,
  consentPermitsSharing,
  contractCovers,
  isOpenRequest,
  isRequestAddressedTo,
  namedByRequest,
  organizationsUnderConvention,
  REQUEST_TASK_CODES,
  type PractitionerIdentity,
} from './access-facts.js';
import { isSubmissionSource, type PatientFacts, type RequestReach } from './access-policy.js';
import { forgetOnFailure, PrincipalFacts, type FactCache } from './fact-cache.js';
import { TASK_TYPE } from '../coordination/coordination-codes.js';

/** The requests addressed to a practitioner (request grant): her Tasks, and what the open ones name ("Type/id" → the Task). */
export interface AddressedRequests {
  tasks: Map<string, Task>;
  named: Map<string, string>;
}

const REF_ID = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

function matches<T extends Resource>(bundle: Bundle<Resource>): T[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.resource).map((e) => e.resource as T);
}

/**
 * A CareTeam a hospital sent (its submission mark in meta.source, which only the
 * server sets) tells the network who the patient's professionals are; it opens no
 * record: the care team that grants access is the one the coordination team keeps.
 */
function grantsAccess(team: CareTeam): boolean {
  return !isSubmissionSource(team.meta?.source);
}

/** The periods a care team's decision depends on: its own and its participants'. */
function teamPeriods(team: CareTeam) {
  return [team.period, ...(team.participant ?? []).map((p) => p.period)];
}

export class FactGatherer {
  private shared?: Promise<PrincipalFacts>;
  // Per request, never across requests: conventions and the requests addressed to her (Tasks, not a fact type of fact-cache.ts).
  private contracts?: Promise<Contract[]>;
  private covered?: Promise<Set<string>>;
  private requests?: Promise<AddressedRequests>;

  constructor(
    private readonly ctx: EngineContext,
    private readonly principal: Principal,
    private readonly cache?: FactCache,
  ) {}

  /** The principal's facts this request decides on: from the cache when still exact, else gathered anew (fact-cache.ts). */
  private sharedFacts(): Promise<PrincipalFacts> {
    this.shared ??= this.cache ? this.cache.current(this.principal) : Promise.resolve(new PrincipalFacts(''));
    return this.shared;
  }

  private async find<T extends Resource>(type: string, params: Array<[string, string]>): Promise<T[]> {
    return matches<T>(await search(this.ctx, type, [...params, ['_count', String(this.ctx.limits.maxCount)]]));
  }

  /** Who the practitioner is in the directory (undefined for other principals, or an RPPS the directory does not hold). */
  async identity(): Promise<PractitionerIdentity | undefined> {
    const rpps = this.principal.rpps;
    if (this.principal.kind !== 'practitioner' || !rpps) return undefined;
    const shared = await this.sharedFacts();
    shared.identity ??= forgetOnFailure(this.gatherIdentity(rpps), () => (shared.identity = undefined));
    return shared.identity;
  }

  private async gatherIdentity(rpps: string): Promise<PractitionerIdentity> {
    const practitioners = await this.find('Practitioner', [['identifier', `${RPPS_SYSTEM}|${rpps}`]]);
    const practitionerIds = new Set(practitioners.map((p) => p.id!));
    const roles: PractitionerRole[] = [];
    for (const id of practitionerIds) roles.push(...(await this.find<PractitionerRole>('PractitionerRole', [['practitioner', `Practitioner/${id}`]])));
    const roleIds = new Set(roles.filter((r) => r.active !== false).map((r) => r.id!));
    const organizationIds = new Set(
      roles
        .filter((r) => r.active !== false)
        .map((r) => REF_ID.exec(r.organization?.reference ?? ''))
        .filter((m): m is RegExpExecArray => !!m && m[1] === 'Organization')
        .map((m) => m[2]),
    );
    return { rpps, practitionerIds, roleIds, organizationIds, ...(this.principal.finess ? { finess: this.principal.finess } : {}) };
  }

  private async hasAgreement(): Promise<boolean> {
    const who = await this.identity();
    if (!who) return false;
    const shared = await this.sharedFacts();
    shared.agreement ??= forgetOnFailure(
      (async () => {
        const now = new Date();
        const contracts = await this.find<Contract>('Contract', [['status', 'executed']]);
        shared.judgedOn(contracts.map((c) => c.applies), now);
        return contracts.some((c) => contractCovers(c, who, now));
      })(),
      () => (shared.agreement = undefined),
    );
    return shared.agreement;
  }

  private executedContracts(): Promise<Contract[]> {
    this.contracts ??= this.find<Contract>('Contract', [['status', 'executed']]);
    return this.contracts;
  }

  /** Her organisations whose convention with the network is executed: a care team listing one covers her. */
  coveredOrganizations(): Promise<Set<string>> {
    this.covered ??= (async () => {
      const who = await this.identity();
      return who ? organizationsUnderConvention(await this.executedContracts(), who, new Date()) : new Set<string>();
    })();
    return this.covered;
  }

  /** The requests addressed to this practitioner (request grant, access-policy.ts decideRequestGrant). */
  addressedRequests(): Promise<AddressedRequests> {
    this.requests ??= (async () => {
      const found: AddressedRequests = { tasks: new Map(), named: new Map() };
      const who = await this.identity();
      if (!who) return found;
      const owners = [...[...who.practitionerIds].map((id) => `Practitioner/${id}`), ...[...who.roleIds].map((id) => `PractitionerRole/${id}`)];
      if (owners.length === 0) return found;
      const codes = [...REQUEST_TASK_CODES].map((code) => `${TASK_TYPE}|${code}`).join(',');
      for (const task of await this.find<Task>('Task', [['owner', owners.join(',')], ['code', codes]])) {
        if (!isRequestAddressedTo(task, who)) continue;
        found.tasks.set(task.id!, task);
        if (isOpenRequest(task)) for (const named of namedByRequest(task)) if (!found.named.has(named)) found.named.set(named, task.id!);
      }
      return found;
    })();
    return this.requests;
  }

  /** Her request Tasks and what the open ones name, as the search filter takes them (search-access.ts). */
  async requestGrants(): Promise<{ tasks: string[]; named: string[] }> {
    if (this.principal.kind !== 'practitioner') return { tasks: [], named: [] };
    const requests = await this.addressedRequests();
    return { tasks: [...requests.tasks.keys()], named: [...requests.named.keys()] };
  }

  /** How a resource stands to the requests addressed to this practitioner, and the request that opens it. */
  async requestReach(resource: Resource): Promise<{ reach: RequestReach; task?: string }> {
    if (this.principal.kind !== 'practitioner') return { reach: 'none' };
    const requests = await this.addressedRequests();
    if (resource.resourceType === 'Task' && requests.tasks.has(resource.id!)) {
      // Judged on this version: still addressed to her and still a request.
      const who = await this.identity();
      if (who && isRequestAddressedTo(resource as Task, who)) return { reach: 'addressed', task: resource.id! };
    }
    const via = requests.named.get(`${resource.resourceType}/${resource.id}`);
    return via ? { reach: 'named-by-open-request', task: via } : { reach: 'none' };
  }

  /** The facts about one patient for this principal. */
  async factsOf(patientId: string): Promise<PatientFacts> {
    // One Relais deployment serves one network: its coordinators coordinate every patient it holds.
    if (this.principal.kind === 'coordinator') return { consent: false, careTeam: false, agreement: false, inNetwork: true };
    const who = await this.identity();
    if (!who) return { consent: false, careTeam: false, agreement: false, inNetwork: false };
    const shared = await this.sharedFacts();
    return shared.patient(patientId, () => this.gather(shared, who, patientId));
  }

  private async gather(shared: PrincipalFacts, who: PractitionerIdentity, patientId: string): Promise<PatientFacts> {
    const now = new Date();
    const reference = `Patient/${patientId}`;
    const [consents, careTeams, agreement, covered] = await Promise.all([
      this.find<Consent>('Consent', [['patient', reference], ['status', 'active']]),
      this.find<CareTeam>('CareTeam', [['patient', reference], ['status', 'active']]),
      this.hasAgreement(),
      this.coveredOrganizations(),
    ]);
    shared.judgedOn([...consents.map((c) => c.provision?.period), ...careTeams.flatMap(teamPeriods)], now);
    return {
      consent: consents.some((c) => consentPermitsSharing(c, patientId, now)),
      careTeam: careTeams.some((t) => grantsAccess(t) && careTeamIncludes(t, who, now, covered)),
      agreement,
      inNetwork: true,
    };
  }

  /**
   * The patients this practitioner may reach without break-the-glass: those of
   * the active CareTeams naming them (by Practitioner, PractitionerRole or
   * RPPS, or an organisation of hers under convention), kept when all three
   * conditions hold.
   */
  async reachablePatients(): Promise<string[]> {
    const who = await this.identity();
    if (!who) return [];
    const shared = await this.sharedFacts();
    shared.reachable ??= forgetOnFailure(this.gatherReachable(shared, who), () => (shared.reachable = undefined));
    return shared.reachable;
  }

  private async gatherReachable(shared: PrincipalFacts, who: PractitionerIdentity): Promise<string[]> {
    const now = new Date();
    const covered = await this.coveredOrganizations();
    const members = [
      ...[...who.practitionerIds].map((id) => `Practitioner/${id}`),
      ...[...who.roleIds].map((id) => `PractitionerRole/${id}`),
      ...[...covered].map((id) => `Organization/${id}`),
    ];
    const teams: CareTeam[] = [];
    if (members.length > 0) teams.push(...(await this.find<CareTeam>('CareTeam', [['participant', members.join(',')], ['status', 'active']])));
    teams.push(...(await this.find<CareTeam>('CareTeam', [['participant:identifier', `${RPPS_SYSTEM}|${who.rpps}`], ['status', 'active']])));
    shared.judgedOn(teams.flatMap(teamPeriods), now);
    const candidates = new Set(teams.filter((t) => grantsAccess(t) && careTeamIncludes(t, who, now, covered)).map(careTeamPatient).filter((p): p is string => p !== undefined));
    const reachable: string[] = [];
    for (const patient of candidates) {
      const f = await this.factsOf(patient);
      if (f.consent && f.careTeam && f.agreement) reachable.push(patient);
    }
    return reachable;
  }

  /**
   * Why the principal's directory entry is missing or inactive (directory-identity.ts), looked
   * up by `lookup` once per set of facts; undefined for the kinds that are not looked up.
   */
  async directoryProblem(lookup: () => Promise<string | undefined>): Promise<string | undefined> {
    const looked = (this.principal.kind === 'practitioner' && this.principal.rpps) || (this.principal.kind === 'system' && this.principal.finess);
    if (!looked) return undefined;
    const shared = await this.sharedFacts();
    shared.directoryProblem ??= forgetOnFailure(lookup(), () => (shared.directoryProblem = undefined));
    return shared.directoryProblem;
  }

  /** Facts for several patients, fetched concurrently, as the synchronous lookup decidePatients takes. */
  async lookup(patients: readonly string[]): Promise<(patientId: string) => PatientFacts> {
    const entries = await Promise.all(patients.map(async (p) => [p, await this.factsOf(p)] as const));
    const map = new Map(entries);
    return (id) => map.get(id) ?? { consent: false, careTeam: false, agreement: false, inNetwork: false };
  }
}

const perRequest = new WeakMap<object, FactGatherer>();

/**
 * The facts of one request, from one change stamp whatever number of hook
 * points ask (a Bundle's hundred entries, a listing then its audit): memoised
 * on the caller, which is the request's own object. Dropped after each of the
 * caller's writes (`forgetFacts`), so a Consent or CareTeam a Bundle writes
 * counts for its later entries (the next gatherer reads the stamp again).
 */
export function gathererFor(deps: { ctx: EngineContext; facts?: FactCache }, caller: { principal: Principal }): FactGatherer {
  let gatherer = perRequest.get(caller);
  if (!gatherer) {
    gatherer = new FactGatherer(deps.ctx, caller.principal, deps.facts);
    perRequest.set(caller, gatherer);
  }
  return gatherer;
}

export function forgetFacts(caller: object): void {
  perRequest.delete(caller);
}
