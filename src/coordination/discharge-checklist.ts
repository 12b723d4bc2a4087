/**
 * The return-home checklist, computed from what the discharge bundle holds and
 * lacks. Each item is done, missing (the hospital should have sent it), to-do
 * (the network organises it) or not-applicable. Rules:
 * - prescriptions: a MedicationRequest or a care order (ServiceRequest) was sent;
 * - medication-supply: with medication prescribed, a MedicationDispense or an
 *   initial fill (dispenseRequest.initialFill) covers the first days;
 * - equipment: acts that need supplies (stoma, wound, venous access, drains,
 *   infusions, feeding, catheters) or any DeviceRequest → done when a
 *   DeviceRequest was sent;
 * - nurse-confirmed: to-do while nursing care is ordered (the nurse accepts later);
 * - home-help, meals: to-do (organised by the network with the patient);
 * - family-informed: a Communication to a RelatedPerson was sent;
 * - gp-informed: a Communication to a professional or organisation was sent;
 * - discharge-letter: a DocumentReference or Composition typed LOINC 18842-5.
 */
import type { ChecklistItem } from './coordination-codes.js';
import type { Discharge } from './discharge.js';

export type ChecklistStatus = 'done' | 'missing' | 'to-do' | 'not-applicable';
export type Checklist = Record<ChecklistItem, ChecklistStatus>;

const ACTS_NEEDING_EQUIPMENT = new Set(['stoma-care', 'complex-wound', 'picc-line', 'implanted-port', 'suction-drain', 'infusion', 'enteral-feeding', 'urinary-catheter']);

export function computeChecklist(discharge: Discharge): Checklist {
  const recipients = discharge.communications.flatMap((c) => c.recipient ?? []).map((r) => r.reference ?? r.type ?? '');
  const medication = discharge.medicationRequests.length > 0;
  const supplied = discharge.medicationDispenses.length > 0 || discharge.medicationRequests.some((m) => m.dispenseRequest?.initialFill);
  const needsEquipment = discharge.acts.some((a) => ACTS_NEEDING_EQUIPMENT.has(a));
  const nursing = discharge.serviceRequests.length > 0;
  return {
    prescriptions: medication || nursing ? 'done' : 'missing',
    'medication-supply': !medication ? 'not-applicable' : supplied ? 'done' : 'missing',
    equipment: discharge.deviceRequests.length > 0 ? 'done' : needsEquipment ? 'missing' : 'not-applicable',
    'nurse-confirmed': nursing ? 'to-do' : 'not-applicable',
    'home-help': 'to-do',
    meals: 'to-do',
    'family-informed': recipients.some((r) => r.startsWith('RelatedPerson')) ? 'done' : 'missing',
    'gp-informed': recipients.some((r) => /^(Practitioner|PractitionerRole|Organization)\b/.test(r)) ? 'done' : 'missing',
    'discharge-letter': discharge.letters.length > 0 ? 'done' : 'missing',
  };
}
