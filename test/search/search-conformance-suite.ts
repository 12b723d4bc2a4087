/**
 * The search conformance suite, written once and run on every store: call
 * `searchConformanceSuite(name, factory)` from a test file with a factory that
 * gives a fresh, empty store (test/search/conformance-embedded.test.ts does it
 * for the embedded store; the MongoDB store runs the same function).
 *
 * Each expectation was derived by hand from test/search/fixtures.ts and the R4
 * search page; the comment beside it gives the reasoning.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createTar } from 'nanotar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome, Resource } from 'fhir/r4';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import { FhirError } from '../../src/errors.js';
import type { ResourceStore } from '../../src/store/resource-store.js';
import { FIXTURES, TERMINOLOGY_PACKAGE } from './fixtures.js';

export interface StoreFactory {
  /** A fresh, empty store (not yet opened) and how to dispose of it afterwards. */
  (): Promise<{ store: ResourceStore; dispose(): Promise<void> }>;
}

type Case = [query: string, expected: string[], why: string];

export function searchConformanceSuite(name: string, factory: StoreFactory): void {
  describe(`search conformance (${name})`, () => {
    let ctx: RelaisContext;
    let dispose: () => Promise<void>;
    let packagesDir: string;

    beforeAll(async () => {
      const made = await factory();
      dispose = made.dispose;
      // The hierarchical CodeSystem of the terminology cases, loaded the way FHIR_PACKAGES_DIR loads FR Core.
      packagesDir = mkdtempSync(join(tmpdir(), 'relais-search-packages-'));
      const files = [
        { name: 'package/package.json', data: JSON.stringify({ name: 'relais.test.terminology', version: '0.0.1' }) },
        ...TERMINOLOGY_PACKAGE.map((r) => ({ name: `package/${r.resourceType}-${r.id}.json`, data: JSON.stringify(r) })),
      ];
      writeFileSync(join(packagesDir, 'relais.test.terminology-0.0.1.tgz'), gzipSync(createTar(files)));
      ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', FHIR_PACKAGES_DIR: packagesDir }), made.store);
      await ctx.store.open();
      // Written straight to the store with the server's own index extraction: the suite is about search,
      // so profile rules (e.g. FR Core's INS constraints) must not decide what the fixtures may contain.
      const { extractor } = ctx.engine.facts;
      // One write per resource: a MongoDB deployment without transactions refuses multi-operation writes.
      for (const resource of FIXTURES) {
        await ctx.store.write([{ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: extractor.extract(resource), expect: 'absent' }]);
      }
    });
    afterAll(async () => {
      await ctx.store.close();
      await dispose();
      rmSync(packagesDir, { recursive: true, force: true });
    });

    const run = (type: string | undefined, query: string, strict = false): Promise<Bundle<Resource>> =>
      ctx.engine.asServer('test setup').search(type, [...new URLSearchParams(query).entries()], { strict });
    const matches = (bundle: Bundle<Resource>) => (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!);
    const included = (bundle: Bundle<Resource>) => (bundle.entry ?? []).filter((e) => e.search?.mode === 'include').map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort();
    const table = (type: string, cases: Case[]) => {
      for (const [query, expected, why] of cases) {
        it(`${type}?${query} → [${expected.join(', ')}] (${why})`, async () => {
          expect(matches(await run(type, query)).sort()).toEqual([...expected].sort());
        });
      }
    };
    const rejects = async (type: string, query: string, status = 400, strict = false) => {
      const error = await run(type, query, strict).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FhirError);
      expect((error as FhirError).status).toBe(status);
    };

    describe('string', () => {
      table('Patient', [
        ['name=helene', ['p1'], 'accent- and case-insensitive starts-with on a name part'],
        ['name=HEL', ['p1', 'p3'], 'Hélène and Helena both start with hel'],
        ['family=dupont', ['p1'], 'Dupont-Martin starts with dupont; Dupond does not'],
        ['family=dupon', ['p1', 'p4'], 'both Dupont-Martin and Dupond'],
        ['family=martin', ['p3'], 'starts-with, not contains: Dupont-Martin does not start with martin'],
        ['family:contains=martin', ['p1', 'p3'], ':contains finds it inside Dupont-Martin'],
        ['family:exact=Dupont-Martin', ['p1'], ':exact is exact'],
        ['family:exact=dupont-martin', [], ':exact is case-sensitive'],
        ['given=jean-pierre', ['p2'], 'hyphenated given name'],
        ['given=jean pierre', ['p2'], 'hyphen and space are the same'],
        ["family=n'diaye", ['p2'], 'typewriter apostrophe finds the typographic one'],
        ['name=oedipe', ['p5'], 'the œ ligature'],
        ['address-city=saint-etienne', ['p1'], 'accents and hyphen in a city'],
        ['family=martin,dupond', ['p3', 'p4'], 'comma is OR'],
        ['name=dupont&name=helene', ['p1'], 'repeated parameter is AND'],
        ['name=dupont&name=jean', [], 'AND with nobody having both'],
      ]);
    });

    describe('token', () => {
      table('Patient', [
        ['identifier=urn:oid:1.2.250.1.213.1.4.8|2500375123456', ['p1'], 'system|code'],
        ['identifier=2500375123456', ['p1'], 'code in any system'],
        ['identifier=|X1', ['p4'], '|code: identifier without a system'],
        ['identifier=urn:oid:1.2.250.1.213.1.4.8|', ['p1', 'p2'], 'system|: any code in the NIR system'],
        ['identifier:of-type=https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203|INS-NIR|2500375123456', ['p1'], ':of-type'],
        ['identifier:of-type=https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203|INS-NIR|1480299123456', [], 'p2 has that value but no INS-NIR type'],
        ['identifier=urn:test|A\\,B', ['p4'], 'escaped comma is part of the value'],
        ['identifier=urn:test|A,B', [], 'unescaped comma: urn:test|A OR B, neither exists'],
        ['gender=female', ['p1', 'p3'], 'code'],
        ['gender=female,male', ['p1', 'p2', 'p3'], 'OR'],
        ['gender:not=female', ['p2', 'p4', 'p5'], ':not includes resources without a gender'],
        ['gender:missing=true', ['p4', 'p5'], ':missing=true'],
        ['gender:missing=false', ['p1', 'p2', 'p3'], ':missing=false'],
        ['active=false', ['p4'], 'boolean'],
        ['_tag=http://relais.test/tags|pilot', ['p1'], 'meta.tag'],
        ['_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R', ['p3'], 'meta.security'],
        ['_id=p1,p3', ['p1', 'p3'], '_id with OR'],
      ]);
      table('Observation', [
        ['code=http://loinc.org|8480-6', ['o1', 'o5', 'o6'], 'Observation.code only; o4 has 8480-6 only in a component'],
        ['code:text=pression', ['o5'], ':text on CodeableConcept.text'],
        ['code:text=systolic', ['o1'], ':text on Coding.display'],
        ['status=preliminary', ['o3'], 'code'],
      ]);
    });

    describe('token :in, :not-in, :below, :above (terminology)', () => {
      const RELAIS_VS = 'https://relais-sante.fr/fhir/ValueSet/relais-communication-category';
      const GENDER_VS = 'http://hl7.org/fhir/ValueSet/administrative-gender';
      const ACTS = 'http://relais.test/fhir/CodeSystem/care-acts';
      table('Communication', [
        [`category:in=${RELAIS_VS}`, ['com1', 'com2'], 'network ValueSet (profiles/): alert and question; com3 has alert of another system'],
        [`category:in=${RELAIS_VS}|0.1.0`, ['com1', 'com2'], 'url|version naming the version held'],
        [`category:not-in=${RELAIS_VS}`, ['com3', 'com4'], 'like :not: no coding in the set, com4 without a category included'],
        ['category:in=ValueSet/vs-urgent', ['com1', 'com3'], 'ValueSet stored on the server, by reference: alert in both systems'],
        ['category:in=http://relais.test/fhir/ValueSet/vs-urgent', ['com1', 'com3'], "absolute URL on this server"],
        ['category:in=http://relais.test/terminology/ValueSet/urgent|2', ['com1', 'com3'], 'canonical of a stored ValueSet'],
        [`category:in=${RELAIS_VS},ValueSet/vs-urgent`, ['com1', 'com2', 'com3'], 'comma is OR: union of the two sets'],
        [`category:in=${RELAIS_VS}&category:in=ValueSet/vs-urgent`, ['com1'], 'repeated is AND'],
        ['category:not-in=ValueSet/vs-urgent', ['com2', 'com4'], 'com2 has question and notification, neither urgent'],
      ]);
      table('Patient', [
        [`gender:in=${GENDER_VS}`, ['p1', 'p2', 'p3'], 'R4 core ValueSet; gender is a code, its system implicit'],
        [`gender:in=${GENDER_VS}|4.0.1`, ['p1', 'p2', 'p3'], 'R4 core ValueSets are version 4.0.1'],
        [`gender:not-in=${GENDER_VS}`, ['p4', 'p5'], 'those without a gender'],
        ['gender:in=ValueSet/vs-female', ['p1', 'p3'], 'stored ValueSet listing administrative-gender|female'],
        ['gender:not-in=ValueSet/vs-female', ['p2', 'p4', 'p5'], 'same as gender:not=female'],
      ]);
      table('Procedure', [
        [`code:below=${ACTS}|soins-infirmiers`, ['proc1', 'proc2', 'proc4'], 'injection, pansement-complexe (two levels), surveillance (subsumedBy property); the code itself included'],
        [`code:below=${ACTS}|pansement`, ['proc2'], 'pansement-complexe'],
        [`code:below=${ACTS}|soins`, ['proc1', 'proc2', 'proc3', 'proc4', 'proc7'], 'the whole soins branch, soins itself included; not repas, not proc6 (other system)'],
        [`code:below=${ACTS}|injection`, ['proc1'], 'a leaf: only itself; proc6 has injection in another system'],
        [`code:above=${ACTS}|pansement-complexe`, ['proc2', 'proc7'], 'itself, pansement, soins-infirmiers, soins'],
        [`code:above=${ACTS}|surveillance`, ['proc4', 'proc7'], 'surveillance → soins-infirmiers (property) → soins'],
        [`code:above=${ACTS}|repas`, ['proc5'], 'repas and aide'],
        [`code:below=${ACTS}|repas,${ACTS}|toilette`, ['proc3', 'proc5'], 'OR'],
        ['code:in=http://relais.test/fhir/ValueSet/nursing-acts', ['proc1', 'proc2', 'proc4'], 'package ValueSet with an is-a filter, same hierarchy'],
        ['code:not-in=http://relais.test/fhir/ValueSet/nursing-acts', ['proc3', 'proc5', 'proc6', 'proc7'], 'negation of the line above'],
      ]);

      const refused = async (type: string, query: string, code: string, says: RegExp) => {
        const error = await run(type, query).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(FhirError);
        expect((error as FhirError).status).toBe(400);
        expect((error as FhirError).issues[0].code).toBe(code);
        expect((error as FhirError).issues[0].diagnostics).toMatch(says);
      };
      it('an unknown ValueSet is a 400 saying so, also under lenient handling', async () => {
        await refused('Communication', 'category:in=http://relais.test/nope/ValueSet/x', 'not-found', /not known/);
        await refused('Communication', 'category:in=ValueSet/absent', 'not-found', /not stored/);
        await refused('Communication', `category:not-in=${RELAIS_VS}|9.9`, 'not-found', /Version '9\.9'/);
      });
      it('a ValueSet including a code system by a filter the server cannot evaluate is a 400', async () => {
        await refused('Communication', 'category:in=ValueSet/vs-snomed', 'not-supported', /cannot list/);
      });
      it('an expansion above the cap is a 400 too-costly', async () => {
        await refused('Procedure', 'code:in=http://relais.test/fhir/ValueSet/many', 'too-costly', /more than 1000 codes/);
      });
      it(':below/:above need a code of a CodeSystem the server holds completely', async () => {
        await refused('Procedure', `code:below=${ACTS}|absent`, 'not-found', /not a code/);
        await refused('Procedure', 'code:above=http://snomed.info/sct|64572001', 'not-found', /hierarchy is unknown/);
        await rejects('Procedure', 'code:below=soins'); // no system
      });
      it('operator- and regex-like values widen nothing: they name no ValueSet or code', async () => {
        for (const query of [
          'category:in=.*',
          `category:in=${RELAIS_VS}.*`,
          'category:in={"$ne":null}',
          `category:in=${RELAIS_VS}|.*`,
          'category:not-in=.*',
          `category:in=ValueSet/.*`,
        ]) {
          const error = await run('Communication', query).catch((e: unknown) => e);
          expect((error as FhirError).status, query).toBe(400);
        }
        await refused('Procedure', `code:below=${ACTS}|.*`, 'not-found', /not a code/);
        await refused('Procedure', `code:above=${ACTS}|{"$gt":""}`, 'not-found', /not a code/);
      });
    });

    describe('reference', () => {
      table('Observation', [
        ['subject=Patient/p1', ['o1', 'o2'], 'Type/id; o6 points at another server'],
        ['patient=p1', ['o1', 'o2'], 'bare id, patient only targets Patient'],
        ['subject=p2', ['o3', 'o5'], 'bare id on a multi-target parameter'],
        ['subject:Patient=p2', ['o3', 'o5'], ':Type modifier'],
        ['subject=http://relais.test/fhir/Patient/p1', ['o1', 'o2'], 'absolute URL on this server = local reference'],
        ['subject=http://other.example/fhir/Patient/p1', ['o6'], 'absolute URL elsewhere'],
        ['performer:identifier=https://rpps.esante.gouv.fr|10101010101', ['o2'], ':identifier (RPPS)'],
        ['subject:missing=true', [], 'every observation has a subject'],
      ]);
    });

    describe('Condition subject (not shadowed by HL7 example-reference)', () => {
      table('Condition', [
        ['subject=Patient/p1', ['cond1'], "Condition-subject; HL7's example SearchParameter restricted subject to Organization"],
        ['patient=p2', ['cond2'], 'clinical-patient'],
      ]);
    });

    describe('phonetic (FONEM, French names)', () => {
      table('Patient', [
        ['phonetic=dupond', ['p1', 'p4'], 'Dupont (word of Dupont-Martin) and Dupond sound alike'],
        ['phonetic=Lefebvre', ['p5'], 'Lefèvre'],
        ['phonetic=LEFEVRE', ['p5'], 'case and accents do not matter'],
        ['phonetic=Elene', ['p1'], 'Hélène; not Helena'],
        ['phonetic=dupond martin', ['p1'], 'the whole part Dupont-Martin'],
        ['phonetic=martin', ['p1', 'p3'], 'a word of Dupont-Martin, and Martin'],
        ['phonetic=durand', [], 'nobody'],
      ]);
      it('a value without letters is a 400', async () => {
        await rejects('Patient', 'phonetic=1234');
      });
    });

    describe('_text and _content (full text)', () => {
      table('Condition', [
        ['_text=escarre', ['cond1'], 'a word of the narrative'],
        ['_text=sacree', ['cond1'], 'accents folded, inside markup'],
        ['_text=ESCAR', ['cond1'], 'case folded, start of a word'],
        ['_text=carre', [], 'words are matched from their start'],
        ['_text=stade pansement', ['cond1'], 'all words of a value'],
        ['_text=stade diabete', [], 'all words must be there'],
        ['_text=stade,diabete', ['cond1', 'cond2'], 'comma is OR'],
        ['_text=matelas', [], 'the note is not narrative'],
        ['_content=matelas', ['cond1'], '_content covers every text of the resource'],
        ['_content=infirmiere', ['cond2'], 'in a note, with a typographic apostrophe before it'],
        ['_content=glycemique surveillance', ['cond2'], 'words in any order'],
        ['_content=diabete', ['cond2'], 'narrative and code text'],
      ]);
    });

    describe('parameters this server cannot evaluate are reported, never silently empty', () => {
      for (const query of ['_query=x', '_filter=name eq x', 'age=30']) {
        const type = query.startsWith('age') ? 'Patient' : 'Condition';
        it(`${type}?${query} is listed in an outcome entry, and is a 400 with handling=strict`, async () => {
          const bundle = await run(type, query);
          const outcome = bundle.entry!.find((e) => e.search?.mode === 'outcome')!.resource as OperationOutcome;
          expect(outcome.issue[0].expression).toEqual([query.split('=')[0]]);
          await rejects(type, query, 400, true);
        });
      }
    });

    describe('chaining and _has', () => {
      table('Observation', [
        ['subject:Patient.name=helene', ['o1', 'o2'], 'typed chain'],
        ['patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1480299123456', ['o3', 'o5'], 'chain on a token'],
        ['patient.organization.name=ssiad', ['o1', 'o2'], 'two levels: p1 is managed by SSIAD Loire'],
        ['subject:Patient.gender=male&code=8480-6', ['o5'], 'chain ANDed with a plain parameter'],
      ]);
      table('Encounter', [['participant.identifier=https://rpps.esante.gouv.fr|10101010101', ['e2'], 'untyped chain through Practitioner']]);
      table('Patient', [
        ['_has:Observation:patient:code=http://loinc.org|29463-7', ['p1', 'p2'], 'weights o2 (p1) and o3 (p2)'],
        ['_has:Observation:patient:code=8480-6', ['p1', 'p2'], 'o1 (p1) and o5 (p2); o4 has it only in a component, o6 points elsewhere'],
        ['_has:Observation:subject:status=preliminary', ['p2'], 'o3'],
      ]);
      table('Organization', [
        ['_has:Patient:organization:_has:Observation:patient:status=preliminary', ['org2'], 'nested: o3 → p2 → org2'],
        ['_has:Patient:organization:_has:Observation:patient:code=29463-7', ['org1', 'org2'], 'nested: o2 → p1 → org1, o3 → p2 → org2'],
      ]);
    });

    describe('date', () => {
      table('Patient', [
        ['birthdate=1950', ['p1', 'p3'], '1950-03-15 and 1950-03 lie within 1950'],
        ['birthdate=1950-03', ['p1', 'p3'], 'both within March 1950'],
        ['birthdate=1950-03-15', ['p1'], "p3's month is not within the day"],
        ['birthdate=gt1950-03-15', ['p3', 'p4'], 'p3 (March 1950) extends after the 15th'],
        ['birthdate=lt1950', ['p2'], '1948'],
        ['birthdate=ge1950-03-15', ['p1', 'p3', 'p4'], 'within, or extending after'],
        ['birthdate=le1948', ['p2'], 'within 1948'],
        ['birthdate=sa1950', ['p4'], 'starts after 1950'],
        ['birthdate=eb1950-03-15', ['p2'], 'p3 starts before but does not end before'],
        ['birthdate=ne1950', ['p2', 'p4'], 'has a birth date not within 1950'],
        ['birthdate:missing=true', ['p5'], 'no birthDate'],
        ['_lastUpdated=gt2000-01-01', ['p1', 'p2', 'p3', 'p4', 'p5'], 'all written now'],
        ['_lastUpdated=lt2000-01-01', [], 'none before 2000'],
      ]);
      table('Observation', [
        ['date=2024-03-05', ['o1'], 'dateTime within the day'],
        ['date=2024-02', ['o3'], 'Period within February'],
        ['date=2024-02-15', [], 'a period is not within one day'],
        ['date=ge2024-02-15', ['o1', 'o2', 'o3', 'o5'], 'o3 ends after; o5 is the year 2024'],
        ['date=2023-12-31', ['o4'], '23:30+01:00 is 22:30Z on Dec 31'],
        ['date=2024-01-01', [], 'not Jan 1 in UTC'],
        ['date=2024-03-05T10:00:00Z', ['o1'], 'to the second'],
      ]);
      table('Encounter', [
        ['date=ge2024-03-05', ['e1', 'e2'], 'e1 ends 03-10; e2 is open-ended'],
        ['date=lt2024-03-02', ['e1'], 'e1 starts 03-01'],
        ['date=2024-03-05', [], 'neither period lies within the day'],
      ]);
      table('CarePlan', [
        ['activity-date=2024-04', ['cp1'], 'Timing events on Apr 1 and 15'],
        ['activity-date=2024-04-01', [], 'the Timing spans more than the day'],
      ]);
      table('CarePlan', [
        ['patient=g1', [], "clinical-patient is CarePlan.subject.where(resolve() is Patient): a Group subject is not a patient"],
        ['subject=Group/g1', ['cp3'], 'but it is a subject'],
        ['patient=p1', ['cp1'], 'bare id on patient'],
      ]);
    });

    describe('number and quantity', () => {
      table('RiskAssessment', [
        ['probability=0.3', ['ra1', 'ra2'], 'implicit precision [0.25, 0.35)'],
        ['probability=0.30', ['ra2'], '[0.295, 0.305)'],
        ['probability=gt0.25', ['ra2'], 'strictly greater'],
        ['probability=ge0.25', ['ra1', 'ra2'], 'greater or equal'],
        ['probability=lt0.3', ['ra1'], 'strictly less'],
        ['probability=ne0.3', [], 'both lie in [0.25, 0.35)'],
      ]);
      table('Observation', [
        ['value-quantity=120', ['o1'], 'number only'],
        ['value-quantity=120|http://unitsofmeasure.org|mm[Hg]', ['o1'], 'UCUM code'],
        ['value-quantity=70|http://unitsofmeasure.org|kg', ['o3'], '70000 g = 70 kg (canonical)'],
        ['value-quantity=gt60|http://unitsofmeasure.org|kg', ['o2', 'o3'], '65.5 kg and 70 kg'],
        ['value-quantity=65.5||kg', ['o2'], 'unit code without system'],
        ['value-quantity=lt130||mm[Hg]', ['o1'], '120 < 130; 135 is not'],
        ['value-quantity=ap125|http://unitsofmeasure.org|mm[Hg]', ['o1', 'o5'], '±10%: [112.5, 137.5]'],
      ]);
    });

    describe('composite', () => {
      table('Observation', [
        ['code-value-quantity=http://loinc.org|8480-6$gt125|http://unitsofmeasure.org|mm[Hg]', ['o5'], 'systolic above 125'],
        ['component-code-value-quantity=http://loinc.org|8480-6$gt140', ['o4'], 'systolic component 150'],
        ['component-code-value-quantity=http://loinc.org|8462-4$gt140', [], 'diastolic is 90; 150 belongs to another component'],
      ]);
    });

    describe('uri', () => {
      table('ValueSet', [
        ['url=http://relais.test/fhir/ValueSet/a', ['vs2'], 'exact'],
        ['url:below=http://relais.test/fhir/ValueSet/a', ['vs1', 'vs2'], 'the value and below'],
        ['url:above=http://relais.test/fhir/ValueSet/a/b/c', ['vs1', 'vs2'], 'ancestors of the value'],
      ]);
      table('Patient', [['_profile=https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient', ['p2'], 'meta.profile']]);
    });

    describe('near', () => {
      table('Location', [
        // Saint-Étienne–Lyon is about 50 km as the crow flies; Paris about 400 km.
        ['near=45.4397|4.3872|40|km', ['loc1'], 'Lyon is farther than 40 km'],
        ['near=45.4397|4.3872|60|km', ['loc1', 'loc2'], 'Lyon within 60 km'],
        ['near=45.4397|4.3872|45000|m', ['loc1'], 'metres'],
        ['near=45.4397|4.3872|35|[mi_i]', ['loc1', 'loc2'], '35 miles = 56 km'],
        ['near=45.4397|4.3872|30|[mi_i]', ['loc1'], '30 miles = 48 km'],
      ]);
    });

    describe('results', () => {
      it('_sort on a date ascending uses the start of each range; missing values last', async () => {
        expect(matches(await run('Patient', '_sort=birthdate'))).toEqual(['p2', 'p3', 'p1', 'p4', 'p5']);
      });
      it('_sort descending uses the end of each range', async () => {
        expect(matches(await run('Patient', '_sort=-birthdate'))).toEqual(['p4', 'p3', 'p1', 'p2', 'p5']);
      });
      it('_sort on several keys of different types', async () => {
        expect(matches(await run('Patient', '_sort=gender,-birthdate'))).toEqual(['p3', 'p1', 'p2', 'p4', 'p5']);
      });
      it('_sort on a string uses the normalised value', async () => {
        expect(matches(await run('Patient', '_sort=family'))).toEqual(['p4', 'p1', 'p5', 'p3', 'p2']);
      });
      it('_include follows a reference; included resources have mode include', async () => {
        const bundle = await run('Observation', '_id=o1&_include=Observation:patient');
        expect(matches(bundle)).toEqual(['o1']);
        expect(included(bundle)).toEqual(['Patient/p1']);
      });
      it('_include with a target type', async () => {
        const bundle = await run('Observation', 'code=29463-7&_include=Observation:subject:Patient');
        expect(included(bundle)).toEqual(['Patient/p1', 'Patient/p2']);
      });
      it('_include:iterate follows references of included resources', async () => {
        const bundle = await run('Observation', '_id=o1&_include=Observation:patient&_include:iterate=Patient:organization');
        expect(included(bundle)).toEqual(['Organization/org1', 'Patient/p1']);
      });
      it('_include=* follows every reference parameter', async () => {
        const bundle = await run('Encounter', '_id=e2&_include=*');
        expect(included(bundle)).toEqual(['Patient/p2', 'Practitioner/pr1']);
      });
      it('_revinclude brings the resources pointing at the matches', async () => {
        const bundle = await run('Patient', '_id=p1&_revinclude=Observation:patient');
        expect(included(bundle)).toEqual(['Observation/o1', 'Observation/o2']);
      });
      it('system search with _type', async () => {
        const bundle = await run(undefined, '_type=Patient,Practitioner&_id=p1,pr1');
        expect((bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`).sort()).toEqual(['Patient/p1', 'Practitioner/pr1']);
      });
      it('system search without _type on a Resource-level parameter', async () => {
        const bundle = await run(undefined, '_tag=http://relais.test/tags|pilot');
        expect((bundle.entry ?? []).map((e) => `${e.resource!.resourceType}/${e.resource!.id}`)).toEqual(['Patient/p1']);
      });
      it('_total=none omits the total; accurate gives it', async () => {
        expect((await run('Patient', '_total=none')).total).toBeUndefined();
        expect((await run('Patient', '_total=accurate&_count=2')).total).toBe(5);
      });
      it('_total=estimate gives the exact total (it costs nothing more: see docs/search.md)', async () => {
        expect((await run('Patient', '_total=estimate&_count=2')).total).toBe(5); // several pages: the snapshot's size
        expect((await run('Patient', '_total=estimate&gender=female')).total).toBe(2); // one page: the matches read
        expect((await run('Patient', 'gender=female&_offset=1&_count=1')).total).toBe(2); // one page after an offset: counted
      });
      it('_summary=count gives only the total', async () => {
        const bundle = await run('Observation', 'subject=Patient/p1&_summary=count');
        expect(bundle.total).toBe(2);
        expect(bundle.entry).toBeUndefined();
      });
      it('_elements keeps the asked elements and marks the resource SUBSETTED', async () => {
        const bundle = await run('Patient', '_id=p1&_elements=birthDate');
        const resource = bundle.entry![0].resource as unknown as Record<string, unknown> & { meta: { tag: Array<{ code: string }> } };
        expect(resource.birthDate).toBe('1950-03-15');
        expect(resource.name).toBeUndefined();
        expect(resource.meta.tag.map((t) => t.code)).toContain('SUBSETTED');
      });
      it('an unknown parameter is ignored, left out of the self link and reported in an outcome entry', async () => {
        const bundle = await run('Patient', 'foo=bar&gender=male');
        expect(matches(bundle)).toEqual(['p2']);
        const self = bundle.link!.find((l) => l.relation === 'self')!.url;
        expect(self).toContain('gender=male');
        expect(self).not.toContain('foo');
        const outcome = bundle.entry!.find((e) => e.search?.mode === 'outcome')!.resource as OperationOutcome;
        expect(outcome.issue[0].expression).toEqual(['foo']);
      });
      it('Prefer: handling=strict makes an unknown parameter a 400', async () => {
        await rejects('Patient', 'foo=bar', 400, true);
      });
    });

    describe('malformed values are always 400', () => {
      for (const query of [
        'birthdate=xx1950',
        'birthdate=1950-13',
        'birthdate=1950-02-30',
        'value-quantity=abc',
        'probability=1,,2',
        'gender:nonsense=male',
        'name:below=x',
        '_count=-1',
        '_sort=nonexistent',
        'near=91|0|1|km',
        'near=45|4|10|kg',
        'subject=not a reference',
        '_include=Nope:subject',
        'code-value-quantity=http://loinc.org|8480-6',
      ]) {
        const type = query.startsWith('probability') ? 'RiskAssessment' : query.startsWith('near') ? 'Location' : query.startsWith('value') || query.startsWith('subject') || query.startsWith('code') ? 'Observation' : 'Patient';
        it(`${type}?${query}`, async () => {
          await rejects(type, query);
        });
      }
    });
  });
}
