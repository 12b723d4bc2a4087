/**
 * The coordination of a discharge to home, kept in step with the record: a
 * write extension (src/engine/transaction-extension.ts) that runs inside every
 * write concerning a discharge — the hospital's transaction that first
 * announces it (the intake), and every later write by the hospital or the
 * coordination team: the stay's Encounter and its dates, care orders,
 * medication and doses dispensed in advance, equipment, messages to family or
 * GP, the discharge letter, the care team, a nurse's answer — whether sent as
 * a transaction or alone. What it writes joins that write's unit of work, so
 * it is never lost, and it is planned from the stored state, so it is done
 * once:
 * - the coordination Task (owner: the coordination team; focus: the Encounter;
 *   the checklist in Task.input; the deadline, restriction.period.end, is the
 *   discharge moment) is created at the intake under a conditional-create guard
 *   on its identifier (derived from the stay's identity), then updated at the
 *   version read: items become done, the deadline follows the date;
 * - one Flag per alert rule in force, with a Communication to the team when it
 *   is raised; a Flag whose rule no longer holds is closed (status inactive,
 *   period.end); one whose rule holds again is raised again (a new period, the
 *   team told again); an open one follows the problem (its text: which items
 *   are missing, which date). The rules decide: the team acknowledges an alert
 *   by reading its message ($mark-read), not by closing the Flag;
 * - the nurse-first Tasks (nurse-first.ts), and the team told of each nurse's
 *   answer (nurse-answers.ts).
 * Two concurrent writes plan from the same versions: the store accepts the
 * first unit and refuses the second (version or guard conflict), which is then
 * re-planned from the new state and finds nothing left to do.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Communication, Encounter, Flag, Organization, Reference, Resource, Task, TaskInput } from 'fhir/r4';
import { createOperation, updateOperation } from '../engine/write-operations.js';
import type { PreparedEntry, PreparedWrite, WriteExtension } from '../engine/transaction-extension.js';
import type { StoredVersion, WriteOperation } from '../store/resource-store.js';
import {
  CHECKLIST_DISPLAY,
  CHECKLIST_ITEMS,
  COMMUNICATION_CATEGORY,
  DISCHARGE_CHECKLIST,
  FINESS,
  ID_COORDINATION_TASK,
  ID_DISCHARGE_ALERT,
  isTaskOfType,
  TASK_TYPE,
  taskCode,
  type ChecklistItem,
} from './coordination-codes.js';
import { evaluateAlerts, type Alert, type AlertSettings } from './discharge-alerts.js';
import { computeChecklist, type Checklist, type ChecklistStatus } from './discharge-checklist.js';
import { contentLinks, DISCHARGE_CONTENT_TYPES, encounterKey, isDischargeHome, readDischarge, type Discharge } from './discharge.js';
import type { LiberalRoundLimits } from './care-load.js';
import { nurseNotices } from './nurse-answers.js';
import { planNurseFirst } from './nurse-first.js';
import { practitionerName } from './professional-ranking.js';
import { ResourceLookup } from './resource-lookup.js';

export interface CoordinationSettings extends AlertSettings {
  coordinationTeamFiness?: string;
  radiusKm: number;
  maxCandidates: number;
  liberalRound: LiberalRoundLimits;
  serviceRadiusKm: number;
}

/** The opaque, deterministic identifier value of everything the coordination creates for one discharge. */
export function dischargeHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

export async function coordinationTeam(lookup: ResourceLookup, finess: string | undefined): Promise<Reference> {
  if (!finess) return { display: 'Équipe de coordination du réseau' };
  const [organization] = await lookup.searchAll<Organization>('Organization', [['identifier', `${FINESS}|${finess}`]]);
  if (organization) return { reference: `Organization/${organization.id}`, ...(organization.name ? { display: organization.name } : {}) };
  return { identifier: { system: FINESS, value: finess }, display: 'Équipe de coordination du réseau' };
}

/** Whether a resource is one the network's coordination wrote (alerts, notices): not a message from the hospital. */
function isNetworkMessage(resource: Resource): boolean {
  return ((resource as { identifier?: Array<{ system?: string }> }).identifier ?? []).some((i) => i.system?.startsWith('https://relais-sante.fr/fhir/sid/'));
}

const CLOSED_TASK = new Set(['completed', 'cancelled', 'entered-in-error', 'failed']);

interface Unit {
  write: PreparedWrite;
  lookup: ResourceLookup;
  /** "Type/id" the client's own write touches: the coordination never writes them too. */
  written: Set<string>;
  deleted: Set<string>;
  pending: Resource[];
  team?: Reference;
}

export class DischargeCoordination implements WriteExtension {
  readonly name = 'discharge-coordination';
  readonly types: ReadonlySet<string> = new Set(['Encounter', 'CareTeam', 'Task', ...DISCHARGE_CONTENT_TYPES]);

  constructor(private readonly settings: CoordinationSettings) {}

  async beforeCommit(write: PreparedWrite): Promise<WriteOperation[]> {
    const changed = write.entries.filter((e) => e.outcome !== 'existing' && this.types.has(e.resourceType));
    if (changed.length === 0) return [];
    const pending = write.entries.filter((e) => e.resource && e.outcome !== 'deleted').map((e) => e.resource!) as Resource[];
    const unit: Unit = {
      write,
      lookup: new ResourceLookup(write.server, write.ctx.baseUrl, pending),
      written: new Set(write.operations.map((op) => `${op.resourceType}/${op.id}`)),
      deleted: new Set(write.entries.filter((e) => e.outcome === 'deleted').map((e) => `${e.resourceType}/${e.id}`)),
      pending,
    };
    const operations: WriteOperation[] = [];
    for (const encounter of await this.dischargesConcerned(unit, changed)) operations.push(...(await this.coordinate(unit, encounter)));
    return operations;
  }

  private async team(unit: Unit): Promise<Reference> {
    unit.team ??= await coordinationTeam(unit.lookup, this.settings.coordinationTeamFiness);
    return unit.team;
  }

  /** The stays (Encounters) the changed entries concern: their own, or the open discharges of the patient they name. */
  private async dischargesConcerned(unit: Unit, changed: PreparedEntry[]): Promise<Encounter[]> {
    const { lookup } = unit;
    const stays = new Set<string>();
    const patients = new Set<string>();
    for (const entry of changed) {
      const versions = [entry.resource, entry.previous].filter((r): r is Resource => r !== undefined);
      if (entry.resourceType === 'Encounter') {
        if (versions.some((e) => isDischargeHome(e as Encounter))) stays.add(entry.id);
      } else if (entry.resourceType === 'Task') {
        const task = versions[0] as Task | undefined;
        const ours = task && (task.code?.coding ?? []).some((c) => c.system === TASK_TYPE);
        const stay = ours ? ResourceLookup.identity(task.encounter, lookup.baseUrl) : undefined;
        if (stay?.startsWith('Encounter/')) stays.add(stay.slice('Encounter/'.length));
      } else if (entry.resourceType === 'CareTeam') {
        const patient = ResourceLookup.identity((versions[0] as { subject?: Reference } | undefined)?.subject, lookup.baseUrl);
        if (patient?.startsWith('Patient/')) patients.add(patient.slice('Patient/'.length));
      } else {
        for (const version of versions) {
          if (isNetworkMessage(version)) continue;
          const links = contentLinks(version, lookup.baseUrl);
          links.stays.forEach((s) => stays.add(s));
          if (links.stays.length === 0) links.patients.forEach((p) => patients.add(p));
        }
      }
    }
    // A patient named without a stay: the discharges of that patient still being coordinated.
    for (const patient of patients) {
      const tasks = await lookup.searchAll<Task>('Task', [['patient', `Patient/${patient}`], ['identifier', `${ID_COORDINATION_TASK}|`]]);
      for (const task of tasks) {
        if (CLOSED_TASK.has(task.status)) continue;
        const stay = ResourceLookup.identity(task.focus, lookup.baseUrl);
        if (stay?.startsWith('Encounter/')) stays.add(stay.slice('Encounter/'.length));
      }
    }
    const encounters: Encounter[] = [];
    for (const id of stays) {
      if (unit.deleted.has(`Encounter/${id}`)) continue;
      const encounter = await lookup.read<Encounter>(`Encounter/${id}`);
      if (encounter) encounters.push(encounter);
    }
    return encounters;
  }

  private async coordinate(unit: Unit, encounter: Encounter): Promise<WriteOperation[]> {
    const { write, lookup } = unit;
    const key = encounterKey(encounter);
    const hash = dischargeHash(key);
    const { matches, guardKey } = await write.server.conditionalMatch('Task', [['identifier', `${ID_COORDINATION_TASK}|${hash}`]]);
    const stored: StoredVersion | undefined = matches[0];
    const home = isDischargeHome(encounter);
    if (!stored && !home) return []; // not (or no longer) a discharge home, and never coordinated
    const clientTask = stored && unit.written.has(`Task/${stored.id}`) ? (unit.pending.find((r) => r.resourceType === 'Task' && r.id === stored.id) as Task | undefined) : undefined;
    const current = clientTask ?? (stored?.resource as Task | undefined);
    const notice = current?.authoredOn ? new Date(current.authoredOn) : bundleTime(write) ?? new Date();
    const newStay = write.entries.some((e) => e.resourceType === 'Encounter' && e.id === encounter.id && e.outcome === 'created');
    const discharge = await readDischarge(lookup, encounter, { pending: unit.pending, deleted: unit.deleted, noticeFrom: notice, newStay });
    discharge.communications = discharge.communications.filter((c) => !isNetworkMessage(c));
    if (!home) discharge.cancelled = true;

    const team = await this.team(unit);
    const taskId = stored?.id ?? randomUUID();
    const taskRef = { reference: `Task/${taskId}` };
    // A stay this very write creates has nothing stored about it yet: no Tasks, no Flags to look for.
    const nurseTasks = newStay ? [] : await this.nurseTasksOf(unit, encounter, taskId);
    const operations: WriteOperation[] = [];

    // A nurse's answer carried by this write: checked, and the team told.
    const names = await this.ownerNames(unit, nurseTasks);
    const notices = nurseNotices(
      write.entries.filter((e) => nurseTasks.some((t) => t.id === e.id)),
      team,
      (task) => String(write.entries.find((e) => e.resourceType === 'Task' && e.id === task.id)?.previous?.meta?.versionId ?? '0'),
      (task) => names.get(task.owner?.reference ?? ''),
    );
    for (const notice of notices) operations.push(createOperation(write.ctx, 'Communication', notice.message, randomUUID()));

    const plan = await planNurseFirst(
      lookup,
      discharge,
      hash,
      taskRef,
      nurseTasks,
      { radiusKm: this.settings.radiusKm, maxCandidates: this.settings.maxCandidates, team, liberalRound: this.settings.liberalRound, serviceRadiusKm: this.settings.serviceRadiusKm },
      randomUUID,
    );
    const checklist = computeChecklist(discharge, plan.answer, storedChecklist(current));
    const alerts: Alert[] = discharge.cancelled ? [] : [...evaluateAlerts(discharge, checklist, this.settings), ...plan.alerts.filter((a) => this.settings.rules.has(a.rule))];

    const desired = this.coordinationTask(discharge, hash, taskId, team, checklist, alerts, current);
    if (!stored) operations.push(createOperation(write.ctx, 'Task', desired, taskId, guardKey));
    else if (!clientTask && changedTask(stored.resource as Task, desired)) operations.push(updateOperation(write.ctx, desired, stored.versionId));

    operations.push(...(await this.reconcileAlerts(unit, discharge, hash, taskRef, team, alerts, newStay)));
    for (const task of plan.create) operations.push(createOperation(write.ctx, 'Task', task, task.id));
    for (const task of plan.update) {
      if (unit.written.has(`Task/${task.id}`)) continue;
      const version = Number(task.meta?.versionId);
      if (Number.isInteger(version)) operations.push(updateOperation(write.ctx, task, version));
    }
    return operations;
  }

  /** The discharge's nurse Tasks (relais-task-type codes other than the coordination itself), as this write leaves them. */
  private async nurseTasksOf(unit: Unit, encounter: Encounter, coordinationTaskId: string): Promise<Task[]> {
    const stored = await unit.lookup.searchAll<Task>('Task', [['encounter', `Encounter/${encounter.id}`]]);
    const byId = new Map(stored.map((t) => [t.id!, t]));
    for (const resource of unit.pending) {
      if (resource.resourceType !== 'Task') continue;
      const task = resource as Task;
      if (ResourceLookup.identity(task.encounter, unit.lookup.baseUrl) === `Encounter/${encounter.id}`) byId.set(task.id!, { ...task, meta: byId.get(task.id!)?.meta ?? task.meta ?? {} });
      else byId.delete(task.id!);
    }
    return [...byId.values()].filter((t) => t.id !== coordinationTaskId && !unit.deleted.has(`Task/${t.id}`) && (t.code?.coding ?? []).some((c) => c.system === TASK_TYPE) && !isTaskOfType(t, 'discharge-coordination'));
  }

  /** "PractitionerRole/id" → "Mme Claire MOREAU", for the notices to the team. */
  private async ownerNames(unit: Unit, tasks: Task[]): Promise<Map<string, string>> {
    const names = new Map<string, string>();
    for (const owner of new Set(tasks.map((t) => t.owner?.reference).filter((r): r is string => !!r))) {
      if (!owner.startsWith('PractitionerRole/')) continue;
      const role = await unit.lookup.read<import('fhir/r4').PractitionerRole>(owner);
      const name = practitionerName(await unit.lookup.resolve<import('fhir/r4').Practitioner>(role?.practitioner, 'Practitioner'));
      if (name) names.set(owner, name);
    }
    return names;
  }

  private coordinationTask(discharge: Discharge, hash: string, id: string, team: Reference, checklist: Checklist, alerts: Alert[], current: Task | undefined): Task {
    const patientRef = discharge.patient ? { reference: `Patient/${discharge.patient.id}` } : undefined;
    const encounterRef = { reference: `Encounter/${discharge.encounter.id}` };
    const checklistInputs: TaskInput[] = CHECKLIST_ITEMS.map((item) => ({
      type: { coding: [{ system: DISCHARGE_CHECKLIST, code: item, display: CHECKLIST_DISPLAY[item] }] },
      valueCode: checklist[item],
    }));
    const otherInputs = (current?.input ?? []).filter((i) => !(i.type.coding ?? []).some((c) => c.system === DISCHARGE_CHECKLIST));
    const description = discharge.cancelled
      ? 'Séjour annulé ou sortie vers un autre lieu que le domicile : coordination close.'
      : alerts.length > 0
        ? `Retour à domicile à organiser. Alertes : ${alerts.map((a) => a.text).join(' ; ')}`
        : 'Retour à domicile à organiser.';
    const { restriction: _r, ...base } = current ?? ({} as Partial<Task>);
    const status: Task['status'] = discharge.cancelled && current && !CLOSED_TASK.has(current.status) ? 'cancelled' : (current?.status ?? 'requested');
    return {
      ...base,
      resourceType: 'Task',
      id,
      identifier: current?.identifier ?? [{ system: ID_COORDINATION_TASK, value: hash }],
      status,
      intent: current?.intent ?? 'order',
      priority: alerts.length > 0 ? 'urgent' : 'routine',
      code: taskCode('discharge-coordination'),
      description,
      focus: encounterRef,
      ...(patientRef ? { for: patientRef } : {}),
      encounter: encounterRef,
      authoredOn: current?.authoredOn ?? discharge.noticeFrom.toISOString(),
      owner: current?.owner ?? team,
      ...(discharge.at ? { restriction: { period: { end: discharge.at.toISOString() } } } : {}),
      input: [...checklistInputs, ...otherInputs],
    } as Task;
  }

  private async reconcileAlerts(unit: Unit, discharge: Discharge, hash: string, taskRef: Reference, team: Reference, alerts: Alert[], newStay: boolean): Promise<WriteOperation[]> {
    const { write, lookup } = unit;
    const ctx = write.ctx;
    const now = new Date().toISOString();
    const patientRef = discharge.patient ? { reference: `Patient/${discharge.patient.id}` } : undefined;
    const encounterRef = { reference: `Encounter/${discharge.encounter.id}` };
    const flags = (newStay ? [] : await lookup.searchAll<Flag>('Flag', [['encounter', encounterRef.reference]])).filter((f) => (f.identifier ?? []).some((i) => i.system === ID_DISCHARGE_ALERT && i.value?.startsWith(`${hash}-`)));
    const byRule = new Map(flags.map((f) => [f.identifier!.find((i) => i.system === ID_DISCHARGE_ALERT)!.value!.slice(hash.length + 1), f]));
    const operations: WriteOperation[] = [];
    const message = (alert: Alert, flagId: string | undefined, value: string): Communication => ({
      resourceType: 'Communication',
      identifier: [{ system: ID_DISCHARGE_ALERT, value }],
      status: 'completed',
      category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'alert' }] }],
      priority: 'urgent',
      ...(patientRef ? { subject: patientRef } : {}),
      encounter: encounterRef,
      about: [...(flagId ? [{ reference: `Flag/${flagId}` }] : []), taskRef],
      recipient: [team],
      sent: now,
      payload: [{ contentString: alert.text }],
    });

    for (const alert of alerts) {
      const value = `${hash}-${alert.rule}`;
      const flag = byRule.get(alert.rule);
      if (flag && unit.written.has(`Flag/${flag.id}`)) continue; // the team is writing it now
      if (!patientRef) {
        // No patient, no Flag: the message alone, once.
        const { matches, guardKey } = await write.server.conditionalMatch('Communication', [['identifier', `${ID_DISCHARGE_ALERT}|${value}`]]);
        if (matches.length === 0) operations.push(createOperation(ctx, 'Communication', message(alert, undefined, value), randomUUID(), guardKey));
        continue;
      }
      if (!flag) {
        const flagId = randomUUID();
        // A new stay's Flags are guarded by its coordination Task's own guard (created in the same unit).
        const guardKey = newStay ? undefined : (await write.server.conditionalMatch('Flag', [['identifier', `${ID_DISCHARGE_ALERT}|${value}`]])).guardKey;
        const created: Flag = {
          resourceType: 'Flag',
          id: flagId,
          identifier: [{ system: ID_DISCHARGE_ALERT, value }],
          status: 'active',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'admin', display: 'Administrative' }] }],
          code: { text: alert.text },
          subject: patientRef,
          period: { start: now },
          encounter: encounterRef,
          ...(team.reference ? { author: team } : {}),
        };
        operations.push(createOperation(ctx, 'Flag', created, flagId, guardKey));
        operations.push(createOperation(ctx, 'Communication', message(alert, flagId, value), randomUUID()));
        continue;
      }
      const version = Number(flag.meta?.versionId);
      if (flag.status === 'active') {
        if (flag.code.text !== alert.text) operations.push(updateOperation(ctx, { ...flag, code: { text: alert.text } }, version));
      } else {
        // Closed, and the problem is back: raised again (a new period), and the team told again.
        operations.push(updateOperation(ctx, { ...flag, status: 'active', code: { text: alert.text }, period: { start: now } }, version));
        operations.push(createOperation(ctx, 'Communication', message(alert, flag.id, `${value}-${version + 1}`), randomUUID()));
      }
    }
    const raised = new Set(alerts.map((a) => a.rule as string));
    for (const [rule, flag] of byRule) {
      if (raised.has(rule) || flag.status !== 'active' || unit.written.has(`Flag/${flag.id}`)) continue;
      // Resolved: closed, with the moment it ended.
      operations.push(updateOperation(ctx, { ...flag, status: 'inactive', period: { ...flag.period, end: now } }, Number(flag.meta?.versionId)));
    }
    return operations;
  }
}

function bundleTime(write: PreparedWrite): Date | undefined {
  const timestamp = write.bundle?.timestamp ? new Date(write.bundle.timestamp) : undefined;
  return timestamp && !Number.isNaN(timestamp.getTime()) ? timestamp : undefined;
}

function storedChecklist(task: Task | undefined): Partial<Checklist> {
  const out: Partial<Checklist> = {};
  for (const input of task?.input ?? []) {
    const code = input.type.coding?.find((c) => c.system === DISCHARGE_CHECKLIST)?.code as ChecklistItem | undefined;
    if (code && input.valueCode) out[code] = input.valueCode as ChecklistStatus;
  }
  return out;
}

/** Whether the Task the plan wants differs from the stored one (server-managed meta aside, whatever the key order). */
function changedTask(stored: Task, desired: Task): boolean {
  const strip = ({ meta: _m, ...rest }: Task) => rest;
  return canonical(strip(stored)) !== canonical(strip(desired));
}

/** JSON with object keys sorted: two resources with the same content give the same text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
