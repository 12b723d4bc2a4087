/**
 * Patient/$match (R4 operation http://hl7.org/fhir/OperationDefinition/Patient-match):
 * input a Parameters with `resource` (the Patient as the caller knows it),
 * `onlyCertainMatches` and `count`; output a searchset Bundle of candidates with
 * search.score and the match-grade extension, best first. Lets a hospital with
 * no qualified INS find the network's patient instead of creating a twin.
 *
 * Candidates are gathered by blocking (same INS or other identifier, same or
 * day/month-swapped birth date, first letters of a family or first name) and
 * scored on the French identity traits (src/coordination/identity-matching.ts).
 */
import type { Bundle, BundleEntry, Patient, Resource } from 'fhir/r4';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { normaliseName, scoreIdentity } from '../coordination/identity-matching.js';
import { errors } from '../errors.js';
import { operationOutcome } from '../fhir/operation-outcome.js';
import { bodyParameters, booleanParameter, numberParameter } from './operation-parameters.js';
import type { FhirOperation } from './operation-registry.js';

const MATCH_GRADE = 'http://hl7.org/fhir/StructureDefinition/match-grade';
const DEFAULT_COUNT = 10;

function swappedBirthDate(date: string | undefined): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date ?? '');
  if (!m || m[2] === m[3] || Number(m[3]) > 12) return undefined;
  return `${m[1]}-${m[3]}-${m[2]}`;
}

async function candidates(lookup: ResourceLookup, input: Patient): Promise<Patient[]> {
  const blocks: Array<Array<[string, string]>> = [];
  for (const identifier of input.identifier ?? []) {
    if (identifier.system && identifier.value) blocks.push([['identifier', `${identifier.system}|${identifier.value}`]]);
  }
  for (const date of [input.birthDate, swappedBirthDate(input.birthDate)]) if (date) blocks.push([['birthdate', date]]);
  const families = new Set((input.name ?? []).flatMap((n) => normaliseName(n.family ?? '').split(' ')).filter((t) => t.length >= 3));
  for (const family of families) blocks.push([['family', family.slice(0, 3)]]);
  const givens = new Set((input.name ?? []).flatMap((n) => (n.given ?? []).flatMap((g) => normaliseName(g).split(' '))).filter((t) => t.length >= 3));
  for (const given of givens) blocks.push([['given', given.slice(0, 3)], ...(input.birthDate ? ([['birthdate', input.birthDate.slice(0, 4)]] as Array<[string, string]>) : [])]);
  const found = new Map<string, Patient>();
  for (const block of blocks) for (const patient of await lookup.searchAll<Patient>('Patient', block)) found.set(patient.id!, patient);
  return [...found.values()];
}

export const matchOperation: FhirOperation = {
  name: 'match',
  definition: 'http://hl7.org/fhir/OperationDefinition/Patient-match',
  levels: ['type'],
  resourceTypes: ['Patient'],
  affectsState: false,
  async invoke(request) {
    const ctx = request.engine.ctx;
    const body = request.body as Resource | undefined;
    const input = (body?.resourceType === 'Patient' ? body : bodyParameters(request).find((p) => p.name === 'resource')?.resource) as Patient | undefined;
    if (input?.resourceType !== 'Patient') throw errors.matchNeedsPatient();
    const issues = ctx.validator.validate(input);
    if (issues.length > 0) throw errors.invalidResource(issues);
    const onlyCertain = booleanParameter(request, 'onlyCertainMatches') ?? false;
    const count = numberParameter(request, 'count', true) ?? DEFAULT_COUNT;

    const lookup = new ResourceLookup(ctx);
    const scored = (await candidates(lookup, input))
      .map((patient) => ({ patient, ...scoreIdentity(input, patient) }))
      .filter((s) => s.grade !== 'certainly-not')
      .sort((a, b) => b.score - a.score || a.patient.id!.localeCompare(b.patient.id!));
    let kept = onlyCertain ? scored.filter((s) => s.grade === 'certain') : scored;
    const entry: BundleEntry<Resource>[] = [];
    // R4: with onlyCertainMatches, several "certain" matches mean none is certain.
    if (onlyCertain && kept.length > 1) {
      entry.push({
        resource: operationOutcome([{ severity: 'warning', code: 'multiple-matches', diagnostics: `${kept.length} patients match with certainty: the identity must be checked by hand` }]),
        search: { mode: 'outcome' },
      });
      kept = [];
    }
    for (const s of kept.slice(0, count)) {
      entry.push({
        fullUrl: `${ctx.baseUrl}/Patient/${s.patient.id}`,
        resource: s.patient,
        search: { mode: 'match', score: s.score, extension: [{ url: MATCH_GRADE, valueCode: s.grade }] },
      });
    }
    // A searchset names the search it answers (R4 Bundle.link "self"); for $match, the operation.
    const bundle: Bundle<Resource> = { resourceType: 'Bundle', type: 'searchset', total: kept.length, link: [{ relation: 'self', url: `${ctx.baseUrl}/Patient/$match` }], entry };
    return { status: 200, resource: bundle };
  },
};
