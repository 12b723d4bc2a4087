/**
 * Validates a structurally valid resource (see structure-validator.ts, which
 * runs first) against the rules a StructureDefinition adds, and against the
 * base R4 rules the element tree alone cannot express:
 *  - R4 invariants (dom-*, per-1, ref-1, ...) and the profile's own, via
 *    FHIRPath functions compiled once; ele-1/ext-1 natively;
 *  - cardinality, fixed and pattern values, choice-type restrictions;
 *  - slicing (value/pattern/exists discriminators on system, type, url, ...),
 *    per-slice cardinality, closed slicing;
 *  - bindings with their strength (required → error, extensible/preferred →
 *    warning, unknown ValueSet → information, never an exception);
 *  - reference target types; extensions (definition known locally, context,
 *    value type).
 * Locations are FHIRPath expressions such as `Patient.identifier[0].system`.
 */
import type { ElementDefinitionType, StructureDefinition } from 'fhir/r4';
import type { ConformanceRegistry } from '../conformance/conformance-registry.js';
import type { ElementDefinition as BaseElement, FhirDefinitions } from '../fhir/definitions.js';
import type { Issue } from '../errors.js';
import { coreExtensionContentIssues, type CoreExtension } from './core-extensions.js';
import { compileInvariant, compileProfile, type CompiledElement, type CompiledProfile } from './compiled-profile.js';
import type { TerminologyService } from './terminology.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type BaseResolved = BaseElement & { path: string };

export type { CoreExtension } from './core-extensions.js';

export interface BaseRules {
  constraints: Record<string, Array<{ key: string; severity: 'error' | 'warning'; human: string; expression: string }>>;
  bindings: Record<string, string>;
  extensions?: Record<string, CoreExtension>;
}

/** How an extension whose definition the server does not hold is reported, by the type of the resource carrying it. */
export type UnknownExtensionSeverity = (resourceType: string) => 'error' | 'information';

const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';
/** Quantity and its specialisations: their system|code is checked like a Coding's (the HL7 validator does). */
const QUANTITY_TYPES = new Set(['Quantity', 'Age', 'Count', 'Distance', 'Duration', 'MoneyQuantity', 'SimpleQuantity']);
/**
 * HL7's tooling extensions (structuredefinition-fhir-type, -normative-version...): R4's own
 * definitions use them outside the contexts R4 declares (fhir-type on ElementDefinition.type,
 * declared for ElementDefinition.type.code), and the HL7 validator does not hold them to it.
 */
const TOOLING_EXTENSION = `${CORE_SD}structuredefinition-`;
const MAX_ISSUES = 100;
const REFERENCE_TYPE = /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * One resource being walked. `root` is the resource the current node belongs to (FHIRPath
 * %resource); `container` is the resource that holds it when it is contained (%rootResource),
 * else the same. A Bundle entry's or a Parameters part's resource is a resource of its own:
 * its invariants and `#id` references are judged against itself, never against the Bundle.
 */
interface Walk {
  root: JsonObject;
  container: JsonObject;
  issues: Issue[];
  profileUrl?: string;
  reportedCompileErrors: Set<string>;
}

export class ProfileValidator {
  private readonly compiled = new Map<string, CompiledProfile | Error>();
  private readonly baseInvariants = new Map<string, Array<{ key: string; severity: 'error' | 'warning'; human: string; evaluate?: (n: unknown, r: unknown, c?: unknown) => unknown[] }>>();
  private readonly primitiveTypes: Set<string>;

  constructor(
    private readonly definitions: FhirDefinitions,
    private readonly registry: ConformanceRegistry,
    private readonly terminology: TerminologyService,
    private readonly rules: BaseRules,
    private readonly unknownExtension: UnknownExtensionSeverity = () => 'information',
  ) {
    this.primitiveTypes = new Set(Object.entries(definitions.types).filter(([, t]) => t.kind === 'primitive-type').map(([n]) => n));
  }

  /** The compiled form of a profile known to the registry (compiled on first use, then cached). */
  profile(url: string): CompiledProfile | undefined {
    const key = url.split('|')[0];
    let compiled = this.compiled.get(key);
    if (!compiled) {
      const sd = this.registry.get<StructureDefinition>(key);
      if (!sd || sd.resourceType !== 'StructureDefinition' || !sd.snapshot) return undefined;
      try {
        compiled = compileProfile(sd);
      } catch (error) {
        compiled = error as Error;
      }
      this.compiled.set(key, compiled);
    }
    return compiled instanceof Error ? undefined : compiled;
  }

  /** Base R4 rules only (invariants, required bindings, reference targets). */
  validateBase(resource: JsonObject): Issue[] {
    const walk: Walk = { root: resource, container: resource, issues: [], reportedCompileErrors: new Set() };
    this.walkObject(resource, String(resource.resourceType), undefined, String(resource.resourceType), walk, true);
    return walk.issues;
  }

  /** Base rules plus the profile's; throws nothing, an unknown profile is an issue. */
  validate(resource: JsonObject, profileUrl: string): Issue[] {
    const profile = this.profile(profileUrl);
    if (!profile) {
      return [{ severity: 'error', code: 'not-found', diagnostics: `Profile '${profileUrl}' is not known to this server`, expression: [String(resource.resourceType)] }];
    }
    if (profile.type !== resource.resourceType) {
      return [{ severity: 'error', code: 'invalid', diagnostics: `Profile '${profileUrl}' constrains ${profile.type}, not ${String(resource.resourceType)}`, expression: [String(resource.resourceType)] }];
    }
    const walk: Walk = { root: resource, container: resource, issues: [], profileUrl: profile.url, reportedCompileErrors: new Set() };
    this.walkObject(resource, profile.type, profile.root, profile.type, walk, true);
    return walk.issues;
  }

  private push(walk: Walk, issue: Issue): void {
    if (walk.issues.length < MAX_ISSUES) walk.issues.push(issue);
  }

  /**
   * dom-3, checked natively: fhirpath.js (strict FHIRPath N1) refuses the invariant's
   * `descendants().as(canonical)` on a collection, so it could never be evaluated. A contained
   * resource must be referred to (`#id`) from its container — the container itself or another
   * of its contained resources, by a reference, canonical or uri — or refer to the container (`#`).
   */
  private checkContainedReferenced(resource: JsonObject, expr: string, walk: Walk): void {
    const local = new Set<string>();
    const collect = (value: Json, key: string) => {
      if (typeof value === 'string') {
        if (value.startsWith('#') && key !== 'div') local.add(value);
      } else if (Array.isArray(value)) for (const item of value) collect(item, key);
      else if (isObject(value)) for (const [k, v] of Object.entries(value)) collect(v, k);
    };
    collect(resource, '');
    (resource.contained as Json[]).forEach((contained, i) => {
      if (!isObject(contained) || typeof contained.id !== 'string') return;
      if (local.has(`#${contained.id}`)) return;
      const refersToContainer = new Set<string>();
      const inner = (value: Json, key: string) => {
        if (typeof value === 'string' && value === '#' && key !== 'div') refersToContainer.add(value);
        else if (Array.isArray(value)) for (const item of value) inner(item, key);
        else if (isObject(value)) for (const [k, v] of Object.entries(value)) inner(v, k);
      };
      inner(contained, '');
      if (refersToContainer.size > 0) return;
      this.push(walk, { severity: 'error', code: 'invariant', diagnostics: `Constraint dom-3 failed: the contained resource '${contained.id}' is not referred to from elsewhere in the resource, nor does it refer to its container`, expression: [`${expr}.contained[${i}]`] });
    });
  }

  private baseInvariantsFor(path: string) {
    let list = this.baseInvariants.get(path);
    if (!list) {
      list = (this.rules.constraints[path] ?? []).filter((c) => c.key !== 'dom-3').map((c) => {
        const compiled = compileInvariant(path, c.expression);
        return { key: c.key, severity: c.severity, human: c.human, evaluate: compiled instanceof Error ? undefined : compiled };
      });
      this.baseInvariants.set(path, list);
    }
    return list;
  }

  private evaluateInvariant(
    walk: Walk,
    node: JsonObject,
    expr: string,
    c: { key: string; severity: 'error' | 'warning'; human: string; evaluate?: (n: unknown, r: unknown, c?: unknown) => unknown[]; compileError?: string; expression?: string },
  ): void {
    if (!c.evaluate) {
      if (c.compileError && !walk.reportedCompileErrors.has(c.key)) {
        walk.reportedCompileErrors.add(c.key);
        this.push(walk, { severity: 'information', code: 'not-supported', diagnostics: `Invariant ${c.key} could not be evaluated (${c.compileError})`, expression: [expr] });
      }
      return;
    }
    let result: unknown[];
    try {
      result = c.evaluate(node, walk.root, walk.container);
    } catch (error) {
      this.push(walk, { severity: 'information', code: 'not-supported', diagnostics: `Invariant ${c.key} could not be evaluated: ${(error as Error).message}`, expression: [expr] });
      return;
    }
    if (result.length === 1 && result[0] === false) {
      this.push(walk, { severity: c.severity, code: 'invariant', diagnostics: `Constraint ${c.key} failed: ${c.human}`, expression: [expr] });
    }
  }

  /** `defPath` is the base definition path of `node` (a type name or a backbone element path). */
  private walkObject(node: JsonObject, defPath: string, p: CompiledElement | undefined, expr: string, walk: Walk, isResource = false, elementPath = defPath): void {
    if (walk.issues.length >= MAX_ISSUES) return;
    for (const c of this.baseInvariantsFor(defPath)) this.evaluateInvariant(walk, node, expr, c);
    if (p) for (const c of p.constraints) this.evaluateInvariant(walk, node, expr, c);
    if (isResource && Array.isArray(node.contained)) this.checkContainedReferenced(node, expr, walk);

    const baseChildren = this.definitions.childrenOf(defPath);
    const counts = new Map<string, number>();
    for (const key of Object.keys(node)) {
      if (key === 'resourceType' || key.startsWith('_') || key === 'fhir_comments') continue;
      const resolved = this.resolveChild(baseChildren, key);
      if (!resolved) continue; // reported by the structure validator
      const { element, type, jsonName } = resolved;
      const value = node[key];
      const items = Array.isArray(value) ? value : [value];
      counts.set(jsonName, (counts.get(jsonName) ?? 0) + items.filter((i) => i !== null).length);
      const pChild = p?.children.get(jsonName);
      const repeats = Array.isArray(value);
      const choiceBase = jsonName.endsWith('[x]') ? jsonName.slice(0, -3) : undefined;
      const itemExpr = (i: number) => (choiceBase ? `${expr}.${choiceBase}.ofType(${type})` : repeats ? `${expr}.${key}[${i}]` : `${expr}.${key}`);

      if (pChild?.types && choiceBase && !pChild.types.some((t) => t.code === type)) {
        this.push(walk, { severity: 'error', code: 'structure', diagnostics: `Type ${type} is not allowed for ${pChild.path} by this profile (allowed: ${pChild.types.map((t) => t.code).join(', ')})${this.by(walk)}`, expression: [`${expr}.${choiceBase}.ofType(${type})`] });
        continue;
      }
      const assigned = pChild ? this.assignSlices(pChild, items, itemExpr, walk) : items.map(() => undefined);
      items.forEach((item, i) => {
        if (item === null) return;
        this.checkItem(item, type, element, assigned[i] ?? pChild, itemExpr(i), { defPath, elementPath }, `${elementPath}.${jsonName.replace('[x]', '')}`, walk);
      });
    }
    if (!p) return;
    for (const child of p.children.values()) {
      const count = counts.get(child.name) ?? 0;
      this.checkCardinality(child, count, `${expr}.${child.name.replace('[x]', '')}`, walk);
    }
  }

  private checkCardinality(element: CompiledElement, count: number, expr: string, walk: Walk): void {
    const label = element.sliceName ? `${element.path} (slice '${element.sliceName}')` : element.path;
    // Counts the base already requires are reported by the structure validator.
    if (count < element.min && (element.sliceName || element.min > element.baseMin)) {
      this.push(walk, { severity: 'error', code: 'required', diagnostics: `${label}: minimum required = ${element.min}, but only found ${count}${this.by(walk)}`, expression: [expr] });
    }
    if (count > element.max && (element.sliceName || element.max < element.baseMax)) {
      this.push(walk, { severity: 'error', code: 'structure', diagnostics: element.max === 0 ? `${label} is not allowed${this.by(walk)}` : `${label}: at most ${element.max} allowed, found ${count}${this.by(walk)}`, expression: [expr] });
    }
  }

  private by(walk: Walk): string {
    return walk.profileUrl ? ` (profile ${walk.profileUrl})` : '';
  }

  private resolveChild(children: ReadonlyMap<string, BaseResolved>, key: string): { element: BaseResolved; type: string; jsonName: string } | undefined {
    const direct = children.get(key);
    if (direct) return { element: direct, type: direct.types?.[0] ?? 'BackboneElement', jsonName: key };
    for (const [name, element] of children) {
      if (!name.endsWith('[x]')) continue;
      const prefix = name.slice(0, -3);
      if (!key.startsWith(prefix)) continue;
      const suffix = key.slice(prefix.length);
      const type = element.types?.find((t) => t.toLowerCase() === suffix.toLowerCase());
      if (type) return { element, type, jsonName: name };
    }
    return undefined;
  }

  // ---- slicing -------------------------------------------------------------

  private assignSlices(sliced: CompiledElement, items: Json[], itemExpr: (i: number) => string, walk: Walk): Array<CompiledElement | undefined> {
    if (sliced.slices.length === 0) return items.map(() => undefined);
    const discriminators = sliced.slicing?.discriminators ?? [{ type: 'value', path: sliced.name === 'extension' || sliced.name === 'modifierExtension' ? 'url' : '$this' }];
    const counts = new Map<CompiledElement, number>();
    let undecidable = false;
    const assigned = items.map((item, i) => {
      if (item === null) return undefined;
      let slice: CompiledElement | undefined;
      for (const s of sliced.slices) {
        const verdicts = discriminators.map((d) => this.matchesDiscriminator(item, s, d));
        if (verdicts.includes(false)) continue;
        if (verdicts.includes(undefined)) {
          undecidable = true;
          continue;
        }
        slice = s;
        break;
      }
      if (slice) counts.set(slice, (counts.get(slice) ?? 0) + 1);
      else if (sliced.slicing?.rules === 'closed' && !undecidable) {
        this.push(walk, { severity: 'error', code: 'structure', diagnostics: `${sliced.path}: this value matches none of the slices (${sliced.slices.map((s) => s.sliceName).join(', ')}) and the slicing is closed${this.by(walk)}`, expression: [itemExpr(i)] });
      }
      return slice;
    });
    // A slice this server cannot recognise (e.g. by a binding to an unknown ValueSet) makes per-slice counts meaningless.
    if (undecidable) return assigned;
    const baseExpr = itemExpr(0).replace(/\[0\]$/, '');
    for (const slice of sliced.slices) this.checkCardinality(slice, counts.get(slice) ?? 0, baseExpr, walk);
    return assigned;
  }

  /** true/false when the item does/does not belong to the slice; undefined when this server cannot tell. */
  private matchesDiscriminator(item: Json, slice: CompiledElement, d: { type: string; path: string }): boolean | undefined {
    const steps = d.path === '$this' ? [] : splitPath(d.path.replace(/^\$this\./, ''));
    const values = this.valuesAt(item, steps);
    const targets = this.elementsAt(slice, steps);
    if (d.type === 'exists') return targets.length === 0 ? true : targets.some((t) => t.min > 0) === values.length > 0;
    if (d.type === 'type' || d.type === 'profile') return undefined;
    const expected: unknown[] = [];
    for (const t of targets) {
      if (t.fixed !== undefined) expected.push(t.fixed);
      else if (t.pattern !== undefined) expected.push(t.pattern);
    }
    if (expected.length === 0 && steps.length === 1 && steps[0] === 'url') {
      const url = slice.types?.[0]?.profile?.[0];
      if (url) expected.push(url.split('|')[0]);
    }
    if (expected.length > 0) return values.some((v) => expected.some((e) => matchesPattern(v, e)));
    // Slices told apart by a required binding (e.g. coding:$this bound to different ValueSets).
    const bound = targets.find((t) => t.binding?.strength === 'required' && t.binding.valueSet);
    if (bound && this.terminology.isKnownValueSet(bound.binding!.valueSet!)) {
      const vs = bound.binding!.valueSet!;
      return values.some((v) => isObject(v) && typeof v.code === 'string' && this.terminology.validateCode(vs, typeof v.system === 'string' ? v.system : undefined, v.code).outcome === 'member');
    }
    // A binding this server cannot evaluate leaves the slice undecided; a slice that does not constrain the path at all accepts any value there.
    return bound ? undefined : true;
  }

  /** The element definitions a discriminator path reaches in a slice, through children and any sub-slices. */
  private elementsAt(element: CompiledElement, steps: string[]): CompiledElement[] {
    let current = [element];
    for (const step of steps) {
      const next: CompiledElement[] = [];
      const ext = /^extension\('([^']+)'\)$/.exec(step);
      for (const c of current) {
        if (ext) {
          for (const s of c.children.get('extension')?.slices ?? []) {
            const url = s.children.get('url')?.fixed ?? s.types?.[0]?.profile?.[0]?.split('|')[0];
            if (url === ext[1]) next.push(s);
          }
          continue;
        }
        const child = c.children.get(step) ?? c.children.get(step + '[x]');
        if (!child) continue;
        next.push(child, ...child.slices);
      }
      current = next;
    }
    return current;
  }

  private valuesAt(item: Json, steps: string[]): Json[] {
    let current: Json[] = [item];
    for (const step of steps) {
      const next: Json[] = [];
      const ext = /^extension\('([^']+)'\)$/.exec(step);
      for (const c of current) {
        if (!isObject(c)) continue;
        if (ext) {
          if (Array.isArray(c.extension)) next.push(...c.extension.filter((e) => isObject(e) && e.url === ext[1]));
          continue;
        }
        let v: Json | undefined = c[step];
        if (v === undefined && step === 'value') v = Object.entries(c).find(([k]) => k.startsWith('value'))?.[1];
        if (v === undefined) continue;
        if (Array.isArray(v)) next.push(...v);
        else next.push(v);
      }
      current = next;
    }
    return current;
  }

  // ---- one value -------------------------------------------------------------

  private checkItem(item: Json, type: string, base: BaseResolved, p: CompiledElement | undefined, expr: string, host: { defPath: string; elementPath: string }, elementPath: string, walk: Walk): void {
    if (p) {
      if (p.fixed !== undefined && !deepEqual(item, p.fixed)) {
        this.push(walk, { severity: 'error', code: 'value', diagnostics: `Value must be exactly ${short(p.fixed)}${this.by(walk)}`, expression: [expr] });
      }
      if (p.pattern !== undefined && !matchesPattern(item, p.pattern)) {
        this.push(walk, { severity: 'error', code: 'value', diagnostics: `Value must match the pattern ${short(p.pattern)}${this.by(walk)}`, expression: [expr] });
      }
    }
    const binding = p?.binding?.valueSet ? p.binding : this.rules.bindings[base.path] ? { strength: 'required' as const, valueSet: this.rules.bindings[base.path], base: true } : undefined;
    if (binding?.valueSet) this.checkBinding(item, type, binding as { strength: string; valueSet: string; base?: boolean }, expr, walk);
    if (type === 'Reference' && typeof item === 'object' && item !== null && !Array.isArray(item)) this.checkReference(item, base, p?.types, expr, walk);
    if ((type === 'Coding' || QUANTITY_TYPES.has(type)) && isObject(item)) this.checkCoding(item, expr, walk);
    if (type === 'Identifier' && isObject(item) && item.system === 'urn:ietf:rfc:3986' && !/\.example\[\d+\]/.test(expr) && typeof item.value === 'string' && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(item.value)) {
      // The system urn:ietf:rfc:3986 says "the value is a URI": it must be an absolute one
      // (not checked in ElementDefinition.example, where R4's own definitions illustrate with 'Local eCMS identifier').
      this.push(walk, { severity: 'error', code: 'value', diagnostics: `With the system urn:ietf:rfc:3986 the identifier's value must be an absolute URI, not '${item.value.slice(0, 80)}'`, expression: [`${expr}.value`] });
    }
    if (this.primitiveTypes.has(type)) {
      // Profile invariants on a primitive (e.g. the format of an RPPS number) take the value itself as context.
      if (p) for (const c of p.constraints) this.evaluateInvariant(walk, item as JsonObject, expr, c);
      return;
    }
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return;
    if (type === 'Resource') {
      // Contained resources and bundle entries: base rules (their own profiles are checked when written on their own).
      const resourceType = String(item.resourceType);
      if (!this.definitions.isResourceType(resourceType)) return;
      const isContained = base.path.endsWith('.contained');
      const inner: Walk = { ...walk, root: item, container: isContained ? walk.container : item, profileUrl: undefined };
      this.walkObject(item, resourceType, undefined, expr, inner, true);
      return;
    }
    if (type === 'Extension') {
      this.checkExtension(item, p, expr, host, walk);
      return;
    }
    const childDef = type === 'BackboneElement' || type === 'Element' ? base.ref ?? base.path : type;
    this.walkObject(item, childDef, p, expr, walk, false, elementPath);
  }

  private checkBinding(item: Json, type: string, binding: { strength: string; valueSet: string; base?: boolean }, expr: string, walk: Walk): void {
    if (binding.strength === 'example') return;
    let codings: Array<{ system?: string; code?: string }>;
    if (type === 'code' && typeof item === 'string') codings = [{ code: item }];
    else if (type === 'Coding' && isObject(item)) codings = [item as { system?: string; code?: string }];
    else if (type === 'CodeableConcept' && isObject(item)) codings = (Array.isArray(item.coding) ? item.coding : []) as Array<{ system?: string; code?: string }>;
    else return;
    const vs = binding.valueSet.split('|')[0];
    const coded = codings.filter((c) => typeof c.code === 'string');
    const results = coded.map((c) => this.terminology.validateCode(vs, c.system, c.code!));
    if (results.some((r) => r.outcome === 'member')) return;
    const unknownVs = results.length === 0 ? !this.terminology.isKnownValueSet(vs) : results.every((r) => r.outcome === 'unknown-valueset');
    if (unknownVs) {
      if (!binding.base && binding.strength !== 'preferred') {
        this.push(walk, { severity: 'information', code: 'not-supported', diagnostics: `ValueSet ${vs} is not known locally: the ${binding.strength} binding was not checked`, expression: [expr] });
      }
      return;
    }
    const unknownSystem = results.find((r) => r.outcome === 'unknown-system');
    if (unknownSystem && unknownSystem.outcome === 'unknown-system') {
      this.push(walk, { severity: 'information', code: 'not-supported', diagnostics: `Codes of ${unknownSystem.system} are not known locally: membership in ${vs} was not checked`, expression: [expr] });
      return;
    }
    const shown = coded.length ? coded.map((c) => (c.system ? `${c.system}#${c.code}` : `'${c.code}'`)).join(', ') : 'no code';
    const severity = binding.strength === 'required' ? 'error' : 'warning';
    this.push(walk, { severity, code: 'code-invalid', diagnostics: `${shown} is not in the value set ${vs} (${binding.strength} binding)${this.by(walk)}`, expression: [expr] });
  }

  /** A Coding of a CodeSystem the server holds completely names one of its codes, with its display (as the HL7 validator checks). */
  private checkCoding(item: JsonObject, expr: string, walk: Walk): void {
    if (typeof item.system !== 'string' || typeof item.code !== 'string') return;
    if (item.system === 'urn:ietf:rfc:3986' && !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(item.code)) {
      // The "code system" of URIs (RFC 3986): its codes are absolute URIs.
      this.push(walk, { severity: 'error', code: 'code-invalid', diagnostics: `With the system urn:ietf:rfc:3986 the code must be an absolute URI, not '${item.code.slice(0, 80)}'`, expression: [`${expr}.code`] });
      return;
    }
    const checked = this.terminology.checkCode(item.system, item.code);
    if (checked.outcome === 'unknown-code') {
      // terminology.hl7.org code systems are held as R4 shipped them (2018); THO has added codes since
      // (BTG in v3-ActCode for security labels): a code absent there is a warning, not a rejection —
      // unless it is one of its codes written in the wrong case ('Tab' for TAB), which is wrong in any edition.
      const dated = item.system.startsWith('http://terminology.hl7.org/') && this.terminology.isBaseCodeSystem(item.system) && !checked.otherCase;
      const hint = checked.otherCase ? ` (codes are case-sensitive: '${checked.otherCase}'?)` : dated ? ' (as R4 ships it, 2018 edition)' : '';
      this.push(walk, { severity: dated ? 'warning' : 'error', code: 'code-invalid', diagnostics: `Unknown code '${item.code}' in the CodeSystem ${item.system}${hint}`, expression: [`${expr}.code`] });
    } else if (checked.outcome === 'known' && typeof item.display === 'string' && checked.display && item.display.trim().toLowerCase() !== checked.display.trim().toLowerCase()) {
      this.push(walk, { severity: 'warning', code: 'code-invalid', diagnostics: `Wrong display '${item.display}' for ${item.system}#${item.code}: it should be '${checked.display}'`, expression: [`${expr}.display`] });
    }
  }

  private checkReference(item: JsonObject, base: BaseResolved, types: ElementDefinitionType[] | undefined, expr: string, walk: Walk): void {
    const reference = typeof item.reference === 'string' ? item.reference : undefined;
    let target: string | undefined = typeof item.type === 'string' ? item.type : undefined;
    if (reference?.startsWith('#')) {
      // `#id` names a resource contained in the container, whichever of its resources refers.
      const contained = Array.isArray(walk.container.contained) ? walk.container.contained : [];
      const found = contained.find((c) => isObject(c) && c.id === reference.slice(1));
      if (reference.length > 1 && !found) {
        this.push(walk, { severity: 'error', code: 'not-found', diagnostics: `No contained resource has the id '${reference.slice(1)}'`, expression: [`${expr}.reference`] });
        return;
      }
      if (isObject(found)) target = String(found.resourceType);
    } else if (reference && !reference.startsWith('urn:')) {
      const match = REFERENCE_TYPE.exec(reference);
      // A URL whose last segments only look like Type/id (…/vhdir/Network/x) names no resource type: nothing to judge.
      if (match && this.definitions.isResourceType(match[1])) target = match[1];
    }
    if (!target || target === 'Resource') return;
    const allowed = new Set<string>();
    const profiles = types?.filter((t) => t.code === 'Reference').flatMap((t) => t.targetProfile ?? []) ?? [];
    if (profiles.length > 0) {
      for (const url of profiles) {
        const canonical = url.split('|')[0];
        if (canonical.startsWith(CORE_SD)) {
          const name = canonical.slice(CORE_SD.length);
          // A core profile (e.g. Network, on Organization) rather than a type: its type is not known here, so anything goes.
          allowed.add(this.definitions.isResourceType(name) ? name : 'Resource');
        }
        else allowed.add(this.registry.get<StructureDefinition>(canonical)?.type ?? '');
      }
    } else for (const t of base.targets ?? []) allowed.add(t);
    if (allowed.size === 0 || allowed.has('Resource') || allowed.has(target)) return;
    this.push(walk, { severity: 'error', code: 'structure', diagnostics: `A reference to a ${target} is not allowed here (allowed: ${[...allowed].filter(Boolean).join(', ')})${this.by(walk)}`, expression: [expr] });
  }

  private checkExtension(item: JsonObject, p: CompiledElement | undefined, expr: string, host: { defPath: string; elementPath: string }, walk: Walk): void {
    const hasValue = Object.keys(item).some((k) => k.startsWith('value'));
    if (hasValue && Array.isArray(item.extension)) {
      this.push(walk, { severity: 'error', code: 'invariant', diagnostics: 'Constraint ext-1 failed: Must have either extensions or value[x], not both', expression: [expr] });
    }
    const url = typeof item.url === 'string' ? item.url : '';
    const definitionUrl = p?.types?.[0]?.profile?.[0] ?? url;
    const definition = this.profile(definitionUrl);
    if (!definition) {
      // A sub-extension of a complex extension is defined by the parent's slice (p), not by a StructureDefinition.
      if (p && p.sliceName) this.walkObject(item, 'Extension', p, expr, walk);
      else this.walkObject(item, 'Extension', undefined, expr, walk);
      if (p?.sliceName) return;
      const core = this.rules.extensions?.[url];
      if (core) {
        this.checkCoreExtension(item, url, core, expr, host, walk);
        return;
      }
      // Only absolute URLs name definitions; a relative one (a sub-extension) belongs to its parent's.
      if (/^[a-z][a-z0-9+.-]*:/i.test(url) && this.registry.sourceOf(url) === undefined) {
        const severity = this.unknownExtension(String(walk.root.resourceType));
        this.push(walk, {
          severity,
          code: severity === 'error' ? 'structure' : 'informational',
          diagnostics: severity === 'error'
            ? `Extension ${url} is not known to this server, and unknown extensions are not accepted on ${String(walk.root.resourceType)} (UNKNOWN_EXTENSIONS)`
            : `Extension ${url} is not known to this server: its content was not checked`,
          expression: [expr],
        });
      }
      return;
    }
    if (definition.contexts && definition.contexts.length > 0 && !this.contextAllows(definition.contexts, host)) {
      this.push(walk, { severity: 'error', code: 'structure', diagnostics: `Extension ${definition.url} is not allowed on ${host.elementPath} (allowed on: ${definition.contexts.map((c) => c.expression).join(', ')})`, expression: [expr] });
    }
    const saved = walk.profileUrl;
    walk.profileUrl = definition.url;
    this.walkObject(item, 'Extension', definition.root, expr, walk);
    walk.profileUrl = saved;
  }

  /** An R4 core extension: where it may be used and the type of its value (or its sub-extensions). */
  private checkCoreExtension(item: JsonObject, url: string, core: CoreExtension, expr: string, host: { defPath: string; elementPath: string }, walk: Walk): void {
    if (core.context.length > 0 && !url.startsWith(TOOLING_EXTENSION) && !this.contextAllows(core.context, host)) {
      this.push(walk, { severity: 'error', code: 'structure', diagnostics: `Extension ${url} is not allowed on ${host.elementPath} (allowed on: ${core.context.map((c) => c.expression).join(', ')})`, expression: [expr] });
    }
    for (const issue of coreExtensionContentIssues(item, url, core, expr)) this.push(walk, issue);
  }

  private contextAllows(contexts: Array<{ type: string; expression: string }>, hostPaths: { defPath: string; elementPath: string }): boolean {
    const host = hostPaths.defPath;
    const hostType = this.definitions.types[host];
    return contexts.some((c) => {
      if (c.type !== 'element') return true; // fhirpath and extension contexts are not checked here
      if (c.expression === host || c.expression === hostPaths.elementPath || c.expression === 'Element') return true;
      if (hostType?.kind === 'resource' && (c.expression === 'Resource' || c.expression === 'DomainResource')) return true;
      // A context on a datatype also admits its specialisations (e.g. Quantity for Age).
      let base = hostType?.base;
      while (base) {
        if (base === c.expression) return true;
        base = this.definitions.types[base]?.base;
      }
      return false;
    });
  }
}

/** Splits a discriminator path on dots outside of function arguments (extension('http://...').value). */
function splitPath(path: string): string[] {
  return path.match(/extension\('[^']*'\)|[^.]+/g) ?? [];
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function short(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length > 160 ? text.slice(0, 160) + '…' : text;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || typeof a !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => deepEqual(v, (b as unknown[])[i]));
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** FHIR pattern semantics: every property of the pattern appears in the value; array items each match some value item. */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null) return value === pattern;
  if (Array.isArray(pattern)) return Array.isArray(value) && pattern.every((p) => value.some((v) => matchesPattern(v, p)));
  if (!isObject(value)) return false;
  return Object.entries(pattern).every(([k, p]) => value[k] !== undefined && matchesPattern(value[k], p));
}
