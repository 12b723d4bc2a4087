/**
 * FHIR XML → FHIR JSON, so that an XML body goes through exactly the validation
 * a JSON body does. fast-xml-parser does the XML (well-formedness check, then an
 * ordered tree); this file maps that tree onto the R4 element tree
 * (element-layout.ts): `value`/`id`/`url` attributes, primitive extensions into
 * `_name`, arrays where the definition repeats, choice names, resource containers,
 * and the narrative `div` kept as the exact XHTML text it was sent as.
 *
 * Security (R4 XML page: configure parsers to ignore entities): a document with a
 * DOCTYPE or an entity declaration is refused before any parsing (no XXE, no
 * "billion laughs"); the parser's own entity processing is off, and only XML's five
 * predefined entities and character references are decoded, here. Nesting is capped.
 *
 * Deliberate leniencies, as most FHIR servers have them: element order within a
 * parent is not enforced on input (output always follows the definitions), and
 * comments are ignored. Unknown elements are carried into the JSON so the
 * structure validator reports them with its usual message and location.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors } from '../../errors.js';
import type { ElementLayouts, Variant } from './element-layout.js';
import { FHIR_NAMESPACE, XHTML_NAMESPACE } from './xml-writer.js';

/** Same bound as JSON bodies (src/rest/body-parsers.ts MAX_JSON_DEPTH): far beyond any real resource. */
export const MAX_XML_DEPTH = 256;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Attributes = Record<string, string>;
/** fast-xml-parser's preserveOrder node: `{ tag: children, ':@': attributes }` or `{ '#text': text }`. */
type XmlNode = Record<string, unknown>;

const DTD = /<!DOCTYPE|<!ENTITY/i;
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const SAFE_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
/** An entity reference that is neither predefined nor a character reference cannot be resolved without a DTD. */
const UNDECLARED_ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)([^;\s<]{0,40});?/;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // The narrative is kept as the text it was sent as (JSON carries it as a string).
  stopNodes: ['*.div'],
  maxNestedTags: MAX_XML_DEPTH,
});

function malformed(detail: string) {
  return errors.malformedXml(detail);
}

function tagOf(node: XmlNode): string | undefined {
  for (const key of Object.keys(node)) if (key !== ':@') return key;
  return undefined;
}

function decodeAttribute(raw: string, where: string): string {
  // XML attribute-value normalisation: literal line breaks and tabs read as spaces.
  const normalised = raw.replace(/\r\n?/g, '\n').replace(/[\t\n]/g, ' ');
  if (!normalised.includes('&')) return normalised;
  const undeclared = UNDECLARED_ENTITY.exec(normalised);
  if (undeclared) throw malformed(`undeclared entity reference '&${undeclared[1]};' in an attribute of ${where}`);
  return normalised.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_all, ref: string) => {
    if (!ref.startsWith('#')) return PREDEFINED[ref];
    const code = ref.startsWith('#x') ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
    if (!(code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff))) {
      throw malformed(`character reference '&${ref};' is not an XML character (${where})`);
    }
    return String.fromCodePoint(code);
  });
}

/** A primitive's JSON value from its XML text: numbers and booleans typed when they are well-formed (else left as text, for the validator to report). */
function typedValue(text: string, jsonKind: string | undefined): Json {
  if (jsonKind === 'number') return NUMBER.test(text) ? Number(text) : text;
  if (jsonKind === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

interface PrimitiveAccumulator {
  values: Json[];
  extensions: Array<JsonObject | null>;
}

export class FhirXmlReader {
  constructor(
    private readonly layouts: ElementLayouts,
    private readonly jsonKindOf: (primitiveType: string) => string | undefined,
  ) {}

  read(text: string): JsonObject {
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (DTD.test(body)) throw errors.xmlDtdRefused();
    const declared = /^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["']/.exec(body);
    if (declared && !/^utf-?8$/i.test(declared[1])) throw malformed(`the encoding must be UTF-8, not '${declared[1]}'`);
    const check = XMLValidator.validate(body);
    if (check !== true) throw malformed(`${check.err.msg} (line ${check.err.line}, column ${check.err.col})`);
    let tree: XmlNode[];
    try {
      tree = parser.parse(body) as XmlNode[];
    } catch (error) {
      throw malformed(error instanceof Error ? error.message : 'it could not be parsed');
    }
    const roots = tree.filter((node) => tagOf(node) !== '#text');
    if (roots.length !== 1) throw malformed('a FHIR XML document has exactly one root element, a resource');
    const root = roots[0];
    const attributes = (root[':@'] ?? {}) as Attributes;
    if (attributes.xmlns !== FHIR_NAMESPACE) throw malformed(`the root element must be in the FHIR namespace (xmlns="${FHIR_NAMESPACE}")`);
    return this.resource(root, 0, '');
  }

  private resource(node: XmlNode, depth: number, where: string): JsonObject {
    const type = tagOf(node)!;
    if (type.includes(':')) throw malformed(`namespace prefixes are not supported on FHIR elements ('${type}'); use the default namespace`);
    if (!this.layouts.isResourceType(type)) {
      throw malformed(`'${type}' is not an R4 resource type${where ? ` (in ${where})` : ''}`);
    }
    const attributes = (node[':@'] ?? {}) as Attributes;
    if (attributes.xmlns !== undefined && attributes.xmlns !== FHIR_NAMESPACE) throw malformed(`${where || type} is not in the FHIR namespace`);
    this.checkAttributes(attributes, [], type);
    const result: JsonObject = { resourceType: type };
    this.children(node[type] as XmlNode[], type, result, type, depth + 1);
    return result;
  }

  /** Fills `target` from the child elements of an XML element described by `context`. */
  private children(nodes: XmlNode[], context: string, target: JsonObject, path: string, depth: number): void {
    if (depth > MAX_XML_DEPTH) throw errors.nestingTooDeep(MAX_XML_DEPTH);
    const layout = this.layouts.layoutOf(context);
    const primitives = new Map<string, PrimitiveAccumulator>();
    for (const node of nodes) {
      const tag = tagOf(node);
      if (tag === undefined) continue;
      if (tag === '#text') {
        if (String(node[tag]).trim() !== '') throw malformed(`unexpected text inside ${path}: FHIR XML carries values in 'value' attributes`);
        continue;
      }
      if (tag.includes(':')) throw malformed(`namespace prefixes are not supported on FHIR elements ('${tag}' in ${path}); use the default namespace`);
      const attributes = (node[':@'] ?? {}) as Attributes;
      const childPath = `${path}.${tag}`;
      if (attributes.xmlns !== undefined && attributes.xmlns !== FHIR_NAMESPACE && tag !== 'div') {
        throw malformed(`element ${childPath} is not in the FHIR namespace`);
      }
      const variant = layout.byName.get(tag);
      if (!variant || variant.attribute) {
        this.add(target, tag, this.unknown(node, tag, childPath, depth + 1), true);
        continue;
      }
      const content = node[tag] as XmlNode[];
      switch (variant.kind) {
        case 'primitive':
          this.primitive(primitives, variant, attributes, content, childPath, depth + 1);
          break;
        case 'xhtml':
          this.add(target, tag, this.xhtml(attributes, content, childPath), variant.repeats);
          break;
        case 'resource':
          this.checkAttributes(attributes, [], childPath);
          this.add(target, tag, this.container(content, childPath, depth + 1), variant.repeats);
          break;
        default:
          this.add(target, tag, this.complex(variant, attributes, content, childPath, depth + 1), variant.repeats);
      }
    }
    for (const [name, accumulated] of primitives) {
      const variant = layout.byName.get(name)!;
      const hasValue = accumulated.values.some((v) => v !== null);
      const hasExtension = accumulated.extensions.some((e) => e !== null);
      if (variant.repeats || accumulated.values.length > 1) {
        if (hasValue) target[name] = accumulated.values;
        if (hasExtension) target[`_${name}`] = accumulated.extensions;
      } else {
        if (hasValue) target[name] = accumulated.values[0];
        if (hasExtension) target[`_${name}`] = accumulated.extensions[0];
      }
    }
  }

  private add(target: JsonObject, name: string, value: Json, repeats: boolean): void {
    // Own properties only: an element named like an Object.prototype member (constructor, toString) is just unknown.
    const existing = Object.hasOwn(target, name) ? target[name] : undefined;
    if (existing === undefined) target[name] = repeats ? [value] : value;
    else if (Array.isArray(existing) && repeats) existing.push(value);
    // A second occurrence of a non-repeating element: an array, which the validator reports.
    else target[name] = [...(Array.isArray(existing) ? existing : [existing]), value];
  }

  private primitive(into: Map<string, PrimitiveAccumulator>, variant: Variant, attributes: Attributes, content: XmlNode[], path: string, depth: number): void {
    this.checkAttributes(attributes, ['value', 'id'], path);
    const extension: JsonObject = {};
    if (attributes.id !== undefined) extension.id = decodeAttribute(attributes.id, path);
    this.children(content, 'Element', extension, path, depth);
    if (Object.keys(extension).some((k) => k !== 'id' && k !== 'extension')) {
      throw malformed(`${path} is a primitive: only 'extension' elements may appear inside it`);
    }
    const value = attributes.value === undefined ? null : typedValue(decodeAttribute(attributes.value, path), this.jsonKindOf(variant.type));
    if (value === null && Object.keys(extension).length === 0) throw malformed(`${path} has no value attribute, id or extension (FHIR XML has no empty elements)`);
    let accumulated = into.get(variant.name);
    if (!accumulated) into.set(variant.name, (accumulated = { values: [], extensions: [] }));
    accumulated.values.push(value);
    accumulated.extensions.push(Object.keys(extension).length > 0 ? extension : null);
  }

  private complex(variant: Variant, attributes: Attributes, content: XmlNode[], path: string, depth: number): JsonObject {
    const layout = this.layouts.layoutOf(variant.context);
    this.checkAttributes(attributes, layout.attributes.map((a) => a.name), path);
    const result: JsonObject = {};
    for (const attribute of layout.attributes) {
      const raw = attributes[attribute.name];
      if (raw !== undefined) result[attribute.name] = decodeAttribute(raw, path);
    }
    this.children(content, variant.context, result, path, depth);
    if (Object.keys(result).length === 0) throw malformed(`${path} is empty (FHIR XML has no empty elements)`);
    return result;
  }

  private container(content: XmlNode[], path: string, depth: number): JsonObject {
    const elements = content.filter((node) => {
      const tag = tagOf(node);
      if (tag !== '#text') return true;
      if (String(node[tag]).trim() !== '') throw malformed(`unexpected text inside ${path}`);
      return false;
    });
    if (elements.length !== 1) throw malformed(`${path} must contain exactly one resource`);
    return this.resource(elements[0], depth, path);
  }

  /** The narrative: the `div` element rebuilt around its content exactly as received. */
  private xhtml(attributes: Attributes, content: XmlNode[], path: string): string {
    if (attributes.xmlns !== XHTML_NAMESPACE) throw malformed(`${path} must be in the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`);
    let open = '<div';
    for (const [name, raw] of Object.entries(attributes)) {
      const undeclared = UNDECLARED_ENTITY.exec(raw);
      if (undeclared) throw malformed(`undeclared entity reference '&${undeclared[1]};' in ${path}`);
      open += ` ${name}="${raw.replace(/"/g, '&quot;')}"`;
    }
    // Carriage returns sent as references (as the writer does) come back as the character JSON carries.
    const inner = content.map((node) => String(node['#text'] ?? '')).join('').replace(/&#(?:x0*[dD]|0*13);/g, '\r');
    const undeclared = UNDECLARED_ENTITY.exec(inner);
    if (undeclared) throw malformed(`undeclared entity reference '&${undeclared[1]};' in ${path} (XML knows only &amp; &lt; &gt; &quot; &apos; and character references)`);
    return inner === '' ? `${open}/>` : `${open}>${inner}</div>`;
  }

  /**
   * An element the definitions do not know: carried over in the plain FHIR shape
   * (value attribute → primitive, children → object) for the validator to report.
   */
  private unknown(node: XmlNode, tag: string, path: string, depth: number): Json {
    if (!SAFE_NAME.test(tag)) throw malformed(`'${tag}' is not a FHIR element name (in ${path})`);
    if (depth > MAX_XML_DEPTH) throw errors.nestingTooDeep(MAX_XML_DEPTH);
    const attributes = (node[':@'] ?? {}) as Attributes;
    const content = (node[tag] ?? []) as XmlNode[];
    const elements = content.filter((child) => tagOf(child) !== '#text');
    if (elements.length === 0 && attributes.value !== undefined) return decodeAttribute(attributes.value, path);
    const result: JsonObject = {};
    for (const [name, raw] of Object.entries(attributes)) {
      if (SAFE_NAME.test(name) && name !== 'xmlns') result[name] = decodeAttribute(raw, path);
    }
    for (const child of elements) {
      const childTag = tagOf(child)!;
      this.add(result, childTag, this.unknown(child, childTag, `${path}.${childTag}`, depth + 1), false);
    }
    return result;
  }

  /** Attributes FHIR defines for this element; namespace declarations and other namespaces' attributes (xsi:...) are ignored. */
  private checkAttributes(attributes: Attributes, allowed: readonly string[], path: string): void {
    for (const name of Object.keys(attributes)) {
      if (name === 'xmlns' || name.includes(':')) continue;
      if (!allowed.includes(name)) throw malformed(`attribute '${name}' is not allowed on ${path}`);
    }
  }
}
