/**
 * _summary and _elements (R4 search page, "Summary" and "Elements"): return a
 * subset of each resource and mark it with the SUBSETTED tag so that nobody
 * mistakes it for the whole resource (and writes it back).
 */
import type { Coding, Resource } from 'fhir/r4';
import type { FhirDefinitions } from '../fhir/definitions.js';

export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';

const SUBSETTED: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED', display: 'subsetted' };

function markSubsetted(resource: Record<string, unknown>): void {
  const meta = { ...((resource.meta as Record<string, unknown>) ?? {}) };
  const tags = Array.isArray(meta.tag) ? [...(meta.tag as Coding[])] : [];
  if (!tags.some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code)) tags.push(SUBSETTED);
  meta.tag = tags;
  resource.meta = meta;
}

/** JSON key → its element definition name ("valueQuantity" → "value[x]"). */
function elementNameOf(definitions: FhirDefinitions, path: string, key: string): string | undefined {
  const name = key.startsWith('_') ? key.slice(1) : key;
  const children = definitions.childrenOf(path);
  if (children.has(name)) return name;
  for (const childName of children.keys()) {
    if (childName.endsWith('[x]') && name.startsWith(childName.slice(0, -3))) return childName;
  }
  return undefined;
}

function keepSummary(definitions: FhirDefinitions, node: Record<string, unknown>, path: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'resourceType') {
      result[key] = value;
      continue;
    }
    const name = elementNameOf(definitions, path, key);
    const element = name ? definitions.childrenOf(path).get(name) : undefined;
    if (!element || !(element.summary || element.min > 0)) continue;
    const isBackbone = element.types?.includes('BackboneElement');
    if (isBackbone && value && typeof value === 'object') {
      const childPath = `${path}.${name}`;
      result[key] = Array.isArray(value)
        ? value.map((item) => (item && typeof item === 'object' ? keepSummary(definitions, item as Record<string, unknown>, childPath) : item))
        : keepSummary(definitions, value as Record<string, unknown>, childPath);
    } else {
      result[key] = value;
    }
  }
  return result;
}

export function applySummary(definitions: FhirDefinitions, resource: Resource, mode: SummaryMode | undefined): Resource {
  if (!mode || mode === 'false' || mode === 'count') return resource;
  const source = resource as unknown as Record<string, unknown>;
  let result: Record<string, unknown>;
  if (mode === 'data') {
    const { text: _text, ...rest } = source;
    result = rest;
  } else if (mode === 'text') {
    result = { resourceType: resource.resourceType };
    for (const [key, value] of Object.entries(source)) {
      const name = elementNameOf(definitions, resource.resourceType, key);
      const element = name ? definitions.childrenOf(resource.resourceType).get(name) : undefined;
      if (key === 'id' || key === 'meta' || key === 'text' || (element && element.min > 0)) result[key] = value;
    }
  } else {
    result = keepSummary(definitions, source, resource.resourceType);
    result.id = resource.id;
    if (resource.meta) result.meta = resource.meta;
  }
  markSubsetted(result);
  return result as unknown as Resource;
}

export function applyElements(definitions: FhirDefinitions, resource: Resource, elements: string[] | undefined): Resource {
  if (!elements || elements.length === 0) return resource;
  const wanted = new Set(elements.map((e) => e.replace(new RegExp(`^${resource.resourceType}\\.`), '')));
  const result: Record<string, unknown> = { resourceType: resource.resourceType };
  for (const [key, value] of Object.entries(resource as unknown as Record<string, unknown>)) {
    const name = elementNameOf(definitions, resource.resourceType, key);
    const element = name ? definitions.childrenOf(resource.resourceType).get(name) : undefined;
    const bare = name?.replace('[x]', '') ?? key;
    if (key === 'id' || key === 'meta' || wanted.has(bare) || wanted.has(key.replace(/^_/, '')) || (element && element.min > 0)) result[key] = value;
  }
  markSubsetted(result);
  return result as unknown as Resource;
}
