/**
 * The patient's own nurse comes first (DOMAIN.md, "Discharge from hospital"):
 * - when the care team holds a nurse the patient chose (CareTeam.participant
 *   flagged relais-chosen-by-patient, role TRE_G15 60), a Task asks that nurse
 *   to accept, and each technical act ordered is checked against the acts the
 *   nurse's PractitionerRole declares mastered; for an act not mastered, a Task
 *   for the coordination team proposes telephone advice or an expert partner
 *   nurse to accompany them (with candidates) — the nurse is never replaced;
 * - only without such a nurse does the intake look for one (the same ranking
 *   as $find-professionals), and say so when nobody is within range.
 */
import type { CareTeam, Encounter, Patient, PractitionerRole, Reference, ServiceRequest, Task, TaskInput } from 'fhir/r4';
import type { Alert } from './discharge-alerts.js';
import type { Discharge } from './discharge.js';
import { EXT_CHOSEN_BY_PATIENT, ID_NURSE_TASK, NURSE, TECHNICAL_ACTS, TRE_G15 } from './coordination-codes.js';
import { homePosition } from './geo-position.js';
import { masteredActs, rankProfessionals, type Candidate } from './professional-ranking.js';
import { ResourceLookup } from './resource-lookup.js';

export interface ChosenNurse {
  /** The CareTeam member (PractitionerRole or Practitioner). */
  member: Reference;
  role?: PractitionerRole;
}

export async function findChosenNurse(lookup: ResourceLookup, careTeams: CareTeam[]): Promise<ChosenNurse | undefined> {
  for (const team of careTeams) {
    for (const participant of team.participant ?? []) {
      const chosen = participant.extension?.some((e) => e.url === EXT_CHOSEN_BY_PATIENT && e.valueBoolean === true);
      const nurse = (participant.role ?? []).some((r) => (r.coding ?? []).some((c) => c.system === TRE_G15 && c.code === NURSE));
      if (!chosen || !nurse || !participant.member) continue;
      const identity = ResourceLookup.identity(participant.member, lookup.baseUrl);
      let role: PractitionerRole | undefined;
      if (identity?.startsWith('PractitionerRole/')) role = await lookup.read<PractitionerRole>(identity);
      else if (identity?.startsWith('Practitioner/')) {
        role = (await lookup.searchAll<PractitionerRole>('PractitionerRole', [['practitioner', identity]])).find((r) => r.active !== false);
      }
      return { member: participant.member, ...(role ? { role } : {}) };
    }
  }
  return undefined;
}

export interface NurseFirstSettings {
  radiusKm: number;
  maxCandidates: number;
  team: Reference;
}

export interface NurseFirstPlan {
  tasks: Task[];
  alerts: Alert[];
}

// Coding.display is the code system's own display (profiles/CodeSystem-relais-technical-acts.json):
// the HL7 validator rejects any other display, and so may a client checking codings.
const ACT_DISPLAY: Record<string, string> = {
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

function actCoding(act: string) {
  return { system: TECHNICAL_ACTS, code: act, ...(ACT_DISPLAY[act] ? { display: ACT_DISPLAY[act] } : {}) };
}

function candidateInput(candidate: Candidate): TaskInput {
  return { type: { text: 'candidate' }, valueReference: { reference: `PractitionerRole/${candidate.role.id}`, display: `${candidate.score} — ${candidate.explanation}` } };
}

/** Identifier values derived from the discharge key: stable across re-posts. */
export function nurseTaskIdentifier(dischargeHash: string, suffix: string) {
  return { system: ID_NURSE_TASK, value: `${dischargeHash}-${suffix}` };
}

export async function planNurseFirst(
  lookup: ResourceLookup,
  discharge: Discharge,
  dischargeHash: string,
  coordinationTask: Reference,
  settings: NurseFirstSettings,
  newId: () => string,
): Promise<NurseFirstPlan> {
  if (discharge.serviceRequests.length === 0) return { tasks: [], alerts: [] };
  const encounter: Encounter = discharge.encounter;
  const patient: Patient | undefined = discharge.patient;
  const now = new Date().toISOString();
  const common = {
    resourceType: 'Task' as const,
    status: 'requested' as const,
    ...(patient ? { for: { reference: `Patient/${patient.id}` } } : {}),
    encounter: { reference: `Encounter/${encounter.id}` },
    partOf: [coordinationTask],
    authoredOn: now,
    requester: settings.team,
  };
  const firstOrder: ServiceRequest = discharge.serviceRequests[0];
  const nurse = await findChosenNurse(lookup, discharge.careTeams);
  const tasks: Task[] = [];
  const alerts: Alert[] = [];

  if (nurse) {
    const owner: Reference = nurse.role ? { reference: `PractitionerRole/${nurse.role.id}` } : nurse.member;
    tasks.push({
      ...common,
      id: newId(),
      identifier: [nurseTaskIdentifier(dischargeHash, 'accept')],
      intent: 'order',
      priority: 'urgent',
      code: { text: 'Accepter la prise en charge du retour à domicile' },
      description: "Votre patient(e) rentre à domicile : acceptez-vous d'assurer les soins prescrits ?",
      focus: { reference: `Encounter/${encounter.id}` },
      owner,
      ...(discharge.acts.length > 0
        ? { input: discharge.acts.map((act) => ({ type: { text: 'technical-act' }, valueCodeableConcept: { coding: [actCoding(act)] } })) }
        : {}),
    });
    const declared = new Set(nurse.role ? masteredActs(nurse.role) : []);
    const home = homePosition(patient);
    for (const act of discharge.acts.filter((a) => !declared.has(a))) {
      const order = discharge.serviceRequests.find((s) => (s.code?.coding ?? []).some((c) => c.system === TECHNICAL_ACTS && c.code === act)) ?? firstOrder;
      const exclude = new Set([owner.reference ?? '', nurse.member.reference ?? '', nurse.role?.practitioner?.reference ?? ''].filter(Boolean));
      const experts = home ? await rankProfessionals(lookup, { home, acts: [act], radiusKm: settings.radiusKm, limit: 3, exclude }) : undefined;
      const experienced = (experts?.candidates ?? []).filter((c) => c.missing.length === 0);
      tasks.push({
        ...common,
        id: newId(),
        identifier: [nurseTaskIdentifier(dischargeHash, `support-${act}`)],
        intent: 'proposal',
        code: { text: 'Accompagner l\'infirmier(e) du patient pour un acte technique' },
        description:
          `L'infirmier(e) choisi(e) par le patient ne déclare pas maîtriser : ${ACT_DISPLAY[act] ?? act}. ` +
          `Lui proposer un conseil téléphonique ou l'accompagnement au domicile par un(e) infirmier(e) expert(e) partenaire. ` +
          `L'infirmier(e) du patient reste en charge des soins.`,
        focus: { reference: `ServiceRequest/${order.id}` },
        owner: settings.team,
        input: [
          { type: { text: 'technical-act' }, valueCodeableConcept: { coding: [actCoding(act)] } },
          { type: { text: 'patient-nurse' }, valueReference: owner },
          { type: { text: 'support-option' }, valueString: 'telephone-advice' },
          { type: { text: 'support-option' }, valueString: 'expert-partner-nurse' },
          ...experienced.map(candidateInput),
        ],
      });
    }
    return { tasks, alerts };
  }

  // No nurse of their own: look for one, and say so when nobody is within range.
  const home = homePosition(patient);
  const ranking = home
    ? await rankProfessionals(lookup, { home, acts: discharge.acts, ...(discharge.at ? { when: discharge.at } : {}), radiusKm: settings.radiusKm, limit: settings.maxCandidates })
    : undefined;
  const found = ranking?.candidates ?? [];
  tasks.push({
    ...common,
    id: newId(),
    identifier: [nurseTaskIdentifier(dischargeHash, 'find-nurse')],
    intent: 'order',
    priority: 'urgent',
    code: { text: 'Trouver un(e) infirmier(e) pour le retour à domicile' },
    description:
      "Le patient n'a pas d'infirmier(e) choisi(e) dans son équipe de soins. " +
      (found.length > 0
        ? `${found.length} candidat(e)(s) classé(e)(s) ci-dessous (voir aussi ServiceRequest/[id]/$find-professionals).`
        : home
          ? `Aucun(e) infirmier(e) trouvé(e) dans un rayon de ${settings.radiusKm} km du domicile.`
          : "Le domicile du patient n'est pas géolocalisé : recherche manuelle nécessaire."),
    focus: { reference: `ServiceRequest/${firstOrder.id}` },
    owner: settings.team,
    ...(found.length > 0 ? { input: found.slice(0, 3).map(candidateInput) } : {}),
  });
  if (found.length === 0) {
    alerts.push({
      rule: 'no-nurse-in-range',
      text: home
        ? `Aucun(e) infirmier(e) personnel(le) et aucun(e) candidat(e) dans un rayon de ${settings.radiusKm} km du domicile`
        : "Aucun(e) infirmier(e) personnel(le) et domicile non géolocalisé : recherche manuelle nécessaire",
    });
  }
  return { tasks, alerts };
}

