/**
 * What the text indexes keep of very large values (issue 18: a multi-MB body
 * must not cost seconds of event loop in index extraction): `_content` never
 * indexes base64 `data`, stops past its indexed length, and a phonetic key is
 * computed on a word's first letters, alike when stored and when searched.
 */
import { describe, expect, it } from 'vitest';
import { fullTextEntries } from '../../src/search/full-text.js';
import { phoneticKeys, phoneticQueryKey } from '../../src/search/phonetic.js';

describe('text index bounds', () => {
  it('_content indexes the words of a document, not its base64 attachment', () => {
    const entries = fullTextEntries({
      resourceType: 'DocumentReference',
      description: 'Compte rendu de sortie',
      content: [{ attachment: { contentType: 'application/pdf', title: 'Lettre de liaison', data: 'SGVsbG8gd29ybGQ=' } }],
    });
    expect(entries._content?.[0].x).toContain('lettre de liaison');
    expect(entries._content?.[0].x).toContain('compte rendu de sortie');
    expect(entries._content?.[0].x).not.toContain('sgvsbg8');
  });

  it('_content keeps the text before a huge value and at most 100,000 characters', () => {
    const entries = fullTextEntries({ resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, valueString: 'mot '.repeat(2_000_000), note: [{ text: 'après' }] });
    const indexed = entries._content![0].x;
    expect(indexed.startsWith('final poids mot mot')).toBe(true);
    expect(indexed.length).toBeLessThanOrEqual(100_000);
  });

  it('a name word longer than any name still finds itself by its phonetic key', () => {
    const long = 'Dupont'.repeat(400);
    const [key] = phoneticKeys(long);
    expect(key).toBe(phoneticQueryKey(long));
    expect(phoneticQueryKey('Dupond')).toBe(phoneticKeys('Dupont')[0]);
  });
});
