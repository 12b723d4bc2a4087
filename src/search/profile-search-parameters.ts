/**
 * The network's own SearchParameter resources (R4 SearchParameter), read at
 * start from the profiles/ folder (JSON files holding a SearchParameter or a
 * Bundle of them) and added to the registry beside the base R4 ones. Resources
 * written before such a parameter existed get its index entries from
 * `relais reindex` (src/cli/reindex-command.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SearchParameterDefinition } from '../fhir/definitions.js';

/** profiles/ at the repository root (the same from src/search and dist/search). */
export const DEFAULT_PROFILES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'profiles');

const TYPES = new Set(['number', 'date', 'string', 'token', 'reference', 'composite', 'quantity', 'uri', 'special']);

interface SearchParameterResource {
  resourceType: 'SearchParameter';
  url?: string;
  code?: string;
  base?: string[];
  type?: string;
  expression?: string;
  target?: string[];
  status?: string;
  component?: Array<{ definition?: string; expression?: string }>;
}

/** Turns a SearchParameter resource into a definition, or explains why it cannot be used. */
export function definitionOf(resource: SearchParameterResource): SearchParameterDefinition | string {
  if (!resource.url || !resource.code || !resource.base?.length || !resource.type) return 'url, code, base and type are required';
  if (!TYPES.has(resource.type)) return `unknown type '${resource.type}'`;
  if (resource.status === 'retired') return 'retired';
  if (!resource.expression && resource.type !== 'special') return 'no FHIRPath expression';
  return {
    url: resource.url,
    code: resource.code,
    base: resource.base,
    type: resource.type as SearchParameterDefinition['type'],
    ...(resource.expression ? { expression: resource.expression } : {}),
    ...(resource.target ? { target: resource.target } : {}),
    ...(resource.component
      ? { component: resource.component.map((c) => ({ definition: c.definition ?? '', expression: c.expression ?? '' })) }
      : {}),
  };
}

function* jsonFiles(directory: string): Iterable<string> {
  for (const name of readdirSync(directory)) {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) yield* jsonFiles(path);
    else if (name.endsWith('.json')) yield path;
  }
}

/**
 * Every usable SearchParameter found under `directory` (none if it does not
 * exist); `onSkip` hears about files or resources that were not usable.
 */
export function loadProfileSearchParameters(
  directory: string = DEFAULT_PROFILES_DIR,
  onSkip: (file: string, reason: string) => void = () => {},
): SearchParameterDefinition[] {
  if (!existsSync(directory)) return [];
  const found: SearchParameterDefinition[] = [];
  for (const file of jsonFiles(directory)) {
    let json: { resourceType?: string; entry?: Array<{ resource?: { resourceType?: string } }> };
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      onSkip(file, `not JSON: ${(error as Error).message}`);
      continue;
    }
    const resources = json.resourceType === 'Bundle' ? (json.entry ?? []).map((e) => e.resource) : [json];
    for (const resource of resources) {
      if (resource?.resourceType !== 'SearchParameter') continue;
      const definition = definitionOf(resource as SearchParameterResource);
      if (typeof definition === 'string') onSkip(file, definition);
      else found.push(definition);
    }
  }
  return found;
}
