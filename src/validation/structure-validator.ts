/**
 * Checks a resource's JSON against the FHIR R4 base structure: known elements
 * only, arrays exactly where the definition repeats, the right datatype for
 * every element (choice types included), primitive formats (the official
 * regexes, plus real calendar dates), required elements, and no empty values.
 *
 * Why not ajv and a JSON Schema? HL7's R4 JSON Schema is not published on a
 * registry reachable here, its one big `oneOf` over every resource type yields
 * unreadable errors, and the network-profile validator (slicing, fixed values,
 * bindings) has to walk the StructureDefinition element tree anyway. Walking the
 * same compiled tree here gives FHIRPath locations for free.
 */
import type { ElementDefinition, FhirDefinitions } from '../fhir/definitions.js';
import type { Issue } from '../errors.js';
import { narrativeProblems } from './narrative.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type ResolvedElement = ElementDefinition & { path: string };

/** Deeper than this is an attack or a bug, never a real resource. */
const MAX_DEPTH = 64;
const MAX_ISSUES = 50;
/** R4 datatypes page: "strings SHALL NOT exceed 1MB (1024*1024 characters) in size". */
const MAX_STRING_LENGTH = 1024 * 1024;

/** A client-supplied name or value quoted in a message, cut short (it may be megabytes long). */
function quoted(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * R4's id regex allows "." and "..", but as a path segment they mean "this" and "parent"
 * (RFC 3986 §5.2.4): `Patient/..` cannot be addressed by a client that normalises URLs.
 */
export function isUsableId(id: string): boolean {
  return ID_PATTERN.test(id) && id !== '.' && id !== '..';
}

/**
 * R4 datatypes page, string: "Strings SHALL NOT contain Unicode character points below 32,
 * except for u0009 (horizontal tab), u0010 (carriage return) and u0013 (line feed)" (the
 * decimal code points 9, 10 and 13 are meant). NUL and the other C0 controls are refused in
 * every string-based primitive.
 */
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

/**
 * Reference.reference: a relative reference (Type/id, a conditional Type?criteria in a
 * transaction), `#id` of a contained resource, an http(s) URL, or a urn:uuid / urn:oid of a
 * Bundle entry. Any other scheme (javascript:, vbscript:, data:, file:...) is refused: a
 * client following it would run or open something that is not a FHIR resource.
 */
const REFERENCE_SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** uri-based types whose urn:uuid / urn:oid values follow R4's uuid and oid rules (the HL7 validator checks them in any of these). */
const URI_TYPES = new Set(['uri', 'url', 'canonical', 'uuid', 'oid']);
const UUID = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const OID = /^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$/;
const ALLOWED_REFERENCE = /^(?:https?:\/\/|urn:uuid:|urn:oid:)/i;
const RELATIVE_ID_SEGMENT = /^(?:[A-Za-z]+\/)?([^/?#]+)(?:\/_history\/([^/?#]+))?$/;

function referenceProblem(reference: string): string | undefined {
  if (reference.startsWith('#')) return undefined;
  const scheme = REFERENCE_SCHEME.exec(reference);
  if (scheme) {
    if (!ALLOWED_REFERENCE.test(reference)) return `the scheme '${quoted(scheme[1])}:' is not allowed in a reference (relative, http(s), urn:uuid, urn:oid or #id)`;
    return undefined;
  }
  const relative = RELATIVE_ID_SEGMENT.exec(reference);
  if (relative && (relative[1] === '.' || relative[1] === '..' || relative[2] === '.' || relative[2] === '..')) return `'${quoted(reference)}' has '.' or '..' as an id`;
  return undefined;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The regexes accept 2023-02-31; FHIR says dates SHALL be valid dates. */
function isRealCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!match) return true;
  return Number(match[3]) <= daysInMonth(Number(match[1]), Number(match[2]));
}

export class StructureValidator {
  private readonly definitions: FhirDefinitions;
  private readonly primitiveChecks = new Map<string, (value: unknown) => string | undefined>();
  private readonly choiceCache = new Map<string, Map<string, { element: ResolvedElement; type: string }>>();

  constructor(definitions: FhirDefinitions) {
    this.definitions = definitions;
    for (const [name, type] of Object.entries(definitions.types)) {
      if (type.kind === 'primitive-type') this.primitiveChecks.set(name, this.compilePrimitive(name, type.json ?? 'string', type.regex));
    }
  }

  /** Validates a whole resource; an empty list means structurally valid. */
  validate(resource: unknown): Issue[] {
    const issues: Issue[] = [];
    if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
      return [{ severity: 'error', code: 'structure', diagnostics: 'A resource must be a JSON object' }];
    }
    this.validateResource(resource as Record<string, Json>, '', issues, 0);
    return issues;
  }

  private compilePrimitive(name: string, json: string, regex: string | undefined): (value: unknown) => string | undefined {
    const typeError = (value: unknown) => `expected a JSON ${json} for FHIR ${name}, got ${Array.isArray(value) ? 'array' : typeof value}`;
    if (json === 'boolean') return (v) => (typeof v === 'boolean' ? undefined : typeError(v));
    if (json === 'number') {
      const min = name === 'positiveInt' ? 1 : name === 'unsignedInt' ? 0 : -2147483648;
      return (v) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) return typeError(v);
        if (name === 'decimal') return undefined;
        if (!Number.isInteger(v) || v < min || v > 2147483647) return `${v} is not a valid FHIR ${name}`;
        return undefined;
      };
    }
    // string, markdown: any non-empty text (their regex only says "not empty").
    // base64Binary: the official regex backtracks badly on large bodies; check linearly.
    let pattern: RegExp | undefined;
    if (name === 'base64Binary') pattern = /^[A-Za-z0-9+/=\s]*$/;
    else if (regex && name !== 'string' && name !== 'markdown') pattern = new RegExp(`^(?:${regex})$`);
    const isDate = name === 'date' || name === 'dateTime' || name === 'instant';
    return (v) => {
      if (typeof v !== 'string') return typeError(v);
      if (v.length === 0) return `an empty string is not a valid FHIR ${name}`;
      if (v.trim().length === 0 && name !== 'xhtml') return `a FHIR ${name} cannot be only whitespace`;
      if ((name === 'string' || name === 'markdown') && v.length > MAX_STRING_LENGTH) return `a FHIR ${name} cannot exceed ${MAX_STRING_LENGTH} characters`;
      if (FORBIDDEN_CONTROL.test(v)) return `a FHIR ${name} cannot contain control characters other than tab, carriage return and line feed (found U+${v.match(FORBIDDEN_CONTROL)![0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()})`;
      if (name === 'id' && (v === '.' || v === '..')) return `'${v}' is not a usable FHIR id`;
      const uri = name === 'canonical' ? v.split('|')[0] : v; // a canonical may end with |version
      if (URI_TYPES.has(name) && uri.startsWith('urn:uuid:') && !UUID.test(uri)) return `'${v.slice(0, 60)}' is not a valid urn:uuid (R4 uuid: lower-case hexadecimal, 8-4-4-4-12)`;
      if (URI_TYPES.has(name) && uri.startsWith('urn:oid:') && !OID.test(uri)) return `'${v.slice(0, 60)}' is not a valid urn:oid (R4 oid: urn:oid: then a dotted number)`;
      // R4 datatypes, canonical: "canonical URLs ... SHALL be absolute", except a local #fragment.
      if (name === 'canonical' && !v.startsWith('#') && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(v)) return `the canonical '${v.length > 80 ? v.slice(0, 80) + '…' : v}' must be an absolute URL (or a #fragment)`;
      if (pattern && !pattern.test(v)) return `'${v.length > 40 ? v.slice(0, 40) + '…' : v}' is not a valid FHIR ${name}`;
      if (isDate && !isRealCalendarDate(v)) return `'${v}' is not a real calendar date`;
      if (name === 'xhtml') {
        const problems = narrativeProblems(v);
        if (problems.length > 0) return `Invalid narrative (txt-1/txt-2): ${problems.slice(0, 3).join('; ')}`;
      }
      return undefined;
    };
  }

  private validateResource(resource: Record<string, Json>, location: string, issues: Issue[], depth: number): void {
    const resourceType = resource.resourceType;
    const where = location || String(typeof resourceType === 'string' ? resourceType : 'Resource');
    if (typeof resourceType !== 'string') {
      issues.push({ severity: 'error', code: 'structure', diagnostics: 'The resource has no resourceType', expression: [location || 'Resource'] });
      return;
    }
    if (!this.definitions.isResourceType(resourceType)) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: `Unknown resourceType '${resourceType}'`, expression: [`${where}.resourceType`.replace(/^\./, '')] });
      return;
    }
    const expr = location || resourceType;
    if (resource.id !== undefined && (typeof resource.id !== 'string' || !isUsableId(resource.id))) {
      issues.push({ severity: 'error', code: 'value', diagnostics: `'${String(resource.id).slice(0, 80)}' is not a valid FHIR id`, expression: [`${expr}.id`] });
    }
    this.validateComplex(resource, resourceType, expr, issues, depth, true);
  }

  private validateComplex(node: Record<string, Json>, defPath: string, expr: string, issues: Issue[], depth: number, isResourceRoot = false): void {
    if (depth > MAX_DEPTH) {
      issues.push({ severity: 'error', code: 'too-costly', diagnostics: `Nesting deeper than ${MAX_DEPTH} levels`, expression: [expr] });
      return;
    }
    const children = this.childrenWithInheritance(defPath);
    const keys = Object.keys(node);
    if (keys.length === 0 || (isResourceRoot && keys.length === 1)) {
      if (!isResourceRoot) issues.push({ severity: 'error', code: 'structure', diagnostics: 'An element must have a value or children (empty objects are not allowed)', expression: [expr] });
    }
    const present = new Set<string>();
    for (const key of keys) {
      if (issues.length >= MAX_ISSUES) return;
      if (key === 'resourceType' && isResourceRoot) continue;
      if (key === 'fhir_comments') continue;
      const isCompanion = key.startsWith('_');
      const name = isCompanion ? key.slice(1) : key;
      const resolved = this.resolveChild(defPath, children, name);
      if (!resolved) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: `Unknown element '${quoted(key)}'`, expression: [`${expr}.${quoted(key)}`] });
        continue;
      }
      present.add(resolved.element.path);
      const childExpr = resolved.choiceOf ? `${expr}.${resolved.choiceOf}.ofType(${resolved.type})` : `${expr}.${name}`;
      const value = node[key];
      if (isCompanion) {
        this.validateCompanion(value, resolved.element, resolved.type, node[name], childExpr, issues, depth);
      } else {
        this.validateValue(value, resolved.element, resolved.type, childExpr, issues, depth, node[`_${name}`] !== undefined);
      }
    }
    for (const element of children.values()) {
      if (element.min > 0 && !present.has(element.path)) {
        const name = element.path.slice(element.path.lastIndexOf('.') + 1).replace('[x]', '');
        issues.push({ severity: 'error', code: 'required', diagnostics: `Missing required element '${name}' (minimum ${element.min})`, expression: [`${expr}.${name}`] });
      }
    }
  }

  /** Children of a datatype path include those of its base types (e.g. Age from Quantity). */
  private childrenWithInheritance(defPath: string): ReadonlyMap<string, ResolvedElement> {
    return this.definitions.childrenOf(defPath);
  }

  private resolveChild(
    defPath: string,
    children: ReadonlyMap<string, ResolvedElement>,
    name: string,
  ): { element: ResolvedElement; type: string | undefined; choiceOf?: string } | undefined {
    const direct = children.get(name);
    if (direct) return { element: direct, type: direct.types?.length === 1 ? direct.types[0] : undefined };
    let cache = this.choiceCache.get(defPath);
    if (!cache) {
      cache = new Map();
      for (const [childName, element] of children) {
        if (!childName.endsWith('[x]')) continue;
        const prefix = childName.slice(0, -3);
        for (const type of element.types ?? []) {
          cache.set(prefix + type[0].toUpperCase() + type.slice(1), { element, type });
        }
      }
      this.choiceCache.set(defPath, cache);
    }
    const choice = cache.get(name);
    if (!choice) return undefined;
    const base = choice.element.path.slice(choice.element.path.lastIndexOf('.') + 1, -3);
    return { element: choice.element, type: choice.type, choiceOf: base };
  }

  private validateValue(
    value: Json,
    element: ResolvedElement,
    type: string | undefined,
    expr: string,
    issues: Issue[],
    depth: number,
    hasCompanion: boolean,
  ): void {
    const repeats = element.max !== '1' && element.max !== '0';
    if (element.max === '0') {
      issues.push({ severity: 'error', code: 'structure', diagnostics: 'This element is not allowed here', expression: [expr] });
      return;
    }
    if (repeats) {
      if (!Array.isArray(value)) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: 'This element repeats: it must be a JSON array', expression: [expr] });
        return;
      }
      if (value.length === 0) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: 'Empty arrays are not allowed in FHIR JSON', expression: [expr] });
        return;
      }
      if (element.max !== '*' && value.length > Number(element.max)) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: `At most ${element.max} values are allowed`, expression: [expr] });
      }
      value.forEach((item, index) => {
        // A null in a primitive array is legal only as a placeholder for a `_name` companion entry.
        if (item === null && hasCompanion) return;
        this.validateItem(item, element, type, `${expr}[${index}]`, issues, depth);
      });
    } else {
      if (Array.isArray(value)) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: 'This element does not repeat: it must not be an array', expression: [expr] });
        return;
      }
      this.validateItem(value, element, type, expr, issues, depth);
    }
  }

  private validateItem(item: Json, element: ResolvedElement, type: string | undefined, expr: string, issues: Issue[], depth: number): void {
    if (issues.length >= MAX_ISSUES) return;
    if (element.ref) {
      if (!this.isObject(item, expr, issues)) return;
      this.validateComplex(item, element.ref, expr, issues, depth + 1);
      return;
    }
    const typeName = type ?? element.types?.[0];
    if (!typeName) return;
    const primitiveCheck = this.primitiveChecks.get(typeName);
    if (primitiveCheck) {
      // Resource.id is declared as System.String but is an FHIR id.
      const message = element.path.endsWith('.id') && element.path.split('.').length === 2 && this.definitions.isResourceType(element.path.split('.')[0])
        ? undefined
        : primitiveCheck(item);
      if (message) issues.push({ severity: 'error', code: 'value', diagnostics: message, expression: [expr] });
      else if (element.path === 'Reference.reference' && typeof item === 'string') {
        const problem = referenceProblem(item);
        if (problem) issues.push({ severity: 'error', code: 'value', diagnostics: `Invalid reference: ${problem}`, expression: [expr] });
      }
      return;
    }
    if (!this.isObject(item, expr, issues)) return;
    if (typeName === 'Resource') {
      this.validateResource(item, expr, issues, depth + 1);
      return;
    }
    // BackboneElement/Element children are declared inline under the element's own path.
    const defPath = typeName === 'BackboneElement' || typeName === 'Element' ? element.path : typeName;
    this.validateComplex(item, defPath, expr, issues, depth + 1);
  }

  /**
   * A primitive's `_name` companion (R4 JSON page, "Representation of primitive elements"):
   * an object (id, extension) where the element does not repeat; where it repeats, an array
   * of the same length as the values, with null where a value has no companion and never a
   * null on both sides.
   */
  private validateCompanion(value: Json, element: ResolvedElement, type: string | undefined, primitive: Json | undefined, expr: string, issues: Issue[], depth: number): void {
    const typeName = type ?? element.types?.[0];
    if (!typeName || !this.primitiveChecks.has(typeName)) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: `'_' companions exist only for primitive elements`, expression: [expr] });
      return;
    }
    const check = (item: Json, at: string) => {
      if (!this.isObject(item, at, issues)) return;
      this.validateComplex(item, 'Element', at, issues, depth + 1);
    };
    const repeats = element.max !== '1' && element.max !== '0';
    if (!repeats) {
      if (Array.isArray(value)) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: 'This element does not repeat: its companion must be a JSON object, not an array', expression: [expr] });
        return;
      }
      check(value, expr);
      return;
    }
    if (!Array.isArray(value)) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: 'This element repeats: its companion must be a JSON array', expression: [expr] });
      return;
    }
    if (value.length === 0) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: 'Empty arrays are not allowed in FHIR JSON', expression: [expr] });
      return;
    }
    if (primitive !== undefined && (!Array.isArray(primitive) || primitive.length !== value.length)) {
      issues.push({ severity: 'error', code: 'structure', diagnostics: 'A repeating companion must have as many items as the values it goes with', expression: [expr] });
      return;
    }
    value.forEach((item, i) => {
      if (item !== null) check(item, `${expr}[${i}]`);
      else if (!Array.isArray(primitive) || primitive[i] === null || primitive[i] === undefined) {
        issues.push({ severity: 'error', code: 'structure', diagnostics: 'A value and its companion cannot both be null', expression: [`${expr}[${i}]`] });
      }
    });
  }

  private isObject(item: Json, expr: string, issues: Issue[]): item is { [key: string]: Json } {
    if (typeof item === 'object' && item !== null && !Array.isArray(item)) return true;
    issues.push({ severity: 'error', code: 'structure', diagnostics: `Expected a JSON object, got ${item === null ? 'null' : Array.isArray(item) ? 'array' : typeof item}`, expression: [expr] });
    return false;
  }
}
