/**
 * The rules of the R4 narrative (narrative.html, Narrative.div; invariants txt-1 and txt-2)
 * for any xhtml value, checked on every write and by $validate:
 *  - well-formed XML with one root, a `div` in the XHTML namespace;
 *  - only the basic formatting elements of HTML 4.0 chapters 7–11 (without §9.4, ins/del)
 *    and 15, `a`, images (img, map, area): no head, body, script, style sheets, forms,
 *    frames, iframes, objects, base, link;
 *  - only the attributes those elements define (global: id, class, style, title, lang,
 *    xml:lang, dir...; per element: a.href, img.src...): no event handlers (onclick,
 *    onerror...), no processing instructions, no DOCTYPE;
 *  - no `javascript:`/`vbscript:` URL, and `data:` only for images, in any attribute;
 *  - some non-whitespace content (txt-2): text or an image.
 *
 * Parsing is fast-xml-parser's (a maintained XML parser already used for FHIR XML): its
 * validator decides well-formedness, its ordered tree is walked against the lists below.
 * Nothing is sanitised or rewritten: a narrative breaking a rule is refused, so what a
 * client stored is exactly what other clients read.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

/** HTML 4.0 chapters 7 (div, span, headings, address), 8 (bdo), 9 except §9.4, 10 (lists), 11 (tables), 15 (font styles, hr), plus a and images. */
const ELEMENTS = new Set([
  'div', 'span', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'address', 'bdo',
  'p', 'br', 'pre', 'blockquote', 'q', 'sub', 'sup', 'em', 'strong', 'dfn', 'code', 'samp', 'kbd', 'var', 'cite', 'abbr', 'acronym',
  'ul', 'ol', 'li', 'dl', 'dt', 'dd',
  'table', 'caption', 'thead', 'tfoot', 'tbody', 'colgroup', 'col', 'tr', 'th', 'td',
  'tt', 'i', 'b', 'big', 'small', 'hr',
  'a', 'img', 'map', 'area',
]);

/** Attributes HTML 4.0 defines on every element of those chapters (core, i18n), and the table cell ones. */
const GLOBAL_ATTRIBUTES = new Set([
  'id', 'class', 'style', 'title', 'lang', 'xml:lang', 'dir', 'accesskey', 'tabindex',
  'span', 'width', 'align', 'valign', 'char', 'charoff', 'abbr', 'axis', 'headers', 'scope', 'rowspan', 'colspan',
]);

/** Attributes particular to one element. */
const ELEMENT_ATTRIBUTES: Record<string, Set<string>> = {
  a: new Set(['href', 'name', 'type', 'rel', 'rev', 'hreflang', 'charset', 'coords', 'shape']),
  img: new Set(['src', 'alt', 'longdesc', 'height', 'border', 'usemap', 'ismap']),
  map: new Set(['name']),
  area: new Set(['shape', 'coords', 'href', 'nohref', 'alt']),
  table: new Set(['summary', 'border', 'frame', 'rules', 'cellspacing', 'cellpadding']),
  blockquote: new Set(['cite']),
  q: new Set(['cite']),
  ol: new Set(['start', 'type']),
  ul: new Set(['type']),
  li: new Set(['value', 'type']),
  td: new Set(['nowrap']),
  th: new Set(['nowrap']),
  pre: new Set(['xml:space']),
};

/** Schemes that run code when followed; `data:` is allowed only as an image source (data:image/...). */
const SCRIPT_URL = /^(?:javascript|vbscript|livescript|mocha):/;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: true,
  // Entities are left as written: the rules concern elements and attributes, and decoding them
  // (htmlEntities builds its tables for every parse) doubled the cost of a check.
  processEntities: false,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  commentPropName: '#comment',
  cdataPropName: '#cdata',
});

type OrderedNode = Record<string, unknown> & { ':@'?: Record<string, unknown> };

/**
 * Numeric character references and the XML entities decoded, so that `&#106;avascript:` is seen
 * as the `javascript:` a browser would follow (attribute values only).
 */
function decodeCharacterReferences(text: string): string {
  if (!text.includes('&')) return text;
  return text
    .replace(/&#x([0-9a-f]+);?/gi, (_, hex: string) => String.fromCodePoint(Math.min(parseInt(hex, 16), 0x10ffff)))
    .replace(/&#([0-9]+);?/g, (_, dec: string) => String.fromCodePoint(Math.min(parseInt(dec, 10), 0x10ffff)))
    .replace(/&(?:colon|Tab|NewLine);/g, (m) => (m === '&colon;' ? ':' : m === '&Tab;' ? '\t' : '\n'))
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Browsers ignore whitespace and control characters inside a scheme ("java\tscript:"): so does this check. */
function schemeOf(url: string): string {
  return url.replace(/[\u0000-\u0020]+/g, '').toLowerCase();
}

/** The problems of one narrative, as messages; an empty list means it follows the rules. */
export function narrativeProblems(xhtml: string): string[] {
  if (/<!DOCTYPE|<!ENTITY/i.test(xhtml)) return ['a narrative cannot declare a DOCTYPE or entities'];
  const wellFormed = XMLValidator.validate(xhtml, { allowBooleanAttributes: false });
  if (wellFormed !== true) return [`the narrative is not well-formed XHTML: ${wellFormed.err.msg} (line ${wellFormed.err.line}, column ${wellFormed.err.col})`];
  const tree = parser.parse(xhtml) as OrderedNode[];
  const roots = tree.filter((n) => !('#text' in n && String(n['#text']).trim() === '') && !('#comment' in n));
  const problems: string[] = [];
  const root = roots[0];
  const rootName = root ? Object.keys(root).find((k) => k !== ':@') : undefined;
  if (roots.length !== 1 || rootName !== 'div') return ['a narrative is one <div> element'];
  if (root[':@']?.xmlns !== XHTML_NAMESPACE) problems.push(`the <div> of a narrative must be in the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`);
  let hasContent = false;
  const walk = (nodes: OrderedNode[]) => {
    for (const node of nodes) {
      if (problems.length >= 10) return;
      const name = Object.keys(node).find((k) => k !== ':@')!;
      if (name === '#text' || name === '#cdata') {
        const text = name === '#cdata' ? String(((node[name] as OrderedNode[])[0]?.['#text']) ?? '') : String(node[name]);
        if (text.trim() !== '') hasContent = true;
        continue;
      }
      if (name === '#comment') continue;
      if (name.startsWith('?')) {
        problems.push(`processing instructions (<${name}) are not allowed in a narrative`);
        continue;
      }
      const local = name.toLowerCase();
      if (!ELEMENTS.has(name)) {
        problems.push(`the element <${name}> is not allowed in a narrative`);
        continue;
      }
      if (local === 'img') hasContent = true;
      for (const [attribute, value] of Object.entries(node[':@'] ?? {})) {
        const allowed = attribute === 'xmlns' || attribute.startsWith('xmlns:') || GLOBAL_ATTRIBUTES.has(attribute) || ELEMENT_ATTRIBUTES[local]?.has(attribute);
        if (!allowed) {
          problems.push(`the attribute '${attribute}' is not allowed on <${name}> in a narrative`);
          continue;
        }
        const text = typeof value === 'string' ? decodeCharacterReferences(value) : '';
        const scheme = schemeOf(text);
        if (SCRIPT_URL.test(scheme) || (scheme.startsWith('data:') && !(local === 'img' && attribute === 'src' && scheme.startsWith('data:image/')))) {
          problems.push(`the attribute '${attribute}' of <${name}> holds a '${scheme.split(':')[0]}:' URL, which is not allowed in a narrative`);
        } else if (attribute === 'style' && /expression\s*\(|(?:java|vb)script\s*:|behavior\s*:|-moz-binding/i.test(text.replace(/\\|\/\*[\s\S]*?\*\//g, ''))) {
          // Style sheets may name images (url(...)) but not run code: IE expression(), behaviours, XBL bindings, script URLs.
          problems.push(`the style of <${name}> runs code (expression(), behavior, binding or a script URL), which is not allowed in a narrative`);
        }
      }
      walk(node[name] as OrderedNode[]);
    }
  };
  walk([root]);
  if (!hasContent && problems.length === 0) problems.push('a narrative must have some non-whitespace content (txt-2)');
  return problems;
}
