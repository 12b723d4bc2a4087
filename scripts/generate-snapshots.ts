/**
 * Writes the snapshot of every StructureDefinition in profiles/ from its
 * differential (src/conformance/snapshot-generator.ts). Base definitions come
 * from HL7's R4 package (devDependency hl7.fhir.r4.examples) or from another
 * network profile (generated first). Run after editing a differential:
 *
 *   npx tsx scripts/generate-snapshots.ts          # rewrite profiles/
 *   npx tsx scripts/generate-snapshots.ts --check  # exit 1 if a snapshot is stale
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StructureDefinition } from 'fhir/r4';
import { generateSnapshot } from '../src/conformance/snapshot-generator.js';

const require = createRequire(import.meta.url);
const coreDir = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
const profilesDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'profiles');
const CORE = 'http://hl7.org/fhir/StructureDefinition/';

export function generateAll(): Map<string, { file: string; sd: StructureDefinition }> {
  const network = new Map<string, { file: string; sd: StructureDefinition }>();
  for (const file of readdirSync(profilesDir).filter((f) => f.startsWith('StructureDefinition-') && f.endsWith('.json'))) {
    const sd = JSON.parse(readFileSync(join(profilesDir, file), 'utf8')) as StructureDefinition;
    network.set(sd.url, { file, sd });
  }
  const done = new Set<string>();
  const resolve = (url: string): StructureDefinition | undefined => {
    const canonical = url.split('|')[0];
    const own = network.get(canonical);
    if (own) {
      if (!done.has(canonical)) build(own.sd);
      return own.sd;
    }
    if (!canonical.startsWith(CORE)) return undefined;
    const file = join(coreDir, `StructureDefinition-${canonical.slice(CORE.length)}.json`);
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StructureDefinition) : undefined;
  };
  const build = (sd: StructureDefinition) => {
    done.add(sd.url);
    sd.snapshot = { element: generateSnapshot(sd, resolve) };
  };
  for (const { sd } of network.values()) if (!done.has(sd.url)) build(sd);
  return network;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const { file, sd } of generateAll().values()) {
    const text = JSON.stringify(sd, null, 2) + '\n';
    const path = join(profilesDir, file);
    if (readFileSync(path, 'utf8') === text) continue;
    stale++;
    if (check) console.error(`stale snapshot: ${file}`);
    else writeFileSync(path, text);
  }
  console.log(check ? `${stale} stale snapshot(s)` : `${stale} StructureDefinition(s) updated`);
  if (check && stale > 0) process.exit(1);
}
