/**
 * Whether a parsed JSON value holds at least `bytes` of text (strings by their
 * length, keys included; numbers, booleans and nulls as 8): how a write decides
 * its body is big enough to be checked by a body worker (src/body-work), and
 * how LIMIT_INDEX_BYTES weighs a resource's index entries. The walk stops as
 * soon as it knows, so a small value costs a walk of itself and a big one less.
 */
export function reachesSize(value: unknown, bytes: number): boolean {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const node = stack.pop();
    if (typeof node === 'string') total += node.length;
    else if (Array.isArray(node)) {
      total += 2;
      for (const item of node) stack.push(item);
    } else if (typeof node === 'object' && node !== null) {
      for (const key of Object.keys(node)) {
        total += key.length + 4;
        stack.push((node as Record<string, unknown>)[key]);
      }
    } else total += 8;
    if (total >= bytes) return true;
  }
  return false;
}
