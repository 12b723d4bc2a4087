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
 *
 * What it reveals (issue 18): a candidate is returned only if the caller may
 * read it (a hospital: the patients it sent; a coordinator: the network's).
 * A candidate it may not read is never shown; when such candidates match with
 * certainty, one outcome entry says how many, without identity or content, so
 * the hospital sends its referral with the INS instead of creating a twin (the
 * network then attaches it to its patient: conditional references by INS).
 * Birth date alone never grades "certain" (too few traits), so walking birth
 * dates enumerates nothing.
 */
import type { Bundle, BundleEntry, Patient, Resource } from 'fhir/r4';
import { ResourceLookup } from '../coordination/resource-lookup.js';
import { normaliseName, scoreIdentity } from '../coordination/identity-matching.js';
import { errors } from '../errors.js';
import { operationOutcome } from '../fhir/operation-outcome.js';
import type { StructureValidator } from '../validation/structure-validator.js';
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

export function matchOperation(validator: StructureValidator): FhirOperation {
  return {
    name: 'match',
    definition: 'http://hl7.org/fhir/OperationDefinition/Patient-match',
    levels: ['type'],
    resourceTypes: ['Patient'],
    affectsState: false,
    // Hospitals find out whether the network knows their patient; coordinators check identities.
    access: { type: { roles: ['system', 'coordinator'], requires: 'search-type', reveals: 'readable-only' } },
    async invoke(request) {
      const body = request.body as Resource | undefined;
      const input = (body?.resourceType === 'Patient' ? body : bodyParameters(request).find((p) => p.name === 'resource')?.resource) as Patient | undefined;
      if (input?.resourceType !== 'Patient') throw errors.matchNeedsPatient();
      const issues = validator.validate(input);
      if (issues.length > 0) throw errors.invalidResource(issues);
      const onlyCertain = booleanParameter(request, 'onlyCertainMatches') ?? false;
      const count = numberParameter(request, 'count', true) ?? DEFAULT_COUNT;
      const baseUrl = request.session.baseUrl;

      // Candidates are gathered and scored by the server; the caller sees only those it may read.
      const lookup = new ResourceLookup(request.server, baseUrl);
      const scored = (await candidates(lookup, input))
        .map((patient) => ({ patient, ...scoreIdentity(input, patient) }))
        .filter((s) => s.grade !== 'certainly-not')
        .sort((a, b) => b.score - a.score || a.patient.id!.localeCompare(b.patient.id!));
      const readable = await request.session.mayRead(scored.map((s) => s.patient));
      const hiddenCertain = scored.filter((s, i) => !readable[i] && s.grade === 'certain').length;
      const visible = scored.filter((_, i) => readable[i]);
      let kept = onlyCertain ? visible.filter((s) => s.grade === 'certain') : visible;
      const entry: BundleEntry<Resource>[] = [];
      // R4: with onlyCertainMatches, several "certain" matches mean none is certain.
      if (onlyCertain && kept.length + hiddenCertain > 1) {
        entry.push({
          resource: operationOutcome([{ severity: 'warning', code: 'multiple-matches', diagnostics: `${kept.length + hiddenCertain} patients match with certainty: the identity must be checked by hand` }]),
          search: { mode: 'outcome' },
        });
        kept = [];
      } else if (hiddenCertain > 0) {
        entry.push({
          resource: operationOutcome([
            {
              severity: 'information',
              code: 'informational',
              diagnostics: `${hiddenCertain === 1 ? 'A patient' : `${hiddenCertain} patients`} of the network match with certainty, whose record you may not read: send the patient's INS with your referral and the network will attach it to the right record`,
            },
          ]),
          search: { mode: 'outcome' },
        });
      }
      for (const s of kept.slice(0, count)) {
        entry.push({
          fullUrl: `${baseUrl}/Patient/${s.patient.id}`,
          resource: s.patient,
          search: { mode: 'match', score: s.score, extension: [{ url: MATCH_GRADE, valueCode: s.grade }] },
        });
      }
      // A searchset names the search it answers (R4 Bundle.link "self"); for $match, the operation.
      const bundle: Bundle<Resource> = { resourceType: 'Bundle', type: 'searchset', total: kept.length, link: [{ relation: 'self', url: `${baseUrl}/Patient/$match` }], entry };
      return { status: 200, resource: bundle };
    },
  };
}
