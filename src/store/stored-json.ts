/**
 * The JSON text a store read a version's body from, kept with the version it
 * returned, so that a read answered with that body unchanged is sent as the
 * stored text instead of serialised again (issue 17: JSON.stringify of the body
 * on every read, and for reads that need nothing else of it, JSON.parse too:
 * src/store/embedded/version-text.ts). The text is kept beside the version object (a weak table: it
 * leaves the version's own members as they are), not in it:
 * a version rebuilt from it (a copy with another body) has none and is
 * serialised as before. A searchset entry made of such a version carries the
 * same text, so that a search's Bundle is written with its matches' texts
 * spliced in (src/rest/bundle-json.ts). Only stores that keep the exact text JSON.stringify
 * made of the body attach it (the embedded store), so the text is byte for
 * byte what serialising the body gives (test/http/stored-json.test.ts). A body
 * read through a store must not be changed in place (nothing on the read path
 * does: the access decision and the summary only read it).
 */
/**
 * A holder is what carries a body as its `resource`: a StoredVersion, or a searchset entry built
 * from one (src/engine/interactions/search.ts), whose `resource` is that version's body unchanged.
 */
type ResourceHolder = object;

/** A side table of holders (what a property of theirs would be), holding nothing once they are gone. */
const storedJson = new WeakMap<ResourceHolder, string>();

/** Keeps `text`, the JSON text of `holder.resource`, with the holder. */
export function attachStoredJson<T extends ResourceHolder>(holder: T, text: string): T {
  storedJson.set(holder, text);
  return holder;
}

/** The stored text of this very holder's `resource`, if its store kept it. */
export function storedJsonOf(holder: ResourceHolder): string | undefined {
  return storedJson.get(holder);
}

/** Forgets the text of `holder.resource` (its `resource` was replaced). */
export function detachStoredJson(holder: ResourceHolder): void {
  storedJson.delete(holder);
}
