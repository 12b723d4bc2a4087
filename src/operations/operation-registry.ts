/**
 * FHIR operations ($validate, $match, $find-professionals, ...): each lives in
 * its own file under src/operations and registers here. The REST layer routes
 * `[base]/$op`, `[base]/[type]/$op` and `[base]/[type]/[id]/$op` (GET and POST)
 * to the registry; batch entries can do the same. The CapabilityStatement lists
 * what is registered.
 */
import type { Resource } from 'fhir/r4';
import type { FhirEngine } from '../engine/fhir-engine.js';
import { errors } from '../errors.js';
import type { RequestContext } from '../access/request-context.js';

export type OperationLevel = 'system' | 'type' | 'instance';

export interface OperationRequest {
  engine: FhirEngine;
  level: OperationLevel;
  resourceType?: string;
  id?: string;
  /** POST body (a Parameters resource, or a bare resource where the operation allows it). */
  body?: unknown;
  /** GET query parameters (and URL parameters of a POST), in order. */
  query: Array<[string, string]>;
  method: 'GET' | 'POST';
  /** Prefer: handling=strict etc. */
  preferences: Record<string, string>;
  /** Who the call acts for (absent: the server itself); pass it on to engine calls. */
  context?: RequestContext;
}

export interface OperationResult {
  status: number;
  resource?: Resource;
  headers?: Record<string, string>;
}

export interface FhirOperation {
  /** Without the leading "$", e.g. "validate". */
  name: string;
  /** Canonical URL of the OperationDefinition (HL7's for standard operations). */
  definition: string;
  levels: OperationLevel[];
  /** Resource types it applies to at type/instance level; undefined = all. */
  resourceTypes?: string[];
  /** Operations that change state may not be invoked with GET (R4 operations page). */
  affectsState: boolean;
  invoke(request: OperationRequest): Promise<OperationResult>;
}

export class OperationRegistry {
  private readonly operations = new Map<string, FhirOperation[]>();

  register(operation: FhirOperation): void {
    this.operations.set(operation.name, [...(this.operations.get(operation.name) ?? []), operation]);
  }

  all(): FhirOperation[] {
    return [...this.operations.values()].flat();
  }

  /** Finds the operation for a call, or throws the 4xx outcome the client deserves. */
  resolve(name: string, level: OperationLevel, resourceType: string | undefined, method: 'GET' | 'POST'): FhirOperation {
    const candidates = this.operations.get(name) ?? [];
    const operation = candidates.find(
      (op) => op.levels.includes(level) && (!resourceType || !op.resourceTypes || op.resourceTypes.includes(resourceType)),
    );
    if (!operation) throw errors.unknownOperation(name, level, resourceType);
    if (method === 'GET' && operation.affectsState) throw errors.methodNotAllowed('GET', ['POST']);
    return operation;
  }
}
