/**
 * Computes a resource's search index entries once per write (HAPI's idea):
 * each applicable SearchParameter's FHIRPath expression, compiled once per
 * resource type, is evaluated and its values normalised by parameter type.
 * The entries are stored beside the resource; searches never evaluate FHIRPath.
 *
 * Entry shapes (field names are short because they are stored millions of times):
 * - string:    { v: normalised (lower case, no accents, punctuation as spaces), e: exact }
 * - token:     { s?: system, c?: code, t?: display text normalised; ts?/tc?: identifier type }
 * - reference: { r?: "Type/id", t?: Type, i?: id, u?: absolute or canonical url; s?/c?: identifier }
 * - date:      { lo: ISO instant, hi: ISO instant } (the range the value covers)
 * - number:    { n, lo, hi }
 * - quantity:  { n, lo, hi, s?: system, c?: code, u?: unit }
 * - quantity also carries, for UCUM units, { k: canonical unit key, cn, clo, chi } (canonical value and range)
 * - uri:       { v }
 * - composite: { k0: <entry of component 0>, k1: <entry of component 1>, ... } — one entry per
 *              combination of component values taken from the SAME repetition of the base
 *              expression (e.g. one Observation.component), so `component-code-value-quantity`
 *              never pairs the code of one component with the value of another.
 * - near (Location.position): { lat, lon }
 * - phonetic (string parameters with code `phonetic`): { v: FONEM key } per name word and per name part (phonetic.ts)
 * - _text, _content: { x: the normalised words of the narrative / of all the resource's text } (full-text.ts)
 */
import fhirpath from 'fhirpath';
import r4model from 'fhirpath/fhir-context/r4/index.js';
import type { Resource } from 'fhir/r4';
import type { IndexEntries } from '../store/resource-store.js';
import type { SearchParameter, SearchParameterRegistry } from './search-parameters.js';
import { dateRange } from './date-range.js';
import { FULL_TEXT_PARAMETERS, fullTextEntries } from './full-text.js';
import { phoneticKeys } from './phonetic.js';
import { compileSimplePath } from './simple-path.js';
import { normaliseText } from './normalise-text.js';
import { toCanonical, UCUM_SYSTEM } from './ucum.js';

type Evaluator = (resource: unknown) => unknown[];

interface CompiledParameter {
  parameter: SearchParameter;
  evaluate: Evaluator;
  /** Composite parameters: each component's parameter and expression (compiled per base path, lazily). */
  components?: Array<{ parameter: SearchParameter; expression: string }>;
}

export interface IndexExtractorOptions {
  /** This server's base URL: absolute references under it are local references. */
  baseUrl?: string;
  /** Member-path expressions evaluated directly rather than by fhirpath.js (simple-path.ts); default true. */
  simplePaths?: boolean;
}

/** The parameter types whose normalisation reads a member path's values as fhirpath.js gives them (numbers and quantities hold decimals). */
const SIMPLE_PATH_TYPES = new Set(['string', 'token', 'reference', 'date', 'uri']);

interface FhirPathNode {
  data?: unknown;
  fhirNodeDataType?: string;
  path?: string;
}

/** Keeps only the union branches of a shared expression that apply to this resource type. */
export function expressionFor(resourceType: string, expression: string): string | undefined {
  const own = ownBranches(resourceType, expression);
  if (own.length === 0) return undefined;
  // `resolve()` needs the referenced resource; reference targets are checked on the
  // extracted references instead (see `targets`), so the filter can be dropped.
  // fhirpath.js lacks FHIR's hasExtension(url); extension(url).exists() means the same.
  return own
    .join(' | ')
    .replace(/\.where\(resolve\(\) is [A-Za-z]+\)/g, '')
    .replace(/hasExtension\(('[^']*')\)/g, 'extension($1).exists()');
}

function ownBranches(resourceType: string, expression: string): string[] {
  return splitTopLevelUnion(expression).filter((b) => {
    const trimmed = b.trim().replace(/^\(+/, '');
    return trimmed.startsWith(`${resourceType}.`) || trimmed === resourceType || trimmed.startsWith(`${resourceType} `) ||
      trimmed.startsWith('Resource.') || trimmed.startsWith('DomainResource.');
  });
}

/**
 * The reference targets a shared expression allows on this type through
 * `.where(resolve() is X)` (e.g. clinical-patient: `Encounter.subject.where(resolve() is Patient)`
 * → [Patient], although the definition's targets also list Group), or undefined.
 */
export function resolvedTargets(resourceType: string, expression: string): string[] | undefined {
  const types = ownBranches(resourceType, expression).map((b) => /\.where\(resolve\(\) is ([A-Za-z]+)\)/.exec(b)?.[1]);
  if (types.length === 0 || types.some((t) => !t)) return undefined;
  return [...new Set(types as string[])];
}

function splitTopLevelUnion(expression: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (ch === "'" && expression[i - 1] !== '\\') quoted = !quoted;
    if (quoted) continue;
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === '|' && depth === 0) {
      parts.push(expression.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(expression.slice(start));
  return parts;
}

export class IndexExtractor {
  private readonly compiled = new Map<string, CompiledParameter[]>();
  /** Per type, each parameter's compiled evaluation (null: it cannot be indexed). */
  private readonly compiledOne = new Map<string, Map<SearchParameter, CompiledParameter | null>>();
  private readonly relative = new Map<string, Evaluator | null>();
  private readonly codes = new Map<string, Set<string>>();
  /** `indexes(type, code)` answers, with the registry generation they were computed at (asked once per criterion of every search). */
  private readonly indexedAnswers = new Map<string, boolean>();
  private answersGeneration = -1;
  private readonly baseUrl: string | undefined;
  private readonly simplePaths: boolean;

  constructor(
    private readonly registry: SearchParameterRegistry,
    options: IndexExtractorOptions = {},
  ) {
    this.baseUrl = options.baseUrl?.replace(/\/$/, '');
    this.simplePaths = options.simplePaths ?? true;
  }

  /** Forgets compiled expressions (after SearchParameters were added). */
  reset(): void {
    this.compiled.clear();
    this.compiledOne.clear();
    this.relative.clear();
    this.codes.clear();
    this.indexedAnswers.clear();
  }

  extract(resource: Resource): IndexEntries {
    const entries: IndexEntries = {};
    for (const compiled of this.compiledFor(resource.resourceType)) {
      const values = this.valuesOf(compiled, resource);
      if (values.length > 0) entries[compiled.parameter.code] = dedupe(values);
    }
    if (this.hasFullText(resource.resourceType)) {
      for (const [code, values] of Object.entries(fullTextEntries(resource as unknown as Record<string, unknown>))) {
        if (this.registry.get(resource.resourceType, code)) entries[code] = values;
      }
    }
    return entries;
  }

  /** Whether `_text` or `_content` are defined for the type (they have no FHIRPath expression: see full-text.ts). */
  private hasFullText(resourceType: string): boolean {
    return [...FULL_TEXT_PARAMETERS].some((code) => this.registry.get(resourceType, code));
  }

  /** The index entries of one parameter only (used by _include on the resources of a page). */
  extractParameter(resource: Resource, code: string): unknown[] {
    // The first of the type's parameters with that code that compiles (as in compiledFor), compiling no other.
    for (const parameter of this.registry.indexedFor(resource.resourceType)) {
      const compiled = parameter.code === code ? this.compiledParameter(resource.resourceType, parameter) : undefined;
      if (compiled) return dedupe(this.valuesOf(compiled, resource));
    }
    return [];
  }

  private valuesOf(compiled: CompiledParameter, resource: Resource): unknown[] {
    let nodes: unknown[];
    try {
      nodes = compiled.evaluate(resource);
    } catch {
      return []; // an expression that cannot apply to this instance indexes nothing
    }
    const values: unknown[] = [];
    for (const node of nodes) {
      if (compiled.components) values.push(...this.compositeEntries(compiled.components, node as FhirPathNode));
      else values.push(...this.normalise(compiled.parameter, node as FhirPathNode));
    }
    return values;
  }

  /** Cartesian product of the components' entries, all evaluated on the same base node. */
  private compositeEntries(components: NonNullable<CompiledParameter['components']>, node: FhirPathNode): unknown[] {
    if (!node || typeof node !== 'object' || !node.path) return [];
    let combinations: Array<Record<string, unknown>> = [{}];
    components.forEach((component, index) => {
      const evaluate = this.relativeEvaluator(node.path!, component.expression);
      let values: unknown[] = [];
      if (evaluate) {
        try {
          for (const child of evaluate(node.data)) values.push(...this.normalise(component.parameter, child as FhirPathNode));
        } catch {
          values = [];
        }
      }
      const next: Array<Record<string, unknown>> = [];
      for (const combination of combinations) for (const value of values) next.push({ ...combination, [`k${index}`]: value });
      combinations = next;
    });
    return combinations;
  }

  private relativeEvaluator(basePath: string, expression: string): Evaluator | null {
    const key = `${basePath}\u0000${expression}`;
    let evaluate = this.relative.get(key);
    if (evaluate !== undefined) return evaluate;
    try {
      const fn = fhirpath.compile({ base: basePath, expression }, r4model, { resolveInternalTypes: false });
      evaluate = (data) => fn(data as never) as unknown[];
    } catch {
      evaluate = null;
    }
    this.relative.set(key, evaluate);
    return evaluate;
  }

  private compiledFor(resourceType: string): CompiledParameter[] {
    let list = this.compiled.get(resourceType);
    if (list) return list;
    list = [];
    for (const parameter of this.registry.indexedFor(resourceType)) {
      const compiled = this.compiledParameter(resourceType, parameter);
      if (compiled) list.push(compiled);
    }
    this.compiled.set(resourceType, list);
    return list;
  }

  /**
   * One parameter's evaluation, compiled on first use. Per parameter, not per type: compiling every
   * parameter of a type at its first search held the event loop 60–110 ms (Patient, Location: a
   * FHIRPath parse of a few ms each, CPU-profiled in bench-search at 1,000,000 resources), where the
   * search needs only its own parameters (`indexes`).
   */
  private compiledParameter(resourceType: string, parameter: SearchParameter): CompiledParameter | undefined {
    let ofType = this.compiledOne.get(resourceType);
    if (!ofType) this.compiledOne.set(resourceType, (ofType = new Map()));
    let compiled = ofType.get(parameter);
    if (compiled === undefined) ofType.set(parameter, (compiled = this.compile(resourceType, parameter) ?? null));
    return compiled ?? undefined;
  }

  private compile(resourceType: string, parameter: SearchParameter): CompiledParameter | undefined {
    const expression = expressionFor(resourceType, parameter.expression!);
    if (!expression) return undefined;
    // Bundle.composition and Bundle.message name a resource inside the Bundle (entry[0].resource), not a
    // reference: no reference entry can stand for it, so they are not indexed (and reported as unsupported).
    if (parameter.type === 'reference' && /\.resource$/.test(expression.trim())) return undefined;
    let components: CompiledParameter['components'];
    if (parameter.type === 'composite') {
      components = (parameter.component ?? []).map((c) => ({ parameter: this.registry.byCanonical(c.definition)!, expression: c.expression }));
      if (components.length < 2 || components.some((c) => !c.parameter)) return undefined; // a component we cannot type cannot be matched
    }
    const simple = this.simplePaths && !components && SIMPLE_PATH_TYPES.has(parameter.type) ? compileSimplePath(resourceType, expression) : undefined;
    if (simple) return { parameter, evaluate: simple };
    try {
      const fn = fhirpath.compile(expression, r4model, { resolveInternalTypes: false });
      return { parameter, evaluate: (resource) => fn(resource as never) as unknown[], ...(components ? { components } : {}) };
    } catch {
      // An expression fhirpath.js cannot compile is skipped; the CapabilityStatement
      // only lists parameters that compiled (see indexedCodes).
      return undefined;
    }
  }

  /** Whether a type's parameter really gets index entries (the same answer as `indexedCodes(type).has(code)`), compiling that parameter only. */
  indexes(resourceType: string, code: string): boolean {
    if (this.codes.has(resourceType)) return this.codes.get(resourceType)!.has(code);
    // Kept: registry.indexedFor copies every parameter of the type into fresh arrays, for each criterion
    // of each search (1 % of a practitioner-by-RPPS search's CPU, with its garbage, profiled).
    if (this.answersGeneration !== this.registry.generation) {
      this.indexedAnswers.clear();
      this.answersGeneration = this.registry.generation;
    }
    const key = `${resourceType}\u0000${code}`;
    let answer = this.indexedAnswers.get(key);
    if (answer === undefined) {
      answer =
        (FULL_TEXT_PARAMETERS.has(code) && this.registry.get(resourceType, code) !== undefined) ||
        this.registry.indexedFor(resourceType).some((parameter) => parameter.code === code && this.compiledParameter(resourceType, parameter) !== undefined);
      this.indexedAnswers.set(key, answer);
    }
    return answer;
  }

  /** Codes that really get indexed for a type (for the CapabilityStatement). */
  indexedCodes(resourceType: string): Set<string> {
    let codes = this.codes.get(resourceType);
    if (!codes) {
      codes = new Set(this.compiledFor(resourceType).map((c) => c.parameter.code));
      for (const code of FULL_TEXT_PARAMETERS) if (this.registry.get(resourceType, code)) codes.add(code);
      this.codes.set(resourceType, codes);
    }
    return codes;
  }

  private normalise(parameter: SearchParameter, node: FhirPathNode): unknown[] {
    let type = node.fhirNodeDataType ?? typeOfPrimitive(node);
    let data = node && typeof node === 'object' && 'data' in node ? node.data : node;
    if (data === undefined || data === null) return [];
    if (type === 'Extension') {
      // An expression ending at extension('url') (Device din, DiagnosticReport assessed-condition...) indexes the extension's value.
      const valueKey = Object.keys(data as object).find((k) => k.startsWith('value'));
      if (!valueKey) return [];
      const suffix = valueKey.slice('value'.length);
      type = PRIMITIVE_SUFFIXES.has(suffix) ? suffix[0].toLowerCase() + suffix.slice(1) : suffix;
      data = (data as Record<string, unknown>)[valueKey];
    }
    switch (parameter.type) {
      case 'string':
        return parameter.code === 'phonetic' ? phoneticEntries(type, data) : stringEntries(type, data);
      case 'token':
        return tokenEntries(type, data);
      case 'reference':
        return referenceEntries(type, data, parameter.targets, this.baseUrl);
      case 'date': {
        const range = dateRange(type, data);
        return range ? [range] : [];
      }
      case 'number': {
        // fhirpath.js wraps decimals ({ value, asStr }) to keep their written precision.
        const text = typeof data === 'number' ? String(data) : typeof (data as { asStr?: unknown }).asStr === 'string' ? (data as { asStr: string }).asStr : undefined;
        return text !== undefined && Number.isFinite(Number(text)) ? [numberEntry(Number(text), text)] : [];
      }
      case 'quantity':
        return quantityEntries(type, data);
      case 'uri':
        return typeof data === 'string' ? [{ v: data }] : [];
      case 'special':
        return positionEntries(data);
      default:
        return [];
    }
  }
}

/** value[x] suffixes of primitive types, whose type names start with a lower-case letter. */
const PRIMITIVE_SUFFIXES = new Set(['Base64Binary', 'Boolean', 'Canonical', 'Code', 'Date', 'DateTime', 'Decimal', 'Id', 'Instant', 'Integer', 'Markdown', 'Oid', 'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid']);

function typeOfPrimitive(node: unknown): string {
  return typeof node === 'string' ? 'string' : typeof node === 'number' ? 'decimal' : typeof node === 'boolean' ? 'boolean' : 'unknown';
}

/** One entry per distinct value, the first kept (also the audit trail's indexer's, which must give the same entries). */
export function dedupe<T>(values: T[]): T[] {
  if (values.length < 2) return values;
  const seen = new Set<string>();
  return values.filter((v) => {
    const key = JSON.stringify(v);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function stringEntries(type: string, data: unknown): unknown[] {
  if (typeof data === 'string') return [{ v: normaliseText(data), e: data }];
  if (typeof data !== 'object') return [];
  const record = data as Record<string, unknown>;
  const parts: string[] = [];
  if (type === 'HumanName') {
    for (const key of ['text', 'family', 'given', 'prefix', 'suffix']) parts.push(...strings(record[key]));
  } else if (type === 'Address') {
    for (const key of ['text', 'line', 'city', 'district', 'state', 'postalCode', 'country']) parts.push(...strings(record[key]));
  } else {
    for (const value of Object.values(record)) parts.push(...strings(value));
  }
  return parts.map((p) => ({ v: normaliseText(p), e: p }));
}

/** FONEM keys of the family and given names (the R4 phonetic parameters: "either family or given name"). */
function phoneticEntries(type: string, data: unknown): unknown[] {
  const parts = type === 'HumanName' && typeof data === 'object' && data !== null
    ? [...strings((data as Record<string, unknown>).family), ...strings((data as Record<string, unknown>).given)]
    : strings(data);
  return parts.flatMap(phoneticKeys).map((v) => ({ v }));
}

function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

function tokenEntries(type: string, data: unknown): unknown[] {
  if (typeof data === 'boolean') return [{ c: String(data) }];
  if (typeof data === 'string' || typeof data === 'number') return [{ c: String(data) }];
  if (typeof data !== 'object') return [];
  const record = data as Record<string, unknown>;
  switch (type) {
    case 'Coding':
      return [coding(record)];
    case 'CodeableConcept': {
      const codings = Array.isArray(record.coding) ? record.coding.map((c) => coding(c as Record<string, unknown>)) : [];
      const text = typeof record.text === 'string' ? [{ t: normaliseText(record.text) }] : [];
      return [...codings, ...text];
    }
    case 'Identifier': {
      const entry: Record<string, string> = {};
      if (typeof record.system === 'string') entry.s = record.system;
      if (typeof record.value === 'string') entry.c = record.value;
      const idType = record.type as { coding?: Array<Record<string, unknown>>; text?: string } | undefined;
      const typeCoding = idType?.coding?.[0];
      if (typeCoding && typeof typeCoding.system === 'string') entry.ts = typeCoding.system;
      if (typeCoding && typeof typeCoding.code === 'string') entry.tc = typeCoding.code;
      if (idType?.text) entry.t = normaliseText(idType.text);
      return [entry];
    }
    case 'ContactPoint': {
      const entry: Record<string, string> = {};
      if (typeof record.system === 'string') entry.s = record.system;
      if (typeof record.value === 'string') entry.c = record.value;
      return [entry];
    }
    default:
      return [];
  }
}

function coding(record: Record<string, unknown>): Record<string, string> {
  const entry: Record<string, string> = {};
  if (typeof record.system === 'string') entry.s = record.system;
  if (typeof record.code === 'string') entry.c = record.code;
  if (typeof record.display === 'string') entry.t = normaliseText(record.display);
  return entry;
}

const RELATIVE_REFERENCE = /^(?:(.*)\/)?([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

function positionEntries(data: unknown): unknown[] {
  const position = data as { latitude?: unknown; longitude?: unknown };
  if (typeof position?.latitude !== 'number' || typeof position.longitude !== 'number') return [];
  return [{ lat: position.latitude, lon: position.longitude }];
}

function referenceEntries(type: string, data: unknown, targets: string[] | undefined, ownBase: string | undefined): unknown[] {
  if (typeof data === 'string') {
    // canonical or uri used as a reference; one on this server's base names a local resource too,
    // so that `param=<this base>/Type/id` (a local reference) finds it.
    const url = data.split('|')[0];
    const local = ownBase !== undefined && url.startsWith(`${ownBase}/`) ? RELATIVE_REFERENCE.exec(url.slice(ownBase.length + 1)) : null;
    return local && !local[1] ? [{ u: url, r: `${local[2]}/${local[3]}`, t: local[2], i: local[3] }] : [{ u: url }];
  }
  if (typeof data !== 'object' || data === null) return [];
  if (type !== 'Reference' && type !== 'unknown') return [];
  return referenceObjectEntries(data as Record<string, unknown>, targets, ownBase);
}

/**
 * The entries of a Reference object: `r` (+ type, id) for a resource of this server (relative, or
 * absolute on its own base), `u` for another server's, `s`/`c` for its identifier. Also used by the
 * audit trail's indexer (src/audit/audit-index.ts), which must give exactly these entries.
 */
export function referenceObjectEntries(record: Record<string, unknown>, targets: string[] | undefined, ownBase: string | undefined): Record<string, string>[] {
  // An identifier-only reference whose `type` names a type the parameter does not allow (`.where(resolve() is
  // Patient)`) is no reference to one of its targets: R4 Reference.type is the target's type. This
  // is what keeps an identifier-only reference to a Practitioner out of a `patient` parameter.
  if (targets && targets.length > 0 && typeof record.reference !== 'string' && typeof record.type === 'string' && !targets.includes(record.type)) return [];
  const entries: Record<string, string>[] = [];
  const identifier = record.identifier as Record<string, unknown> | undefined;
  if (typeof record.reference === 'string') {
    const reference = record.reference;
    const match = RELATIVE_REFERENCE.exec(reference);
    if (match && !reference.startsWith('#')) {
      const [, base, targetType, id] = match;
      if (targets && targets.length > 0 && !targets.includes(targetType)) return [];
      if (!base || (ownBase !== undefined && base === ownBase)) {
        // A relative reference, or an absolute one to this very server: the same local resource.
        entries.push({ r: `${targetType}/${id}`, t: targetType, i: id });
      } else {
        // Another server's resource: only the full URL identifies it.
        entries.push({ u: reference, t: targetType });
      }
    } else if (!reference.startsWith('#')) {
      entries.push({ u: reference });
    }
  }
  if (identifier && typeof identifier === 'object') {
    const entry: Record<string, string> = {};
    if (typeof identifier.system === 'string') entry.s = identifier.system;
    if (typeof identifier.value === 'string') entry.c = identifier.value;
    if (Object.keys(entry).length > 0) entries.push(entry);
  }
  return entries;
}

/** Implicit precision: 5.4 stands for [5.35, 5.45) (R4 search page, number). */
function numberEntry(value: number, text = String(value)): { n: number; lo: number; hi: number } {
  const decimals = text.includes('.') && !text.includes('e') ? text.split('.')[1].length : 0;
  const half = 0.5 * 10 ** -decimals;
  return { n: value, lo: value - half, hi: value + half };
}

function quantityEntries(type: string, data: unknown): unknown[] {
  if (typeof data !== 'object' || data === null) return [];
  const record = data as Record<string, unknown>;
  if (typeof record.value !== 'number') return [];
  const entry: Record<string, unknown> = numberEntry(record.value);
  if (typeof record.system === 'string') entry.s = record.system;
  if (typeof record.code === 'string') entry.c = record.code;
  if (typeof record.unit === 'string') entry.u = record.unit;
  if (record.system === UCUM_SYSTEM && typeof record.code === 'string') {
    const lo = toCanonical(entry.lo as number, record.code);
    const canonical = toCanonical(record.value, record.code);
    const hi = toCanonical(entry.hi as number, record.code);
    if (canonical && lo && hi) Object.assign(entry, { k: canonical.key, cn: canonical.value, clo: Math.min(lo.value, hi.value), chi: Math.max(lo.value, hi.value) });
  }
  void type;
  return [entry];
}
