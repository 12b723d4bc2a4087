/**
 * Ranks the nurses who could take a patient home-care order: those who master
 * the technical acts ordered come first, then the nearest to the patient's home,
 * then those accepting new patients and available on the day. Each candidate
 * carries the reasons for its rank, in words a coordinator can check. Only
 * professionals within the radius are candidates; when none is, the result
 * says so explicitly.
 */
import type { Location, Practitioner, PractitionerRole } from 'fhir/r4';
import { EXT_ACCEPTING_NEW_PATIENTS, EXT_MASTERED_ACT, NURSE, TECHNICAL_ACTS, TRE_G15 } from './coordination-codes.js';
import { distanceKm, locationPosition, type Position } from './geo-position.js';
import type { ResourceLookup } from './resource-lookup.js';

export interface RankingRequest {
  home: Position;
  /** relais-technical-acts codes ordered. */
  acts: string[];
  /** First day of care (availability is judged on it). */
  when?: Date;
  radiusKm: number;
  limit: number;
  /** TRE_G15 profession code (default 60, nurse). */
  profession?: string;
  /** "PractitionerRole/id" or "Practitioner/id" never to propose (the patient's nurse who declined...). */
  exclude?: Set<string>;
}

export interface Candidate {
  role: PractitionerRole;
  practitioner?: Practitioner;
  distanceKm: number;
  mastered: string[];
  missing: string[];
  acceptingNewPatients?: boolean;
  available: boolean;
  score: number;
  explanation: string;
}

export interface Ranking {
  candidates: Candidate[];
  /** Professionals of the profession considered, in range or not. */
  considered: number;
  radiusKm: number;
}

/** Weights of the score (out of 100): acts first, as the domain asks. */
const WEIGHT = { acts: 50, distance: 25, accepting: 15, available: 10 };
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

export function masteredActs(role: PractitionerRole): string[] {
  return (role.extension ?? [])
    .filter((e) => e.url === EXT_MASTERED_ACT && e.valueCoding?.system === TECHNICAL_ACTS && e.valueCoding.code)
    .map((e) => e.valueCoding!.code!);
}

export function acceptsNewPatients(role: PractitionerRole): boolean | undefined {
  return role.extension?.find((e) => e.url === EXT_ACCEPTING_NEW_PATIENTS)?.valueBoolean;
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

function explain(c: Omit<Candidate, 'score' | 'explanation'>, acts: string[], when: Date | undefined): string {
  const parts: string[] = [];
  if (acts.length > 0) {
    parts.push(
      c.missing.length === 0
        ? `masters all ${acts.length} act(s) ordered (${acts.join(', ')})`
        : `masters ${c.mastered.length}/${acts.length} act(s) ordered; not declared: ${c.missing.join(', ')}`,
    );
  }
  parts.push(`${c.distanceKm.toFixed(1)} km from the patient's home`);
  parts.push(c.acceptingNewPatients === true ? 'accepts new patients' : c.acceptingNewPatients === false ? 'does not accept new patients' : 'has not said whether they accept new patients');
  if (when) parts.push(c.available ? `available on ${when.toISOString().slice(0, 10)}` : `not available on ${when.toISOString().slice(0, 10)}`);
  return parts.join('; ');
}

export async function rankProfessionals(lookup: ResourceLookup, request: RankingRequest): Promise<Ranking> {
  const profession = request.profession ?? NURSE;
  const roles = await lookup.searchAll<PractitionerRole>('PractitionerRole', [['role', `${TRE_G15}|${profession}`]]);
  const locations = new Map<string, Location | undefined>();
  const candidates: Candidate[] = [];
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
    const base = {
      role,
      ...(practitioner ? { practitioner } : {}),
      distanceKm: Math.round(nearest * 10) / 10,
      mastered: request.acts.filter((a) => declared.has(a)),
      missing: request.acts.filter((a) => !declared.has(a)),
      acceptingNewPatients: acceptsNewPatients(role),
      available: isAvailable(role, request.when),
    };
    const actsScore = request.acts.length === 0 ? 1 : base.mastered.length / request.acts.length;
    const score =
      WEIGHT.acts * actsScore +
      WEIGHT.distance * (1 - nearest / request.radiusKm) +
      (base.acceptingNewPatients === true ? WEIGHT.accepting : 0) +
      (base.available ? WEIGHT.available : 0);
    candidates.push({ ...base, score: Math.round(score * 10) / 10, explanation: explain(base, request.acts, request.when) });
  }
  candidates.sort((a, b) => b.score - a.score || a.distanceKm - b.distanceKm || (a.role.id ?? '').localeCompare(b.role.id ?? ''));
  return { candidates: candidates.slice(0, request.limit), considered, radiusKm: request.radiusKm };
}
