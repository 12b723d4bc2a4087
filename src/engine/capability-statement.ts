/**
 * The CapabilityStatement, generated from what is really implemented: the
 * interactions the REST layer registered, every resource type the definitions
 * know, and the search parameters that really get indexed for each type.
 */
import type { CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestSecurity } from 'fhir/r4';
import type { EngineFacts } from './fhir-engine.js';

export type TypeInteraction = 'read' | 'vread' | 'update' | 'patch' | 'delete' | 'history-instance' | 'history-type' | 'create' | 'search-type';
export type SystemInteraction = 'transaction' | 'batch' | 'search-system' | 'history-system';

export interface ImplementedInteractions {
  type: Set<TypeInteraction>;
  system: Set<SystemInteraction>;
  conditionalCreate: boolean;
  conditionalUpdate: boolean;
  conditionalPatch: boolean;
  conditionalDelete: boolean;
  conditionalRead: boolean;
}

export interface SoftwareInfo {
  name: string;
  version: string;
  releaseDate?: string;
}

/** What the CapabilityStatement needs to know of a registered operation. */
export interface OperationSummary {
  name: string;
  definition: string;
  levels: string[];
  resourceTypes?: string[];
}

export function buildCapabilityStatement(
  ctx: EngineFacts,
  implemented: ImplementedInteractions,
  software: SoftwareInfo,
  operations: OperationSummary[] = [],
  /** rest.security (SMART on FHIR), when authentication is on. */
  security?: CapabilityStatementRestSecurity,
): CapabilityStatement {
  const typeInteractions = [...implemented.type].map((code) => ({ code }));
  const resources: CapabilityStatementRestResource[] = ctx.definitions.resourceTypes.map((type) => {
    const indexed = ctx.extractor.indexedCodes(type);
    const searchParam = ctx.searchParameters
      .allFor(type)
      .filter((p) => indexed.has(p.code) || p.code === '_id' || p.code === '_lastUpdated')
      .filter((p) => p.type !== 'composite' && p.type !== 'special')
      .map((p) => ({ name: p.code, definition: p.url, type: p.type }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      ...(ctx.profileValidation?.supportedProfiles().get(type) ? { supportedProfile: ctx.profileValidation.supportedProfiles().get(type) } : {}),
      interaction: typeInteractions,
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: implemented.conditionalCreate,
      conditionalRead: implemented.conditionalRead ? 'full-support' : 'not-supported',
      conditionalUpdate: implemented.conditionalUpdate,
      conditionalDelete: implemented.conditionalDelete ? 'single' : 'not-supported',
      searchParam,
      ...(() => {
        const own = operations.filter((op) => op.levels.some((l) => l !== 'system') && (!op.resourceTypes || op.resourceTypes.includes(type)));
        return own.length > 0 ? { operation: own.map((op) => ({ name: op.name, definition: op.definition })) } : {};
      })(),
    } as CapabilityStatementRestResource;
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: software.releaseDate ?? new Date().toISOString().slice(0, 10),
    publisher: 'Relais',
    kind: 'instance',
    software: { name: software.name, version: software.version },
    implementation: { description: 'Relais FHIR server for home-care coordination networks', url: ctx.baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json', 'application/json', 'application/fhir+xml', 'xml', 'application/xml'],
    patchFormat: implemented.type.has('patch') ? ['application/json-patch+json'] : [],
    rest: [
      {
        mode: 'server',
        ...(security ? { security } : {}),
        resource: resources,
        interaction: [...implemented.system].map((code) => ({ code })),
        ...(operations.some((op) => op.levels.includes('system'))
          ? { operation: operations.filter((op) => op.levels.includes('system')).map((op) => ({ name: op.name, definition: op.definition })) }
          : {}),
        searchParam: [
          { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
          { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        ],
      },
    ],
  };
}
