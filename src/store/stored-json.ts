/**
 * The JSON text a store read a version's body from, kept with the version it
 * returned, so that a read answered with that body unchanged is sent as the
 * stored text instead of serialised again (issue 17: JSON.stringify of the body
 * on every read, and for reads that need nothing else of it, JSON.parse too).
 * The text is attached to the version object itself, under a symbol, not
 * enumerable: spreads and clones leave it out, so a version rebuilt from it (a
 * copy with another body) carries none and is serialised as before. Only
 * stores that keep the exact text JSON.stringify made of the body attach it
 * (the embedded store), so the text is byte for byte what serialising the body
 * gives (test/http/stored-json.test.ts). A body read through a store must not be
 * changed in place (nothing on the read path does: the access decision and
 * the summary only read it).
 */
const STORED_JSON = Symbol('relais.storedJson');

export function attachStoredJson<T extends object>(version: T, text: string): T {
  Object.defineProperty(version, STORED_JSON, { value: text });
  return version;
}

/** The stored text of this very version's body, if its store kept it. */
export function storedJsonOf(version: object): string | undefined {
  return (version as { [STORED_JSON]?: string })[STORED_JSON];
}
