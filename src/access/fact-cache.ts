/**
 * The access facts of each principal, kept across requests and exact (issue 17):
 * gathering them (the practitioner's directory entry and roles, the executed
 * Contracts, the Consents and CareTeams of each patient, the patients she
 * reaches) took tens of store searches per request — most of a nurse's read,
 * and 98 % of her searches (scripts/bench-http.ts).
 *
 * Exact, because a set of facts is reused only while
 * - nothing that facts are read from has changed: the store's change stamp of
 *   ACCESS_FACT_TYPES (ResourceStore.changeStamp) is read before the facts, and
 *   any acknowledged write of one of those types, by any process sharing the
 *   store, gives a new stamp, so the next request gathers again — a Consent
 *   withdrawn or a care team left applies to the very next request, everywhere;
 * - no period those facts were judged on starts or ends meanwhile (a Consent's
 *   provision, a care team's or a participant's period, a Contract's applies):
 *   the earliest such boundary after the facts were gathered ends their validity.
 *
 * Bounded: at most MAX_PRINCIPALS principals (least recently used evicted),
 * MAX_PATIENTS patients each. Principal keys come from verified tokens only.
 */
import { LRUCache } from 'lru-cache';
import type { Period } from 'fhir/r4';
import type { Principal } from '../identity/principal.js';
import type { ResourceStore } from '../store/resource-store.js';
import { periodBoundaries, type PractitionerIdentity } from './access-facts.js';
import type { PatientFacts } from './access-policy.js';

/** The types the access facts and the directory check are read from. */
export const ACCESS_FACT_TYPES: readonly string[] = ['Consent', 'CareTeam', 'Contract', 'Practitioner', 'PractitionerRole', 'Organization'];

/**
 * At most MAX_PRINCIPALS × MAX_PATIENTS patient facts (500,000, tens of MB): patient ids can come from
 * a client (an unknown id's read gathers facts too, issue 18), so the bound holds whatever it asks. A
 * principal past MAX_PATIENTS starts its patients afresh: slower, never wrong.
 */
const MAX_PRINCIPALS = 500;
const MAX_PATIENTS = 1000;

/** One principal's facts as of one change stamp; each is gathered once, when first needed. */
export class PrincipalFacts {
  identity?: Promise<PractitionerIdentity | undefined>;
  agreement?: Promise<boolean>;
  reachable?: Promise<string[]>;
  /** Why the principal's directory entry is missing or inactive (undefined: it is fine). */
  directoryProblem?: Promise<string | undefined>;
  private readonly patients = new Map<string, Promise<PatientFacts>>();
  /** When the first period these facts were judged on starts or ends (ms since the epoch). */
  private validUntil = Number.POSITIVE_INFINITY;

  constructor(readonly stamp: string) {}

  isValid(stamp: string, now: number): boolean {
    return stamp === this.stamp && now < this.validUntil;
  }

  /** Facts judged at `now` on these periods hold until the first of their boundaries after `now`. */
  judgedOn(periods: ReadonlyArray<Period | undefined>, now: Date): void {
    for (const period of periods) {
      for (const boundary of periodBoundaries(period)) if (boundary > now.getTime() && boundary < this.validUntil) this.validUntil = boundary;
    }
  }

  patient(patientId: string, gather: () => Promise<PatientFacts>): Promise<PatientFacts> {
    let facts = this.patients.get(patientId);
    if (!facts) {
      if (this.patients.size >= MAX_PATIENTS) this.patients.clear();
      facts = forgetOnFailure(gather(), () => this.patients.delete(patientId));
      this.patients.set(patientId, facts);
    }
    return facts;
  }
}

/** A fact whose gathering failed (a store error) is not kept: the next request tries again. */
export function forgetOnFailure<T>(promise: Promise<T>, forget: () => void): Promise<T> {
  promise.catch(forget);
  return promise;
}

/** Which principals share facts: those the same lookups would answer alike. */
function principalKey(principal: Principal): string {
  return [principal.kind, principal.rpps ?? '', principal.finess ?? ''].join('|');
}

export class FactCache {
  private readonly entries = new LRUCache<string, PrincipalFacts>({ max: MAX_PRINCIPALS });

  constructor(private readonly store: ResourceStore) {}

  /** The principal's facts valid now: the stamp is read first (memory, or one MongoDB query), then reused or renewed. */
  async current(principal: Principal): Promise<PrincipalFacts> {
    const stamp = await this.store.changeStamp(ACCESS_FACT_TYPES);
    const key = principalKey(principal);
    const known = this.entries.get(key);
    if (known?.isValid(stamp, Date.now())) return known;
    const fresh = new PrincipalFacts(stamp);
    this.entries.set(key, fresh);
    return fresh;
  }
}
