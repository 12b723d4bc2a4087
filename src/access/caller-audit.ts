/**
 * The audit side of every access decision: the AuditRecord of a caller's
 * access (its agent is the client's principal or the server with its reason),
 * refusals recorded before they are answered, and successes recorded before
 * the response leaves — with, for break-the-glass, the alert to the
 * coordination team in the same write.
 */
import type { AuditInteraction, AuditRecord } from '../audit/audit-event.js';
import type { ClientCaller, ServerCaller } from '../engine/caller.js';
import { createOperation } from '../engine/write-operations.js';
import type { WriteOperation } from '../store/resource-store.js';
import { breakTheGlassAlert, coordinationTeam } from './break-the-glass.js';
import type { GuardDeps } from './guard-deps.js';

export type RecordBase = Omit<AuditRecord, 'principal' | 'server' | 'clientAddress' | 'requestId' | 'breakTheGlass'>;

/** The record of an access by this caller; `breakTheGlass` when that access used it. */
export function auditRecord(caller: ClientCaller | ServerCaller, base: RecordBase, breakTheGlass = false): AuditRecord {
  if (caller.kind === 'server') return { server: { reason: caller.reason }, ...base };
  return {
    principal: caller.principal,
    ...base,
    ...(breakTheGlass && caller.breakTheGlass ? { breakTheGlass: caller.breakTheGlass } : {}),
    ...(caller.clientAddress ? { clientAddress: caller.clientAddress } : {}),
    ...(caller.requestId ? { requestId: caller.requestId } : {}),
  };
}

/** Records a refusal (durably, before the client is answered). */
export async function recordRefusal(deps: GuardDeps, caller: ClientCaller, base: Omit<RecordBase, 'outcome'>): Promise<void> {
  await deps.trail.record([auditRecord(caller, { ...base, outcome: 'denied' })]);
}

/**
 * Stores the AuditEvent of a successful read; when break-the-glass opened it,
 * the coordination team is told in the same write, so an emergency access is
 * never both answered and unnoticed. One alert per request, listing every
 * patient it opened, not one per patient: the team acts on the event (who
 * broke the glass, why, when) and must be able to call that professional
 * back; a broad search touching fifty records would otherwise bury its inbox
 * under fifty identical alerts. The per-patient trace, which the law on health
 * data requires, is the AuditEvent (every patient is an entity of it).
 */
export async function recordSuccess(deps: GuardDeps, caller: ClientCaller, record: AuditRecord, glassPatients: readonly string[]): Promise<void> {
  const { ctx } = deps;
  const operations: WriteOperation[] = [deps.trail.operation(record)];
  if (glassPatients.length > 0) {
    const team = await coordinationTeam(deps);
    operations.push(createOperation(ctx, 'Communication', breakTheGlassAlert(caller, [...new Set(glassPatients)], team)));
  }
  // Batched with the audit records of concurrent requests (audit-batcher.ts); the alert stays with its
  // AuditEvent (one atomic write where the store has them, else audit first, then the alert).
  await deps.trail.writeOperations(operations);
}

/**
 * The audit of a search or history (of types, or of one instance: `id`) that
 * succeeded: one AuditEvent naming the patients whose data was returned.
 * Break-the-glass was used for those the practitioner could not reach
 * otherwise (flagged, and the team alerted).
 */
export async function recordListing(
  deps: GuardDeps,
  caller: ClientCaller,
  interaction: AuditInteraction,
  resourceTypes: readonly string[],
  query: string | undefined,
  patients: ReadonlySet<string>,
  reachable: readonly string[],
  id?: string,
): Promise<void> {
  const glassPatients = caller.breakTheGlass !== undefined && caller.principal.kind === 'practitioner' ? [...patients].filter((p) => !reachable.includes(p)) : [];
  const record = auditRecord(
    caller,
    {
      interaction,
      ...(resourceTypes.length === 1 ? { resourceType: resourceTypes[0] } : {}),
      ...(id !== undefined ? { id } : {}),
      patients: [...patients],
      outcome: 'success',
      ...(query ? { query } : {}),
    },
    glassPatients.length > 0,
  );
  await recordSuccess(deps, caller, record, glassPatients);
}
