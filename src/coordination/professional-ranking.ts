/**
 * Ranks who could take a patient home for the WHOLE discharge: one nurse who
 * masters every technical act ordered, or — when nobody does — a pair of
 * nurses whose acts together cover them all (each taking the orders she
 * masters). Each offer is judged on
 * - the acts covered (first, as the domain asks: a nurse is chosen for the care);
 * - the distance from the patient's home (the farthest member for a pair);
 * - explicit capacity: whether the professional accepts new patients
 *   (relais-accepting-new-patients) and the visits a day she declares she can
 *   still take on (relais-visits-per-day), against the visits a day the orders
 *   imply (care-load.ts) — a professional who said "no" or declared fewer
 *   visits than needed is full;
 * - availability on the first day of care (PractitionerRole.availableTime / notAvailable).
 * Only professionals within the radius are candidates. Every offer carries its
 * reasons in French, in words a coordinator can check on the phone.
 */
import type { Location, Practitioner, PractitionerRole } from 'fhir/r4';
import { actLabel, EXT_ACCEPTING_NEW_PATIENTS, EXT_MASTERED_ACT, EXT_VISITS_PER_DAY, NURSE, TECHNICAL_ACTS, TRE_G15 } from './coordination-codes.js';
import { formatNumber, type CareLoad } from './care-load.js';
import { distanceKm, locationPosition, type Position } from './geo-position.js';
import type { ResourceLookup } from './resource-lookup.js';

export interface RankingRequest {
  home: Position;
  /** relais-technical-acts codes ordered. */
  acts: string[];
  /** The visits a day the orders imply, per order (absent: one visit a day, no schedule known). */
  load?: CareLoad;
  /** First day of care (availability is judged on it). */
  when?: Date;
  radiusKm: number;
  limit: number;
  /** TRE_G15 profession code (default 60, nurse). */
  profession?: string;
  /** "PractitionerRole/id" or "Practitioner/id" never to propose (the patient's nurse who declined...). */
  exclude?: Set<string>;
  /** Propose pairs of professionals when nobody covers every act alone (default: yes). */
  pairs?: boolean;
}

export interface Candidate {
  role: PractitionerRole;
  practitioner?: Practitioner;
  distanceKm: number;
  mastered: string[];
  missing: string[];
  acceptingNewPatients?: boolean;
  /** Visits a day she declares she can still take on. */
  declaredVisitsPerDay?: number;
  available: boolean;
  /** Can take the whole discharge's visits on her own (not full). */
  hasCapacity: boolean;
  score: number;
  explanation: string;
}

export interface OfferMember {
  candidate: Candidate;
  /** The acts this member takes. */
  acts: string[];
  /** The visits a day those acts imply. */
  visitsPerDay: number;
}

export interface Offer {
  kind: 'single' | 'pair';
  members: OfferMember[];
  /** The farthest member's distance. */
  distanceKm: number;
  coversAll: boolean;
  /** Every member can take her share of the visits (none declared full). */
  hasCapacity: boolean;
  available: boolean;
  score: number;
  explanation: string;
}

export interface Ranking {
  offers: Offer[];
  /** Single professionals, best first (support experts for one act, the former per-professional view). */
  candidates: Candidate[];
  /** Professionals of the profession considered, in range or not. */
  considered: number;
  /** Within the radius. */
  inRange: number;
  /** Within the radius and not declared full for this discharge (alone, or as part of a pair). */
  withCapacity: number;
  radiusKm: number;
}

/** Weights of the score (out of 100): acts first, as the domain asks. */
const WEIGHT = { acts: 45, distance: 20, capacity: 20, available: 10, single: 5 };
/** Candidates considered when forming pairs (the best singles): bounds the pairs to 435. */
const PAIR_POOL = 30;
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export function masteredActs(role: PractitionerRole): string[] {
  return (role.extension ?? [])
    .filter((e) => e.url === EXT_MASTERED_ACT && e.valueCoding?.system === TECHNICAL_ACTS && e.valueCoding.code)
    .map((e) => e.valueCoding!.code!);
}

export function acceptsNewPatients(role: PractitionerRole): boolean | undefined {
  return role.extension?.find((e) => e.url === EXT_ACCEPTING_NEW_PATIENTS)?.valueBoolean;
}

export function declaredVisitsPerDay(role: PractitionerRole): number | undefined {
  return role.extension?.find((e) => e.url === EXT_VISITS_PER_DAY)?.valueInteger;
}

function hasProfession(role: PractitionerRole, practitioner: Practitioner | undefined, profession: string): boolean {
  const codings = [...(role.code ?? []).flatMap((c) => c.coding ?? []), ...(practitioner?.qualification ?? []).flatMap((q) => q.code.coding ?? [])];
  return codings.some((c) => c.system === TRE_G15 && c.code === profession);
}

export function isAvailable(role: PractitionerRole, when: Date | undefined): boolean {
  if (!when) return true;
  const instant = when.toISOString();
  if ((role.notAvailable ?? []).some((n) => n.during && (n.during.start ?? '') <= instant && instant <= (n.during.end ?? '9999'))) return false;
  if (!role.availableTime || role.availableTime.length === 0) return true;
  const day = DAYS[when.getUTCDay()];
  return role.availableTime.some((t) => t.allDay || !t.daysOfWeek || t.daysOfWeek.includes(day as never));
}

export function practitionerName(practitioner: Practitioner | undefined): string | undefined {
  const name = practitioner?.name?.[0];
  return name ? [...(name.prefix ?? []), ...(name.given ?? []), name.family].filter(Boolean).join(' ') : undefined;
}

/** The visits a day the orders covering these acts imply: their most frequent order's (one a day when no load is known). */
function visitsFor(acts: readonly string[], request: RankingRequest): number {
  if (!request.load) return acts.length > 0 ? 1 : 0;
  return request.load.orders.filter((o) => o.acts.length === 0 || o.acts.some((a) => acts.includes(a))).reduce((most, o) => Math.max(most, o.visitsPerDay), 0);
}

function canTake(c: Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>, visits: number): boolean {
  if (c.acceptingNewPatients === false) return false;
  return c.declaredVisitsPerDay === undefined || c.declaredVisitsPerDay >= Math.ceil(visits - 1e-9);
}

function capacityPoints(members: Array<{ candidate: Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>; visitsPerDay: number }>): number {
  let points = WEIGHT.capacity;
  for (const { candidate, visitsPerDay } of members) {
    if (!canTake(candidate, visitsPerDay)) return 0;
    // Said so explicitly (accepting, or enough visits declared): full points; not said: half.
    if (candidate.acceptingNewPatients !== true && candidate.declaredVisitsPerDay === undefined) points = WEIGHT.capacity / 2;
  }
  return points;
}

function capacityWords(c: Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>, visits: number): string {
  const parts: string[] = [];
  parts.push(c.acceptingNewPatients === true ? 'accepte de nouveaux patients' : c.acceptingNewPatients === false ? 'ne prend pas de nouveaux patients' : "n'a pas indiqué s'il/elle prend de nouveaux patients");
  if (c.declaredVisitsPerDay !== undefined) {
    const needed = formatNumber(Math.round(visits * 10) / 10);
    parts.push(
      c.declaredVisitsPerDay >= Math.ceil(visits - 1e-9)
        ? `capacité déclarée : ${c.declaredVisitsPerDay} passage(s) par jour (${needed} nécessaire(s))`
        : `capacité déclarée insuffisante : ${c.declaredVisitsPerDay} passage(s) par jour pour ${needed} nécessaire(s)`,
    );
  }
  return parts.join(', ');
}

function actsWords(acts: readonly string[]): string {
  return acts.map((a) => actLabel(a).toLowerCase()).join(', ');
}

function distanceWords(km: number): string {
  return `à ${formatNumber(Math.round(km * 10) / 10)} km du domicile`;
}

function dayWords(available: boolean, when: Date | undefined): string | undefined {
  if (!when) return undefined;
  const day = when.toISOString().slice(0, 10);
  return available ? `disponible le ${day}` : `indisponible le ${day}`;
}

function singleExplanation(c: Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>, request: RankingRequest, visits: number): string {
  const parts: string[] = [];
  if (request.acts.length > 0) {
    parts.push(
      c.missing.length === 0
        ? `maîtrise ${request.acts.length === 1 ? "l'acte prescrit" : `les ${request.acts.length} actes prescrits`} (${actsWords(request.acts)})`
        : `maîtrise ${c.mastered.length} des ${request.acts.length} actes prescrits ; non déclaré(s) : ${actsWords(c.missing)}`,
    );
  }
  parts.push(distanceWords(c.distanceKm));
  parts.push(capacityWords(c, visits));
  const day = dayWords(c.available, request.when);
  if (day) parts.push(day);
  return parts.join(' ; ');
}

async function inRangeCandidates(lookup: ResourceLookup, request: RankingRequest): Promise<{ found: Array<Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>>; considered: number }> {
  const profession = request.profession ?? NURSE;
  const roles = await lookup.searchAll<PractitionerRole>('PractitionerRole', [['role', `${TRE_G15}|${profession}`]]);
  const locations = new Map<string, Location | undefined>();
  const found: Array<Omit<Candidate, 'score' | 'explanation' | 'hasCapacity'>> = [];
  let considered = 0;
  for (const role of roles) {
    if (role.active === false) continue;
    if (request.exclude?.has(`PractitionerRole/${role.id}`)) continue;
    const practitionerRef = role.practitioner?.reference;
    if (practitionerRef && request.exclude?.has(practitionerRef)) continue;
    const practitioner = await lookup.resolve<Practitioner>(role.practitioner, 'Practitioner');
    if (!hasProfession(role, practitioner, profession)) continue;
    considered++;
    let nearest: number | undefined;
    for (const reference of role.location ?? []) {
      const key = reference.reference ?? '';
      if (!locations.has(key)) locations.set(key, await lookup.resolve<Location>(reference, 'Location'));
      const position = locationPosition(locations.get(key));
      if (position) {
        const d = distanceKm(request.home, position);
        nearest = nearest === undefined ? d : Math.min(nearest, d);
      }
    }
    if (nearest === undefined || nearest > request.radiusKm) continue;
    const declared = new Set(masteredActs(role));
    const visits = declaredVisitsPerDay(role);
    const accepting = acceptsNewPatients(role);
    found.push({
      role,
      ...(practitioner ? { practitioner } : {}),
      distanceKm: Math.round(nearest * 10) / 10,
      mastered: request.acts.filter((a) => declared.has(a)),
      missing: request.acts.filter((a) => !declared.has(a)),
      ...(accepting !== undefined ? { acceptingNewPatients: accepting } : {}),
      ...(visits !== undefined ? { declaredVisitsPerDay: visits } : {}),
      available: isAvailable(role, request.when),
    });
  }
  return { found, considered };
}

/** The pair's split of the acts: each order to a member who masters all its acts (the nearer when both do). */
function splitActs(a: Candidate, b: Candidate, request: RankingRequest): [string[], string[]] | undefined {
  const first: string[] = [];
  const second: string[] = [];
  const orders = request.load?.orders.filter((o) => o.acts.length > 0) ?? request.acts.map((act) => ({ acts: [act] }));
  for (const order of orders) {
    const aCan = order.acts.every((act) => a.mastered.includes(act));
    const bCan = order.acts.every((act) => b.mastered.includes(act));
    if (!aCan && !bCan) return undefined;
    const toA = aCan && (!bCan || a.distanceKm <= b.distanceKm);
    (toA ? first : second).push(...order.acts);
  }
  const unique = (acts: string[]) => [...new Set(acts)];
  return first.length > 0 && second.length > 0 ? [unique(first), unique(second)] : undefined;
}

export async function rankProfessionals(lookup: ResourceLookup, request: RankingRequest): Promise<Ranking> {
  const { found, considered } = await inRangeCandidates(lookup, request);
  const totalVisits = visitsFor(request.acts, request);
  const distancePoints = (km: number) => WEIGHT.distance * (1 - km / request.radiusKm);

  const candidates: Candidate[] = found.map((c) => {
    const share = request.acts.length === 0 ? 1 : c.mastered.length / request.acts.length;
    const members = [{ candidate: c, visitsPerDay: totalVisits }];
    const score = WEIGHT.acts * share + distancePoints(c.distanceKm) + capacityPoints(members) + (c.available ? WEIGHT.available : 0) + WEIGHT.single;
    return { ...c, hasCapacity: canTake(c, totalVisits), score: Math.round(score * 10) / 10, explanation: singleExplanation(c, request, totalVisits) };
  });
  candidates.sort((a, b) => b.score - a.score || a.distanceKm - b.distanceKm || (a.role.id ?? '').localeCompare(b.role.id ?? ''));

  const offers: Offer[] = candidates.map((c) => ({
    kind: 'single',
    members: [{ candidate: c, acts: c.mastered, visitsPerDay: totalVisits }],
    distanceKm: c.distanceKm,
    coversAll: c.missing.length === 0,
    hasCapacity: c.hasCapacity,
    available: c.available,
    score: c.score,
    explanation: c.explanation,
  }));

  const wantPairs = (request.pairs ?? true) && request.acts.length > 1 && !candidates.some((c) => c.missing.length === 0 && c.hasCapacity);
  const paired = new Set<Candidate>();
  if (wantPairs) {
    const pool = candidates.filter((c) => c.mastered.length > 0 && c.acceptingNewPatients !== false).slice(0, PAIR_POOL);
    for (let i = 0; i < pool.length; i++) {
      for (let j = i + 1; j < pool.length; j++) {
        const split = splitActs(pool[i], pool[j], request);
        if (!split) continue;
        const members: OfferMember[] = [
          { candidate: pool[i], acts: split[0], visitsPerDay: visitsFor(split[0], request) },
          { candidate: pool[j], acts: split[1], visitsPerDay: visitsFor(split[1], request) },
        ];
        const farthest = Math.max(pool[i].distanceKm, pool[j].distanceKm);
        const capacity = members.every((m) => canTake(m.candidate, m.visitsPerDay));
        const available = members.every((m) => m.candidate.available);
        const score = WEIGHT.acts + distancePoints(farthest) + capacityPoints(members) + (available ? WEIGHT.available : 0);
        const explanation =
          `binôme couvrant les ${request.acts.length} actes prescrits : ` +
          members
            .map((m) => `${practitionerName(m.candidate.practitioner) ?? `PractitionerRole/${m.candidate.role.id}`} (${actsWords(m.acts)} ; ${distanceWords(m.candidate.distanceKm)} ; ${capacityWords(m.candidate, m.visitsPerDay)})`)
            .join(' et ') +
          (request.when ? ` ; ${available ? 'tous deux disponibles' : 'pas tous deux disponibles'} le ${request.when.toISOString().slice(0, 10)}` : '');
        offers.push({ kind: 'pair', members, distanceKm: farthest, coversAll: true, hasCapacity: capacity, available, score: Math.round(score * 10) / 10, explanation });
        if (capacity) members.forEach((m) => paired.add(m.candidate));
      }
    }
  }
  offers.sort((a, b) => b.score - a.score || a.distanceKm - b.distanceKm || a.members.length - b.members.length || key(a).localeCompare(key(b)));
  const withCapacity = candidates.filter((c) => c.hasCapacity || paired.has(c)).length;
  return { offers: offers.slice(0, request.limit), candidates: candidates.slice(0, request.limit), considered, inRange: candidates.length, withCapacity, radiusKm: request.radiusKm };
}

function key(offer: Offer): string {
  return offer.members.map((m) => m.candidate.role.id ?? '').join('+');
}
