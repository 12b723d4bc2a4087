/**
 * A StructureDefinition snapshot compiled into the tree the profile validator
 * walks: one node per element, children by JSON name, slices attached to the
 * sliced element, cardinalities as numbers, and the profile's own invariants
 * compiled to FHIRPath functions. Compiling happens once per profile (on first
 * use), never per request.
 */
import type { ElementDefinition, ElementDefinitionType, StructureDefinition } from 'fhir/r4';
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';

export interface CompiledConstraint {
  key: string;
  severity: 'error' | 'warning';
  human: string;
  expression: string;
  /** undefined when fhirpath.js cannot compile the expression (reported once as information). */
  /** `resource` is %resource (the resource the node belongs to), `container` %rootResource (its container when it is contained). */
  evaluate?: (node: unknown, resource: unknown, container?: unknown) => unknown[];
  compileError?: string;
}

export interface Discriminator {
  type: 'value' | 'pattern' | 'exists' | 'type' | 'profile';
  path: string;
}

export interface CompiledElement {
  id: string;
  /** Unsliced element path, e.g. "Patient.identifier.system". */
  path: string;
  /** JSON name in the parent (choice elements keep "[x]"). */
  name: string;
  sliceName?: string;
  min: number;
  max: number;
  /** Base cardinality: the structure validator already enforces it. */
  baseMin: number;
  baseMax: number;
  types?: ElementDefinitionType[];
  fixed?: unknown;
  pattern?: unknown;
  binding?: { strength: 'required' | 'extensible' | 'preferred' | 'example'; valueSet?: string };
  constraints: CompiledConstraint[];
  children: Map<string, CompiledElement>;
  slicing?: { discriminators: Discriminator[]; rules: 'open' | 'closed' | 'openAtEnd' };
  slices: CompiledElement[];
}

export interface CompiledProfile {
  url: string;
  type: string;
  kind: StructureDefinition['kind'];
  root: CompiledElement;
  /** Extension definitions only: where the extension may be used. */
  contexts?: Array<{ type: string; expression: string }>;
}

const CORE_SOURCE = 'http://hl7.org/fhir/StructureDefinition/';
const invariantCache = new Map<string, CompiledConstraint['evaluate'] | Error>();

/** Compiles a FHIRPath invariant once per (base path, expression) for the whole process. */
export function compileInvariant(basePath: string, expression: string): CompiledConstraint['evaluate'] | Error {
  const key = `${basePath}\u0000${expression}`;
  let compiled = invariantCache.get(key);
  if (!compiled) {
    try {
      const fn = fhirpath.compile({ base: basePath, expression }, r4model, { resolveInternalTypes: true, traceFn: () => undefined });
      compiled = (node: unknown, resource: unknown, container: unknown = resource) => fn(node as object, { resource, rootResource: container } as never) as unknown[];
    } catch (error) {
      compiled = error as Error;
    }
    invariantCache.set(key, compiled);
  }
  return compiled;
}

function cardinality(max: string | undefined): number {
  return max === undefined || max === '*' ? Infinity : Number(max);
}

function valueWithPrefix(element: ElementDefinition, prefix: 'fixed' | 'pattern'): unknown {
  for (const [key, value] of Object.entries(element)) if (key.startsWith(prefix) && key.length > prefix.length) return value;
  return undefined;
}

export function compileProfile(sd: StructureDefinition): CompiledProfile {
  const elements = sd.snapshot?.element;
  if (!elements?.length) throw new Error(`StructureDefinition ${sd.url} has no snapshot`);
  const byId = new Map<string, CompiledElement>();
  let root: CompiledElement | undefined;
  for (const element of elements) {
    const id = element.id ?? element.path;
    const lastDot = id.lastIndexOf('.');
    const lastColon = id.lastIndexOf(':');
    const node: CompiledElement = {
      id,
      path: element.path,
      name: element.path.slice(element.path.lastIndexOf('.') + 1),
      sliceName: element.sliceName,
      min: element.min ?? 0,
      max: cardinality(element.max),
      baseMin: element.base?.min ?? element.min ?? 0,
      baseMax: cardinality(element.base?.max ?? element.max),
      types: element.type,
      fixed: valueWithPrefix(element, 'fixed'),
      pattern: valueWithPrefix(element, 'pattern'),
      binding: element.binding ? { strength: element.binding.strength, valueSet: element.binding.valueSet } : undefined,
      constraints: (element.constraint ?? [])
        // Base invariants come from definitions/r4-rules.json and are checked for every resource.
        .filter((c) => c.expression && !(c.source ?? '').startsWith(CORE_SOURCE) && c.key !== 'ele-1' && c.key !== 'ext-1')
        .map((c) => {
          const compiled = compileInvariant(element.path, c.expression!);
          return compiled instanceof Error
            ? { key: c.key, severity: c.severity, human: c.human, expression: c.expression!, compileError: compiled.message }
            : { key: c.key, severity: c.severity, human: c.human, expression: c.expression!, evaluate: compiled };
        }),
      children: new Map(),
      slicing: element.slicing
        ? { discriminators: (element.slicing.discriminator ?? []) as Discriminator[], rules: element.slicing.rules ?? 'open' }
        : undefined,
      slices: [],
    };
    byId.set(id, node);
    if (!root) {
      root = node;
      continue;
    }
    if (lastColon > lastDot) {
      const sliced = byId.get(id.slice(0, lastColon));
      if (sliced) sliced.slices.push(node);
    } else {
      const parent = byId.get(id.slice(0, lastDot));
      if (parent) parent.children.set(node.name, node);
    }
  }
  return {
    url: sd.url,
    type: sd.type,
    kind: sd.kind,
    root: root!,
    contexts: sd.type === 'Extension' ? (sd.context ?? []).map((c) => ({ type: c.type, expression: c.expression })) : undefined,
  };
}
