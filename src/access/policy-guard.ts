/**
 * The access guard the engine is built with (src/engine/access-guard.ts): the
 * one place where access is decided and audited, for every caller.
 * - a client (a verified token): the policy of access-policy.ts, enforced at
 *   each hook by the modules of this folder, every access audited;
 * - the server acting for itself, for a stated reason: never refused; its
 *   writes are audited as the server's, its reads (internal lookups that
 *   disclose nothing to anyone) are not;
 * - anonymous (AUTH_MODE=none, tests and demos): no identity to restrict or
 *   audit — the server warns loudly at start that it runs this way.
 */
import type { Bundle, Resource } from 'fhir/r4';
import { AuditTrail } from '../audit/audit-trail.js';
import type { AccessGuard, ListingInteraction, WriteInteraction } from '../engine/access-guard.js';
import type { Caller } from '../engine/caller.js';
import type { EngineContext } from '../engine/engine-context.js';
import type { OperationCall } from '../engine/operation.js';
import type { StoredVersion } from '../store/resource-store.js';
import { errors } from '../errors.js';
import { decideType, DEFAULT_POLICY_SETTINGS } from './access-policy.js';
import { beforeBundle } from './bundle-guard.js';
import { assertInDirectory } from './directory-identity.js';
import { FactCache } from './fact-cache.js';
import type { AccessSettings, GuardDeps } from './guard-deps.js';
import { guardListing } from './listing-guard.js';
import { afterOperation, beforeOperation, mayRead, operationFailed } from './operation-guard.js';
import { auditRecord } from './caller-audit.js';
import { guardInstanceHistory, guardRead } from './read-guard.js';
import { typeRequest } from './type-gate.js';
import { anonymousWriteContext, beforeWrite, clientWriteContext, serverWriteContext } from './write-guard.js';

export class PolicyGuard implements AccessGuard {
  private readonly deps: GuardDeps;

  constructor(ctx: EngineContext, settings: Partial<AccessSettings> = {}) {
    this.deps = { ctx, trail: new AuditTrail(ctx), settings: { policy: DEFAULT_POLICY_SETTINGS, ...settings }, facts: new FactCache(ctx.store) };
  }

  async read(caller: Caller, interaction: 'read' | 'vread', resourceType: string, id: string, load: () => Promise<StoredVersion>): Promise<StoredVersion> {
    if (caller.kind !== 'client') return load();
    await assertInDirectory(this.deps, caller, interaction, resourceType);
    return guardRead(this.deps, caller, interaction, resourceType, id, load);
  }

  async instanceHistory(caller: Caller, resourceType: string, id: string, run: (ctx: EngineContext) => Promise<Bundle<Resource>>): Promise<Bundle<Resource>> {
    if (caller.kind !== 'client') return run(this.deps.ctx);
    await assertInDirectory(this.deps, caller, 'history-instance', resourceType);
    return guardInstanceHistory(this.deps, caller, resourceType, id, run);
  }

  async listing<T = Bundle<Resource>>(caller: Caller, interaction: ListingInteraction, resourceTypes: readonly string[], query: string, run: (ctx: EngineContext) => Promise<T>): Promise<T> {
    if (caller.kind !== 'client') return run(this.deps.ctx);
    await assertInDirectory(this.deps, caller, interaction, resourceTypes.length === 1 ? resourceTypes[0] : undefined);
    return guardListing(this.deps, caller, interaction, resourceTypes, query, run);
  }

  async beforeWrite(caller: Caller, interaction: WriteInteraction, resourceType: string, id?: string, body?: unknown): Promise<void> {
    if (caller.kind !== 'client') return;
    await assertInDirectory(this.deps, caller, interaction, resourceType);
    await beforeWrite(this.deps, caller, interaction, resourceType, id, body);
  }

  writeContext(caller: Caller, interaction: WriteInteraction | 'bundle'): EngineContext {
    if (caller.kind === 'client') return clientWriteContext(this.deps, caller, interaction);
    if (caller.kind === 'server') return serverWriteContext(this.deps, caller);
    return anonymousWriteContext(this.deps);
  }

  async beforeBundle(caller: Caller, kind: 'batch' | 'transaction', bundle: unknown): Promise<void> {
    if (caller.kind !== 'client') return;
    await assertInDirectory(this.deps, caller, kind);
    await beforeBundle(this.deps, caller, bundle);
  }

  async beforeOperation(caller: Caller, call: OperationCall): Promise<void> {
    if (caller.kind === 'client') {
      await assertInDirectory(this.deps, caller, 'operation', call.resourceType);
      await beforeOperation(this.deps, caller, call);
    }
    // Whoever calls: an operation without a rule at this level never runs.
    else if (!call.operation.access?.[call.level]) throw errors.operationWithoutRule(call.operation.name, call.level);
  }

  async afterOperation(caller: Caller, call: OperationCall, result: Resource | undefined): Promise<Resource | undefined> {
    return caller.kind === 'client' ? afterOperation(this.deps, caller, call, result) : result;
  }

  async operationFailed(caller: Caller, call: OperationCall, error: unknown): Promise<void> {
    if (caller.kind === 'client') await operationFailed(this.deps, caller, call, error);
  }

  async noMatch(caller: Caller, interaction: 'patch' | 'delete', resourceType: string, query: string): Promise<void> {
    if (caller.kind !== 'client') return;
    // R4: a conditional delete matching nothing succeeds (nothing to delete); a conditional patch is "not found".
    const outcome = interaction === 'delete' ? ('success' as const) : ('failed' as const);
    await this.deps.trail.record([auditRecord(caller, { interaction, resourceType, patients: [], outcome, query, outcomeDetail: 'no match within what the caller may see: nothing written' })]);
  }

  async mayRead(caller: Caller, resources: readonly Resource[]): Promise<boolean[]> {
    return caller.kind === 'client' ? mayRead(this.deps, caller, resources) : resources.map(() => true);
  }

  async maySearch(caller: Caller, resourceTypes: readonly string[]): Promise<boolean[]> {
    return caller.kind === 'client' ? resourceTypes.map((type) => decideType(typeRequest(this.deps, caller, 'search-type', type)).allowed) : resourceTypes.map(() => true);
  }
}
