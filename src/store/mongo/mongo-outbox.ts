/**
 * The MongoDB store's outbox (see OutboxStore in ../resource-store.ts), shared
 * by every process on the database. Three collections:
 * - `outboxpending`: records committed, not numbered yet, `_id` = the record key
 *   ("queue|Type/id/version|n");
 * - `outbox`: numbered entries, same `_id`, unique on (q, seq);
 * - `outboxqueues`: per queue `{ head, acked, holder, until }` (position, lease).
 *
 * Atomic with the change:
 * - with transactions, the pending records are inserted in the write's transaction;
 * - without (a standalone server), they ride inside the current-version document
 *   itself (`ob`, flagged `obp`): one document, so the compare-and-set that
 *   commits the version commits them. They are then copied to `outboxpending`
 *   and removed from the document; if the process dies in between, the next
 *   writer of that resource copies them before replacing the document, and the
 *   backlog sweep copies whatever is left. Copies are idempotent (`_id`).
 *
 * Numbering without gaps or duplicates, whoever numbers: a pending record is
 * numbered by inserting it into `outbox` with head + 1 — the unique `_id` keeps a
 * record from being numbered twice (a re-copied record is dropped), the unique
 * (q, seq) keeps two records from one number (the loser re-reads the head and
 * takes the next). A number exists only once a record holds it, so there are no
 * gaps. Pending records are numbered oldest commit first.
 */
import type { ClientSession, Collection, Document } from 'mongodb';
import type { OutboxEntry, OutboxQueueState, OutboxRecord } from '../resource-store.js';
import type { CurrentDocument } from './documents.js';
import { isDuplicateKey } from './mongo-errors.js';

export interface PendingOutboxDocument {
  _id: string;
  q: string;
  rt: string;
  rid: string;
  v: number;
  at: string;
  data: Record<string, unknown>;
}

export interface OutboxDocument extends PendingOutboxDocument {
  seq: number;
}

export interface OutboxQueueDocument {
  _id: string;
  head?: number;
  acked?: number;
  holder?: string;
  until?: number;
}

/** The version fields of a current document that pending records need (embedded records: `ob`). */
export type WithOutbox = CurrentDocument & { ob?: PendingOutboxDocument[]; obp?: true };

const NUMBERING_BATCH = 500;
/** The sweep for records a crash left in version documents runs at most this often (it is only ever for recovery). */
const SWEEP_INTERVAL_MS = 10_000;

/** The pending documents of an operation's records, keyed by queue, version and position. */
export function pendingDocumentsOf(records: readonly OutboxRecord[], type: string, id: string, versionId: number, lastUpdated: string): PendingOutboxDocument[] {
  return records.map((record, n) => ({ _id: `${record.queue}|${type}/${id}/${versionId}|${n}`, q: record.queue, rt: type, rid: id, v: versionId, at: lastUpdated, data: record.data }));
}

function entryOf(doc: OutboxDocument): OutboxEntry {
  return { queue: doc.q, seq: doc.seq, resourceType: doc.rt, id: doc.rid, versionId: doc.v, committedAt: doc.at, data: doc.data };
}

export class MongoOutbox {
  private lastSweep = 0;

  constructor(
    private readonly numbered: Collection<OutboxDocument>,
    private readonly pending: Collection<PendingOutboxDocument>,
    private readonly queues: Collection<OutboxQueueDocument>,
    private readonly resources: Collection<WithOutbox>,
  ) {}

  async createIndexes(): Promise<void> {
    await this.numbered.createIndexes([{ key: { q: 1, seq: 1 }, name: 'q_seq', unique: true }]);
    await this.pending.createIndexes([{ key: { q: 1, at: 1, _id: 1 }, name: 'q_at' }]);
    await this.resources.createIndexes([{ key: { obp: 1 }, name: 'outbox_pending' }]);
  }

  /** Records of a write made inside a transaction: inserted with it. */
  async insertPending(docs: PendingOutboxDocument[], session: ClientSession | undefined): Promise<void> {
    if (docs.length === 0) return;
    if (session) {
      await this.pending.insertMany(docs, { session });
      return;
    }
    try {
      await this.pending.insertMany(docs, { ordered: false });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // copied before: idempotent
    }
  }

  /** Moves the records a current-version document carries to `outboxpending`, then clears them if it is still that version. */
  async settleEmbedded(doc: WithOutbox): Promise<void> {
    if (!doc.obp) return;
    await this.insertPending(doc.ob ?? [], undefined);
    await this.resources.updateOne({ _id: doc._id, versionId: doc.versionId, obp: true }, { $unset: { ob: '', obp: '' } });
  }

  async read(queue: string, after: number, limit: number): Promise<OutboxEntry[]> {
    await this.number(queue);
    const docs = await this.numbered.find({ q: queue, seq: { $gt: after } }).sort({ seq: 1 }).limit(limit).toArray();
    return docs.map(entryOf);
  }

  async backlog(): Promise<OutboxQueueState[]> {
    // Records a crash left inside current-version documents first (at most every SWEEP_INTERVAL_MS).
    if (Date.now() - this.lastSweep >= SWEEP_INTERVAL_MS) {
      this.lastSweep = Date.now();
      for (const doc of await this.resources.find({ obp: true }).limit(NUMBERING_BATCH).toArray()) await this.settleEmbedded(doc);
    }
    const states = new Map<string, OutboxQueueState>();
    for (const q of await this.queues.find({}).toArray()) {
      const state = { queue: q._id, head: q.head ?? 0, acked: q.acked ?? 0 };
      if (state.head > state.acked) states.set(q._id, state);
    }
    // Records committed and not numbered yet count too (a queue nobody reads yet, e.g. a websocket subscription not bound).
    for (const { _id: queue, n } of await this.pending.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$q', n: { $sum: 1 } } }]).toArray()) {
      const state = states.get(queue) ?? (await this.state(queue));
      states.set(queue, { ...state, unnumbered: n });
    }
    return [...states.values()];
  }

  async state(queue: string): Promise<OutboxQueueState> {
    const q = await this.queues.findOne({ _id: queue });
    return { queue, head: q?.head ?? 0, acked: q?.acked ?? 0 };
  }

  async lease(queue: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    try {
      await this.queues.updateOne(
        { _id: queue, $or: [{ holder }, { holder: { $exists: false } }, { until: { $lt: now } }] },
        { $set: { holder, until: now + ttlMs } },
        { upsert: true },
      );
      return true;
    } catch (error) {
      // The queue exists and another holder's lease runs: the upsert's insert collided.
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  async release(queue: string, holder: string): Promise<void> {
    await this.queues.updateOne({ _id: queue, holder }, { $unset: { holder: '', until: '' } });
  }

  async ack(queue: string, seq: number): Promise<void> {
    await this.queues.updateOne({ _id: queue }, { $max: { acked: seq } }, { upsert: true });
  }

  async trim(queue: string, upTo: number): Promise<void> {
    await this.numbered.deleteMany({ q: queue, seq: { $lte: upTo } });
  }

  async drop(queue: string): Promise<void> {
    await this.numbered.deleteMany({ q: queue });
    await this.pending.deleteMany({ q: queue });
    await this.queues.deleteOne({ _id: queue });
  }

  /** Numbers the queue's pending records, oldest commit first (see the file comment). */
  private async number(queue: string): Promise<void> {
    const pending = await this.pending.find({ q: queue }).sort({ at: 1, _id: 1 }).limit(NUMBERING_BATCH).toArray();
    if (pending.length === 0) return;
    let head = await this.headOf(queue);
    for (const record of pending) {
      for (;;) {
        try {
          await this.numbered.insertOne({ ...record, seq: head + 1 });
          head += 1;
          break;
        } catch (error) {
          if (!isDuplicateKey(error)) throw error;
          if (await this.numbered.findOne({ _id: record._id }, { projection: { _id: 1 } })) break; // numbered already
          head = await this.headOf(queue); // another process took that number: take the next
        }
      }
      await this.pending.deleteOne({ _id: record._id });
    }
    await this.queues.updateOne({ _id: queue }, { $max: { head } } as Document, { upsert: true });
  }

  private async headOf(queue: string): Promise<number> {
    const [state, last] = await Promise.all([this.queues.findOne({ _id: queue }), this.numbered.find({ q: queue }).sort({ seq: -1 }).limit(1).toArray()]);
    return Math.max(state?.head ?? 0, last[0]?.seq ?? 0);
  }
}
