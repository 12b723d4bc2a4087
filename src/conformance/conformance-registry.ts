/**
 * Every conformance resource the server knows, by canonical URL: the network's
 * own (profiles/) and those of the FHIR packages placed in FHIR_PACKAGES_DIR
 * (FR Core, ANS guides...). The validator, terminology functions and the
 * search-parameter registry read definitions from here; nothing is fetched from
 * the network at run time.
 */
import type { CodeSystem, Resource, SearchParameter, StructureDefinition, ValueSet } from 'fhir/r4';

export type CanonicalResource = StructureDefinition | ValueSet | CodeSystem | SearchParameter | (Resource & { url?: string; version?: string });

export interface RegisteredResource {
  resource: CanonicalResource;
  /** "network" for profiles/, else "<package id>#<version>". */
  source: string;
}

export const CANONICAL_TYPES = ['StructureDefinition', 'ValueSet', 'CodeSystem', 'SearchParameter', 'Questionnaire', 'ImplementationGuide', 'OperationDefinition'] as const;

/** A FHIR package whose conformance resources were loaded (for the start-up log). */
export interface LoadedPackage {
  name: string;
  version: string;
  file: string;
  resources: number;
}

export class ConformanceRegistry {
  private readonly byUrl = new Map<string, RegisteredResource>();
  private readonly entries: RegisteredResource[] = [];
  /** The packages loaded, in load order. */
  readonly packages: LoadedPackage[] = [];

  /** Adds a resource; the first registration of a URL wins (the network's own are loaded first). */
  add(resource: CanonicalResource, source: string): void {
    const url = (resource as { url?: string }).url;
    if (!url) return;
    this.entries.push({ resource, source });
    if (!this.byUrl.has(url)) this.byUrl.set(url, { resource, source });
  }

  /** Looks a canonical up, ignoring a `|version` suffix (one version per URL is loaded). */
  get<T extends CanonicalResource = CanonicalResource>(canonical: string): T | undefined {
    const url = canonical.split('|')[0];
    return this.byUrl.get(url)?.resource as T | undefined;
  }

  sourceOf(canonical: string): string | undefined {
    return this.byUrl.get(canonical.split('|')[0])?.source;
  }

  all(): RegisteredResource[] {
    return this.entries;
  }

  ofType<T extends CanonicalResource>(resourceType: string, source?: (s: string) => boolean): T[] {
    return this.entries.filter((e) => e.resource.resourceType === resourceType && (!source || source(e.source))).map((e) => e.resource as T);
  }

  /** The network's own conformance resources (profiles/). */
  network(): CanonicalResource[] {
    return this.entries.filter((e) => e.source === 'network').map((e) => e.resource);
  }
}
