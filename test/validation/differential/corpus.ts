/**
 * The corpus of the differential test against the HL7 Java validator
 * (differential.test.ts; reference verdicts recorded by
 * scripts/validation-differential.ts): the official R4 examples of the
 * `hl7.fhir.r4.examples` package (every instance example but the specification's
 * definition Bundles of several megabytes, and a fixed sample of its conformance
 * resources), plus invalid variants made from them by systematic mutations:
 * cardinality, datatypes, invariants, bindings, extensions, narrative, Bundles and
 * contained resources. Everything is deterministic (sorted files, fixed picks, no
 * randomness), so the test rebuilds exactly the resources the reference judged;
 * each case carries a hash of its JSON to prove it.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FhirDefinitions } from '../../../src/fhir/definitions.js';

type Json = Record<string, unknown>;

export interface CorpusCase {
  /** `<example file without .json>` or `<example>~<mutation>`. */
  id: string;
  resource: Json;
}

const require = createRequire(import.meta.url);
export const EXAMPLES_DIR = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));

/**
 * Examples above this size are left out: the specification's own definition Bundles (all
 * resources, all value sets...: megabytes each, not examples) and a few very large instances,
 * so that CI replays the corpus in seconds.
 */
const MAX_EXAMPLE_BYTES = 100_000;
/** Conformance resources in the sample stay below this size (a StructureDefinition snapshot is often 150 kB). */
const MAX_CONFORMANCE_BYTES = 40_000;
/** Bundles above this size are not mutated (each Bundle gets every Bundle mutation). */
const MAX_MUTATED_BUNDLE_BYTES = 60_000;
const CONFORMANCE = /^(StructureDefinition|ValueSet|CodeSystem|SearchParameter|OperationDefinition|CompartmentDefinition|ConceptMap|NamingSystem|CapabilityStatement|ImplementationGuide|StructureMap|GraphDefinition|MessageDefinition|TerminologyCapabilities)-/;
/** One conformance resource in this many, per type, joins the corpus. */
const CONFORMANCE_STRIDE = 25;

export function sha(resource: unknown): string {
  return createHash('sha256').update(JSON.stringify(resource)).digest('hex').slice(0, 16);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function exampleFiles(): { instances: string[]; conformance: string[] } {
  const all = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.')).sort();
  const instances: string[] = [];
  const byType = new Map<string, string[]>();
  for (const file of all) {
    if (CONFORMANCE.test(file)) {
      if (statSync(join(EXAMPLES_DIR, file)).size > MAX_CONFORMANCE_BYTES) continue;
      const type = file.split('-')[0];
      byType.set(type, [...(byType.get(type) ?? []), file]);
    } else if (statSync(join(EXAMPLES_DIR, file)).size <= MAX_EXAMPLE_BYTES) instances.push(file);
  }
  const conformance = [...byType.values()].flatMap((files) => files.filter((_, i) => i % CONFORMANCE_STRIDE === 0));
  return { instances, conformance };
}

// ---------------------------------------------------------------------------------------
// Mutations: each returns an invalid variant, or undefined when it does not apply.
// ---------------------------------------------------------------------------------------

type Mutation = (resource: Json, defs: FhirDefinitions, rules: { bindings: Record<string, string> }) => Json | undefined;

/** Top-level elements of the resource with their definitions (choice elements resolved). */
function topElements(resource: Json, defs: FhirDefinitions): Array<{ key: string; name: string; min: number; max: string; types: string[] }> {
  const children = defs.childrenOf(String(resource.resourceType));
  const out = [];
  for (const key of Object.keys(resource)) {
    if (key === 'resourceType' || key.startsWith('_')) continue;
    const direct = children.get(key);
    if (direct) {
      out.push({ key, name: key, min: direct.min, max: direct.max, types: direct.types ?? [] });
      continue;
    }
    for (const [name, element] of children) {
      if (!name.endsWith('[x]') || !key.startsWith(name.slice(0, -3))) continue;
      const type = key.slice(name.length - 3);
      const match = element.types?.find((t) => t.toLowerCase() === type.toLowerCase());
      if (match) out.push({ key, name, min: element.min, max: element.max, types: [match] });
    }
  }
  return out;
}

const PRIMITIVE_STRING = new Set(['string', 'code', 'uri', 'url', 'canonical', 'id', 'markdown', 'oid', 'uuid']);
const EXT_BASE = 'http://hl7.org/fhir/StructureDefinition/';
const XHTML = 'http://www.w3.org/1999/xhtml';

export const MUTATIONS: Record<string, Mutation> = {
  /** cardinality: a required element removed */
  'missing-required': (r, defs) => {
    const required = [...defs.childrenOf(String(r.resourceType)).entries()].find(([name, e]) => e.min > 0 && r[name] !== undefined);
    if (!required) return undefined;
    const copy = clone(r);
    delete copy[required[0]];
    return copy;
  },
  /** cardinality: a single-valued element given twice */
  'repeated-single': (r, defs) => {
    const single = topElements(r, defs).find((e) => e.max === '1' && e.key !== 'id' && e.key !== 'meta' && e.key !== 'text');
    if (!single) return undefined;
    const copy = clone(r);
    copy[single.key] = [r[single.key], r[single.key]];
    return copy;
  },
  /** datatypes: a string-based primitive given as a number */
  'number-for-string': (r, defs) => {
    const target = topElements(r, defs).find((e) => e.max === '1' && PRIMITIVE_STRING.has(e.types[0]) && typeof r[e.key] === 'string' && e.key !== 'id');
    if (!target) return undefined;
    return { ...clone(r), [target.key]: 42 };
  },
  /** datatypes: an impossible calendar date */
  'bad-date': (r, defs) => {
    const target = topElements(r, defs).find((e) => ['date', 'dateTime', 'instant'].includes(e.types[0]) && typeof r[e.key] === 'string');
    if (target) return { ...clone(r), [target.key]: '2023-02-30' };
    return { ...clone(r), meta: { ...((r.meta as Json) ?? {}), lastUpdated: '2023-13-01T00:00:00Z' } };
  },
  /** datatypes: an unknown element */
  'unknown-element': (r) => ({ ...clone(r), notAnElement: 'x' }),
  /** bindings: a code outside a required binding */
  'bad-required-code': (r, defs, rules) => {
    const target = topElements(r, defs).find((e) => e.types[0] === 'code' && rules.bindings[`${String(r.resourceType)}.${e.name}`] && typeof r[e.key] === 'string');
    if (!target) return undefined;
    return { ...clone(r), [target.key]: 'not-a-valid-code' };
  },
  /** invariants: a Period ending before it starts (per-1) */
  'period-reversed': (r, defs) => {
    const target = topElements(r, defs).find((e) => e.types.includes('Period') && typeof r[e.key] === 'object' && !Array.isArray(r[e.key]));
    if (!target) return undefined;
    return { ...clone(r), [target.key]: { start: '2024-03-10', end: '2024-03-01' } };
  },
  /** invariants: a contained resource nothing refers to (dom-3) */
  'contained-unreferenced': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('contained')) return undefined;
    const copy = clone(r);
    copy.contained = [...((r.contained as Json[]) ?? []), { resourceType: 'Organization', id: 'orphan-mutation', name: 'Nobody refers to me' }];
    return copy;
  },
  /** contained: a contained resource with its own contained resources (dom-2) and a version (dom-4) */
  'contained-nested': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('contained')) return undefined;
    const copy = clone(r);
    copy.contained = [
      ...((r.contained as Json[]) ?? []),
      { resourceType: 'Organization', id: 'nested-mutation', meta: { versionId: '2' }, contained: [{ resourceType: 'Organization', id: 'inner', name: 'x' }], name: 'x' },
    ];
    if (defs.childrenOf(String(r.resourceType)).has('extension')) {
      copy.extension = [...((r.extension as Json[]) ?? []), { url: `${EXT_BASE}workflow-supportingInfo`, valueReference: { reference: '#nested-mutation' } }];
    }
    return copy;
  },
  /** contained: a reference to a contained resource that does not exist */
  'contained-dangling': (r, defs) => {
    const children = defs.childrenOf(String(r.resourceType));
    const refElement = [...children.entries()].find(([name, e]) => e.types?.length === 1 && e.types[0] === 'Reference' && r[name] === undefined && e.max === '1');
    if (!refElement) return undefined;
    return { ...clone(r), [refElement[0]]: { reference: '#no-such-contained' } };
  },
  /** extensions: an extension with both a value and sub-extensions (ext-1) */
  'extension-value-and-children': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('extension')) return undefined;
    const copy = clone(r);
    copy.extension = [...((r.extension as Json[]) ?? []), { url: 'http://example.org/fhir/StructureDefinition/mutation', valueString: 'x', extension: [{ url: 'a', valueString: 'y' }] }];
    return copy;
  },
  /** extensions: a core extension used outside its context (patient-birthPlace is for Patient) */
  'extension-wrong-context': (r, defs) => {
    if (r.resourceType === 'Patient' || !defs.childrenOf(String(r.resourceType)).has('extension')) return undefined;
    const copy = clone(r);
    copy.extension = [...((r.extension as Json[]) ?? []), { url: `${EXT_BASE}patient-birthPlace`, valueAddress: { city: 'Tours' } }];
    return copy;
  },
  /** extensions: a core extension with a value of the wrong type */
  'extension-wrong-type': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('extension')) return undefined;
    const copy = clone(r);
    copy.extension = [...((r.extension as Json[]) ?? []), { url: `${EXT_BASE}workflow-episodeOfCare`, valueString: 'not a reference' }];
    return copy;
  },
  /** narrative: a script */
  'narrative-script': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('text')) return undefined;
    return { ...clone(r), text: { status: 'generated', div: `<div xmlns="${XHTML}"><p>x</p><script>alert(1)</script></div>` } };
  },
  /** narrative: an event handler attribute */
  'narrative-event-handler': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('text')) return undefined;
    return { ...clone(r), text: { status: 'generated', div: `<div xmlns="${XHTML}"><img src="x.png" onerror="alert(1)"/>x</div>` } };
  },
  /** narrative: not well-formed */
  'narrative-malformed': (r, defs) => {
    if (!defs.childrenOf(String(r.resourceType)).has('text')) return undefined;
    return { ...clone(r), text: { status: 'generated', div: `<div xmlns="${XHTML}"><p>unclosed</div>` } };
  },
  /** Bundles: a total in a Bundle that is not a searchset or history (bdl-1) */
  'bundle-total': (r) => (r.resourceType === 'Bundle' && r.type !== 'searchset' && r.type !== 'history' ? { ...clone(r), total: 3 } : undefined),
  /** Bundles: two entries with the same fullUrl (bdl-7) */
  'bundle-duplicate-fullurl': (r) => {
    const entries = r.resourceType === 'Bundle' && r.type !== 'history' && Array.isArray(r.entry) ? (r.entry as Json[]) : [];
    const first = entries.find((e) => typeof e.fullUrl === 'string' && e.resource);
    if (!first) return undefined;
    const copy = clone(r);
    (copy.entry as Json[]).push(clone(first));
    return copy;
  },
  /** Bundles: an entry with neither resource, request nor response (bdl-5) */
  'bundle-empty-entry': (r) => (r.resourceType === 'Bundle' && Array.isArray(r.entry) ? { ...clone(r), entry: [...clone(r.entry as Json[]), { fullUrl: 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e99' }] } : undefined),
  /** Bundles: a request in a collection or a document (bdl-3) */
  'bundle-request-in-collection': (r) => {
    if (r.resourceType !== 'Bundle' || !['collection', 'document', 'searchset', 'message'].includes(String(r.type)) || !Array.isArray(r.entry) || !(r.entry as Json[]).length) return undefined;
    const copy = clone(r);
    (copy.entry as Json[])[0].request = { method: 'POST', url: 'Patient' };
    return copy;
  },
  /** Bundles: a version-specific fullUrl (bdl-8) */
  'bundle-versioned-fullurl': (r) => {
    const entries = r.resourceType === 'Bundle' && Array.isArray(r.entry) ? (r.entry as Json[]) : [];
    const index = entries.findIndex((e) => e.resource && typeof (e.resource as Json).id === 'string');
    if (index < 0) return undefined;
    const copy = clone(r);
    const entry = (copy.entry as Json[])[index];
    entry.fullUrl = `http://example.org/fhir/${(entry.resource as Json).resourceType}/${(entry.resource as Json).id}/_history/1`;
    return copy;
  },
  /** primitives: an array as the companion of a single value */
  'companion-array': (r, defs) => {
    const target = topElements(r, defs).find((e) => e.max === '1' && PRIMITIVE_STRING.has(e.types[0]) && typeof r[e.key] === 'string' && e.key !== 'id');
    if (!target) return undefined;
    return { ...clone(r), [`_${target.key}`]: [{ id: 'x' }] };
  },
  /** strings: a control character (R4 string rule) */
  'control-character': (r, defs) => {
    const target = topElements(r, defs).find((e) => e.max === '1' && e.types[0] === 'string' && typeof r[e.key] === 'string');
    if (!target) return undefined;
    return { ...clone(r), [target.key]: `${String(r[target.key])}\u0001` };
  },
};

/** The examples that mutations start from: every third instance example, Bundles always (their rules are the point). */
function mutationBases(instances: string[]): string[] {
  return instances.filter((file, i) => (i % 3 === 0 && !file.startsWith('Bundle-')) || (file.startsWith('Bundle-') && statSync(join(EXAMPLES_DIR, file)).size <= MAX_MUTATED_BUNDLE_BYTES));
}

/** Builds the corpus. `defs` and `rules` are the server's definitions and base rules (r4-rules.json). */
export function buildCorpus(defs: FhirDefinitions, rules: { bindings: Record<string, string> }): CorpusCase[] {
  const { instances, conformance } = exampleFiles();
  const read = (file: string) => JSON.parse(readFileSync(join(EXAMPLES_DIR, file), 'utf8')) as Json;
  const cases: CorpusCase[] = [];
  for (const file of [...instances, ...conformance]) cases.push({ id: file.replace(/\.json$/, ''), resource: read(file) });
  const names = Object.keys(MUTATIONS);
  // Each base example gets two mutations, taken in rotation, so every kind meets many resource types.
  let turn = 0;
  for (const file of mutationBases(instances)) {
    const base = read(file);
    let applied = 0;
    if (base.resourceType === 'Bundle') {
      // Bundles get every Bundle rule's mutation that applies to them.
      for (const name of names.filter((n) => n.startsWith('bundle-'))) {
        const mutated = MUTATIONS[name](base, defs, rules);
        if (mutated) cases.push({ id: `${file.replace(/\.json$/, '')}~${name}`, resource: mutated });
      }
    }
    for (let tries = 0; tries < names.length && applied < 2; tries++) {
      const name = names[turn++ % names.length];
      const id = `${file.replace(/\.json$/, '')}~${name}`;
      const mutated = MUTATIONS[name](base, defs, rules);
      if (!mutated) continue;
      // A Bundle already has every Bundle mutation: the rotation still counts it (the recorded ids depend on it).
      if (!cases.some((c) => c.id === id)) cases.push({ id, resource: mutated });
      applied++;
    }
  }
  return cases;
}
