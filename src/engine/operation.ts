/**
 * What the engine knows of a FHIR operation ($validate, $match, ...): its
 * levels, whether it changes state, how it runs, and — declared where it is
 * registered — its access rule for each level. The engine asks the access
 * guard before running it and hands the guard its result before it leaves, so
 * an operation is decided and audited like any interaction; a level without a
 * rule is refused (403) and never run.
 */
import type { Resource } from 'fhir/r4';
import type { PrincipalKind } from '../identity/principal.js';
import type { EngineSession } from './engine-session.js';

export type OperationLevel = 'system' | 'type' | 'instance';

export interface OperationRule {
  /** The kinds of principal it is for; absent: every kind `requires` admits. */
  roles?: readonly PrincipalKind[];
  /**
   * What the caller must be allowed:
   * - 'read-instance': read the target resource (one it may not read answers 404, as a read would);
   * - 'search-type': search the operation's resource type (role and scope);
   * - 'write-type': create or update the type — for operations whose input is the body and
   *   that touch no stored data ($validate of a resource sent);
   * - 'search-system': at the system level, where no type is named: search at least one
   *   type — the operation then reads each type through listings of the caller's, each
   *   allowed, filtered and audited as such ($export).
   */
  requires: 'read-instance' | 'search-type' | 'write-type' | 'search-system';
  /**
   * What its result may show the caller:
   * - 'no-patient-data': outcomes, terminology, the directory;
   * - 'readable-only': resources the caller may read; any other is taken out of the result.
   */
  reveals: 'no-patient-data' | 'readable-only';
}

export interface OperationRequest {
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
  /** The caller's session: what the operation reads through it is allowed, filtered and audited as the caller's. */
  session: EngineSession;
  /**
   * The server's session, named after the operation, for its internal lookups
   * (candidates to score, the directory to rank): what it finds reaches the
   * caller only as far as the rule's `reveals` lets it.
   */
  server: EngineSession;
}

export interface OperationResult {
  status: number;
  resource?: Resource;
  headers?: Record<string, string>;
}

export interface EngineOperation {
  /** Without the leading "$", e.g. "validate". */
  name: string;
  levels: OperationLevel[];
  /** Resource types it applies to at type/instance level; undefined = all. */
  resourceTypes?: string[];
  /** Operations that change state may not be invoked with GET (R4 operations page). */
  affectsState: boolean;
  /** The access rule at each level it runs at (see OperationRule). */
  access: Partial<Record<OperationLevel, OperationRule>>;
  invoke(request: OperationRequest): Promise<OperationResult>;
}

/** One call of an operation, as the guard sees it. */
export interface OperationCall {
  operation: EngineOperation;
  level: OperationLevel;
  resourceType?: string;
  id?: string;
}
