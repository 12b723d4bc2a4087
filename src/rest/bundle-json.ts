/**
 * A Bundle as compact JSON, with the stored text of the entries that carry one (a searchset's
 * matches and includes read unchanged from the embedded store: src/store/stored-json.ts) spliced
 * in instead of parsing and serialising those resources again — byte for byte what
 * JSON.stringify(bundle) gives (test/http/stored-json.test.ts, test/unit/bundle-json.test.ts).
 *
 * Why by hand: JSON.stringify reads every property before a replacer sees it, so a replacer cannot
 * keep an entry's `resource` accessor from parsing the body; and no JSON library splices raw JSON
 * into an object's output on Node 20 (JSON.rawJSON arrived in Node 21). JSON.parse of one stored
 * body was 10 % of a one-key search's CPU (profiled, docs/performance.md).
 */
import { storedJsonOf } from '../store/stored-json.js';

/** The keys of an entry the search builds (src/engine/interactions/search.ts), in its order. */
const ENTRY_KEYS = ['fullUrl', 'resource', 'search'];

function spliced(entry: Record<string, unknown>): string | undefined {
  const text = storedJsonOf(entry);
  if (text === undefined) return undefined;
  // Object.keys reads no accessor: the body stays unparsed.
  const keys = Object.keys(entry);
  if (keys.length !== ENTRY_KEYS.length || keys.some((key, i) => key !== ENTRY_KEYS[i])) return undefined;
  if (typeof entry.fullUrl !== 'string' || typeof entry.search !== 'object' || entry.search === null) return undefined;
  return `{"fullUrl":${JSON.stringify(entry.fullUrl)},"resource":${text},"search":${JSON.stringify(entry.search)}}`;
}

/** JSON.stringify(bundle), with the stored texts spliced in; the plain serialisation when no entry carries one. */
export function bundleJson(bundle: object): string {
  const entries = (bundle as { entry?: unknown }).entry;
  const keys = Object.keys(bundle);
  // `entry` last (as the search builds its Bundle): the rest is serialised as usual and the entries appended.
  if (!Array.isArray(entries) || keys[keys.length - 1] !== 'entry') return JSON.stringify(bundle);
  const texts = entries.map((entry) => (entry && typeof entry === 'object' ? spliced(entry as Record<string, unknown>) : undefined));
  if (texts.every((text) => text === undefined)) return JSON.stringify(bundle);
  const { entry: _entries, ...rest } = bundle as { entry?: unknown };
  const head = JSON.stringify(rest);
  const listed = entries.map((entry, i) => texts[i] ?? JSON.stringify(entry) ?? 'null').join(',');
  return `${head.length > 2 ? `${head.slice(0, -1)},` : '{'}"entry":[${listed}]}`;
}
