/**
 * Validation throughput on one core (this process is single-threaded): full
 * validation (structure + base R4 rules + network profiles) of typical network
 * resources, as a write does. Short by default; `--seconds N` per resource kind.
 *
 *   npx tsx scripts/validation-benchmark.ts [--seconds 2]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conformanceRegistry } from '../src/validation/validation-from-config.js';
import { DEFAULT_PROFILES_DIR } from '../src/conformance/load-conformance.js';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { StructureValidator } from '../src/validation/structure-validator.js';
import { ValidationService } from '../src/validation/validation-service.js';

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 1;
const definitions = loadDefinitions();
const started = performance.now();
// As the server runs by default: profiles/ and the FR Core package of fhir-packages/.
const service = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(join(DEFAULT_PROFILES_DIR, '..', 'fhir-packages')), 'network');
const startup = performance.now() - started;
const example = (f: string) => JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'examples', f), 'utf8'));

// The content of a discharge bundle: patient, stay, orders, checklist tasks, PPS, team.
const discharge = ['Patient-patient-ins-durand.json', 'Encounter-stay-durand.json', 'ServiceRequest-order-picc-durand.json', 'Task-checklist-gp-informed.json', 'CarePlan-pps-durand.json', 'CareTeam-team-durand.json', 'Communication-question-durand.json'].map(example);
const cases: Array<[string, unknown[]]> = [
  ['Patient with INS (relais-patient-ins)', [example('Patient-patient-ins-durand.json')]],
  ['PPS CarePlan (relais-careplan)', [example('CarePlan-pps-durand.json')]],
  ['discharge bundle contents (7 resources)', discharge],
];

const firstCompile = performance.now();
for (const [, resources] of cases) for (const r of resources) service.validate(r);
console.log(`service built in ${startup.toFixed(1)} ms; first validation of each (lazy profile compilation) ${(performance.now() - firstCompile).toFixed(1)} ms`);
for (const [label, resources] of cases) {
  for (const r of resources) {
    const errors = service.validate(r).filter((i) => i.severity === 'error');
    if (errors.length) throw new Error(`${label}: example not valid: ${JSON.stringify(errors[0])}`);
  }
  let count = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 50; i++) for (const r of resources) service.validate(r);
    count += 50 * resources.length;
  }
  const elapsed = (performance.now() - t0) / 1000;
  console.log(`${label}: ${Math.round(count / elapsed)} resources/s on one core (${(1e6 * elapsed / count).toFixed(1)} µs each)`);
}
