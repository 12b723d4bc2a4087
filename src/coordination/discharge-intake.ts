/**
 * Discharge intake: when a transaction commits an Encounter discharged to home,
 * the coordination work is added to the SAME unit of work (a transaction
 * extension), so it is never lost (it commits with the discharge) and never
 * done twice: the coordination Task carries an identifier derived from the
 * Encounter's identifier and is written as a conditional create (guard key), so
 * a re-post or a concurrent post of the same discharge finds it and adds
 * nothing, and a race between two posts aborts and re-plans the loser.
 *
 * Written for each new discharge: the coordination Task (owner: the
 * coordination team; focus: the Encounter; checklist in Task.input), one Flag
 * and one Communication (category alert) per alert, and the nurse-first Tasks.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Communication, Encounter, Flag, Organization, Reference, Resource, Task } from 'fhir/r4';
import { createOperation } from '../engine/write-operations.js';
import type { PreparedTransaction, TransactionExtension } from '../engine/transaction-extension.js';
import type { WriteOperation } from '../store/resource-store.js';
import {
  CHECKLIST_DISPLAY,
  CHECKLIST_ITEMS,
  COMMUNICATION_CATEGORY,
  DISCHARGE_CHECKLIST,
  FINESS,
  ID_COORDINATION_TASK,
  ID_DISCHARGE_ALERT,
} from './coordination-codes.js';
import { evaluateAlerts, type Alert, type AlertSettings } from './discharge-alerts.js';
import { computeChecklist } from './discharge-checklist.js';
import { isDischargeHome, readDischarge, type Discharge } from './discharge.js';
import { planNurseFirst } from './nurse-first.js';
import { ResourceLookup } from './resource-lookup.js';

export interface IntakeSettings extends AlertSettings {
  coordinationTeamFiness?: string;
  radiusKm: number;
  maxCandidates: number;
}

/** The opaque, deterministic identifier value of everything the intake creates for one discharge. */
export function dischargeHash(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 32);
}

export async function coordinationTeam(lookup: ResourceLookup, finess: string | undefined): Promise<Reference> {
  if (!finess) return { display: 'Équipe de coordination du réseau' };
  const [organization] = await lookup.searchAll<Organization>('Organization', [['identifier', `${FINESS}|${finess}`]]);
  if (organization) return { reference: `Organization/${organization.id}`, ...(organization.name ? { display: organization.name } : {}) };
  return { identifier: { system: FINESS, value: finess }, display: 'Équipe de coordination du réseau' };
}

export class DischargeIntake implements TransactionExtension {
  readonly name = 'discharge-intake';

  constructor(private readonly settings: IntakeSettings) {}

  async beforeCommit(transaction: PreparedTransaction): Promise<WriteOperation[]> {
    const { ctx, server } = transaction;
    const pending = transaction.entries.filter((e) => e.resource && e.outcome !== 'deleted').map((e) => e.resource!) as Resource[];
    const discharges = transaction.entries.filter(
      (e) => e.resourceType === 'Encounter' && (e.outcome === 'created' || e.outcome === 'updated') && isDischargeHome(e.resource as Encounter),
    );
    const operations: WriteOperation[] = [];
    for (const entry of discharges) {
      const lookup = new ResourceLookup(server, ctx.baseUrl, pending);
      const discharge = await readDischarge(lookup, transaction.bundle, entry.resource as Encounter, pending);
      const hash = dischargeHash(discharge.key);
      const { matches, guardKey } = await server.conditionalMatch('Task', [['identifier', `${ID_COORDINATION_TASK}|${hash}`]]);
      if (matches.length > 0) continue; // already taken in charge: a re-post adds nothing
      const resources = await this.plan(lookup, discharge, hash);
      const [task, ...others] = resources;
      operations.push(createOperation(ctx, 'Task', task, task.id, guardKey));
      for (const resource of others) operations.push(createOperation(ctx, resource.resourceType, resource, resource.id));
    }
    return operations;
  }

  /** The resources for one new discharge; the coordination Task first. */
  async plan(lookup: ResourceLookup, discharge: Discharge, hash: string): Promise<Resource[]> {
    const team = await coordinationTeam(lookup, this.settings.coordinationTeamFiness);
    const taskId = randomUUID();
    const taskRef = { reference: `Task/${taskId}` };
    const checklist = computeChecklist(discharge);
    const nurse = await planNurseFirst(lookup, discharge, hash, taskRef, { radiusKm: this.settings.radiusKm, maxCandidates: this.settings.maxCandidates, team }, randomUUID);
    const alerts: Alert[] = [...evaluateAlerts(discharge, checklist, this.settings), ...nurse.alerts.filter((a) => this.settings.rules.has(a.rule))];
    const patientRef = discharge.patient ? { reference: `Patient/${discharge.patient.id}` } : undefined;
    const encounterRef = { reference: `Encounter/${discharge.encounter.id}` };
    const now = new Date().toISOString();

    const task: Task = {
      resourceType: 'Task',
      id: taskId,
      identifier: [{ system: ID_COORDINATION_TASK, value: hash }],
      status: 'requested',
      intent: 'order',
      priority: alerts.length > 0 ? 'urgent' : 'routine',
      code: { text: 'Coordination du retour à domicile' },
      description: alerts.length > 0 ? `Retour à domicile à organiser. Alertes : ${alerts.map((a) => a.text).join(' ; ')}` : 'Retour à domicile à organiser.',
      focus: encounterRef,
      ...(patientRef ? { for: patientRef } : {}),
      encounter: encounterRef,
      authoredOn: now,
      owner: team,
      ...(discharge.at ? { restriction: { period: { end: discharge.at.toISOString() } } } : {}),
      input: CHECKLIST_ITEMS.map((item) => ({
        type: { coding: [{ system: DISCHARGE_CHECKLIST, code: item, display: CHECKLIST_DISPLAY[item] }] },
        valueCode: checklist[item],
      })),
    };

    const alertResources: Resource[] = [];
    for (const alert of alerts) {
      const identifier = [{ system: ID_DISCHARGE_ALERT, value: `${hash}-${alert.rule}` }];
      const flagId = randomUUID();
      if (patientRef) {
        const flag: Flag = {
          resourceType: 'Flag',
          id: flagId,
          identifier,
          status: 'active',
          category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'admin', display: 'Administrative' }] }],
          code: { text: alert.text },
          subject: patientRef,
          period: { start: now },
          encounter: encounterRef,
          ...(team.reference ? { author: team } : {}),
        };
        alertResources.push(flag);
      }
      const communication: Communication = {
        resourceType: 'Communication',
        id: randomUUID(),
        identifier,
        status: 'completed',
        category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: 'alert' }] }],
        priority: 'urgent',
        ...(patientRef ? { subject: patientRef } : {}),
        encounter: encounterRef,
        about: [...(patientRef ? [{ reference: `Flag/${flagId}` }] : []), taskRef],
        recipient: [team],
        sent: now,
        payload: [{ contentString: alert.text }],
      };
      alertResources.push(communication);
    }
    return [task, ...alertResources, ...nurse.tasks];
  }
}
