/**
 * The JSON text a store read a version's body from, kept with the version it
 * returned, so that a read answered with that body unchanged is sent as the
 * stored text instead of serialised again (issue 17: JSON.stringify of the body
 * on every read, and for reads that need nothing else of it, JSON.parse too:
 * src/store/embedded/version-text.ts). The text is kept beside the version object (a weak table: it
 * leaves the version's own members as they are), not in it:
 * a version rebuilt from it (a copy with another body) has none and is
 * serialised as before. Only stores that keep the exact text JSON.stringify
 * made of the body attach it (the embedded store), so the text is byte for
 * byte what serialising the body gives (test/http/stored-json.test.ts). A body
 * read through a store must not be changed in place (nothing on the read path
 * does: the access decision and the summary only read it).
 */
import type { StoredVersion } from './resource-store.js';

/** A side table of version objects (what a property of theirs would be), holding nothing once they are gone. */
const storedJson = new WeakMap<StoredVersion, string>();

export function attachStoredJson(version: StoredVersion, text: string): StoredVersion {
  storedJson.set(version, text);
  return version;
}

/** The stored text of this very version's body, if its store kept it. */
export function storedJsonOf(version: StoredVersion): string | undefined {
  return storedJson.get(version);
}

/**
 * Searchset entries whose resource is a stored version unchanged (search.ts: no _summary, no
 * _elements): the entry's `resource` reads the version's body (parsed when first read), and the
 * entry is sent with the body's stored text (compactJson) instead of serialising it again — and,
 * where nothing else reads the body (a search the server answers for a caller who is not audited,
 * or whose audit reads only the patient), without parsing it either. Profiled before this (issue 19,
 * a one-identifier lookup at 100,000 resources): JSON.parse of the match was 13 % of the search.
 */
const entryBodies = new WeakMap<object, string>();

/** A search entry `{ fullUrl, resource, search }` whose resource is `version`'s body, kept as stored when the store kept its text. */
export function entryOfVersion<E extends object>(fullUrl: string, version: StoredVersion, search: unknown): E {
  const text = storedJson.get(version);
  if (text === undefined) return { fullUrl, resource: version.resource, search } as unknown as E;
  const entry = { fullUrl } as Record<string, unknown>;
  Object.defineProperty(entry, 'resource', {
    enumerable: true,
    configurable: true,
    get: () => version.resource,
    // Whoever puts another resource in the entry gets a plain member, and the stored text is no longer the entry's.
    set(value: unknown) {
      entryBodies.delete(entry);
      Object.defineProperty(entry, 'resource', { value, enumerable: true, configurable: true, writable: true });
    },
  });
  entry.search = search;
  entryBodies.set(entry, text);
  return entry as E;
}

/**
 * The compact JSON text of a FHIR body, as JSON.stringify gives it, with the entries of a Bundle
 * made by entryOfVersion written from their stored text: members in their order, those whose value
 * JSON.stringify leaves out (undefined) left out.
 */
export function compactJson(body: object): string {
  const entries = (body as { entry?: unknown }).entry;
  if (!Array.isArray(entries) || !entries.some((entry) => typeof entry === 'object' && entry !== null && entryBodies.has(entry))) return JSON.stringify(body);
  return objectJson(body as Record<string, unknown>, (key, value) => (key === 'entry' && value === entries ? `[${entries.map(entryJson).join(',')}]` : JSON.stringify(value)));
}

function entryJson(entry: unknown): string {
  const text = typeof entry === 'object' && entry !== null ? entryBodies.get(entry) : undefined;
  if (text === undefined) return JSON.stringify(entry) ?? 'null';
  return objectJson(entry as Record<string, unknown>, (key, value) => (key === 'resource' ? text : JSON.stringify(value)));
}

/** `{"key":value,...}` for the own enumerable members, each value written by `write` (undefined: left out, as JSON.stringify does). */
function objectJson(object: Record<string, unknown>, write: (key: string, value: unknown) => string | undefined): string {
  const members: string[] = [];
  for (const key of Object.keys(object)) {
    // The stored member's value is not read (reading it would parse the body it stands for).
    const value = key === 'resource' && entryBodies.has(object) ? undefined : object[key];
    const json = write(key, value);
    if (json !== undefined) members.push(`${JSON.stringify(key)}:${json}`);
  }
  return `{${members.join(',')}}`;
}
