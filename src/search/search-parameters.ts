/**
 * The registry of search parameters: every R4 SearchParameter (from the base
 * definitions) plus any added later (the network's own, from profiles/), by
 * resource type and code. Nothing here is hand-coded per resource.
 */
import type { SearchParameterDefinition } from '../fhir/definitions.js';
import { resolvedTargets } from './index-extractor.js';

export type SearchParameterType = SearchParameterDefinition['type'];

export interface SearchParameter {
  url: string;
  code: string;
  type: SearchParameterType;
  /** FHIRPath expression restricted to this resource type (the union's other branches dropped). */
  expression?: string;
  /** Allowed reference targets (reference parameters). */
  targets?: string[];
  component?: Array<{ definition: string; expression: string }>;
}

/**
 * Parameters every resource has whose values live outside the index entries
 * (`_id` and `_lastUpdated` are top-level fields of the search document).
 */
const RESOURCE_LEVEL = new Set(['_id', '_lastUpdated']);

export class SearchParameterRegistry {
  private readonly byType = new Map<string, Map<string, SearchParameter>>();
  private readonly common = new Map<string, SearchParameter>();
  /** Parameters on DomainResource (e.g. _text): not for Bundle, Binary and Parameters, which have no narrative. */
  private readonly domainCommon = new Map<string, SearchParameter>();
  private readonly nonDomainTypes: Set<string>;
  private readonly byUrl = new Map<string, SearchParameter>();

  private readonly resourceTypes: Set<string>;
  private changes = 0;

  /** @param nonDomainTypes the resource types that do not derive from DomainResource (R4: Binary, Bundle, Parameters). */
  constructor(definitions: readonly SearchParameterDefinition[], resourceTypes: readonly string[], nonDomainTypes: readonly string[] = ['Binary', 'Bundle', 'Parameters']) {
    this.resourceTypes = new Set(resourceTypes);
    this.nonDomainTypes = new Set(nonDomainTypes);
    for (const definition of definitions) this.add(definition, resourceTypes);
  }

  /**
   * How many times parameters were added: what was derived from the registry before (a cached parsed
   * search, search-query-cache.ts) is stale once this moves.
   */
  get generation(): number {
    return this.changes;
  }

  add(definition: SearchParameterDefinition, resourceTypes: readonly string[]): void {
    this.changes++;
    for (const base of definition.base) {
      const parameter: SearchParameter = {
        url: definition.url,
        code: definition.code,
        type: definition.type,
        ...(definition.expression ? { expression: definition.expression } : {}),
        // A shared expression may narrow the targets per type (`.where(resolve() is Patient)`).
        ...(definition.target ? { targets: (definition.expression && resolvedTargets(base, definition.expression)) || definition.target } : {}),
        ...(definition.component ? { component: definition.component } : {}),
      };
      this.byUrl.set(definition.url, parameter);
      if (base === 'Resource') {
        this.common.set(definition.code, parameter);
        continue;
      }
      if (base === 'DomainResource') {
        this.domainCommon.set(definition.code, parameter);
        continue;
      }
      if (!resourceTypes.includes(base)) continue;
      let map = this.byType.get(base);
      if (!map) this.byType.set(base, (map = new Map()));
      map.set(definition.code, parameter);
    }
  }

  isKnownType(type: string): boolean {
    return this.resourceTypes.has(type);
  }

  /** By canonical URL (composite components name their parameters by URL). */
  byCanonical(url: string): SearchParameter | undefined {
    return this.byUrl.get(url);
  }

  /** Resource types that have a parameter with this code (for untyped chains). */
  typesWith(code: string): string[] {
    return [...this.byType].filter(([, map]) => map.has(code)).map(([type]) => type);
  }

  get(resourceType: string, code: string): SearchParameter | undefined {
    return this.byType.get(resourceType)?.get(code) ?? this.common.get(code) ?? this.commonOfDomain(resourceType).get(code);
  }

  private commonOfDomain(resourceType: string): ReadonlyMap<string, SearchParameter> {
    return this.nonDomainTypes.has(resourceType) ? new Map() : this.domainCommon;
  }

  /** The parameters whose values are extracted into index entries for this type. */
  indexedFor(resourceType: string): SearchParameter[] {
    const own = [...(this.byType.get(resourceType)?.values() ?? [])];
    const common = [...this.common.values(), ...this.commonOfDomain(resourceType).values()].filter((p) => !RESOURCE_LEVEL.has(p.code));
    // `near` is the one special parameter with an expression (Location.position): it is indexed as { lat, lon }.
    return [...own, ...common].filter((p) => p.expression && (p.type !== 'special' || p.code === 'near'));
  }

  /** All parameters known for a type (for the CapabilityStatement). */
  allFor(resourceType: string): SearchParameter[] {
    return [...(this.byType.get(resourceType)?.values() ?? []), ...this.common.values(), ...this.commonOfDomain(resourceType).values()];
  }

  isResourceLevel(code: string): boolean {
    return RESOURCE_LEVEL.has(code);
  }
}
