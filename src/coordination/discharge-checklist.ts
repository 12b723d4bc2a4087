/**
 * The return-home checklist, computed from what the record holds about the
 * discharge, at the intake and again on every later write concerning it.
 * Each item is done, missing (the hospital should have sent it), to-do (the
 * network organises it) or not-applicable. Rules:
 * - prescriptions: a MedicationRequest or a care order (ServiceRequest) was sent;
 * - medication-supply: with medication prescribed, a MedicationDispense (doses
 *   given in advance) or an initial fill (dispenseRequest.initialFill) covers
 *   the first days;
 * - equipment: acts that need supplies (stoma, wound, venous access, drains,
 *   infusions, feeding, catheters) or any DeviceRequest → done when a
 *   DeviceRequest was sent;
 * - nurse-confirmed: while nursing care is ordered, done once a nurse accepted
 *   (her acceptance Task is accepted), to-do otherwise — back to to-do when she
 *   declines; without any acceptance Task, the team's own tick is kept;
 * - home-help, meals: organised by the network with the patient: the value the
 *   coordination team set on the Task is kept (to-do until they set it);
 * - family-informed: a Communication to a RelatedPerson was sent;
 * - gp-informed: a Communication to a professional or organisation was sent;
 * - discharge-letter: a DocumentReference or Composition typed LOINC 18842-5.
 * The coordination's own messages (alerts, notices to the team) are not
 * messages to the family or the GP and are left out (discharge-coordination.ts).
 */
import type { ChecklistItem } from './coordination-codes.js';
import type { Discharge } from './discharge.js';

export type ChecklistStatus = 'done' | 'missing' | 'to-do' | 'not-applicable';
export type Checklist = Record<ChecklistItem, ChecklistStatus>;

/** What the nurses asked have answered: someone accepted, the asked ones all declined, or nobody was asked. */
export type NurseAnswer = 'accepted' | 'declined' | 'pending' | 'none';

const ACTS_NEEDING_EQUIPMENT = new Set(['stoma-care', 'complex-wound', 'picc-line', 'implanted-port', 'suction-drain', 'infusion', 'enteral-feeding', 'urinary-catheter']);
const TEAM_ITEMS: readonly ChecklistItem[] = ['home-help', 'meals'];

export function computeChecklist(discharge: Discharge, nurse: NurseAnswer = 'none', stored: Partial<Checklist> = {}): Checklist {
  const recipients = discharge.communications.flatMap((c) => c.recipient ?? []).map((r) => r.reference ?? r.type ?? '');
  const medication = discharge.medicationRequests.length > 0;
  const supplied = discharge.medicationDispenses.length > 0 || discharge.medicationRequests.some((m) => m.dispenseRequest?.initialFill);
  const needsEquipment = discharge.acts.some((a) => ACTS_NEEDING_EQUIPMENT.has(a));
  const nursing = discharge.serviceRequests.length > 0;
  const nurseConfirmed: ChecklistStatus = !nursing
    ? 'not-applicable'
    : nurse === 'accepted'
      ? 'done'
      : nurse === 'none' && stored['nurse-confirmed'] === 'done'
        ? 'done'
        : 'to-do';
  const checklist: Checklist = {
    prescriptions: medication || nursing ? 'done' : 'missing',
    'medication-supply': !medication ? 'not-applicable' : supplied ? 'done' : 'missing',
    equipment: discharge.deviceRequests.length > 0 ? 'done' : needsEquipment ? 'missing' : 'not-applicable',
    'nurse-confirmed': nurseConfirmed,
    'home-help': 'to-do',
    meals: 'to-do',
    'family-informed': recipients.some((r) => /(^|\/)RelatedPerson\b/.test(r)) ? 'done' : 'missing',
    'gp-informed': recipients.some((r) => /(^|\/)(Practitioner|PractitionerRole|Organization)\b/.test(r)) ? 'done' : 'missing',
    'discharge-letter': discharge.letters.length > 0 ? 'done' : 'missing',
  };
  for (const item of TEAM_ITEMS) if (stored[item]) checklist[item] = stored[item]!;
  return checklist;
}
