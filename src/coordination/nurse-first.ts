/**
 * The patient's own nurse comes first (DOMAIN.md, "Discharge from hospital"),
 * planned at the intake and re-planned on every later write concerning the
 * discharge:
 * - when the care team holds a nurse the patient chose (CareTeam.participant
 *   flagged relais-chosen-by-patient, role TRE_G15 60), a Task asks that nurse
 *   to accept (owner: her PractitionerRole; she sees it and the minimum data to
 *   decide as soon as it exists — src/access, "request grant"); for each
 *   technical act ordered that her PractitionerRole does not declare mastered, a
 *   Task offers HER telephone advice or an expert partner nurse at the bedside
 *   (owner: her; requester: the coordination team), with expert candidates —
 *   the nurse is never replaced;
 * - only without such a nurse, or once every nurse asked has declined, does
 *   Relais look for one: a Task for the coordination team with the offers
 *   ranked for the whole discharge (professional-ranking.ts), and the
 *   no-nurse-in-range alert when nobody with capacity is within the radius;
 * - when the orders' load exceeds a liberal round, the complex-case alert and a
 *   Task proposing the HAD, SSIAD and home-help services that have places.
 * Tasks are identified from the discharge key, so re-planning never adds one twice.
 */
import type { CareTeam, Encounter, Patient, PractitionerRole, Reference, ServiceRequest, Task, TaskInput } from 'fhir/r4';
import type { Alert } from './discharge-alerts.js';
import type { NurseAnswer } from './discharge-checklist.js';
import type { Discharge } from './discharge.js';
import { actCoding, actLabel, EXT_CHOSEN_BY_PATIENT, ID_NURSE_TASK, isTaskOfType, NURSE, taskCode, TECHNICAL_ACTS, TRE_G15 } from './coordination-codes.js';
import { careLoad, describeLoad, exceedsLiberalRound, type LiberalRoundLimits } from './care-load.js';
import { homePosition } from './geo-position.js';
import { findHomeCareServices } from './home-care-services.js';
import { masteredActs, practitionerName, rankProfessionals, type Offer } from './professional-ranking.js';
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
  liberalRound: LiberalRoundLimits;
  serviceRadiusKm: number;
}

export interface NurseFirstPlan {
  /** Tasks to create (their identifiers are not taken yet). */
  create: Task[];
  /** Existing nurse Tasks changed by the plan (deadline moved, support cancelled after a decline). */
  update: Task[];
  alerts: Alert[];
  answer: NurseAnswer;
}

/** Identifier values derived from the discharge key: stable across re-posts. */
export function nurseTaskIdentifier(dischargeHash: string, suffix: string) {
  return { system: ID_NURSE_TASK, value: `${dischargeHash}-${suffix}` };
}

const OPEN = new Set(['draft', 'requested', 'received', 'ready', 'on-hold']);
const ACCEPTED = new Set(['accepted', 'in-progress', 'completed']);

/** What the nurses asked have answered, from their acceptance Tasks. */
export function nurseAnswer(tasks: readonly Task[]): NurseAnswer {
  const asked = tasks.filter((t) => isTaskOfType(t, 'nurse-acceptance'));
  if (asked.some((t) => ACCEPTED.has(t.status))) return 'accepted';
  if (asked.some((t) => OPEN.has(t.status))) return 'pending';
  return asked.length > 0 ? 'declined' : 'none';
}

/** Who a Task is addressed to, as "Type/id" (its owner). */
export function ownerOf(task: Task): string | undefined {
  return task.owner?.reference;
}

function candidateInputs(offers: Offer[]): TaskInput[] {
  const inputs: TaskInput[] = [];
  offers.forEach((offer, i) => {
    const line = `${i + 1}. ${offer.score} — ${offer.explanation}`;
    if (offer.kind === 'single') {
      inputs.push({ type: { text: 'candidate' }, valueReference: { reference: `PractitionerRole/${offer.members[0].candidate.role.id}`, display: line } });
      return;
    }
    inputs.push({ type: { text: 'candidate-pair' }, valueString: line });
    for (const member of offer.members) {
      const name = practitionerName(member.candidate.practitioner);
      inputs.push({ type: { text: 'candidate-pair-member' }, valueReference: { reference: `PractitionerRole/${member.candidate.role.id}`, display: `${i + 1}. ${name ?? ''} : ${member.acts.map(actLabel).join(', ')}`.trim() } });
    }
  });
  return inputs;
}

export async function planNurseFirst(
  lookup: ResourceLookup,
  discharge: Discharge,
  dischargeHash: string,
  coordinationTask: Reference,
  existing: readonly Task[],
  settings: NurseFirstSettings,
  newId: () => string,
): Promise<NurseFirstPlan> {
  const plan: NurseFirstPlan = { create: [], update: [], alerts: [], answer: nurseAnswer(existing) };
  if (discharge.serviceRequests.length === 0 || discharge.cancelled) return plan;
  const taken = new Set(existing.flatMap((t) => (t.identifier ?? []).filter((i) => i.system === ID_NURSE_TASK).map((i) => i.value)));
  const encounter: Encounter = discharge.encounter;
  const patient: Patient | undefined = discharge.patient;
  const now = new Date().toISOString();
  const deadline = discharge.at ? { restriction: { period: { end: discharge.at.toISOString() } } } : {};
  const common = {
    resourceType: 'Task' as const,
    status: 'requested' as const,
    ...(patient ? { for: { reference: `Patient/${patient.id}` } } : {}),
    encounter: { reference: `Encounter/${encounter.id}` },
    partOf: [coordinationTask],
    authoredOn: now,
    requester: settings.team,
  };
  const add = (suffix: string, task: Omit<Task, 'identifier' | 'id'>) => {
    const identifier = nurseTaskIdentifier(dischargeHash, suffix);
    if (taken.has(identifier.value)) return;
    taken.add(identifier.value);
    plan.create.push({ ...task, id: newId(), identifier: [identifier] } as Task);
  };
  const firstOrder: ServiceRequest = discharge.serviceRequests[0];
  const orderOf = (act: string) => discharge.serviceRequests.find((s) => (s.code?.coding ?? []).some((c) => c.system === TECHNICAL_ACTS && c.code === act)) ?? firstOrder;
  const home = homePosition(patient);
  const load = careLoad(discharge.serviceRequests);

  // The deadline of the open requests follows the discharge date.
  for (const task of existing) {
    if (!OPEN.has(task.status) || !(isTaskOfType(task, 'nurse-acceptance') || isTaskOfType(task, 'find-nurse'))) continue;
    if (JSON.stringify(task.restriction?.period?.end) === JSON.stringify(discharge.at?.toISOString())) continue;
    const { restriction: _old, ...rest } = task;
    plan.update.push({ ...rest, ...deadline } as Task);
  }

  // A complex case: the load exceeds a liberal round.
  if (exceedsLiberalRound(load, settings.liberalRound)) {
    const services = home ? await findHomeCareServices(lookup, { home, acts: discharge.acts, radiusKm: settings.serviceRadiusKm, limit: settings.maxCandidates }) : [];
    const withPlaces = services.filter((s) => s.hasCapacity);
    plan.alerts.push({
      rule: 'complex-case',
      text:
        `Cas complexe : ${describeLoad(load)}, au-delà d'une tournée libérale (${settings.liberalRound.maxMinutesPerDay} min et ${settings.liberalRound.maxVisitsPerDay} passages par jour). ` +
        (withPlaces.length > 0 ? `${withPlaces.length} service(s) avec des places : ${withPlaces.map((s) => s.label).join(', ')}` : 'Aucun service HAD / SSIAD / SAAD avec des places dans le secteur'),
    });
    add('home-care-service', {
      ...common,
      intent: 'proposal',
      priority: 'urgent',
      code: taskCode('home-care-service'),
      description: `Charge en soins : ${describeLoad(load)}. Proposer une HAD, un SSIAD ou un service d'aide à domicile (services du secteur ci-dessous), ou un binôme d'infirmier(e)s.`,
      focus: { reference: `Encounter/${encounter.id}` },
      owner: settings.team,
      ...deadline,
      ...(services.length > 0
        ? { input: services.map((s, i) => ({ type: { text: 'candidate-service' }, valueReference: { reference: `Organization/${s.organization.id}`, display: `${i + 1}. ${s.explanation}` } })) }
        : {}),
    });
  }

  const nurse = await findChosenNurse(lookup, discharge.careTeams);
  const acceptTasks = existing.filter((t) => isTaskOfType(t, 'nurse-acceptance'));
  const declined = acceptTasks.filter((t) => t.status === 'rejected');
  if (nurse && acceptTasks.length === 0) {
    // Her request, and the support for the acts she does not declare.
    const owner: Reference = nurse.role ? { reference: `PractitionerRole/${nurse.role.id}` } : nurse.member;
    add('accept', {
      ...common,
      intent: 'order',
      priority: 'urgent',
      code: taskCode('nurse-acceptance'),
      description: `Votre patient(e) rentre à domicile : acceptez-vous d'assurer les soins prescrits (${describeLoad(load)}) ? En cas de refus, indiquez le motif.`,
      focus: { reference: `Encounter/${encounter.id}` },
      owner,
      ...deadline,
      input: [
        ...discharge.acts.map((act) => ({ type: { text: 'technical-act' }, valueCodeableConcept: { coding: [actCoding(act)] } })),
        ...discharge.serviceRequests.map((order) => ({ type: { text: 'order' }, valueReference: { reference: `ServiceRequest/${order.id}` } })),
      ],
    });
    const declared = new Set(nurse.role ? masteredActs(nurse.role) : []);
    for (const act of discharge.acts.filter((a) => !declared.has(a))) {
      const exclude = new Set([owner.reference ?? '', nurse.member.reference ?? '', nurse.role?.practitioner?.reference ?? ''].filter(Boolean));
      const experts = home ? await rankProfessionals(lookup, { home, acts: [act], radiusKm: settings.radiusKm, limit: 3, exclude, pairs: false }) : undefined;
      const experienced = (experts?.candidates ?? []).filter((c) => c.missing.length === 0);
      add(`support-${act}`, {
        ...common,
        intent: 'proposal',
        code: taskCode('nurse-support'),
        description:
          `Vous ne déclarez pas maîtriser : ${actLabel(act)}. Le réseau vous propose un conseil téléphonique ou l'accompagnement au domicile ` +
          `par un(e) infirmier(e) expert(e) partenaire : acceptez en indiquant l'option choisie (output support-option), ou déclinez. ` +
          `Vous restez en charge des soins.`,
        focus: { reference: `ServiceRequest/${orderOf(act).id}` },
        owner,
        input: [
          { type: { text: 'technical-act' }, valueCodeableConcept: { coding: [actCoding(act)] } },
          { type: { text: 'patient-nurse' }, valueReference: owner },
          { type: { text: 'support-option' }, valueString: 'telephone-advice' },
          { type: { text: 'support-option' }, valueString: 'expert-partner-nurse' },
          ...experienced.map((c) => ({ type: { text: 'candidate' }, valueReference: { reference: `PractitionerRole/${c.role.id}`, display: `${c.score} — ${c.explanation}` } })),
        ],
      });
    }
    plan.answer = 'pending';
    return plan;
  }

  // A nurse who declined: her open support offers lapse.
  const declinedOwners = new Set(declined.map(ownerOf).filter((o): o is string => !!o));
  for (const task of existing) {
    if (isTaskOfType(task, 'nurse-support') && OPEN.has(task.status) && declinedOwners.has(ownerOf(task) ?? '')) {
      plan.update.push({ ...task, status: 'cancelled', statusReason: { text: "L'infirmier(e) a décliné la prise en charge" } });
    }
  }
  if (plan.answer === 'accepted' || plan.answer === 'pending') return plan;

  // Nobody asked (no nurse of their own), or all declined: look for one, for the whole discharge.
  const exclude = new Set<string>();
  for (const task of declined) {
    const owner = ownerOf(task);
    if (owner) exclude.add(owner);
    const role = owner?.startsWith('PractitionerRole/') ? await lookup.read<PractitionerRole>(owner) : undefined;
    if (role?.practitioner?.reference) exclude.add(role.practitioner.reference);
  }
  const ranking = home
    ? await rankProfessionals(lookup, { home, acts: discharge.acts, load, ...(discharge.at ? { when: discharge.at } : {}), radiusKm: settings.radiusKm, limit: settings.maxCandidates, exclude })
    : undefined;
  const offers = ranking?.offers ?? [];
  const withCapacity = offers.filter((o) => o.hasCapacity);
  const latestDecline = [...declined].sort((a, b) => (a.lastModified ?? a.meta?.lastUpdated ?? '').localeCompare(b.lastModified ?? b.meta?.lastUpdated ?? '')).at(-1);
  const reason = latestDecline?.statusReason?.text ?? latestDecline?.statusReason?.coding?.[0]?.display;
  add(latestDecline ? `find-nurse-after-${latestDecline.id}` : 'find-nurse', {
    ...common,
    intent: 'order',
    priority: 'urgent',
    code: taskCode('find-nurse'),
    description:
      (latestDecline
        ? `L'infirmier(e) sollicité(e) a décliné${reason ? ` (motif : ${reason})` : ''}. `
        : "Le patient n'a pas d'infirmier(e) choisi(e) dans son équipe de soins. ") +
      (offers.length > 0
        ? `${offers.length} proposition(s) classée(s) ci-dessous pour l'ensemble des soins (${describeLoad(load)}) ; voir aussi ServiceRequest/[id]/$find-professionals.`
        : home
          ? `Aucun(e) infirmier(e) trouvé(e) dans un rayon de ${settings.radiusKm} km du domicile.`
          : "Le domicile du patient n'est pas géolocalisé : recherche manuelle nécessaire."),
    focus: { reference: `ServiceRequest/${firstOrder.id}` },
    owner: settings.team,
    ...deadline,
    ...(latestDecline ? { basedOn: [{ reference: `Task/${latestDecline.id}` }] } : {}),
    ...(offers.length > 0 ? { input: candidateInputs(offers.slice(0, 3)) } : {}),
  });
  if (withCapacity.length === 0) {
    const full = (ranking?.inRange ?? 0) > 0;
    plan.alerts.push({
      rule: 'no-nurse-in-range',
      text: !home
        ? "Aucun(e) infirmier(e) personnel(le) et domicile non géolocalisé : recherche manuelle nécessaire"
        : full
          ? `Aucun(e) infirmier(e) disponible dans un rayon de ${settings.radiusKm} km : ${ranking!.inRange} dans le secteur, mais sans capacité (ne prend pas de nouveaux patients ou capacité déclarée insuffisante pour ${describeLoad(load)})`
          : `Aucun(e) infirmier(e) ${latestDecline ? 'disponible après le refus' : 'personnel(le)'} et aucun(e) candidat(e) dans un rayon de ${settings.radiusKm} km du domicile`,
    });
  }
  return plan;
}
