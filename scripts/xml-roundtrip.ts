/**
 * FHIR XML round trip over the official R4 examples (node_modules/hl7.fhir.r4.examples):
 * each JSON example → XML → JSON must be deep-equal to the original. Prints the
 * count, the time, and the first differences of any example that fails.
 *
 *   npx tsx scripts/xml-roundtrip.ts            # all ~5,300 examples
 *   npx tsx scripts/xml-roundtrip.ts --every 10 # every 10th file (quick look)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { FhirXml } from '../src/fhir/xml/fhir-xml.js';

const folder = 'node_modules/hl7.fhir.r4.examples/';
const everyFlag = process.argv.indexOf('--every');
const every = everyFlag >= 0 ? Number(process.argv[everyFlag + 1]) : 1;

function differences(a: unknown, b: unknown, path: string, out: string[]): void {
  if (out.length >= 5 || isDeepStrictEqual(a, b)) return;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    out.push(`${path}: ${JSON.stringify(a)?.slice(0, 100)} → ${JSON.stringify(b)?.slice(0, 100)}`);
    return;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    differences((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], `${path}.${key}`, out);
  }
}

const xml = new FhirXml(loadDefinitions());
const files = readdirSync(folder).filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.')).sort();
let checked = 0;
let failed = 0;
let xmlChars = 0;
const started = performance.now();
for (let i = 0; i < files.length; i += every) {
  const resource = JSON.parse(readFileSync(folder + files[i], 'utf8'));
  if (typeof resource.resourceType !== 'string') continue;
  checked++;
  try {
    const text = xml.write(resource);
    xmlChars += text.length;
    const back = xml.read(text);
    if (!isDeepStrictEqual(back, resource)) {
      failed++;
      const out: string[] = [];
      differences(resource, back, resource.resourceType, out);
      console.log(`DIFF ${files[i]}\n  ${out.join('\n  ')}`);
    }
  } catch (error) {
    failed++;
    console.log(`ERROR ${files[i]}: ${(error as Error).message}`);
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(`${checked - failed}/${checked} examples round-trip JSON → XML → JSON unchanged; ${seconds.toFixed(1)} s (${((seconds * 1000) / checked).toFixed(2)} ms each, ${(xmlChars / 1e6).toFixed(1)} MB of XML)`);
process.exitCode = failed === 0 ? 0 : 1;
