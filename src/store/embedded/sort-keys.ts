/**
 * Sort keys for the embedded store's in-process search, matching what MongoDB
 * does with multi-valued fields: ascending sorts use the smallest value of an
 * array, descending the largest; documents without a value sort last.
 */

/** Collects every scalar at a dotted path, descending through arrays. */
function valuesAt(node: unknown, segments: string[]): unknown[] {
  if (node === undefined || node === null) return [];
  if (Array.isArray(node)) return node.flatMap((item) => valuesAt(item, segments));
  if (segments.length === 0) return [node];
  if (typeof node !== 'object') return [];
  return valuesAt((node as Record<string, unknown>)[segments[0]], segments.slice(1));
}

function compareScalars(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export function sortKeyOf(doc: unknown, path: string, direction: 1 | -1): unknown {
  const values = valuesAt(doc, path.split('.'));
  if (values.length === 0) return undefined;
  return values.reduce((best, v) => (compareScalars(v, best) * direction < 0 ? v : best));
}

export function compareSortKeys(a: unknown[], b: unknown[], sort: Array<{ direction: 1 | -1 }>): number {
  for (let i = 0; i < sort.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined && y === undefined) continue;
    if (x === undefined) return 1;
    if (y === undefined) return -1;
    const c = compareScalars(x, y) * sort[i].direction;
    if (c !== 0) return c;
  }
  return 0;
}
