/**
 * Lexical rules of search values (R4 search page, "Escaping Search
 * Parameters" and "Prefixes"): commas separate OR values unless escaped,
 * `|` separates token/quantity parts unless escaped, `\` escapes `, | $ \`.
 * Everything here is pure string handling: values never become query syntax.
 */
export const PREFIXES = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap'] as const;
export type Prefix = (typeof PREFIXES)[number];

/** Escapes every regular-expression metacharacter, so client text is matched literally. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/** Splits on commas not escaped by a backslash; escapes are kept for the next split. */
export function splitOr(value: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[i + 1];
      i++;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts;
}

/** Splits on every unescaped pipe (escapes kept). */
export function splitPipes(value: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '|') {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** Removes the search escapes `\,` `\|` `\$` `\\`. */
export function unescapeValue(value: string): string {
  return value.replace(/\\([,|$\\])/g, '$1');
}

/** A leading two-letter prefix followed by a number or a date (a sign is allowed for numbers). */
export function splitPrefix(value: string): [Prefix, string] {
  const head = value.slice(0, 2);
  if ((PREFIXES as readonly string[]).includes(head) && value.length > 2 && /[0-9+-]/.test(value[2])) return [head as Prefix, value.slice(2)];
  return ['eq', value];
}

/** FHIR decimal as a search value: no hex, no Infinity, no leading '+' ambiguity. */
export const DECIMAL = /^[+-]?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;

/** Half of the last significant digit of a decimal as written ("5.40" → 0.005, "1e2" → 50). */
export function implicitHalfWidth(text: string): number {
  const [mantissa, exponent] = text.toLowerCase().split('e');
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1].length : 0;
  return 0.5 * 10 ** (-decimals + Number(exponent ?? 0));
}
