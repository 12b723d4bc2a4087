/**
 * Relais's verdicts on the differential corpus (corpus.ts) against those the HL7 Java
 * validator recorded (hl7-verdicts.json, written by scripts/validation-differential.ts).
 * Relais validates in-process the way `$validate` does without a `profile` parameter, with
 * the same packages the reference loaded (profiles/ and FR Core) and the profiles each
 * resource claims (`claimed`: the network's default profiles are the network's own rule, not
 * the reference's).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { conformanceRegistry } from '../../../src/validation/validation-from-config.js';
import { loadDefinitions } from '../../../src/fhir/definitions.js';
import { StructureValidator } from '../../../src/validation/structure-validator.js';
import { ValidationService } from '../../../src/validation/validation-service.js';
import { buildCorpus, sha } from './corpus.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');
export const VERDICTS_FILE = join(import.meta.dirname, 'hl7-verdicts.json');

export interface RecordedVerdicts {
  reference: string;
  cases: Record<string, { sha: string; verdict: 'valid' | 'invalid'; errors?: string[] }>;
}

export interface Disagreement {
  id: string;
  reference: 'valid' | 'invalid';
  relais: 'valid' | 'invalid';
  referenceErrors: string[];
  relaisErrors: string[];
}

export interface Comparison {
  total: number;
  agreeing: number;
  disagreements: Disagreement[];
  /** Cases whose resource no longer hashes as recorded (the corpus changed: record again). */
  stale: string[];
}

export function compareWithReference(): Comparison {
  if (!existsSync(VERDICTS_FILE)) throw new Error(`${VERDICTS_FILE} is missing: run npx tsx scripts/validation-differential.ts --record`);
  const recorded = JSON.parse(readFileSync(VERDICTS_FILE, 'utf8')) as RecordedVerdicts;
  const definitions = loadDefinitions();
  const rules = JSON.parse(readFileSync(join(ROOT, 'src', 'validation', 'definitions', 'r4-rules.json'), 'utf8'));
  const service = new ValidationService(definitions, new StructureValidator(definitions), conformanceRegistry(join(ROOT, 'fhir-packages')), 'claimed');
  const result: Comparison = { total: 0, agreeing: 0, disagreements: [], stale: [] };
  for (const c of buildCorpus(definitions, rules)) {
    const reference = recorded.cases[c.id];
    if (!reference) continue;
    if (reference.sha !== sha(c.resource)) {
      result.stale.push(c.id);
      continue;
    }
    result.total++;
    const errors = service.validate(c.resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    const relais = errors.length > 0 ? 'invalid' : 'valid';
    if (relais === reference.verdict) result.agreeing++;
    else {
      result.disagreements.push({
        id: c.id,
        reference: reference.verdict,
        relais,
        referenceErrors: reference.errors ?? [],
        relaisErrors: errors.slice(0, 3).map((e) => `${(e.expression ?? [''])[0]}: ${e.diagnostics ?? ''}`.slice(0, 240)),
      });
    }
  }
  return result;
}
