/**
 * References inside batch/transaction bundles (R4 http page, "Transaction
 * processing rules" and "Conditional references"):
 * - every string equal to an entry's fullUrl (urn:uuid:, urn:oid: or an absolute
 *   URL) is replaced by the identity the server gave that entry — in
 *   Reference.reference, but also uri/url elements, inside extensions and
 *   contained resources, and in the narrative's href/src attributes;
 * - `Type?criteria` in Reference.reference is a conditional reference: it must
 *   resolve to exactly one resource, or the whole transaction fails.
 */

/** A reference of the form `Patient?identifier=...` (R4 "conditional references"). */
export const CONDITIONAL_REFERENCE = /^([A-Z][A-Za-z]+)\?(.+)$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Walks every string of a resource (objects and arrays, in place). */
function visitStrings(node: unknown, visit: (value: string, key: string) => string): void {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      if (typeof node[i] === 'string') node[i] = visit(node[i] as string, '');
      else visitStrings(node[i], visit);
    }
    return;
  }
  if (!isRecord(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (typeof value === 'string') node[key] = visit(value, key);
    else visitStrings(value, visit);
  }
}

/** The conditional references (Reference.reference values) a resource holds. */
export function conditionalReferencesIn(resource: unknown): string[] {
  const found = new Set<string>();
  visitStrings(resource, (value, key) => {
    if (key === 'reference' && CONDITIONAL_REFERENCE.test(value)) found.add(value);
    return value;
  });
  return [...found];
}

/**
 * The references to other bundle entries a resource makes: urn:uuid: values anywhere
 * but the narrative, and urn:oid: values in Reference.reference (elsewhere, urn:oid:
 * is mostly an identifier or code system, not a reference).
 */
export function internalReferencesIn(resource: unknown): string[] {
  const found = new Set<string>();
  visitStrings(resource, (value, key) => {
    if (key !== 'div' && (value.startsWith('urn:uuid:') || (key === 'reference' && value.startsWith('urn:oid:')))) found.add(value);
    return value;
  });
  return [...found];
}

/**
 * Replaces, in place, every value found in `identities` (fullUrl → "Type/id") and every
 * conditional reference found in `resolved` (reference → "Type/id").
 */
export function rewriteReferences(resource: unknown, identities: Map<string, string>, resolved: Map<string, string> = new Map()): void {
  if (identities.size === 0 && resolved.size === 0) return;
  visitStrings(resource, (value, key) => {
    if (key === 'div') return rewriteNarrative(value, identities);
    if (key === 'reference' && resolved.has(value)) return resolved.get(value)!;
    return identities.get(value) ?? value;
  });
}

/** href="urn:uuid:..." and src="..." in XHTML narrative. */
function rewriteNarrative(div: string, identities: Map<string, string>): string {
  return div.replace(/(href|src)="([^"]+)"/g, (whole, attribute: string, target: string) =>
    identities.has(target) ? `${attribute}="${identities.get(target)}"` : whole,
  );
}

/**
 * Rewrites the values of a search query (If-None-Exist, conditional URLs) that name
 * bundle entries; returns the query and the urn:uuid values it still names unresolved.
 */
export function rewriteQuery(query: string, identities: Map<string, string>): { query: string; unresolved: string[] } {
  const params = new URLSearchParams(query);
  const rewritten = new URLSearchParams();
  const unresolved: string[] = [];
  for (const [name, value] of params) {
    const replaced = identities.get(value) ?? value;
    if (replaced === value && value.startsWith('urn:uuid:')) unresolved.push(value);
    rewritten.append(name, replaced);
  }
  return { query: rewritten.toString(), unresolved };
}

/** A stable form of `Type?criteria` whatever the order and encoding of its parameters. */
export function canonicalCriteria(resourceType: string, query: string): string {
  const pairs = [...new URLSearchParams(query)].map(([n, v]) => `${n}=${v}`).sort();
  return `${resourceType}?${pairs.join('&')}`;
}
