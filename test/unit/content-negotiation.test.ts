/**
 * Content negotiation answers an Accept header naming one format from a fixed table (no parsing on every
 * request): the same media type the full parse of the header gives, for every format name it knows; any
 * other header is parsed (q-values, lists, case, spaces) and an unknown one is still a 406.
 */
import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/rest/content-negotiation.js';

const FORMATS = ['json', 'application/json', 'application/fhir+json', 'application/json+fhir', 'text/json', '*/*', 'application/*', 'xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'application/xml+fhir'];

describe('negotiate', () => {
  it('answers a one-format Accept as the full parse of the same header does', () => {
    for (const format of FORMATS) {
      // With a parameter and spaces the header is parsed in full: the same answer is expected.
      const parsed = negotiate(` ${format.toUpperCase()} ; q=0.9 `, undefined);
      expect(negotiate(format, undefined), format).toBe(parsed);
      // _format still wins over Accept.
      expect(negotiate(format, 'xml')).toBe('application/fhir+xml');
    }
    expect(negotiate('application/json', undefined)).toBe('application/json');
    expect(negotiate('application/fhir+json', undefined)).toBe('application/fhir+json');
    expect(negotiate('application/xml', undefined)).toBe('application/xml');
    expect(negotiate('text/xml', undefined)).toBe('application/fhir+xml');
    expect(negotiate('text/turtle;q=1, application/fhir+xml;q=0.5', undefined)).toBe('application/fhir+xml');
    expect(() => negotiate('text/turtle', undefined)).toThrow();
    expect(() => negotiate('application/fhir+json;q=0', undefined)).toThrow();
  });
});
