/**
 * String search normalisation (R4 search page: string matching is case- and
 * accent-insensitive). French names also differ by hyphens and apostrophes
 * ("Jean-Pierre", "Jean Pierre"; "N'Diaye", "N’Diaye"), so punctuation becomes a
 * single space. "Hélène" and "helene" both normalise to "helene".
 */
const NOT_ASCII = /[^\x00-\x7f]/;

export function normaliseText(text: string): string {
  // ASCII text (most codes, systems and identifiers) has no accents or ligatures to fold: NFD and
  // the ligature replacements are skipped (an AuditEvent's _content is all ASCII; issue 17's profile).
  const folded = NOT_ASCII.test(text) ? foldAccents(text) : text;
  return folded
    .toLowerCase()
    .replace(/[-'’‘`´_.,;:/\\()\[\]{}"]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function foldAccents(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/Œ/g, 'OE')
    .replace(/Æ/g, 'AE');
}
