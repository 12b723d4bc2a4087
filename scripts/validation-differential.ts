/**
 * Differential testing of Relais's validator against the official HL7 Java validator
 * (org.hl7.fhir.validation, through scripts/hl7-validator/Hl7Check.java; set it up once with
 * `npx tsx scripts/hl7-validator-check.ts --setup`). A DEVELOPER TOOL: CI replays the recorded
 * verdicts without Java (test/validation/differential/differential.test.ts).
 *
 *   npx tsx scripts/validation-differential.ts --record    runs the HL7 validator over the corpus
 *        (test/validation/differential/corpus.ts: R4 examples + mutated variants) and writes its
 *        verdicts to test/validation/differential/hl7-verdicts.json (takes tens of minutes)
 *   npx tsx scripts/validation-differential.ts             compares Relais's verdicts with the
 *        recorded ones and prints the agreement and every disagreement
 *
 * The reference runs like Hl7Check does for the other checks: R4 core 4.0.1, FR Core 2.2.0 and
 * profiles/ loaded, no terminology server, example URLs allowed, Type/id references assumed valid.
 * A verdict is "invalid" when the outcome has an error or fatal issue.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { buildCorpus, sha } from '../test/validation/differential/corpus.js';
import { compareWithReference, VERDICTS_FILE, type RecordedVerdicts } from '../test/validation/differential/compare.js';

const ROOT = resolve(import.meta.dirname, '..');
const TOOL_DIR = join(ROOT, '.tmp', 'hl7-validator');
const WORK = join(ROOT, '.tmp', 'differential');
const FR_CORE_DIR = join(TOOL_DIR, 'fr-core-resources');
const CHUNK = 150;

const { values: args } = parseArgs({ options: { record: { type: 'boolean', default: false } } });

/** BCP 13 (RFC 6838) grammar of a media type, parameters allowed: what a terminology server accepts. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;\s*[^;]+)*$/;

/** Every string of the corpus that is a syntactically valid media type, at the elements R4 binds to mimetypes. */
function mediaTypesOf(corpus: Array<{ resource: unknown }>): string[] {
  const keys = new Set(['contentType', 'sigFormat', 'targetFormat', 'payloadMimeType', 'mimeType']);
  const found = new Set<string>();
  const walk = (value: unknown, key: string) => {
    if (typeof value === 'string') {
      if (keys.has(key) && MEDIA_TYPE.test(value)) found.add(value);
    } else if (Array.isArray(value)) for (const item of value) walk(item, key);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, k);
  };
  for (const c of corpus) walk(c.resource, '');
  return [...found];
}

/**
 * Without a terminology server the reference cannot check codes of ISO 4217 (currencies) and
 * BCP 13 (mime types), both bound `required` in R4 (Money.currency, Attachment.contentType...),
 * and calls every such code an error. It is given these two code systems as local resources
 * instead: the currencies ICU knows (Intl.supportedValuesOf), and for BCP 13 — a grammar, not a
 * list — the media types of mime-db plus every syntactically valid media type the corpus uses
 * (what a terminology server's grammar check would accept).
 */
function offlineTerminology(dir: string, corpusMediaTypes: string[]): void {
  mkdirSync(dir, { recursive: true });
  const codeSystem = (id: string, url: string, codes: string[]) => ({
    resourceType: 'CodeSystem', id, url, version: 'offline', name: id, status: 'active', content: 'complete', caseSensitive: true,
    concept: codes.map((code) => ({ code })),
  });
  const currencies = Intl.supportedValuesOf('currency');
  const mimeTypes = [...new Set([...Object.keys(JSON.parse(readFileSync(join(ROOT, 'node_modules', 'mime-db', 'db.json'), 'utf8'))), ...corpusMediaTypes])];
  writeFileSync(join(dir, 'CodeSystem-iso4217.json'), JSON.stringify(codeSystem('iso4217', 'urn:iso:std:iso:4217', currencies)));
  writeFileSync(join(dir, 'CodeSystem-bcp13.json'), JSON.stringify(codeSystem('bcp13', 'urn:ietf:bcp:13', mimeTypes)));
}

function record(): void {
  const definitions = loadDefinitions();
  const rules = JSON.parse(readFileSync(join(ROOT, 'src', 'validation', 'definitions', 'r4-rules.json'), 'utf8'));
  const corpus = buildCorpus(definitions, rules);
  const corpusDir = join(WORK, 'corpus');
  const outDir = join(WORK, 'outcomes');
  const terminologyDir = join(WORK, 'terminology');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(corpusDir, { recursive: true });
  offlineTerminology(terminologyDir, mediaTypesOf(corpus));
  const files = corpus.map((c) => {
    const file = join(corpusDir, `${c.id}.json`);
    writeFileSync(file, JSON.stringify(c.resource));
    return file;
  });
  // In chunks: a crash of the JVM on one input loses one chunk, not the run.
  for (let i = 0; i < files.length; i += CHUNK) {
    const chunk = files.slice(i, i + CHUNK);
    const started = Date.now();
    spawnSync('java', ['-Xmx4g', '-cp', `${join(TOOL_DIR, 'lib')}/*`, join(ROOT, 'scripts', 'hl7-validator', 'Hl7Check.java'), outDir, FR_CORE_DIR, join(ROOT, 'profiles'), terminologyDir, '--', ...chunk], {
      cwd: TOOL_DIR,
      stdio: ['ignore', 'ignore', 'inherit'],
      maxBuffer: 1 << 28,
    });
    console.log(`${Math.min(i + CHUNK, files.length)}/${files.length} validated (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  const verdicts: RecordedVerdicts = {
    reference: 'org.hl7.fhir.validation 6.3.32 (HAPI org.hl7.fhir.core), R4 4.0.1 + FR Core 2.2.0 + profiles/ + ISO 4217 and BCP 13 code systems, no terminology server, example URLs allowed, Type/id references assumed valid',
    cases: {},
  };
  for (const c of corpus) {
    const file = join(outDir, `${c.id}.json.oo.json`);
    if (!existsSync(file)) {
      console.warn(`no outcome for ${c.id}: left out`);
      continue;
    }
    const outcome = JSON.parse(readFileSync(file, 'utf8')) as { issue?: Array<{ severity: string; expression?: string[]; location?: string[]; details?: { text?: string }; diagnostics?: string }> };
    const errors = (outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.some((e) => e.severity === 'fatal' && (e.diagnostics ?? '').startsWith('validator exception'))) {
      console.warn(`validator exception on ${c.id}: left out`);
      continue;
    }
    verdicts.cases[c.id] = {
      sha: sha(c.resource),
      verdict: errors.length > 0 ? 'invalid' : 'valid',
      ...(errors.length ? { errors: errors.slice(0, 3).map((e) => `${(e.expression ?? e.location ?? [''])[0]}: ${(e.details?.text ?? e.diagnostics ?? '').slice(0, 200)}`) } : {}),
    };
  }
  writeFileSync(VERDICTS_FILE, JSON.stringify(verdicts, null, 1) + '\n');
  console.log(`${Object.keys(verdicts.cases).length} verdicts written to ${VERDICTS_FILE}`);
}

function compare(): void {
  const result = compareWithReference();
  for (const d of result.disagreements) {
    console.log(`\n${d.id}: reference ${d.reference}, Relais ${d.relais}`);
    for (const e of d.referenceErrors) console.log(`   reference: ${e}`);
    for (const e of d.relaisErrors) console.log(`   Relais:    ${e}`);
  }
  console.log(`\n${result.agreeing}/${result.total} verdicts agree (${((100 * result.agreeing) / result.total).toFixed(2)} %), ${result.disagreements.length} disagreements, ${result.stale.length} stale cases`);
}

if (args.record) record();
else compare();
