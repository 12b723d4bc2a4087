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

/**
 * `Source:param` for every indexed reference parameter, by source type (searchInclude) and by
 * each type it may point to (searchRevInclude); a parameter without declared targets may point
 * to any type, and is listed for none in particular (`*` covers it).
 */
function includeTargets(ctx: EngineFacts): { includes: Map<string, string[]>; revIncludes: Map<string, string[]> } {
  const includes = new Map<string, string[]>();
  const revIncludes = new Map<string, string[]>();
  for (const source of ctx.definitions.resourceTypes) {
    const indexed = ctx.extractor.indexedCodes(source);
    for (const p of ctx.searchParameters.allFor(source)) {
      if (p.type !== 'reference' || !indexed.has(p.code)) continue;
      const value = `${source}:${p.code}`;
      includes.set(source, [...(includes.get(source) ?? []), value]);
      for (const target of p.targets ?? []) {
        if (target === 'Resource' || !ctx.definitions.isResourceType(target)) continue;
        revIncludes.set(target, [...(revIncludes.get(target) ?? []), value]);
      }
    }
  }
  for (const list of [...includes.values(), ...revIncludes.values()]) list.sort();
  return { includes, revIncludes };
}

/** Advertised beside the interactions: R4's capabilitystatement-websocket, the Backport IG's topic canonicals (on Subscription). */
export interface CapabilityExtras {
  websocketUrl?: string;
  subscriptionTopics?: string[];
}

const WEBSOCKET_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket';
const TOPIC_EXTENSION = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/capabilitystatement-subscriptiontopic-canonical';

export function buildCapabilityStatement(
  ctx: EngineFacts,
  implemented: ImplementedInteractions,
  software: SoftwareInfo,
  operations: OperationSummary[] = [],
  /** rest.security (SMART on FHIR), when authentication is on. */
  security?: CapabilityStatementRestSecurity,
  extras: CapabilityExtras = {},
): CapabilityStatement {
  const typeInteractions = [...implemented.type].map((code) => ({ code }));
  const { includes, revIncludes } = includeTargets(ctx);
  const resources: CapabilityStatementRestResource[] = ctx.definitions.resourceTypes.map((type) => {
    const indexed = ctx.extractor.indexedCodes(type);
    const searchParam = ctx.searchParameters
      .allFor(type)
      .filter((p) => indexed.has(p.code) || p.code === '_id' || p.code === '_lastUpdated')
      .filter((p) => p.type !== 'composite' && p.type !== 'special')
      .map((p) => ({ name: p.code, definition: p.url, type: p.type }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const topics = type === 'Subscription' ? (extras.subscriptionTopics ?? []) : [];
    return {
      ...(topics.length > 0 ? { extension: topics.map((valueCanonical) => ({ url: TOPIC_EXTENSION, valueCanonical })) } : {}),
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
      // What _include and _revinclude can follow (R4: "_include values supported by the server").
      ...(includes.get(type)?.length ? { searchInclude: ['*', ...includes.get(type)!] } : {}),
      ...(revIncludes.get(type)?.length ? { searchRevInclude: revIncludes.get(type) } : {}),
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
        ...(extras.websocketUrl ? { extension: [{ url: WEBSOCKET_EXTENSION, valueUri: extras.websocketUrl }] } : {}),
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
