/**
 * Writes AuditEvents to the store, durably: either in the same atomic
 * store.write as the access they record (writes: `operation()` gives the extra
 * WriteOperation), or before the response is sent (reads, searches, refusals:
 * `record()`). An access that succeeded is therefore never unaudited; if the
 * audit cannot be written the request fails instead of answering.
 */
import type { AuditEvent } from 'fhir/r4';
import type { EngineContext } from '../engine/engine-context.js';
import { serverRecordOperation } from '../engine/write-operations.js';
import type { WriteOperation } from '../store/resource-store.js';
import { buildAuditEvent, type AuditRecord } from './audit-event.js';

export class AuditTrail {
  constructor(
    private readonly ctx: EngineContext,
    private readonly serverName = 'Relais',
  ) {}

  event(record: AuditRecord): AuditEvent {
    return buildAuditEvent(record, this.serverName);
  }

  /** The write that stores this record; append it to the access's own write for atomicity. */
  operation(record: AuditRecord): WriteOperation {
    return serverRecordOperation(this.ctx, this.event(record));
  }

  /** Stores the records (one atomic write) and resolves once they are durable. */
  async record(records: AuditRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.ctx.store.write(records.map((r) => this.operation(r)));
  }
}
