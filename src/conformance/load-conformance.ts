/**
 * Loads conformance resources at start-up: the network's profiles/ folder (FHIR
 * JSON files, examples excluded) and every `.tgz` FHIR package (NPM layout:
 * `package/package.json` + one resource per JSON file) in a configured folder.
 * Only canonical resources are kept (StructureDefinition, ValueSet, CodeSystem,
 * SearchParameter, Questionnaire...); example instances of packages are skipped.
 * Parsing JSON is cheap; compiling profiles happens lazily on first use.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parseTar } from 'nanotar';
import { CANONICAL_TYPES, ConformanceRegistry, type CanonicalResource, type LoadedPackage } from './conformance-registry.js';

/** profiles/ at the repository root, whether running from src/ (tsx) or dist/. */
export const DEFAULT_PROFILES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'profiles');

const canonicalTypes = new Set<string>(CANONICAL_TYPES);

export type { LoadedPackage } from './conformance-registry.js';

export function loadProfilesDir(registry: ConformanceRegistry, directory: string = DEFAULT_PROFILES_DIR): number {
  if (!existsSync(directory)) return 0;
  let count = 0;
  for (const file of readdirSync(directory).sort()) {
    if (!file.endsWith('.json')) continue;
    const path = join(directory, file);
    if (!statSync(path).isFile()) continue;
    const resource = JSON.parse(readFileSync(path, 'utf8')) as CanonicalResource;
    if (!canonicalTypes.has(resource.resourceType)) continue;
    registry.add(resource, 'network');
    count++;
  }
  return count;
}

/** Reads one package archive; throws with the file name when it is not a FHIR package. */
export function loadPackageFile(registry: ConformanceRegistry, file: string): LoadedPackage {
  const items = parseTar(gunzipSync(readFileSync(file)));
  const manifestItem = items.find((item) => item.name === 'package/package.json');
  if (!manifestItem) throw new Error(`${file} is not a FHIR package (no package/package.json)`);
  const manifest = JSON.parse(manifestItem.text) as { name: string; version: string };
  const source = `${manifest.name}#${manifest.version}`;
  let resources = 0;
  for (const item of items) {
    // Only top-level resources: package/example/ holds instances, package/other/ tooling files.
    if (!/^package\/[^/]+\.json$/.test(item.name) || item.name === 'package/package.json' || item.name.endsWith('.index.json')) continue;
    let resource: CanonicalResource;
    try {
      resource = JSON.parse(item.text) as CanonicalResource;
    } catch {
      continue;
    }
    if (!canonicalTypes.has(resource?.resourceType)) continue;
    registry.add(resource, source);
    resources++;
  }
  const loaded = { name: manifest.name, version: manifest.version, file, resources };
  registry.packages.push(loaded);
  return loaded;
}

export function loadPackagesDir(registry: ConformanceRegistry, directory: string | undefined): LoadedPackage[] {
  if (!directory || !existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((f) => f.endsWith('.tgz'))
    .sort()
    .map((f) => loadPackageFile(registry, join(directory, f)));
}
