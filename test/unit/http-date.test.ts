/**
 * Last-Modified is the version's lastUpdated as an HTTP date (RFC 9110 §5.6.7,
 * IMF-fixdate): the fast formatting of the stores' ISO instants must give what
 * Date.prototype.toUTCString gives, for any instant and for the odd ones
 * (leap days, days that do not exist, offsets, fractions).
 */
import { describe, expect, it } from 'vitest';
import { httpDate } from '../../src/rest/responses.js';

describe('httpDate', () => {
  it('formats any instant as toUTCString does', () => {
    let seed = 3;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 20_000; n++) {
      // Years 1000 to 9999 and around.
      const instant = new Date(-3e13 + random() * 2.8e14).toISOString();
      expect(httpDate(instant)).toBe(new Date(instant).toUTCString());
    }
    for (const odd of ['2024-02-29T23:59:59.999Z', '2023-02-29T10:00:00Z', '2026-02-30T00:00:00Z', '2026-04-31T00:00:00Z', '2000-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-12-07T06:37:05Z', '2026-12-07T06:37:05.1234567Z', '2026-12-07T06:37:05+02:00', '0999-12-31T23:59:59.000Z']) {
      expect(httpDate(odd)).toBe(new Date(odd).toUTCString());
    }
  });
});
