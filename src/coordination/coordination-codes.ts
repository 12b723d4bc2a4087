/**
 * The URLs and codes the coordination workflow reads and writes. The network's
 * own CodeSystems and extensions are defined in profiles/ (one place); national
 * systems come from /work/shared/FRENCH-CONVENTIONS.md (FR Core, ANS NOS).
 */
const RELAIS = 'https://relais-sante.fr/fhir';

export const TECHNICAL_ACTS = `${RELAIS}/CodeSystem/relais-technical-acts`;
export const DISCHARGE_CHECKLIST = `${RELAIS}/CodeSystem/relais-discharge-checklist`;
export const COMMUNICATION_CATEGORY = `${RELAIS}/CodeSystem/relais-communication-category`;
export const EXT_MASTERED_ACT = `${RELAIS}/StructureDefinition/relais-mastered-technical-act`;
export const EXT_ACCEPTING_NEW_PATIENTS = `${RELAIS}/StructureDefinition/relais-accepting-new-patients`;
export const EXT_CHOSEN_BY_PATIENT = `${RELAIS}/StructureDefinition/relais-chosen-by-patient`;
/** Home visits a day a professional declares she can still take on (PractitionerRole). */
export const EXT_VISITS_PER_DAY = `${RELAIS}/StructureDefinition/relais-visits-per-day`;
/** Places a home-care service (HAD, SSIAD, SAAD) declares available (Organization, HealthcareService). */
export const EXT_AVAILABLE_PLACES = `${RELAIS}/StructureDefinition/relais-available-places`;
/** What the coordination's Tasks ask (Task.code), and the graded response of the network. */
export const TASK_TYPE = `${RELAIS}/CodeSystem/relais-task-type`;
export const GRADED_RESPONSE = `${RELAIS}/CodeSystem/relais-graded-response`;
export const SERVICEREQUEST_CATEGORY = `${RELAIS}/CodeSystem/relais-servicerequest-category`;

/**
 * Identifier systems of what the intake creates: the value is derived from the
 * discharge Encounter's own identifier, so the same discharge always yields the
 * same identifiers (conditional creates on them make the intake idempotent).
 */
export const ID_COORDINATION_TASK = `${RELAIS}/sid/discharge-coordination-task`;
export const ID_DISCHARGE_ALERT = `${RELAIS}/sid/discharge-alert`;
export const ID_NURSE_TASK = `${RELAIS}/sid/discharge-nurse-task`;
/** The coordination's notices to the team (a nurse's answer, an escalation): never a message to family or GP. */
export const ID_COORDINATION_MESSAGE = `${RELAIS}/sid/coordination-message`;

export type TaskType = 'discharge-coordination' | 'nurse-acceptance' | 'nurse-support' | 'find-nurse' | 'home-care-service' | 'case-management';

/** The code system's own displays (profiles/CodeSystem-relais-task-type.json). */
export const TASK_TYPE_DISPLAY: Record<TaskType, string> = {
  'discharge-coordination': 'Coordination du retour à domicile',
  'nurse-acceptance': "Accepter la prise en charge du retour à domicile",
  'nurse-support': "Accompagnement de l'infirmier(e) pour un acte technique",
  'find-nurse': 'Trouver un(e) infirmier(e)',
  'home-care-service': 'Proposer un service de soins ou d\'aide à domicile',
  'case-management': 'Orientation vers la gestion de cas',
};

export function taskCode(type: TaskType): { coding: Array<{ system: string; code: string; display: string }>; text: string } {
  return { coding: [{ system: TASK_TYPE, code: type, display: TASK_TYPE_DISPLAY[type] }], text: TASK_TYPE_DISPLAY[type] };
}

/** Whether a Task asks this (its code in relais-task-type). */
export function isTaskOfType(task: { code?: { coding?: Array<{ system?: string; code?: string }> } }, type: TaskType): boolean {
  return (task.code?.coding ?? []).some((c) => c.system === TASK_TYPE && c.code === type);
}

/** TRE_R66-CategorieEtablissement (ANS): the home-care services the network may propose (FRENCH-CONVENTIONS.md §3). */
export const TRE_R66 = 'https://mos.esante.gouv.fr/NOS/TRE_R66-CategorieEtablissement/FHIR/TRE-R66-CategorieEtablissement';
export const HOME_CARE_SERVICE_CATEGORIES: Record<string, { label: string; kind: 'had' | 'ssiad' | 'home-help' }> = {
  '127': { label: 'HAD', kind: 'had' },
  '354': { label: 'SSIAD', kind: 'ssiad' },
  '209': { label: 'SAAS (ex-SPASAD)', kind: 'ssiad' },
  '460': { label: 'SAA (ex-SAAD)', kind: 'home-help' },
  '640': { label: 'SAADF', kind: 'home-help' },
};

/** TRE_G15-ProfessionSante (ANS), code 60 = Infirmier. */
export const TRE_G15 = 'https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante';
export const NURSE = '60';

/** HL7 discharge disposition "home" (in FR Core's fr-core-vs-encounter-discharge-disposition). */
export const DISCHARGE_DISPOSITION = 'http://terminology.hl7.org/CodeSystem/discharge-disposition';
export const FR_CORE_ESTIMATED_DISCHARGE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-estimated-discharge-date';

/** LOINC 18842-5 Discharge summary (the discharge letter). */
export const LOINC = 'http://loinc.org';
export const DISCHARGE_SUMMARY = '18842-5';

/** FINESS (organisations) and RPPS (professionals). */
export const FINESS = 'https://finess.esante.gouv.fr';
export const RPPS = 'https://rpps.esante.gouv.fr';

/** HL7 geolocation extension on Address (latitude/longitude). */
export const EXT_GEOLOCATION = 'http://hl7.org/fhir/StructureDefinition/geolocation';

/** The discharge checklist items, in the order a coordinator reads them. */
export const CHECKLIST_ITEMS = [
  'prescriptions',
  'medication-supply',
  'equipment',
  'nurse-confirmed',
  'home-help',
  'meals',
  'family-informed',
  'gp-informed',
  'discharge-letter',
] as const;
export type ChecklistItem = (typeof CHECKLIST_ITEMS)[number];

/** The code system's own displays (profiles/CodeSystem-relais-discharge-checklist.json): a Coding.display must be one of them. */
export const CHECKLIST_DISPLAY: Record<ChecklistItem, string> = {
  prescriptions: 'Ordonnances',
  'medication-supply': 'Médicaments disponibles',
  equipment: 'Matériel',
  'nurse-confirmed': 'Infirmier confirmé',
  'home-help': 'Aide à domicile',
  meals: 'Repas',
  'family-informed': 'Famille informée',
  'gp-informed': 'Médecin traitant informé',
  'discharge-letter': 'Lettre de liaison',
};

// Coding.display is the code system's own display (profiles/CodeSystem-relais-technical-acts.json):
// the HL7 validator rejects any other display, and so may a client checking codings.
export const TECHNICAL_ACT_DISPLAY: Record<string, string> = {
  'stoma-care': 'Soins de stomie',
  'complex-wound': 'Plaie complexe / pansement complexe',
  'picc-line': 'PICC line',
  'implanted-port': 'Chambre implantable',
  'suction-drain': 'Drain aspiratif / redon',
  infusion: 'Perfusion',
  'insulin-injection': "Injection d'insuline",
  'blood-glucose-monitoring': 'Surveillance glycémique',
  'enteral-feeding': 'Nutrition entérale',
  'urinary-catheter': 'Sonde urinaire',
  'palliative-care': 'Soins palliatifs',
  'medication-administration': 'Administration de médicaments',
};

export function actCoding(act: string): { system: string; code: string; display?: string } {
  return { system: TECHNICAL_ACTS, code: act, ...(TECHNICAL_ACT_DISPLAY[act] ? { display: TECHNICAL_ACT_DISPLAY[act] } : {}) };
}

/** An act as a coordinator reads it ("Perfusion"), lower-cased inside a sentence by the caller if needed. */
export function actLabel(act: string): string {
  return TECHNICAL_ACT_DISPLAY[act] ?? act;
}
