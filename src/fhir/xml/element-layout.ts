/**
 * What the FHIR XML form needs to know about the children of an element, read
 * from the server's compact R4 element tree (src/fhir/definitions.ts): their
 * order (XML: "elements must always appear in the order documented"), their
 * names in each choice-type variant, their kind (primitive, complex, resource
 * container, xhtml) and which few are XML attributes (R4 XML page: the `id` of
 * an element — not of a resource — and the `url` of an extension).
 *
 * A "context" is the path whose children describe an object: a resource type
 * ("Patient"), a datatype ("HumanName"), a backbone element ("Patient.contact"),
 * or the target of a contentReference ("Questionnaire.item" for item.item).
 */
import type { FhirDefinitions } from '../definitions.js';

export type SlotKind = 'primitive' | 'complex' | 'resource' | 'xhtml';

export interface Variant {
  /** The element's name in JSON and XML alike (choice: `valueQuantity`). */
  name: string;
  type: string;
  kind: SlotKind;
  /** Complex kinds: the context that describes the value's children. */
  context: string;
  /** Position of the element in its parent's definition. */
  order: number;
  /** The element repeats (JSON array). */
  repeats: boolean;
  /** Represented as an XML attribute instead of an element. */
  attribute: boolean;
}

export interface Layout {
  byName: ReadonlyMap<string, Variant>;
  /** The attribute-represented children (`id`, Extension `url`). */
  attributes: readonly Variant[];
}

const EMPTY: Layout = { byName: new Map(), attributes: [] };

function capitalised(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

export class ElementLayouts {
  private readonly cache = new Map<string, Layout>();

  constructor(private readonly definitions: FhirDefinitions) {}

  isResourceType(name: string): boolean {
    return this.definitions.isResourceType(name);
  }

  layoutOf(context: string): Layout {
    let layout = this.cache.get(context);
    if (!layout) {
      layout = this.build(context);
      this.cache.set(context, layout);
    }
    return layout;
  }

  private build(context: string): Layout {
    const children = this.definitions.childrenOf(context);
    if (children.size === 0) return EMPTY;
    const isResource = this.definitions.types[context]?.kind === 'resource';
    const byName = new Map<string, Variant>();
    const attributes: Variant[] = [];
    let order = 0;
    for (const [name, element] of children) {
      const repeats = element.max !== '1' && element.max !== '0';
      const choice = name.endsWith('[x]');
      const base = choice ? name.slice(0, -3) : name;
      // A contentReference element has no type of its own: its children are those of the target.
      const types = element.types ?? ['BackboneElement'];
      for (const type of types) {
        const variantName = choice ? base + capitalised(type) : base;
        const attribute = (!isResource && name === 'id') || (context === 'Extension' && name === 'url');
        const variant: Variant = {
          name: variantName,
          type,
          kind: this.kindOf(type),
          context: type === 'BackboneElement' || type === 'Element' ? (element.ref ?? element.path) : type,
          order,
          repeats,
          attribute,
        };
        byName.set(variantName, variant);
        if (attribute) attributes.push(variant);
      }
      order++;
    }
    return { byName, attributes };
  }

  private kindOf(type: string): SlotKind {
    if (type === 'xhtml') return 'xhtml';
    if (type === 'Resource') return 'resource';
    return this.definitions.types[type]?.kind === 'primitive-type' ? 'primitive' : 'complex';
  }
}
