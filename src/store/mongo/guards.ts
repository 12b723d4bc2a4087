/**
 * Conditional-create guards in MongoDB: one document per guard key in the
 * `guards` collection, whose `_id` (unique by construction) is the key. Two
 * processes racing to create "the same" resource both try to insert the same
 * `_id`; the database lets exactly one succeed. No in-process lock is involved.
 *
 * Without transactions the claim and the holder's write are two steps, so a
 * claim starts unsettled; a competitor that finds an unsettled claim waits for
 * it to settle (the holder's write is then visible to its search) or to be
 * released (the holder's write failed). A claim left unsettled by a process
 * that died is considered abandoned after GUARD_LEASE_MS, and a guard whose
 * holder is not a live resource (its process died before it was written, or
 * after its delete but before the release) is free to take.
 */
import type { ClientSession, Collection } from 'mongodb';
import { GuardConflict } from '../resource-store.js';
import type { GuardDocument } from './documents.js';
import { isDuplicateKey, TransactionRace } from './mongo-errors.js';

/** How long an unsettled claim is honoured; far longer than any single write takes. */
export const GUARD_LEASE_MS = 10_000;
const POLL_MS = 15;

export interface GuardClaim {
  guardKey: string;
  resourceType: string;
  id: string;
  takeOverGuardFrom?: { resourceType: string; id: string };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Makes the resource the holder of the guard, or throws GuardConflict naming
 * the current holder. Returns the claim document when a new claim was written
 * (so the caller can settle or release it), undefined when the resource
 * already held the guard.
 */
export async function claimGuard(
  guards: Collection<GuardDocument>,
  claim: GuardClaim,
  session: ClientSession | undefined,
  holderIsLive: (type: string, id: string) => Promise<boolean>,
): Promise<GuardDocument | undefined> {
  const mine = { type: claim.resourceType, id: claim.id };
  // Inside a transaction the claim and the write commit together: it is born settled.
  const fresh = (): GuardDocument => ({ _id: claim.guardKey, ...mine, settled: session !== undefined, claimedAt: new Date() });
  const waitUntil = Date.now() + GUARD_LEASE_MS;
  for (;;) {
    const holder = await guards.findOne({ _id: claim.guardKey }, { session });
    if (!holder) {
      const doc = fresh();
      try {
        await guards.insertOne(doc, { session });
        return doc;
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        if (session) throw new TransactionRace();
        continue; // someone claimed it in between: look at their claim
      }
    }
    if (holder.type === mine.type && holder.id === mine.id) return undefined;
    const abandoned = Date.now() - holder.claimedAt.getTime() > GUARD_LEASE_MS;
    if (!holder.settled && !abandoned) {
      // A concurrent create is being written: wait for its outcome rather than guess.
      if (Date.now() >= waitUntil) throw new GuardConflict(claim.guardKey, { resourceType: holder.type, id: holder.id });
      await sleep(POLL_MS);
      continue;
    }
    // A guard only protects a live resource. One whose holder is missing or deleted was
    // left behind by a process that died between two steps (no transactions): it is free.
    const from = claim.takeOverGuardFrom;
    const named = from !== undefined && from.resourceType === holder.type && from.id === holder.id;
    if (!named && (await holderIsLive(holder.type, holder.id))) {
      throw new GuardConflict(claim.guardKey, { resourceType: holder.type, id: holder.id });
    }
    // Take over exactly the claim we looked at: a concurrent take-over makes this miss.
    const doc = fresh();
    const result = await guards.replaceOne(
      { _id: claim.guardKey, type: holder.type, id: holder.id, claimedAt: holder.claimedAt },
      doc,
      { session },
    );
    if (result.matchedCount === 1) return doc;
    if (session) throw new TransactionRace();
  }
}

/** Marks a claim as backed by a committed write (non-transactional path only). */
export async function settleGuard(guards: Collection<GuardDocument>, claim: GuardDocument): Promise<void> {
  await guards.updateOne({ _id: claim._id, type: claim.type, id: claim.id, claimedAt: claim.claimedAt }, { $set: { settled: true } });
}

/** Drops a guard if (and only if) the given resource still holds it. */
export async function releaseGuard(
  guards: Collection<GuardDocument>,
  guardKey: string,
  holder: { type: string; id: string },
  session: ClientSession | undefined,
): Promise<void> {
  await guards.deleteOne({ _id: guardKey, type: holder.type, id: holder.id }, { session });
}
