/**
 * FHIR operations ($validate, $match, $find-professionals, ...): each lives in
 * its own file under src/operations and registers here. The REST layer routes
 * `[base]/$op`, `[base]/[type]/$op` and `[base]/[type]/[id]/$op` (GET and POST)
 * to the registry; batch entries can do the same. The CapabilityStatement lists
 * what is registered. Each operation declares, with its registration, who may
 * run it at each level and what its result may reveal (OperationRule): the
 * engine refuses a level without a rule.
 */
import type { EngineOperation, OperationLevel, OperationRequest, OperationResult, OperationRule } from '../engine/operation.js';
import { errors } from '../errors.js';

export type { OperationLevel, OperationRequest, OperationResult, OperationRule };

/**
 * An operation as registered: what the engine runs (levels, state change, the
 * access rule of each level, see src/engine/operation.ts) plus the canonical
 * URL of its OperationDefinition for the CapabilityStatement.
 */
export interface FhirOperation extends EngineOperation {
  /** Canonical URL of the OperationDefinition (HL7's for standard operations). */
  definition: string;
  /**
   * Runs as an asynchronous request (FHIR async pattern, Bulk Data IG kick-off): with
   * `Prefer: respond-async` it answers 202 and the status URL in Content-Location (the OpenAPI document says so).
   */
  asynchronous?: boolean;
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
