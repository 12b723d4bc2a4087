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
