/**
 * The embedded store's outbox (OutboxStore in ../resource-store.ts) on LMDB:
 * entries under [queue, seq] and each queue's { head, acked }, written into
 * the same lmdb-js batch as the versions whose operations carried the records
 * (so they commit together or not at all), numbered while the batch is
 * planned, in commit order. Acknowledgements, trims and drops are units of
 * their own through the same group commit. Leases are kept in memory: one
 * process owns the data folder (lock file).
 */
import type { OutboxEntry, OutboxQueueState, WriteOperation } from '../resource-store.js';
import type { Layout } from './lmdb-layout.js';
import type { BatchView, CommittedOperation } from './unit-writer.js';

type StoredEntry = Omit<OutboxEntry, 'queue' | 'seq'>;

export class LmdbOutbox {
  private readonly heads = new WeakMap<BatchView, Map<string, { head: number; acked: number }>>();
  private readonly leases = new Map<string, { holder: string; until: number }>();

  constructor(private readonly layout: () => Layout) {}

  private queueState(view: BatchView, queue: string): { head: number; acked: number } {
    let overlay = this.heads.get(view);
    if (!overlay) this.heads.set(view, (overlay = new Map()));
    let state = overlay.get(queue);
    if (!state) {
      const stored = this.layout().outboxQueues.get(queue);
      overlay.set(queue, (state = { head: stored?.head ?? 0, acked: stored?.acked ?? 0 }));
    }
    return state;
  }

  /** Queues the records of `operations` (those checkUnit committed) into the view, numbered. */
  plan(view: BatchView, operations: readonly WriteOperation[], committed: readonly CommittedOperation[]): void {
    let from = 0;
    for (const op of committed) {
      // checkUnit keeps the operations' order and drops only deletes of nothing.
      const index = operations.findIndex((o, i) => i >= from && o.resourceType === op.resourceType && o.id === op.id);
      if (index < 0) continue;
      from = index + 1;
      for (const record of operations[index].outbox ?? []) {
        const state = this.queueState(view, record.queue);
        state.head += 1;
        const entry: StoredEntry = { resourceType: op.resourceType, id: op.id, versionId: op.versionId, committedAt: op.lastUpdated, data: record.data };
        view.put(this.layout().outbox as never, [record.queue, state.head], entry);
        view.put(this.layout().outboxQueues as never, record.queue, { ...state });
      }
    }
  }

  ack(view: BatchView, queue: string, seq: number): void {
    const state = this.queueState(view, queue);
    state.acked = Math.max(state.acked, seq);
    view.put(this.layout().outboxQueues as never, queue, { ...state });
  }

  trim(view: BatchView, queue: string, upTo: number): void {
    for (const { key } of this.layout().outbox.getRange({ start: [queue, 0], end: [queue, upTo + 1] })) view.remove(this.layout().outbox as never, key);
  }

  drop(view: BatchView, queue: string): void {
    for (const { key } of this.layout().outbox.getRange({ start: [queue, 0], end: [queue, Number.MAX_SAFE_INTEGER] })) view.remove(this.layout().outbox as never, key);
    view.remove(this.layout().outboxQueues as never, queue);
    this.heads.get(view)?.delete(queue);
    this.leases.delete(queue);
  }

  read(queue: string, after: number, limit: number): OutboxEntry[] {
    const result: OutboxEntry[] = [];
    for (const { key, value } of this.layout().outbox.getRange({ start: [queue, after + 1], end: [queue, Number.MAX_SAFE_INTEGER], limit })) {
      result.push({ queue, seq: (key as [string, number])[1], ...(value as StoredEntry) });
    }
    return result;
  }

  backlog(): OutboxQueueState[] {
    const result: OutboxQueueState[] = [];
    for (const { key, value } of this.layout().outboxQueues.getRange({})) if (value.head > value.acked) result.push({ queue: key as string, head: value.head, acked: value.acked });
    return result;
  }

  state(queue: string): OutboxQueueState {
    const state = this.layout().outboxQueues.get(queue);
    return { queue, head: state?.head ?? 0, acked: state?.acked ?? 0 };
  }

  lease(queue: string, holder: string, ttlMs: number, now = Date.now()): boolean {
    const current = this.leases.get(queue);
    if (current && current.holder !== holder && current.until > now) return false;
    this.leases.set(queue, { holder, until: now + ttlMs });
    return true;
  }

  release(queue: string, holder: string): void {
    if (this.leases.get(queue)?.holder === holder) this.leases.delete(queue);
  }
}
