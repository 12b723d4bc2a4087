/**
 * Phonetic keys for the `phonetic` search parameters (Patient, Practitioner, RelatedPerson,
 * Person: "a portion of either family or given name using some kind of phonetic matching
 * algorithm", R4). The algorithm is FONEM (Bouchard, Brard, Lavoie, *Population* 36(6), INED,
 * 1981), designed for French family names, as implemented by the talisman library
 * (médialab Sciences Po). Why FONEM rather than Soundex, (Double) Metaphone or Phonex: Soundex
 * and Metaphone encode English spelling (they keep "Lefèvre" and "Lefebvre" apart, and map
 * French silent endings to consonants), and talisman's Phonex gave unstable keys on common
 * names here (Durand → TUR1 but Duran → TURON); FONEM gives the same key to the spellings a
 * French register mixes up: Lefèvre/Lefebvre, Durand/Durant, Dupont/Dupond,
 * Gauthier/Gautier, Mathieu/Matthieu, Catherine/Katherine, Philippe/Philipe, Beaumont/Bomont.
 *
 * Keys are computed on the accent-free, upper-case form of each word (FONEM's input
 * alphabet); a name part also gets the key of all its words together, so "Dupont Martin"
 * and "Dupond-Martin" meet, and so do single words.
 */
import fonemModule from 'talisman/phonetics/french/fonem.js';
import { normaliseText } from './normalise-text.js';

const fonem = typeof fonemModule === 'function' ? fonemModule : fonemModule.default;

/**
 * Letters of a word that make its key: no name word is longer, and FONEM's rewriting of a
 * 2,000-letter "word" cost seconds of event loop per resource (issue 18's hostile bodies).
 * Stored keys and searched keys are cut alike, so matching stays consistent.
 */
const MAX_WORD_LETTERS = 40;

/** The phonetic key of one word (letters only), or '' when it has none. */
function wordKey(word: string): string {
  const letters = word.toUpperCase().replace(/[^A-Z]/g, '').slice(0, MAX_WORD_LETTERS);
  return letters ? fonem(letters) : '';
}

/** The phonetic keys of one written name part: one per word, and one for the whole part. */
export function phoneticKeys(text: string): string[] {
  const words = normaliseText(text).split(' ').filter(Boolean);
  const keys = words.map(wordKey).filter(Boolean);
  if (keys.length > 1) keys.push(keys.join(' '));
  return [...new Set(keys)];
}

/** The key a searched value must match: the words' keys, space-separated. */
export function phoneticQueryKey(text: string): string {
  return normaliseText(text).split(' ').map(wordKey).filter(Boolean).join(' ');
}
