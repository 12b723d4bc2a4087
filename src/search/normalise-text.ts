/**
 * String search normalisation (R4 search page: string matching is case- and
 * accent-insensitive). French names also differ by hyphens and apostrophes
 * ("Jean-Pierre", "Jean Pierre"; "N'Diaye", "N’Diaye"), so punctuation becomes a
 * single space. "Hélène" and "helene" both normalise to "helene".
 */
export function normaliseText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/œ/g, 'oe')
    .replace(/æ/g, 'ae')
    .replace(/Œ/g, 'OE')
    .replace(/Æ/g, 'AE')
    .toLowerCase()
    .replace(/[-'’‘`´_.,;:/\\()\[\]{}"]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}
