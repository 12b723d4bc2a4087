/**
 * Derives the compact Patient compartment artefact the access policy loads at
 * start-up from HL7's own CompartmentDefinition-patient.json (package
 * `hl7.fhir.r4.examples@4.0.1`, CC0): for each resource type that can belong to
 * a patient's compartment, the search parameters whose references name the
 * patient. Types listed without parameters are never in the compartment and are
 * left out. The output is committed (src/fhir/definitions/r4-patient-compartment.json)
 * and a unit test checks it is what this script produces.
 *
 * Usage: npm run build:compartment
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
const outFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'fhir', 'definitions', 'r4-patient-compartment.json');

interface CompartmentDefinitionJson {
  url: string;
  code: string;
  resource: Array<{ code: string; param?: string[] }>;
}

export interface PatientCompartmentArtefact {
  url: string;
  /** Resource type → search parameter codes linking it to the patient ("{def}" = the Patient itself). */
  params: Record<string, string[]>;
}

export function buildPatientCompartment(): PatientCompartmentArtefact {
  const definition = JSON.parse(readFileSync(join(packageDir, 'CompartmentDefinition-patient.json'), 'utf8')) as CompartmentDefinitionJson;
  if (definition.code !== 'Patient') throw new Error(`unexpected compartment ${definition.code}`);
  const params: Record<string, string[]> = {};
  for (const entry of definition.resource) {
    if (entry.param && entry.param.length > 0) params[entry.code] = [...entry.param];
  }
  return { url: definition.url, params };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  writeFileSync(outFile, JSON.stringify(buildPatientCompartment(), null, 1) + '\n');
  process.stdout.write(`wrote ${outFile}\n`);
}
