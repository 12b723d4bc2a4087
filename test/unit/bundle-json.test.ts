/**
 * bundleJson (src/rest/bundle-json.ts) writes a Bundle whose entries carry their resource's stored
 * text with that text spliced in: the result is what JSON.stringify gives, and the entries' bodies
 * are never read (their accessors would throw here). Entries without a text, entries of another
 * shape and Bundles whose `entry` is not last are serialised by JSON.stringify as before.
 */
import { describe, expect, it } from 'vitest';
import { bundleJson } from '../../src/rest/bundle-json.js';
import { attachStoredJson } from '../../src/store/stored-json.js';

const bodies = [
  { resourceType: 'Patient', id: 'a', name: [{ family: 'N’Diaye', given: ['Zoë'] }], text: { div: 'quote " backslash \\ tab\t 😀' } },
  { resourceType: 'Observation', id: 'b', valueQuantity: { value: 1e21 }, component: [{ valueInteger: 0 }, { valueDecimal: -0.5 }] },
];

/** A searchset entry as the search builds it, whose body throws if read unless `readable`. */
function storedEntry(body: object, mode: 'match' | 'include', readable: boolean) {
  return attachStoredJson(
    {
      fullUrl: `http://example.org/fhir/${(body as { resourceType: string }).resourceType}/x`,
      get resource() {
        if (!readable) throw new Error('the body was read');
        return body;
      },
      search: { mode },
    },
    JSON.stringify(body),
  );
}

describe('bundleJson', () => {
  it('splices the stored texts in without reading the bodies, and gives what JSON.stringify gives', () => {
    const outcome = { resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-supported' }] }, search: { mode: 'outcome' } };
    const make = (readable: boolean) => ({
      resourceType: 'Bundle',
      type: 'searchset',
      total: 2,
      link: [{ relation: 'self', url: 'http://example.org/fhir/Patient?name=a,b&_count=20' }],
      entry: [storedEntry(bodies[0], 'match', readable), { fullUrl: 'http://example.org/fhir/Patient/plain', resource: bodies[0], search: { mode: 'match' } }, storedEntry(bodies[1], 'include', readable), outcome],
    });
    expect(bundleJson(make(false))).toBe(JSON.stringify(make(true)));
    expect(JSON.parse(bundleJson(make(false)))).toEqual(JSON.parse(JSON.stringify(make(true))));
  });

  it('serialises as usual what it cannot splice: no text, another entry shape, entry not last, no entries', () => {
    const plain = { resourceType: 'Bundle', type: 'searchset', entry: [{ fullUrl: 'u', resource: bodies[1], search: { mode: 'match' } }] };
    expect(bundleJson(plain)).toBe(JSON.stringify(plain));
    const reshaped = attachStoredJson({ fullUrl: 'u', resource: bodies[0], search: { mode: 'match' }, extra: 1 }, '{"not":"this"}');
    expect(bundleJson({ resourceType: 'Bundle', entry: [reshaped] })).toBe(JSON.stringify({ resourceType: 'Bundle', entry: [reshaped] }));
    const entryFirst = { entry: [storedEntry(bodies[0], 'match', true)], resourceType: 'Bundle' };
    expect(bundleJson(entryFirst)).toBe(JSON.stringify(entryFirst));
    expect(bundleJson({ resourceType: 'Bundle', type: 'searchset', total: 0 })).toBe('{"resourceType":"Bundle","type":"searchset","total":0}');
    expect(bundleJson({ entry: [storedEntry(bodies[1], 'match', false)] })).toBe(`{"entry":[${JSON.stringify({ fullUrl: 'http://example.org/fhir/Observation/x', resource: bodies[1], search: { mode: 'match' } })}]}`);
  });
});
