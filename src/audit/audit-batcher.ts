/**
 * The AuditEvents of concurrent requests written together (issue 17): while
 * one write of audit records is in flight, the records of the requests that
 * arrive meanwhile wait and then go as ONE store write — on MongoDB one
 * transaction, one journal commit, instead of one commit each; on the
 * embedded store one unit of its group commit. Each request still waits until
 * the write holding its records is acknowledged (durable) before it answers,
 * so an answered request is never unaudited (test/auth/audit-crash.test.ts).
 *
 * A batch is several atomic operations only where the store can write them
 * all-or-nothing (capabilities.atomicMultiWrite); elsewhere (MongoDB without
 * transactions) each record is its own write, as before. A batch that fails
 * is retried record by record, so one bad record fails its own request only.
 *
 * Hand-written (a few lines): the batching has to follow the store's
 * acknowledgement exactly, which generic batching libraries (time windows,
 * fixed sizes) do not.
 */
import type { ResourceStore, WriteOperation } from '../store/resource-store.js';

/** Operations per batch: bounds one transaction's size and the wait of the first record in it. */
const MAX_BATCH_OPERATIONS = 128;

interface Waiting {
  operations: WriteOperation[];
  resolve(): void;
  reject(error: unknown): void;
}

export class AuditBatcher {
  private waiting: Waiting[] = [];
  private flushing: Promise<void> | undefined;

  /** `storeOf`: the store to write to, read at each write (the context's store, as it is then). */
  constructor(private readonly storeOf: () => ResourceStore) {}

  private get store(): ResourceStore {
    return this.storeOf();
  }

  /** Writes the operations (audit records of one request); resolves once they are durable. */
  async write(operations: WriteOperation[]): Promise<void> {
    if (operations.length === 0) return;
    if (!this.store.capabilities.atomicMultiWrite) {
      for (const operation of operations) await this.store.write([operation]);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      this.waiting.push({ operations, resolve, reject });
      this.flushing ??= this.flushLoop();
    });
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        let take = 0;
        let size = 0;
        while (take < this.waiting.length && (take === 0 || size + this.waiting[take].operations.length <= MAX_BATCH_OPERATIONS)) size += this.waiting[take++].operations.length;
        await this.flush(this.waiting.splice(0, take));
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async flush(batch: Waiting[]): Promise<void> {
    try {
      await this.store.write(batch.flatMap((w) => w.operations));
      for (const w of batch) w.resolve();
    } catch (error) {
      if (batch.length === 1) {
        batch[0].reject(error);
        return;
      }
      // Nothing of the batch was written (it is atomic): each request's records alone, so only a bad one fails.
      for (const w of batch) await this.store.write(w.operations).then(w.resolve, w.reject);
    }
  }
}
