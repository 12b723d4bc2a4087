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

export class TerminologyService {
  private readonly expansions = new Map<string, Expansion | undefined>();

  constructor(
    private readonly registry: ConformanceRegistry,
    private readonly baseValueSets: BaseValueSets = {},
  ) {}

  /** The expansion of a locally known ValueSet, or undefined when it is unknown. Cached. */
  expand(canonical: string): Expansion | undefined {
    const url = canonical.split('|')[0];
    if (this.expansions.has(url)) return this.expansions.get(url);
    this.expansions.set(url, undefined); // guards against import cycles
    const result = this.computeExpansion(url);
    this.expansions.set(url, result);
    return result;
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
    if (vs?.resourceType === 'ValueSet') {
      if (vs.compose) return this.fromCompose(vs);
      if (vs.expansion?.contains) {
        const out: Expansion = new Map();
        for (const c of vs.expansion.contains) if (c.system && c.code) addCode(out, c.system, c.code, c.display);
        return out;
      }
      return undefined;
    }
    const base = this.baseValueSets[url];
    if (base) {
      const out: Expansion = new Map();
      for (const [system, codes] of Object.entries(base)) for (const code of codes) addCode(out, system, code, this.displayIn(system, code));
      return out;
    }
    return undefined;
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
        const root = findConcept(codeSystem.concept ?? [], filter.value);
        if (!root) { concepts = []; break; }
        const below = new Set(flatten(root.concept ?? []).map((c) => c.code));
        if (filter.op === 'is-a') below.add(root.code);
        else if (filter.op === '=') below.clear(), below.add(root.code);
        else if (filter.op !== 'descendent-of') { concepts = null; break; }
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
