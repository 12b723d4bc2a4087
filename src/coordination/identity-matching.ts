/**
 * Scores how likely a stored Patient is the person described by another
 * Patient, on the French identity traits (INS referential: birth name, first
 * names of the birth list, birth date, sex, birth place INSEE code, INS).
 * Robust to what happens at a hospital desk: typos and accents (Jaro-Winkler
 * on accent-free names), the used/married name typed where the birth name was
 * expected (every family name compared with every other), first names in
 * another order (set matching), day and month swapped in the birth date.
 */
import { jaroWinkler } from '@skyra/jaro-winkler';
import type { HumanName, Patient } from 'fhir/r4';

/** INS systems (FRENCH-CONVENTIONS.md): NIR, NIA, and the test and demo ones. */
export const INS_SYSTEMS = new Set(['urn:oid:1.2.250.1.213.1.4.8', 'urn:oid:1.2.250.1.213.1.4.9', 'urn:oid:1.2.250.1.213.1.4.10', 'urn:oid:1.2.250.1.213.1.4.11']);
const INS_TYPES = new Set(['INS-NIR', 'INS-NIA', 'INS-NIR-TEST', 'INS-NIR-DEMO']);
const BIRTH_LIST = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient-birth-list-given-name';
const BIRTH_PLACE = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
const INSEE_CODE = 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-address-insee-code';

export type MatchGrade = 'certain' | 'probable' | 'possible' | 'certainly-not';

export interface IdentityScore {
  score: number;
  grade: MatchGrade;
  /** Per-trait similarity in [0, 1], for explanation. */
  traits: Record<'ins' | 'birthName' | 'firstNames' | 'birthDate' | 'sex' | 'birthPlace', number | undefined>;
}

/** Lower case, accents removed, anything but letters as one space ("Lefèvre-D'Arc" → "lefevre d arc"). */
export function normaliseName(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z]+/g, ' ').trim();
}

/** The INS of a patient (NIR/NIA, by type when given, else by system). NSS shares the NIR OID: the type tells them apart. */
export function insOf(patient: Patient): string | undefined {
  const ins = (patient.identifier ?? []).find((i) => {
    if (!i.system || !INS_SYSTEMS.has(i.system) || !i.value) return false;
    const types = (i.type?.coding ?? []).map((c) => c.code ?? '');
    return types.length === 0 ? i.system !== 'urn:oid:1.2.250.1.213.1.4.8' : types.some((t) => INS_TYPES.has(t));
  });
  return ins ? `${ins.system}|${ins.value}` : undefined;
}

function birthNames(patient: Patient): string[] {
  const official = (patient.name ?? []).filter((n) => n.use === 'official' || n.use === 'maiden');
  return (official.length > 0 ? official : (patient.name ?? []).slice(0, 1)).map((n) => n.family ?? '').map(normaliseName).filter(Boolean);
}

function allFamilyNames(patient: Patient): string[] {
  return (patient.name ?? []).map((n) => normaliseName(n.family ?? '')).filter(Boolean);
}

function firstNames(patient: Patient): string[] {
  const names: HumanName[] = patient.name ?? [];
  const list = names.flatMap((n) => (n.extension ?? []).filter((e) => e.url === BIRTH_LIST).map((e) => e.valueString ?? ''));
  const source = list.length > 0 ? list : names.filter((n) => n.use !== 'nickname').flatMap((n) => n.given ?? []);
  return [...new Set(source.flatMap((g) => normaliseName(g).split(' ')).filter(Boolean))];
}

function birthPlace(patient: Patient): string | undefined {
  const address = patient.extension?.find((e) => e.url === BIRTH_PLACE)?.valueAddress;
  return address?.extension?.find((e) => e.url === INSEE_CODE)?.valueCoding?.code;
}

/** Best similarity of two names, also token by token (compound names: "dupont martin" ~ "dupont"). */
function nameSimilarity(a: string, b: string): number {
  if (a === b) return 1;
  const whole = jaroWinkler(a.replace(/ /g, ''), b.replace(/ /g, ''));
  const tokensA = a.split(' ');
  const tokensB = b.split(' ');
  let token = 0;
  if (tokensA.length > 1 || tokensB.length > 1) {
    for (const x of tokensA) for (const y of tokensB) if (x.length > 2 && y.length > 2) token = Math.max(token, jaroWinkler(x, y) * 0.92);
  }
  return Math.max(whole, token);
}

function familySimilarity(input: Patient, candidate: Patient): number | undefined {
  const inputBirth = birthNames(input);
  const inputAll = allFamilyNames(input);
  const candidateBirth = birthNames(candidate);
  const candidateAll = allFamilyNames(candidate);
  if (inputAll.length === 0 || candidateAll.length === 0) return undefined;
  let best = 0;
  for (const a of inputBirth) for (const b of candidateBirth) best = Math.max(best, nameSimilarity(a, b));
  // A used (married) name given where the birth name was expected, or the reverse: slightly less telling.
  for (const a of inputAll) for (const b of candidateAll) best = Math.max(best, nameSimilarity(a, b) * 0.95);
  return best;
}

function firstNameSimilarity(input: Patient, candidate: Patient): number | undefined {
  const a = firstNames(input);
  const b = firstNames(candidate);
  if (a.length === 0 || b.length === 0) return undefined;
  // Order-free: each input first name against its best counterpart; the first one counts double.
  const best = a.map((x) => Math.max(...b.map((y) => jaroWinkler(x, y))));
  return (best[0] * 2 + best.slice(1).reduce((s, v) => s + v, 0)) / (best.length + 1);
}

/** 1 exact; 0.85 day and month swapped; 0.75 one digit wrong or two adjacent digits swapped; 0.3 same year. */
export function birthDateSimilarity(a: string | undefined, b: string | undefined): number | undefined {
  if (!a || !b) return undefined;
  if (a === b) return 1;
  const [ya, ma, da] = a.split('-');
  const [yb, mb, db] = b.split('-');
  if (ya === yb && ma === db && da === mb) return 0.85;
  const x = a.replace(/-/g, '');
  const y = b.replace(/-/g, '');
  if (x.length === y.length) {
    const diff = [...x].map((c, i) => (c === y[i] ? -1 : i)).filter((i) => i >= 0);
    if (diff.length === 1) return 0.75;
    if (diff.length === 2 && diff[1] === diff[0] + 1 && x[diff[0]] === y[diff[1]] && x[diff[1]] === y[diff[0]]) return 0.75;
  }
  return ya === yb ? 0.3 : 0;
}

const WEIGHTS = { birthName: 0.3, firstNames: 0.25, birthDate: 0.3, sex: 0.05, birthPlace: 0.1 };

export function scoreIdentity(input: Patient, candidate: Patient): IdentityScore {
  const inputIns = insOf(input);
  const candidateIns = insOf(candidate);
  const traits: IdentityScore['traits'] = {
    ins: inputIns && candidateIns ? (inputIns === candidateIns ? 1 : 0) : undefined,
    birthName: familySimilarity(input, candidate),
    firstNames: firstNameSimilarity(input, candidate),
    birthDate: birthDateSimilarity(input.birthDate, candidate.birthDate),
    sex: input.gender && candidate.gender && input.gender !== 'unknown' && candidate.gender !== 'unknown' ? (input.gender === candidate.gender ? 1 : 0) : undefined,
    birthPlace: (() => {
      const a = birthPlace(input);
      const b = birthPlace(candidate);
      return a && b ? (a === b ? 1 : 0) : undefined;
    })(),
  };
  // Traits missing on either side neither help nor hurt: the weights of the known ones are renormalised.
  let sum = 0;
  let weight = 0;
  for (const [trait, w] of Object.entries(WEIGHTS) as Array<[keyof typeof WEIGHTS, number]>) {
    const value = traits[trait];
    if (value === undefined) continue;
    sum += value * w;
    weight += w;
  }
  let score = weight > 0 ? sum / weight : 0;
  // Too few traits to tell people apart: never better than possible.
  if (weight < 0.55) score = Math.min(score, 0.8);
  if (traits.ins === 1) score = (traits.birthDate ?? 0) >= 0.85 && (traits.birthName ?? 0) >= 0.8 ? 1 : Math.max(score, 0.9);
  if (traits.ins === 0) score = Math.min(score, 0.5); // two different INS are two people
  score = Math.round(score * 1000) / 1000;
  const grade: MatchGrade = score >= 0.95 ? 'certain' : score >= 0.85 ? 'probable' : score >= 0.7 ? 'possible' : 'certainly-not';
  return { score, grade, traits };
}
