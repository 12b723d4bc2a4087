/**
 * A nurse's answer moves the coordination on. When a write changes the status
 * of a Task that asks a nurse something (relais-task-type nurse-acceptance or
 * nurse-support), in the same unit of work:
 * - acceptance accepted: the coordination team is told (and the checklist's
 *   nurse-confirmed becomes done, discharge-checklist.ts);
 * - acceptance rejected: it must say why (Task.statusReason; 422 otherwise);
 *   the team is told, urgently, and the re-planning (nurse-first.ts) looks for
 *   other nurses and opens the next Task with the ranked offers;
 * - support accepted: it must say which support (Task.output of type
 *   support-option: telephone-advice or expert-partner-nurse; 422 otherwise);
 *   the team is told what to organise;
 * - support rejected: the team is told she keeps the care without support.
 * Each notice is a Communication to the team, identified by the Task and the
 * version it answered, so a re-planned unit never sends it twice.
 */
import type { Communication, Reference, Task } from 'fhir/r4';
import { errors } from '../errors.js';
import { actLabel, COMMUNICATION_CATEGORY, ID_COORDINATION_MESSAGE, isTaskOfType, TECHNICAL_ACTS } from './coordination-codes.js';
import type { PreparedEntry } from '../engine/transaction-extension.js';

export const SUPPORT_OPTIONS: Record<string, string> = {
  'telephone-advice': 'un conseil téléphonique',
  'expert-partner-nurse': "l'accompagnement au domicile par un(e) infirmier(e) expert(e) partenaire",
};

export interface NurseNotice {
  task: Task;
  message: Communication;
}

function statusChanged(entry: PreparedEntry): entry is PreparedEntry & { resource: Task } {
  if (entry.resourceType !== 'Task' || entry.outcome !== 'updated' || !entry.resource) return false;
  const task = entry.resource as Task;
  if (!isTaskOfType(task, 'nurse-acceptance') && !isTaskOfType(task, 'nurse-support')) return false;
  return (entry.previous as Task | undefined)?.status !== task.status;
}

function reasonOf(task: Task): string | undefined {
  return task.statusReason?.text ?? task.statusReason?.coding?.find((c) => c.display || c.code)?.display ?? task.statusReason?.coding?.[0]?.code;
}

function supportChosen(task: Task): string | undefined {
  for (const output of task.output ?? []) {
    const type = output.type.text ?? output.type.coding?.[0]?.code;
    if (type !== 'support-option') continue;
    const value = output.valueString ?? output.valueCode ?? output.valueCoding?.code;
    if (value && SUPPORT_OPTIONS[value]) return value;
  }
  return undefined;
}

function actOf(task: Task): string | undefined {
  for (const input of task.input ?? []) {
    const coding = input.valueCodeableConcept?.coding?.find((c) => c.system === TECHNICAL_ACTS);
    if (coding?.code) return coding.code;
  }
  return undefined;
}

/**
 * The answers this write carries, checked (a refusal without a reason, an
 * accepted support without its option: 422), and the notice to the team for each.
 */
export function nurseNotices(
  entries: readonly PreparedEntry[],
  team: Reference,
  /** The version a Task's answer replaced (identifies the notice). */
  answeredVersion: (task: Task) => string,
  /** How the team reads who answered ("Mme Claire MOREAU"). */
  nameOf: (task: Task) => string | undefined,
): NurseNotice[] {
  const notices: NurseNotice[] = [];
  for (const entry of entries.filter(statusChanged)) {
    const task = entry.resource;
    const who = nameOf(task) ?? task.owner?.display ?? "L'infirmier(e)";
    const acceptance = isTaskOfType(task, 'nurse-acceptance');
    let text: string | undefined;
    let priority: Communication['priority'] = 'routine';
    if (task.status === 'rejected') {
      const reason = reasonOf(task);
      if (!reason) throw errors.answerIncomplete('Task.statusReason', 'declining needs a reason (Task.statusReason): the coordination team reads it to find another solution');
      if (acceptance) {
        text = `${who} décline la prise en charge du retour à domicile (motif : ${reason}). Relais recherche d'autres infirmier(e)s : voir la tâche « Trouver un(e) infirmier(e) ».`;
        priority = 'urgent';
      } else {
        const act = actOf(task);
        text = `${who} décline l'accompagnement proposé${act ? ` pour ${actLabel(act).toLowerCase()}` : ''} (motif : ${reason}) et reste en charge des soins.`;
      }
    } else if (task.status === 'accepted' || task.status === 'in-progress' || task.status === 'completed') {
      if (acceptance) {
        if (task.status !== 'accepted') continue; // progress after the acceptance: nothing new for the team
        text = `${who} accepte la prise en charge du retour à domicile.`;
      } else {
        const option = supportChosen(task);
        if (!option) {
          throw errors.answerIncomplete('Task.output', "accepting the support offered needs the option chosen: an output of type 'support-option' valued telephone-advice or expert-partner-nurse");
        }
        if (task.status !== 'accepted') continue;
        const act = actOf(task);
        text = `${who} accepte ${SUPPORT_OPTIONS[option]}${act ? ` pour ${actLabel(act).toLowerCase()}` : ''} : à organiser par l'équipe de coordination.`;
        priority = 'urgent';
      }
    }
    if (!text) continue;
    notices.push({
      task,
      message: {
        resourceType: 'Communication',
        identifier: [{ system: ID_COORDINATION_MESSAGE, value: `${task.id}-v${answeredVersion(task)}-${task.status}` }],
        status: 'completed',
        category: [{ coding: [{ system: COMMUNICATION_CATEGORY, code: task.status === 'rejected' && acceptance ? 'alert' : 'information' }] }],
        priority,
        ...(task.for ? { subject: task.for } : {}),
        ...(task.encounter ? { encounter: task.encounter } : {}),
        about: [{ reference: `Task/${task.id}` }],
        recipient: [team],
        sent: new Date().toISOString(),
        payload: [{ contentString: text }],
      },
    });
  }
  return notices;
}
