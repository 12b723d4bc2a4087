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

/**
 * Identifier systems of what the intake creates: the value is derived from the
 * discharge Encounter's own identifier, so the same discharge always yields the
 * same identifiers (conditional creates on them make the intake idempotent).
 */
export const ID_COORDINATION_TASK = `${RELAIS}/sid/discharge-coordination-task`;
export const ID_DISCHARGE_ALERT = `${RELAIS}/sid/discharge-alert`;
export const ID_NURSE_TASK = `${RELAIS}/sid/discharge-nurse-task`;

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
