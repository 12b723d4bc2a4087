/**
 * Writes AuditEvents to the store, durably: either in the same atomic
 * store.write as the access they record (writes: `operation()` gives the extra
 * WriteOperation), or before the response is sent (reads, searches, refusals:
 * `record()`, batched with the records of concurrent requests: audit-batcher.ts).
 * An access that succeeded is therefore never unaudited; if the audit cannot
 * be written the request fails instead of answering.
 *
 * The AuditEvent is built by the server, so it is not validated again on its
 * way to the store (serverRecordOperation), and its index entries are computed
 * from its known shape (audit-index.ts: the extractor's entries, without its walk).
 * Its id increases with time (audit-ids.ts), so the stores append it.
 */
import type { AuditEvent } from 'fhir/r4';
import type { EngineContext } from '../engine/engine-context.js';
import { serverRecordOperation } from '../engine/write-operations.js';
import type { WriteOperation } from '../store/resource-store.js';
import { AuditBatcher } from './audit-batcher.js';
import { AuditEventIndexer } from './audit-index.js';
import { TimeOrderedIds } from './audit-ids.js';
import { buildAuditEvent, type AuditRecord } from './audit-event.js';

export class AuditTrail {
  private readonly batcher: AuditBatcher;
  private readonly ids = new TimeOrderedIds();
  private readonly indexer: AuditEventIndexer;

  constructor(
    private readonly ctx: EngineContext,
    private readonly serverName = 'Relais',
  ) {
    this.batcher = new AuditBatcher(() => ctx.store);
    this.indexer = new AuditEventIndexer(ctx.searchParameters, ctx.extractor, ctx.baseUrl);
  }

  event(record: AuditRecord): AuditEvent {
    return buildAuditEvent(record, this.serverName);
  }

  /** The write that stores this record; append it to the access's own write for atomicity. */
  operation(record: AuditRecord): WriteOperation {
    return serverRecordOperation(this.ctx, this.event(record), this.ids.next(), (stored) => this.indexer.entries(stored));
  }

  /** Stores the records (with those of concurrent requests) and resolves once they are durable. */
  async record(records: AuditRecord[]): Promise<void> {
    await this.writeOperations(records.map((r) => this.operation(r)));
  }

  /** Stores audit operations built by `operation()` (with others that must commit with them), batched as record() is. */
  async writeOperations(operations: WriteOperation[]): Promise<void> {
    await this.batcher.write(operations);
  }
}
