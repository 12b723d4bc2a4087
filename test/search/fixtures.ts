/**
 * Hand-written fixture data for the search conformance suite. Every expected
 * result in search-conformance-suite.ts was worked out by hand from these
 * resources and the R4 search page's rules (the comments there say how), not
 * by running the implementation.
 */
import type { Resource } from 'fhir/r4';

const NIR = 'urn:oid:1.2.250.1.213.1.4.8';
const FR_ID_TYPES = 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203';
const RPPS = 'https://rpps.esante.gouv.fr';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const RELAIS_COM = 'https://relais-sante.fr/fhir/CodeSystem/relais-communication-category';
const HL7_COM = 'http://terminology.hl7.org/CodeSystem/communication-category';
const CARE_ACTS = 'http://relais.test/fhir/CodeSystem/care-acts';

const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });

export const FIXTURES: Resource[] = [
  { resourceType: 'Organization', id: 'org1', name: 'SSIAD Loire' },
  { resourceType: 'Organization', id: 'org2', name: 'HAD Lyon' },
  {
    resourceType: 'Practitioner',
    id: 'pr1',
    identifier: [{ system: RPPS, value: '10101010101', type: { coding: [{ system: FR_ID_TYPES, code: 'RPPS' }] } }],
    name: [{ family: 'Durand', given: ['Élise'] }],
  },
  {
    resourceType: 'Patient',
    id: 'p1',
    meta: { tag: [{ system: 'http://relais.test/tags', code: 'pilot' }] },
    identifier: [{ use: 'official', system: NIR, value: '2500375123456', type: { coding: [{ system: FR_ID_TYPES, code: 'INS-NIR' }] } }],
    name: [{ family: 'Dupont-Martin', given: ['Hélène'] }],
    gender: 'female',
    birthDate: '1950-03-15',
    address: [{ city: 'Saint-Étienne', postalCode: '42000' }],
    managingOrganization: { reference: 'Organization/org1' },
    generalPractitioner: [{ reference: 'Practitioner/pr1' }],
  },
  {
    resourceType: 'Patient',
    id: 'p2',
    meta: { profile: ['https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient'] },
    identifier: [{ system: NIR, value: '1480299123456' }],
    name: [{ family: 'N’Diaye', given: ['Jean-Pierre'] }],
    gender: 'male',
    birthDate: '1948',
    address: [{ city: 'Lyon' }],
    managingOrganization: { reference: 'Organization/org2' },
  },
  {
    resourceType: 'Patient',
    id: 'p3',
    meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }] },
    identifier: [{ system: 'https://hopital.example/ipp', value: 'IPP-1' }],
    name: [{ family: 'Martin', given: ['Helena'] }],
    gender: 'female',
    birthDate: '1950-03',
  },
  {
    resourceType: 'Patient',
    id: 'p4',
    identifier: [{ value: 'X1' }, { system: 'urn:test', value: 'A,B' }],
    name: [{ family: 'Dupond', given: ['Léa'] }],
    birthDate: '2001-12-31',
    active: false,
  },
  { resourceType: 'Patient', id: 'p5', name: [{ family: 'Lefèvre', given: ['Œdipe'] }] },
  {
    resourceType: 'Condition',
    id: 'cond1',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Escarre <b>sacrée</b> de stade&nbsp;2, pansement tous les deux jours</p></div>' },
    code: { text: 'Escarre' },
    subject: { reference: 'Patient/p1' },
    note: [{ text: 'Matelas anti-escarre commandé' }],
  },
  {
    resourceType: 'Condition',
    id: 'cond2',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Diabète de type 2</div>' },
    code: { text: 'Diabète' },
    subject: { reference: 'Patient/p2' },
    note: [{ text: 'Surveillance glycémique par l’infirmière' }],
  },
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2024-03-05T10:00:00Z',
    valueQuantity: mmHg(120),
  },
  {
    resourceType: 'Observation',
    id: 'o2',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '29463-7', display: 'Body weight' }] },
    subject: { reference: 'Patient/p1' },
    performer: [{ identifier: { system: RPPS, value: '10101010101' } }],
    effectiveDateTime: '2024-03-06',
    valueQuantity: { value: 65.5, unit: 'kg', system: UCUM, code: 'kg' },
  },
  {
    resourceType: 'Observation',
    id: 'o3',
    status: 'preliminary',
    code: { coding: [{ system: LOINC, code: '29463-7' }] },
    subject: { reference: 'Patient/p2' },
    effectivePeriod: { start: '2024-02-01', end: '2024-02-28' },
    valueQuantity: { value: 70000, unit: 'g', system: UCUM, code: 'g' },
  },
  {
    resourceType: 'Observation',
    id: 'o4',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '85354-9' }] },
    subject: { reference: 'Patient/p3' },
    effectiveDateTime: '2023-12-31T23:30:00+01:00',
    component: [
      { code: { coding: [{ system: LOINC, code: '8480-6' }] }, valueQuantity: mmHg(150) },
      { code: { coding: [{ system: LOINC, code: '8462-4' }] }, valueQuantity: mmHg(90) },
    ],
  },
  {
    resourceType: 'Observation',
    id: 'o5',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8480-6' }], text: 'Pression systolique' },
    subject: { reference: 'Patient/p2' },
    effectiveDateTime: '2024',
    valueQuantity: mmHg(135),
  },
  {
    resourceType: 'Observation',
    id: 'o6',
    status: 'final',
    code: { coding: [{ system: LOINC, code: '8480-6' }] },
    subject: { reference: 'http://other.example/fhir/Patient/p1' },
  },
  {
    resourceType: 'Encounter',
    id: 'e1',
    status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' },
    subject: { reference: 'Patient/p1' },
    period: { start: '2024-03-01', end: '2024-03-10' },
  },
  {
    resourceType: 'Encounter',
    id: 'e2',
    status: 'in-progress',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' },
    subject: { reference: 'Patient/p2' },
    participant: [{ individual: { reference: 'Practitioner/pr1' } }],
    period: { start: '2024-03-05' },
  },
  {
    resourceType: 'CarePlan',
    id: 'cp1',
    status: 'active',
    intent: 'plan',
    subject: { reference: 'Patient/p1' },
    activity: [{ detail: { status: 'scheduled', scheduledTiming: { event: ['2024-04-01T09:00:00Z', '2024-04-15T09:00:00Z'] } } }],
  },
  { resourceType: 'CarePlan', id: 'cp2', status: 'draft', intent: 'plan', subject: { reference: 'Patient/p2' } },
  { resourceType: 'CarePlan', id: 'cp3', status: 'active', intent: 'plan', subject: { reference: 'Group/g1' } },
  { resourceType: 'Location', id: 'loc1', name: 'Antenne Saint-Étienne', position: { latitude: 45.4397, longitude: 4.3872 } },
  { resourceType: 'Location', id: 'loc2', name: 'Antenne Lyon', position: { latitude: 45.764, longitude: 4.8357 } },
  { resourceType: 'Location', id: 'loc3', name: 'Siège Paris', position: { latitude: 48.8566, longitude: 2.3522 } },
  { resourceType: 'RiskAssessment', id: 'ra1', status: 'final', subject: { reference: 'Patient/p1' }, prediction: [{ probabilityDecimal: 0.25 }] },
  { resourceType: 'RiskAssessment', id: 'ra2', status: 'final', subject: { reference: 'Patient/p2' }, prediction: [{ probabilityDecimal: 0.3 }] },
  { resourceType: 'ValueSet', id: 'vs1', status: 'active', url: 'http://relais.test/fhir/ValueSet/a/b' },
  { resourceType: 'ValueSet', id: 'vs2', status: 'active', url: 'http://relais.test/fhir/ValueSet/a' },
  { resourceType: 'ValueSet', id: 'vs3', status: 'active', url: 'http://other.org/vs' },
  // --- terminology modifiers (:in, :not-in, :below, :above) ---
  // Communication.category: the network's ValueSet relais-communication-category (profiles/) has
  // information, question, alert and report of the Relais CodeSystem.
  { resourceType: 'Communication', id: 'com1', status: 'completed', category: [{ coding: [{ system: RELAIS_COM, code: 'alert' }] }] },
  {
    resourceType: 'Communication',
    id: 'com2',
    status: 'completed',
    category: [{ coding: [{ system: RELAIS_COM, code: 'question' }] }, { coding: [{ system: HL7_COM, code: 'notification' }] }],
  },
  // Same code as com1, another system: in no Relais value set.
  { resourceType: 'Communication', id: 'com3', status: 'completed', category: [{ coding: [{ system: HL7_COM, code: 'alert' }] }] },
  { resourceType: 'Communication', id: 'com4', status: 'completed' },
  // ValueSets stored on the server (not in profiles/ nor in a package): named by ValueSet/id or by their url.
  {
    resourceType: 'ValueSet',
    id: 'vs-urgent',
    status: 'active',
    url: 'http://relais.test/terminology/ValueSet/urgent',
    version: '2',
    compose: { include: [{ system: RELAIS_COM, concept: [{ code: 'alert' }] }, { system: HL7_COM, concept: [{ code: 'alert' }] }] },
  },
  {
    resourceType: 'ValueSet',
    id: 'vs-female',
    status: 'active',
    url: 'http://relais.test/terminology/ValueSet/female',
    compose: { include: [{ system: 'http://hl7.org/fhir/administrative-gender', concept: [{ code: 'female' }] }] },
  },
  {
    resourceType: 'ValueSet',
    id: 'vs-snomed',
    status: 'active',
    url: 'http://relais.test/terminology/ValueSet/snomed-disorders',
    compose: { include: [{ system: 'http://snomed.info/sct', filter: [{ property: 'concept', op: 'is-a', value: '64572001' }] }] },
  },
  // Procedure.code over the hierarchical CodeSystem of TERMINOLOGY_PACKAGE (see its tree below).
  ...(
    [
      ['proc1', CARE_ACTS, 'injection'],
      ['proc2', CARE_ACTS, 'pansement-complexe'],
      ['proc3', CARE_ACTS, 'toilette'],
      ['proc4', CARE_ACTS, 'surveillance'],
      ['proc5', CARE_ACTS, 'repas'],
      ['proc6', 'http://other.example/acts', 'injection'],
      ['proc7', CARE_ACTS, 'soins'],
    ] as const
  ).map(([id, system, code]) => ({ resourceType: 'Procedure', id, status: 'completed', subject: { reference: 'Patient/p1' }, code: { coding: [{ system, code }] } })),
] as unknown as Resource[];

/**
 * A FHIR package the suite builds and loads through FHIR_PACKAGES_DIR (neither
 * profiles/ nor FR Core has a hierarchical CodeSystem). care-acts:
 *
 *   soins
 *     soins-infirmiers
 *       injection
 *       pansement
 *         pansement-complexe
 *       (surveillance, a top-level concept whose subsumedBy property names soins-infirmiers)
 *     soins-hygiene
 *       toilette
 *   aide
 *     repas
 */
export const TERMINOLOGY_PACKAGE: Resource[] = [
  {
    resourceType: 'CodeSystem',
    id: 'care-acts',
    url: CARE_ACTS,
    version: '1',
    status: 'active',
    content: 'complete',
    hierarchyMeaning: 'is-a',
    property: [{ code: 'subsumedBy', uri: 'http://hl7.org/fhir/concept-properties#parent', type: 'code' }],
    concept: [
      {
        code: 'soins',
        concept: [
          { code: 'soins-infirmiers', concept: [{ code: 'injection' }, { code: 'pansement', concept: [{ code: 'pansement-complexe' }] }] },
          { code: 'soins-hygiene', concept: [{ code: 'toilette' }] },
        ],
      },
      { code: 'aide', concept: [{ code: 'repas' }] },
      { code: 'surveillance', property: [{ code: 'subsumedBy', valueCode: 'soins-infirmiers' }] },
    ],
  },
  {
    resourceType: 'ValueSet',
    id: 'nursing-acts',
    url: 'http://relais.test/fhir/ValueSet/nursing-acts',
    version: '1',
    status: 'active',
    compose: { include: [{ system: CARE_ACTS, filter: [{ property: 'concept', op: 'is-a', value: 'soins-infirmiers' }] }] },
  },
  // More codes than the server searches at once (MAX_TERMINOLOGY_CODES = 1000).
  {
    resourceType: 'CodeSystem',
    id: 'many',
    url: 'http://relais.test/fhir/CodeSystem/many',
    status: 'active',
    content: 'complete',
    concept: Array.from({ length: 1001 }, (_, i) => ({ code: `c${i}` })),
  },
  { resourceType: 'ValueSet', id: 'many', url: 'http://relais.test/fhir/ValueSet/many', status: 'active', compose: { include: [{ system: 'http://relais.test/fhir/CodeSystem/many' }] } },
] as unknown as Resource[];
