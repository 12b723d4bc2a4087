/**
 * The FHIR R4 base definitions, loaded once from the compact artefacts derived
 * at build time by scripts/build-definitions.ts (see there for why).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ElementDefinition {
  min: number;
  max: string;
  types?: string[];
  targets?: string[];
  ref?: string;
  summary?: true;
  modifier?: true;
}

export interface TypeDefinition {
  kind: 'primitive-type' | 'complex-type' | 'resource';
  abstract?: true;
  base?: string;
  json?: 'string' | 'number' | 'boolean';
  regex?: string;
  elements?: Record<string, ElementDefinition>;
}

export interface SearchParameterDefinition {
  url: string;
  code: string;
  base: string[];
  type: 'number' | 'date' | 'string' | 'token' | 'reference' | 'composite' | 'quantity' | 'uri' | 'special';
  expression?: string;
  target?: string[];
  component?: Array<{ definition: string; expression: string }>;
  modifier?: string[];
  comparator?: string[];
}

export interface FhirDefinitions {
  fhirVersion: string;
  resourceTypes: readonly string[];
  types: Readonly<Record<string, TypeDefinition>>;
  searchParameters: readonly SearchParameterDefinition[];
  isResourceType(name: string): boolean;
  /** Child elements of a path, by JSON name (choice elements keep their "[x]" suffix). */
  childrenOf(path: string): ReadonlyMap<string, ElementDefinition & { path: string }>;
}

const definitionsDir = join(dirname(fileURLToPath(import.meta.url)), 'definitions');

export function loadDefinitions(): FhirDefinitions {
  const typesFile = JSON.parse(readFileSync(join(definitionsDir, 'r4-types.json'), 'utf8'));
  const searchParameters = JSON.parse(readFileSync(join(definitionsDir, 'r4-search-parameters.json'), 'utf8'));
  const types: Record<string, TypeDefinition> = typesFile.types;
  const resourceTypeSet = new Set<string>(typesFile.resourceTypes);

  // Index every element by its parent path once, so walking a resource is a map lookup.
  const children = new Map<string, Map<string, ElementDefinition & { path: string }>>();
  for (const type of Object.values(types)) {
    for (const [path, element] of Object.entries(type.elements ?? {})) {
      const dot = path.lastIndexOf('.');
      const parent = path.slice(0, dot);
      const name = path.slice(dot + 1);
      let map = children.get(parent);
      if (!map) children.set(parent, (map = new Map()));
      map.set(name, { ...element, path });
    }
  }
  const empty = new Map();
  return {
    fhirVersion: typesFile.fhirVersion,
    resourceTypes: typesFile.resourceTypes,
    types,
    searchParameters,
    isResourceType: (name) => resourceTypeSet.has(name),
    childrenOf: (path) => children.get(path) ?? empty,
  };
}
