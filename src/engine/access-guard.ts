/**
 * The engine's hook points for access control and audit, in the spirit of
 * HAPI's interceptor pointcuts: the engine calls them at fixed points of every
 * interaction and knows nothing of the rules behind them. src/access
 * implements them (the policy, the facts it decides on, the AuditEvents); the
 * engine imports neither access nor audit code.
 *
 * Every hook receives the caller. A hook that refuses throws the FhirError the
 * client gets (403 when a rule is public — role, scope —, 404 when the answer
 * must not reveal whether a resource exists) after auditing the refusal.
 */
import type { Bundle, Resource } from 'fhir/r4';
import type { StoredVersion } from '../store/resource-store.js';
import type { Caller } from './caller.js';
import type { EngineContext } from './engine-context.js';
import type { OperationCall } from './operation.js';

export type ListingInteraction = 'search-type' | 'search-system' | 'history-type' | 'history-system';
export type WriteInteraction = 'create' | 'update' | 'patch' | 'delete';

export interface AccessGuard {
  /** read / vread: `load` fetches the version; the guard decides and audits before it is returned. */
  read(caller: Caller, interaction: 'read' | 'vread', resourceType: string, id: string, load: () => Promise<StoredVersion>): Promise<StoredVersion>;

  /** History of one resource: `run` executes over the context the guard gives (versions the caller may not see left out). */
  instanceHistory(caller: Caller, resourceType: string, id: string, run: (ctx: EngineContext) => Promise<Bundle<Resource>>): Promise<Bundle<Resource>>;

  /**
   * Type or system search and history: `run` executes over a store restricted to
   * what the caller may see (counts, includes, chains and paging included); the
   * listing is audited with the patients it returned. `resourceTypes` empty: a
   * system-level call naming no type (every type the caller may list).
   */
  listing<T = Bundle<Resource>>(
    caller: Caller,
    interaction: ListingInteraction,
    resourceTypes: readonly string[],
    query: string,
    run: (ctx: EngineContext) => Promise<T>,
  ): Promise<T>;

  /**
   * Before a write: role and scope for the type, and for a write by id the same
   * answer whether or not a resource the caller may not see exists there.
   * `id` absent: a create, or a conditional write whose target is not known yet.
   */
  beforeWrite(caller: Caller, interaction: WriteInteraction, resourceType: string, id?: string, body?: unknown): Promise<void>;

  /**
   * The context a write runs in: its store checks every write against the
   * caller's rights and adds the AuditEvents to the same atomic write; its
   * conditional criteria are matched within what the caller may see; a
   * conditional create that matched shows the caller what it may see of it.
   */
  writeContext(caller: Caller, interaction: WriteInteraction | 'bundle'): EngineContext;

  /** Before a batch or transaction Bundle runs (its entries are then checked one by one). */
  beforeBundle(caller: Caller, kind: 'batch' | 'transaction', bundle: unknown): Promise<void>;

  /** Before an operation runs: its declared rule (an operation without one is refused). */
  beforeOperation(caller: Caller, call: OperationCall): Promise<void>;

  /** After an operation ran: its result as the caller may see it (rule `reveals`), audited. */
  afterOperation(caller: Caller, call: OperationCall, result: Resource | undefined): Promise<Resource | undefined>;

  /** An operation the caller was allowed to run failed (the client gets `error`): audited as a failure. */
  operationFailed(caller: Caller, call: OperationCall, error: unknown): Promise<void>;

  /** A conditional patch or delete whose criteria matched nothing the caller may see, so nothing was written: audited with its criteria. */
  noMatch(caller: Caller, interaction: 'patch' | 'delete', resourceType: string, query: string): Promise<void>;

  /** Whether the caller may read each of these resources (a decision only: nothing is audited). */
  mayRead(caller: Caller, resources: readonly Resource[]): Promise<boolean[]>;

  /** Whether the caller may search each of these types at all, role and scopes (a decision only: nothing is audited). */
  maySearch(caller: Caller, resourceTypes: readonly string[]): Promise<boolean[]>;
}
