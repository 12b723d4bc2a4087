/**
 * Local terminology: ValueSet expansion and code membership over the CodeSystems
 * and ValueSets the server holds (the network's, the FHIR packages', and the R4
 * ValueSets that base `required` bindings name, pre-expanded in
 * definitions/r4-rules.json). No external terminology server is called: what
 * cannot be decided locally is reported as "unknown", never guessed.
 *
 * Supported compose features: include/exclude by system (whole CodeSystem), by
 * concept list, by imported valueSet, and the `is-a` / `descendent-of` / `=`
 * (concept) filters on hierarchical CodeSystems. Other filters make the include
 * "not expandable" (membership for that system is unknown).
 */
import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetExpansionContains } from 'fhir/r4';
import type { ConformanceRegistry } from '../conformance/conformance-registry.js';

/** system → codes with display; `null` = the system is included but its codes cannot be listed locally. */
export type Expansion = Map<string, Map<string, string | undefined> | null>;

export type MembershipResult =
  | { outcome: 'member'; display?: string }
  | { outcome: 'not-member' }
  | { outcome: 'unknown-valueset' }
  | { outcome: 'unknown-system'; system: string };

export interface BaseValueSets {
  [url: string]: Record<string, string[]>;
}

/** The R4 ValueSets of definitions/r4-rules.json are those of FHIR 4.0.1. */
const BASE_VALUESET_VERSION = '4.0.1';

/** Concept property URI (R4 concept-properties) that names a concept's parent; `subsumedBy` is its v3 name. */
const PARENT_PROPERTY_URI = 'http://hl7.org/fhir/concept-properties#parent';
const CHILD_PROPERTY_URI = 'http://hl7.org/fhir/concept-properties#child';

/** Subsumption links of one complete CodeSystem: concept nesting plus parent/child (`subsumedBy`) properties. */
interface Hierarchy {
  codes: Set<string>;
  children: Map<string, Set<string>>;
  parents: Map<string, Set<string>>;
}

export type SubsumptionResult = { outcome: 'codes'; codes: string[] } | { outcome: 'unknown-system' } | { outcome: 'unknown-code' };

/** The complete CodeSystems of R4 (definitions/r4-codesystems.json): codes and displays. */
export interface BaseCodeSystems {
  [url: string]: { caseSensitive: boolean; codes: Record<string, string> };
}

export type CodeCheck = { outcome: 'known'; display: string | undefined } | { outcome: 'unknown-code'; otherCase?: string } | { outcome: 'unknown-system' };

export class TerminologyService {
  private readonly expansions = new Map<string, Expansion | undefined>();
  private readonly hierarchies = new Map<string, Hierarchy | undefined>();
  private readonly heldSystems = new Map<string, { caseSensitive: boolean; codes: Map<string, string | undefined> } | null>();

  constructor(
    private readonly registry: ConformanceRegistry,
    private readonly baseValueSets: BaseValueSets = {},
    private readonly baseCodeSystems: BaseCodeSystems = {},
  ) {}

  /**
   * A code of a CodeSystem the server holds completely (the network's and packages' with
   * content = complete, and R4's own): whether the code is one of its codes, and its display.
   * A system held only partly, or not at all, is `unknown-system`: nothing is claimed about it.
   */
  checkCode(system: string, code: string): CodeCheck {
    const held = this.heldSystem(system.split('|')[0]);
    if (!held) return { outcome: 'unknown-system' };
    const key = held.caseSensitive ? code : code.toLowerCase();
    if (!held.codes.has(key)) {
      const otherCase = held.caseSensitive ? [...held.codes.keys()].find((c) => c.toLowerCase() === code.toLowerCase()) : undefined;
      return { outcome: 'unknown-code', ...(otherCase ? { otherCase } : {}) };
    }
    return { outcome: 'known', display: held.codes.get(key) };
  }

  /** Whether the system is held from R4's own package (not from profiles/ or a FHIR package). */
  isBaseCodeSystem(system: string): boolean {
    const url = system.split('|')[0];
    return this.baseCodeSystems[url] !== undefined && this.registry.get<CodeSystem>(url)?.resourceType !== 'CodeSystem';
  }

  private heldSystem(url: string): { caseSensitive: boolean; codes: Map<string, string | undefined> } | null {
    let held = this.heldSystems.get(url);
    if (held !== undefined) return held;
    held = null;
    const cs = this.registry.get<CodeSystem>(url);
    if (cs?.resourceType === 'CodeSystem') {
      if (cs.content === 'complete' && cs.concept?.length) {
        const caseSensitive = cs.caseSensitive !== false;
        const codes = new Map<string, string | undefined>();
        const walk = (concepts: CodeSystemConcept[]) => {
          for (const c of concepts) {
            codes.set(caseSensitive ? c.code : c.code.toLowerCase(), c.display);
            walk(c.concept ?? []);
          }
        };
        walk(cs.concept);
        held = { caseSensitive, codes };
      }
    } else if (this.baseCodeSystems[url]) {
      const base = this.baseCodeSystems[url];
      held = { caseSensitive: base.caseSensitive, codes: new Map(Object.entries(base.codes).map(([c, d]) => [base.caseSensitive ? c : c.toLowerCase(), d || undefined])) };
    }
    this.heldSystems.set(url, held);
    return held;
  }

  /** The expansion of a locally known ValueSet, or undefined when it is unknown. Cached. */
  expand(canonical: string): Expansion | undefined {
    const url = canonical.split('|')[0];
    if (this.expansions.has(url)) return this.expansions.get(url);
    this.expansions.set(url, undefined); // guards against import cycles
    const result = this.computeExpansion(url);
    this.expansions.set(url, result);
    return result;
  }

  /**
   * The version of a known ValueSet (one version per URL is loaded), '' when it
   * has none, undefined when the ValueSet is unknown. Canonical references with
   * `|version` must name this one.
   */
  valueSetVersion(canonical: string): string | undefined {
    const url = canonical.split('|')[0];
    const vs = this.registry.get<ValueSet>(url);
    if (vs?.resourceType === 'ValueSet') return vs.version ?? '';
    return this.baseValueSets[url] ? BASE_VALUESET_VERSION : undefined;
  }

  /**
   * The expansion of a ValueSet resource given whole (e.g. one stored on the
   * server and named by reference), with the same rules and CodeSystems as
   * `expand`. Not cached here: the caller knows the resource's version.
   */
  expandResource(vs: ValueSet): Expansion | undefined {
    return this.expansionOf(vs);
  }

  /**
   * `code` and every code it subsumes (`below`), or every code that subsumes it
   * (`above`), the code itself included, in a complete CodeSystem the server holds.
   */
  subsumption(system: string, code: string, direction: 'below' | 'above'): SubsumptionResult {
    const hierarchy = this.hierarchyOf(system);
    if (!hierarchy) return { outcome: 'unknown-system' };
    if (!hierarchy.codes.has(code)) return { outcome: 'unknown-code' };
    return { outcome: 'codes', codes: [...reachable(direction === 'below' ? hierarchy.children : hierarchy.parents, code)] };
  }

  isKnownValueSet(canonical: string): boolean {
    return this.expand(canonical) !== undefined;
  }

  validateCode(valueSet: string, system: string | undefined, code: string): MembershipResult {
    const expansion = this.expand(valueSet);
    if (!expansion) return { outcome: 'unknown-valueset' };
    const systems = system ? [system] : [...expansion.keys()];
    for (const s of systems) {
      if (!expansion.has(s)) continue;
      const codes = expansion.get(s);
      if (codes === null) return { outcome: 'unknown-system', system: s };
      if (codes!.has(code)) return { outcome: 'member', display: codes!.get(code) };
    }
    return { outcome: 'not-member' };
  }

  /** Display of a code in a known CodeSystem (for $validate-code display checks). */
  lookupDisplay(system: string, code: string): string | undefined | null {
    const cs = this.registry.get<CodeSystem>(system);
    if (!cs || cs.resourceType !== 'CodeSystem') return null;
    const found = findConcept(cs.concept ?? [], code);
    return found ? (found.display ?? '') : undefined;
  }

  /** Flat `expansion.contains` for $expand; undefined when a system cannot be listed. */
  containsOf(expansion: Expansion): ValueSetExpansionContains[] | undefined {
    const contains: ValueSetExpansionContains[] = [];
    for (const [system, codes] of expansion) {
      if (codes === null) return undefined;
      for (const [code, display] of codes) contains.push(display ? { system, code, display } : { system, code });
    }
    return contains;
  }

  private computeExpansion(url: string): Expansion | undefined {
    const vs = this.registry.get<ValueSet>(url);
    if (vs?.resourceType === 'ValueSet') return this.expansionOf(vs);
    const base = this.baseValueSets[url];
    if (base) {
      const out: Expansion = new Map();
      for (const [system, codes] of Object.entries(base)) for (const code of codes) addCode(out, system, code, this.displayIn(system, code));
      return out;
    }
    return undefined;
  }

  private expansionOf(vs: ValueSet): Expansion | undefined {
    if (vs.compose) return this.fromCompose(vs);
    if (vs.expansion?.contains) {
      const out: Expansion = new Map();
      for (const c of vs.expansion.contains) if (c.system && c.code) addCode(out, c.system, c.code, c.display);
      return out;
    }
    return undefined;
  }

  /** The hierarchy of a complete CodeSystem held here (cached: the registry does not change while the process runs). */
  private hierarchyOf(system: string): Hierarchy | undefined {
    if (this.hierarchies.has(system)) return this.hierarchies.get(system);
    const cs = this.registry.get<CodeSystem>(system);
    const hierarchy = cs?.resourceType === 'CodeSystem' && cs.content === 'complete' ? buildHierarchy(cs) : undefined;
    this.hierarchies.set(system, hierarchy);
    return hierarchy;
  }

  private displayIn(system: string, code: string): string | undefined {
    const display = this.lookupDisplay(system, code);
    return display || undefined;
  }

  private fromCompose(vs: ValueSet): Expansion | undefined {
    const out: Expansion = new Map();
    for (const include of vs.compose!.include) {
      const part = this.includePart(include);
      if (!part) return undefined;
      for (const [system, codes] of part) {
        if (codes === null) out.set(system, null);
        else if (out.get(system) !== null) for (const [code, display] of codes) addCode(out, system, code, display);
      }
    }
    for (const exclude of vs.compose!.exclude ?? []) {
      const part = this.includePart(exclude);
      if (!part) continue;
      for (const [system, codes] of part) {
        const current = out.get(system);
        if (current && codes) for (const code of codes.keys()) current.delete(code);
      }
    }
    return out;
  }

  private includePart(include: NonNullable<ValueSet['compose']>['include'][number]): Expansion | undefined {
    const out: Expansion = new Map();
    let imported: Expansion | undefined;
    for (const canonical of include.valueSet ?? []) {
      const other = this.expand(canonical);
      if (!other) return undefined;
      imported = imported ? intersect(imported, other) : other;
    }
    if (!include.system) return imported ?? out;
    const system = include.system;
    const cs = this.registry.get<CodeSystem>(system);
    const codeSystem = cs?.resourceType === 'CodeSystem' && cs.content === 'complete' ? cs : undefined;
    if (include.concept) {
      const codes = new Map<string, string | undefined>();
      for (const c of include.concept) codes.set(c.code, c.display ?? (codeSystem ? findConcept(codeSystem.concept ?? [], c.code)?.display : undefined));
      out.set(system, codes);
    } else if (!codeSystem) {
      out.set(system, null);
    } else if (include.filter) {
      let concepts: CodeSystemConcept[] | null = flatten(codeSystem.concept ?? []);
      for (const filter of include.filter) {
        if (filter.property !== 'concept' || !concepts) { concepts = null; break; }
        const hierarchy = this.hierarchyOf(system)!;
        if (!hierarchy.codes.has(filter.value)) { concepts = []; break; }
        const below = reachable(hierarchy.children, filter.value);
        if (filter.op === '=') below.clear(), below.add(filter.value);
        else if (filter.op === 'descendent-of') below.delete(filter.value);
        else if (filter.op !== 'is-a') { concepts = null; break; }
        concepts = concepts.filter((c) => below.has(c.code));
      }
      out.set(system, concepts ? new Map(concepts.map((c) => [c.code, c.display])) : null);
    } else {
      out.set(system, new Map(flatten(codeSystem.concept ?? []).map((c) => [c.code, c.display])));
    }
    return imported ? intersect(out, imported) : out;
  }
}

function addCode(out: Expansion, system: string, code: string, display: string | undefined): void {
  let codes = out.get(system);
  if (codes === null) return;
  if (!codes) out.set(system, (codes = new Map()));
  codes.set(code, display);
}

function intersect(a: Expansion, b: Expansion): Expansion {
  const out: Expansion = new Map();
  for (const [system, codes] of a) {
    if (!b.has(system)) continue;
    const other = b.get(system);
    if (codes === null || other === null) out.set(system, codes ?? other ?? null);
    else out.set(system, new Map([...codes!].filter(([code]) => other!.has(code))));
  }
  return out;
}

function flatten(concepts: CodeSystemConcept[], into: CodeSystemConcept[] = []): CodeSystemConcept[] {
  for (const c of concepts) {
    into.push(c);
    if (c.concept) flatten(c.concept, into);
  }
  return into;
}

function findConcept(concepts: CodeSystemConcept[], code: string): CodeSystemConcept | undefined {
  for (const c of concepts) {
    if (c.code === code) return c;
    const nested = c.concept && findConcept(c.concept, code);
    if (nested) return nested;
  }
  return undefined;
}

function buildHierarchy(cs: CodeSystem): Hierarchy {
  const hierarchy: Hierarchy = { codes: new Set(), children: new Map(), parents: new Map() };
  const link = (parent: string, child: string) => {
    if (parent === child) return;
    if (!hierarchy.children.has(parent)) hierarchy.children.set(parent, new Set());
    if (!hierarchy.parents.has(child)) hierarchy.parents.set(child, new Set());
    hierarchy.children.get(parent)!.add(child);
    hierarchy.parents.get(child)!.add(parent);
  };
  const declared = new Map((cs.property ?? []).map((p) => [p.code, p.uri]));
  const isParent = (code: string) => declared.get(code) === PARENT_PROPERTY_URI || code === 'parent' || code === 'subsumedBy';
  const isChild = (code: string) => declared.get(code) === CHILD_PROPERTY_URI || code === 'child';
  const walk = (concepts: CodeSystemConcept[], parent?: string) => {
    for (const c of concepts) {
      hierarchy.codes.add(c.code);
      if (parent) link(parent, c.code);
      for (const p of c.property ?? []) {
        if (p.valueCode === undefined) continue;
        if (isParent(p.code)) link(p.valueCode, c.code);
        else if (isChild(p.code)) link(c.code, p.valueCode);
      }
      if (c.concept) walk(c.concept, c.code);
    }
  };
  walk(cs.concept ?? []);
  return hierarchy;
}

/** `start` and every code reachable from it along `links` (cycles in a malformed CodeSystem end the walk). */
function reachable(links: Map<string, Set<string>>, start: string): Set<string> {
  const seen = new Set([start]);
  const queue = [start];
  while (queue.length > 0) {
    for (const next of links.get(queue.pop()!) ?? []) {
      if (!seen.has(next)) seen.add(next), queue.push(next);
    }
  }
  return seen;
}
