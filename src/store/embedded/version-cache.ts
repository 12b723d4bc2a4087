/**
 * The versions that searches read, parsed, kept in a bounded least-recently-used table (at most
 * MAX_ENTRIES versions and MAX_TEXT characters of their stored records), so that a version a search
 * finds again is not read from LMDB and parsed again.
 *
 * Why: parsing the match's version record was the largest single cost the embedded store adds to a
 * one-identifier lookup (practitioner by RPPS: `decode` in stored-value-codec.ts, 13 % of the
 * lookup's CPU, and the LMDB read before it; V8 profile, `bench-search --only 4 --profile 1`),
 * a cost the in-heap store it replaced never paid; the lookups are what keeps the store within
 * 1.5× of it (issue 19). The table holds what is searched again — the practitioners, locations and
 * organisations every care plan names, the patient a team works on — and little memory: MAX_TEXT
 * characters of JSON, a few times that once parsed, against the whole data set the in-heap store held.
 *
 * Never stale: a version `[type, id, versionId]` is written once and never rewritten nor removed
 * while the store is open (unit-writer.ts; only a legacy migration wipes, before opening), and a
 * search asks for the version its snapshot's head names, so a later write is never hidden by a
 * cached version: it has another versionId.
 *
 * Shared: every search that finds a cached version gets the same object, as the in-heap store
 * handed out its own. A body read through a store is never changed in place (stored-json.ts; the
 * summary and elements copy, patch clones); cached ones are frozen, deeply, so that code that tried
 * would fail in the tests rather than change what later searches return.
 */
import type { StoredVersion } from '../resource-store.js';

const MAX_ENTRIES = 4096;
const MAX_TEXT = 8 * 1024 * 1024;
/** A record larger than this is not kept (one large body would push out hundreds of small ones). */
const LARGEST = 64 * 1024;

export class VersionCache {
  /** Map order is insertion order: the first key is the least recently used. */
  private readonly entries = new Map<string, { version: StoredVersion; size: number }>();
  private text = 0;

  constructor(
    private readonly maxEntries = MAX_ENTRIES,
    private readonly maxText = MAX_TEXT,
  ) {}

  get(resourceType: string, id: string, versionId: number): StoredVersion | undefined {
    const key = `${resourceType}/${id}/${versionId}`;
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.version;
  }

  /** Keeps a version just read (its record `size` characters long) and returns it, frozen. */
  add(version: StoredVersion, size: number): StoredVersion {
    if (size > LARGEST || size > this.maxText) return version;
    deepFreeze(version);
    const key = `${version.resourceType}/${version.id}/${version.versionId}`;
    const before = this.entries.get(key);
    if (before) {
      this.entries.delete(key);
      this.text -= before.size;
    }
    this.entries.set(key, { version, size });
    this.text += size;
    while (this.entries.size > this.maxEntries || this.text > this.maxText) {
      const [oldest, entry] = this.entries.entries().next().value as [string, { size: number }];
      this.entries.delete(oldest);
      this.text -= entry.size;
    }
    return version;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
    this.text = 0;
  }
}

/** Freezes a parsed JSON value and everything in it (plain objects and arrays only: what JSON.parse makes). */
function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const member of Array.isArray(value) ? value : Object.values(value)) deepFreeze(member);
}
