/**
 * `_text` and `_content` (R4 search page, "Text Search Parameters"): full-text search over
 * a resource's narrative (`_text`) and over all of its text (`_content`: every string value,
 * the narrative's text included). The R4 page leaves the matching to the server; here it
 * follows the string parameters' folding (normalise-text.ts: case, accents, ligatures,
 * hyphens and apostrophes): each searched word must begin a word of the text, all words of
 * one value must be present (AND), commas are OR as everywhere.
 *
 * The index entry of each is one string `{ x }` of the normalised words (not one entry per
 * word: a long QuestionnaireResponse would otherwise add thousands of entries and hash keys).
 * Searching it tests each candidate of the type (no index can serve a word inside a text);
 * these parameters are for people's occasional searches, not for integrations.
 */
import { XMLParser } from 'fast-xml-parser';
import { normaliseText } from './normalise-text.js';
import { escapeRegex } from './search-values.js';

export const FULL_TEXT_PARAMETERS = new Set(['_text', '_content']);

/** At most this many characters of normalised text are indexed per resource and parameter. */
const MAX_INDEXED_CHARS = 100_000;

const xhtml = new XMLParser({ preserveOrder: true, ignoreAttributes: true, processEntities: true, htmlEntities: true, trimValues: false, parseTagValue: false });

/** The text of a narrative's XHTML (its markup read by an XML parser, never stripped by a regex). */
export function textOfXhtml(div: string): string {
  let tree: unknown;
  try {
    tree = xhtml.parse(div);
  } catch {
    return '';
  }
  const parts: string[] = [];
  const walk = (nodes: unknown) => {
    if (!Array.isArray(nodes)) return;
    for (const node of nodes as Array<Record<string, unknown>>) {
      for (const [key, value] of Object.entries(node)) {
        if (key === '#text') parts.push(String(value));
        else if (key !== ':@') walk(value);
      }
      parts.push(' ');
    }
  };
  walk(tree);
  return parts.join('');
}

function normalisedEntry(text: string): Array<{ x: string }> {
  const x = normaliseText(text.length > 2 * MAX_INDEXED_CHARS ? text.slice(0, 2 * MAX_INDEXED_CHARS) : text).slice(0, MAX_INDEXED_CHARS);
  return x ? [{ x }] : [];
}

/** The index entries of `_text` and `_content` for one resource. */
export function fullTextEntries(resource: Record<string, unknown>): { _text?: Array<{ x: string }>; _content?: Array<{ x: string }> } {
  const narrative = (resource.text as { div?: unknown } | undefined)?.div;
  const narrativeText = typeof narrative === 'string' ? textOfXhtml(narrative) : '';
  const strings: string[] = [];
  // Only the first MAX_INDEXED_CHARS are kept: stop collecting (and normalising) well past that,
  // so a multi-MB string is not normalised in full for nothing (issue 18: it held the event loop).
  let collected = 0;
  const collect = (value: unknown, key: string) => {
    if (collected > 2 * MAX_INDEXED_CHARS) return;
    if (typeof value === 'string') {
      // `data` is base64Binary (Attachment, Signature, Binary) or SampledData's digits: not text anyone searches.
      if (key === 'data' || key === 'resourceType') return;
      const text = key === 'div' ? narrativeText : value;
      strings.push(text.length > 2 * MAX_INDEXED_CHARS ? text.slice(0, 2 * MAX_INDEXED_CHARS) : text);
      collected += text.length + 1;
    } else if (Array.isArray(value)) for (const item of value) collect(item, key);
    else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) collect(v, k);
  };
  collect(resource, '');
  const text = normalisedEntry(narrativeText);
  const content = normalisedEntry(strings.join(' '));
  return { ...(text.length ? { _text: text } : {}), ...(content.length ? { _content: content } : {}) };
}

/** The condition on the `{ x }` entry for one searched value: every word begins a word of the text. */
export function fullTextCondition(value: string): Record<string, unknown> | undefined {
  const words = normaliseText(value).split(' ').filter(Boolean);
  if (words.length === 0) return undefined;
  const conditions = words.map((w) => ({ x: { $regex: `(?:^| )${escapeRegex(w)}` } }));
  return conditions.length === 1 ? conditions[0] : { $and: conditions };
}
