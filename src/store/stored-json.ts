/**
 * The JSON text a store read a resource body from, kept with the body parsed
 * from it, so that a read answered with that body unchanged is sent as the
 * stored text instead of serialised again (issue 17: JSON.stringify of the body
 * on every read). The text is attached to the parsed object itself, under a
 * symbol, not enumerable: JSON.stringify, spreads and clones leave it out, so
 * a body rebuilt from it (summary, elements, a copy with other values) carries
 * none and is serialised as before. Only stores that keep the exact text
 * JSON.stringify made of the body attach it (the embedded store), so the text
 * is byte for byte what serialising the body gives (test/http/stored-json.test.ts).
 * A body read through a store must not be changed in place (nothing on the
 * read path does: the access decision and the summary only read it).
 */
const STORED_JSON = Symbol('relais.storedJson');

export function attachStoredJson<T extends object>(body: T, text: string): T {
  Object.defineProperty(body, STORED_JSON, { value: text });
  return body;
}

/** The stored text of this very body, if its store kept it. */
export function storedJsonOf(body: object): string | undefined {
  return (body as { [STORED_JSON]?: string })[STORED_JSON];
}
