/** Builds the self/next/previous links of searchset and history bundles. */
import type { BundleLink } from 'fhir/r4';

/**
 * The comma stays literal: it is FHIR's "or" separator (a comma inside a value is escaped as
 * "\,", and the backslash is percent-encoded), and clients that read the link without
 * decoding it first, the HL7 validator among them, see "_type=Patient%2COrganization" as one
 * unknown type.
 */
export function pageUrl(base: string, params: Array<[string, string]>): string {
  let query = '';
  for (const [name, value] of params) {
    const encodedName = encodeURIComponent(name);
    const encodedValue = encodeURIComponent(value);
    // Most names and values have no colon or comma: no regular expression run for them (a search's links were 5 % of a one-key lookup's CPU).
    query += `${query ? '&' : ''}${encodedName.includes('%3A') ? encodedName.replace(/%3A/g, ':') : encodedName}=${encodedValue.includes('%2C') ? encodedValue.replace(/%2C/g, ',') : encodedValue}`;
  }
  return query ? `${base}?${query}` : base;
}

export function pagingLinks(
  base: string,
  params: Array<[string, string]>,
  offset: number,
  count: number,
  hasMore: boolean,
): BundleLink[] {
  const withOffset = (o: number): Array<[string, string]> => [...params.filter(([n]) => n !== '_count' && n !== '_offset'), ['_count', String(count)], ...(o > 0 ? [['_offset', String(o)] as [string, string]] : [])];
  const links: BundleLink[] = [{ relation: 'self', url: pageUrl(base, offset > 0 ? withOffset(offset) : params) }];
  if (hasMore && count > 0) links.push({ relation: 'next', url: pageUrl(base, withOffset(offset + count)) });
  if (offset > 0 && count > 0) links.push({ relation: 'previous', url: pageUrl(base, withOffset(Math.max(0, offset - count))) });
  return links;
}
