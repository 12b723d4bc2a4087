/**
 * The graded response, up to intensive case management (DOMAIN.md,
 * "Graduated response"): escalating a situation is a coded request — a
 * ServiceRequest whose code is relais-graded-response#case-management — sent
 * by the coordination cell or a professional of the care team. In the same
 * write (a write extension), Relais
 * - opens the EpisodeOfCare of the case management (type case-management,
 *   status waitlist, managing organisation: the coordination team; the
 *   request as its referral), the period the case manager will carry;
 * - asks the coordination team to take it up (a Task, relais-task-type
 *   case-management, basedOn the request);
 * - tells the team, and the patient's care teams (their inboxes).
 * It then follows: the Task accepted or in progress with a case manager as
 * owner makes the episode active, with that care manager; the request
 * completed or revoked (or the Task cancelled) ends it (finished / cancelled).
 * Everything is identified from the request, created under conditional-create
 * guards and updated at the version read: never twice, never lost.
 */
import { randomUUID } from 'node:crypto';
import type { CareTeam, Communication, EpisodeOfCare, Reference, Resource, ServiceRequest, Task } from 'fhir/r4';
import { createOperation, updateOperation } from '../engine/write-operations.js';
import type { PreparedWrite, WriteExtension } from '../engine/transaction-extension.js';
import type { WriteOperation } from '../store/resource-store.js';
import { COMMUNICATION_CATEGORY, GRADED_RESPONSE, ID_COORDINATION_MESSAGE, isTaskOfType, taskCode } from './coordination-codes.js';
import { coordinationTeam } from './discharge-coordination.js';
import { ResourceLookup } from './resource-lookup.js';

export const ID_CASE_MANAGEMENT = 'https://relais-sante.fr/fhir/sid/case-management';

const ENDED_REQUEST: Partial<Record<ServiceRequest['status'], EpisodeOfCare['status']>> = { completed: 'finished', revoked: 'cancelled', 'entered-in-error': 'entered-in-error' };

function isEscalation(resource: Resource | undefined): resource is ServiceRequest {
  return resource?.resourceType === 'ServiceRequest' && ((resource as ServiceRequest).code?.coding ?? []).some((c) => c.system === GRADED_RESPONSE && c.code === 'case-management');
}

export class CaseManagementEscalation implements WriteExtension {
  readonly name = 'case-management';
  readonly types: ReadonlySet<string> = new Set(['ServiceRequest', 'Task']);

  constructor(private readonly settings: { coordinationTeamFiness?: string }) {}

  async beforeCommit(write: PreparedWrite): Promise<WriteOperation[]> {
    const pending = write.entries.filter((e) => e.resource && e.outcome !== 'deleted').map((e) => e.resource!) as Resource[];
    const lookup = new ResourceLookup(write.server, write.ctx.baseUrl, pending);
    const requests = new Map<string, ServiceRequest>();
    for (const entry of write.entries) {
      if (entry.outcome === 'existing' || entry.outcome === 'deleted') continue;
      if (isEscalation(entry.resource)) requests.set(entry.id, entry.resource);
      else if (entry.resourceType === 'Task' && isTaskOfType(entry.resource as Task, 'case-management')) {
        const request = await lookup.resolve<ServiceRequest>((entry.resource as Task).basedOn?.[0], 'ServiceRequest');
        if (isEscalation(request)) requests.set(request.id!, request);
      }
    }
    const written = new Set(write.operations.map((op) => `${op.resourceType}/${op.id}`));
    const operations: WriteOperation[] = [];
    for (const request of requests.values()) operations.push(...(await this.follow(write, lookup, request, written)));
    return operations;
  }

  private async follow(write: PreparedWrite, lookup: ResourceLookup, request: ServiceRequest, written: Set<string>): Promise<WriteOperation[]> {
    const { ctx, server } = write;
    const identifier = { system: ID_CASE_MANAGEMENT, value: request.id! };
    const criteria = `${ID_CASE_MANAGEMENT}|${request.id}`;
    const episodeMatch = await server.conditionalMatch('EpisodeOfCare', [['identifier', criteria]]);
    const taskMatch = await server.conditionalMatch('Task', [['identifier', criteria]]);
    const pendingTask = lookup.pendingOfType<Task>('Task').find((t) => t.id === taskMatch.matches[0]?.id);
    const task = pendingTask ?? (taskMatch.matches[0]?.resource as Task | undefined);
    const operations: WriteOperation[] = [];
    const now = new Date().toISOString();
    const team = await coordinationTeam(lookup, this.settings.coordinationTeamFiness);

    if (!episodeMatch.matches[0]) {
      if (ENDED_REQUEST[request.status] || request.status === 'draft') return []; // nothing asked yet, or already over
      const episodeId = randomUUID();
      const taskId = randomUUID();
      const episode: EpisodeOfCare = {
        resourceType: 'EpisodeOfCare',
        id: episodeId,
        identifier: [identifier],
        status: 'waitlist',
        statusHistory: [{ status: 'waitlist', period: { start: now } }],
        type: [{ coding: [{ system: GRADED_RESPONSE, code: 'case-management', display: 'Gestion de cas' }] }],
        patient: request.subject,
        ...(team.reference ? { managingOrganization: team } : {}),
        period: { start: now },
        referralRequest: [{ reference: `ServiceRequest/${request.id}` }],
      };
      const reason = request.reasonCode?.[0]?.text ?? request.note?.[0]?.text;
      const newTask: Task = {
        resourceType: 'Task',
        id: taskId,
        identifier: [identifier],
        status: 'requested',
        intent: 'order',
        priority: request.priority === 'routine' ? 'routine' : 'urgent',
        code: taskCode('case-management'),
        description: `Orientation vers la gestion de cas${reason ? ` : ${reason}` : ''}. Désigner un(e) gestionnaire de cas (Task.owner) et accepter la tâche.`,
        basedOn: [{ reference: `ServiceRequest/${request.id}` }],
        focus: { reference: `ServiceRequest/${request.id}` },
        for: request.subject,
        authoredOn: now,
        requester: team,
        owner: team,
      };
      operations.push(createOperation(ctx, 'EpisodeOfCare', episode, episodeId, episodeMatch.guardKey));
      operations.push(createOperation(ctx, 'Task', newTask, taskId, taskMatch.guardKey));
      operations.push(createOperation(ctx, 'Communication', await this.notice(lookup, request, team, reason, taskId, now), randomUUID()));
      return operations;
    }

    // Follow the request and its Task.
    const stored = episodeMatch.matches[0];
    const episode = stored.resource as EpisodeOfCare;
    let status: EpisodeOfCare['status'] = episode.status;
    let careManager: Reference | undefined = episode.careManager;
    const ended = ENDED_REQUEST[request.status];
    if (ended) status = ended;
    else if (task?.status === 'cancelled' || task?.status === 'rejected') status = 'cancelled';
    else if ((task?.status === 'accepted' || task?.status === 'in-progress') && /^(Practitioner|PractitionerRole)\//.test(task.owner?.reference ?? '')) {
      status = 'active';
      careManager = task.owner;
    }
    if (status !== episode.status || careManager?.reference !== episode.careManager?.reference) {
      const history = [...(episode.statusHistory ?? [])];
      const last = history.at(-1);
      if (status !== episode.status) {
        // A copy: the stored version's own history entry must not change (a body read through a store is never changed in place).
        if (last && !last.period.end) history[history.length - 1] = { ...last, period: { ...last.period, end: now } };
        history.push({ status, period: { start: now } });
      }
      const closed = status === 'finished' || status === 'cancelled' || status === 'entered-in-error';
      const updated: EpisodeOfCare = {
        ...episode,
        status,
        statusHistory: history,
        ...(careManager ? { careManager } : {}),
        ...(closed ? { period: { ...episode.period, end: now } } : {}),
      };
      if (!written.has(`EpisodeOfCare/${episode.id}`)) operations.push(updateOperation(ctx, updated, stored.versionId));
    }
    // The request ended: an open Task for the team lapses.
    if (ended && task && !['completed', 'cancelled', 'failed', 'rejected'].includes(task.status) && !written.has(`Task/${task.id}`) && taskMatch.matches[0]) {
      operations.push(updateOperation(ctx, { ...task, status: ended === 'finished' ? 'completed' : 'cancelled' }, taskMatch.matches[0].versionId));
    }
    return operations;
  }

  /** The message telling the coordination team and the patient's care teams (their inboxes). */
  private async notice(lookup: ResourceLookup, request: ServiceRequest, team: Reference, reason: string | undefined, taskId: string, now: string): Promise<Communication> {
    const patient = ResourceLookup.identity(request.subject, lookup.baseUrl);
    const careTeams = patient ? (await lookup.searchAll<CareTeam>('CareTeam', [['patient', patient], ['status', 'active']])).filter((t) => !t.meta?.source?.includes('#')) : [];
    const by = request.requester?.display ?? request.requester?.reference ?? "l'équipe";
    return {
      resourceType: 'Communication',
      identifier: [{ system: ID_COORDINATION_MESSAGE, value: `case-management-${request.id}` }],
      status: 'completed',
      category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'information' }] }],
      priority: 'urgent',
      ...(request.subject ? { subject: request.subject } : {}),
      about: [{ reference: `ServiceRequest/${request.id}` }, { reference: `Task/${taskId}` }],
      recipient: [team, ...careTeams.map((t) => ({ reference: `CareTeam/${t.id}` }))],
      sent: now,
      payload: [{ contentString: `Orientation vers la gestion de cas demandée par ${by}${reason ? ` : ${reason}` : ''}. La situation entre dans la réponse graduée au niveau le plus intensif.` }],
    };
  }
}
