/**
 * Search input is data, never query syntax: operator-like and regex-like
 * values never widen a result (the positive controls show what an injected
 * operator or regex WOULD have matched). Plus the HTTP face of search: POST
 * _search with a form body, Prefer: handling=strict, 400 OperationOutcomes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, OperationOutcome } from 'fhir/r4';
import { FHIR_JSON, injectInto, startTestServer, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  for (const [family, value] of [['Dupont', '111'], ['Durand', '222'], ['Martin', '333']]) {
    const response = await injectInto(server.app, {
      method: 'POST',
      url: '/fhir/Patient',
      headers: FHIR_JSON,
      payload: { resourceType: 'Patient', name: [{ family }], identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value }] },
    });
    expect(response.statusCode).toBe(201);
  }
});
afterAll(async () => {
  await server.close();
});

async function get(query: string, headers: Record<string, string> = {}) {
  return injectInto(server.app, { method: 'GET', url: `/fhir/Patient?${query}`, headers });
}
const families = (bundle: Bundle) => (bundle.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => (e.resource as { name: Array<{ family: string }> }).name[0].family).sort();

describe('injection', () => {
  it('positive controls', async () => {
    expect(families((await get('family=du')).json())).toEqual(['Dupont', 'Durand']);
    expect(families((await get('identifier=urn:oid:1.2.250.1.213.1.4.8|111')).json())).toEqual(['Dupont']);
  });

  for (const query of [
    'family=.*',
    'family=D.*',
    'family=%5EDu',
    'family=(D|M).*',
    'family=[A-Z]',
    'family=(a%2B)%2B%24',
    'family:contains=.',
    'family=$ne',
    'family=%7B%22$ne%22:null%7D',
    'family=%7B%22$gt%22:%22%22%7D',
    'family:exact=.*',
    'identifier=%7B%22$ne%22:null%7D',
    'identifier=urn:oid:1.2.250.1.213.1.4.8|%7B%22$gt%22:%22%22%7D',
    'identifier=.*|.*',
    '_id=%7B%22$ne%22:null%7D',
    'given:contains=%5C',
  ]) {
    it(`${decodeURIComponent(query)} widens nothing`, async () => {
      const response = await get(query);
      // Either rejected as malformed or matching no one: never the other patients.
      if (response.statusCode === 400) expect((response.json() as OperationOutcome).resourceType).toBe('OperationOutcome');
      else {
        expect(response.statusCode).toBe(200);
        expect(families(response.json())).toEqual([]);
      }
    });
  }

  it('operator-shaped parameter NAMES are unknown parameters (ignored, reported; strict → 400)', async () => {
    const lenient = await get('family%5B$ne%5D=x&family=dupont');
    expect(families(lenient.json())).toEqual(['Dupont']);
    const strict = await get('family%5B$ne%5D=x', { prefer: 'handling=strict' });
    expect(strict.statusCode).toBe(400);
  });
});

describe('HTTP', () => {
  it('POST [type]/_search with a form body', async () => {
    const response = await injectInto(server.app, {
      method: 'POST',
      url: '/fhir/Patient/_search',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'family=mart&_count=1',
    });
    expect(response.statusCode).toBe(200);
    const bundle = response.json() as Bundle;
    expect(families(bundle)).toEqual(['Martin']);
    expect(bundle.link!.find((l) => l.relation === 'self')!.url).toBe('http://relais.test/fhir/Patient?family=mart&_count=1');
  });

  it('Prefer: handling=strict turns an unknown parameter into a 400 OperationOutcome', async () => {
    const response = await get('unknown-param=1', { prefer: 'handling=strict' });
    expect(response.statusCode).toBe(400);
    const outcome = response.json() as OperationOutcome;
    expect(outcome.issue[0].expression).toEqual(['unknown-param']);
  });

  it('a malformed date is a 400 even without strict handling', async () => {
    const response = await get('birthdate=zz2020');
    expect(response.statusCode).toBe(400);
    expect((response.json() as OperationOutcome).issue[0].code).toBe('invalid');
  });

  it("a dateTime whose offset '+' arrived unescaped (decoded as a space) is read as that offset", async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString().slice(0, 19);
    const past = '2020-01-01T00:00:00';
    expect(families((await get(`_lastUpdated=ge${past}+01:00`)).json() as Bundle)).toEqual(['Dupont', 'Durand', 'Martin']);
    expect(families((await get(`_lastUpdated=ge${future}+01:00`)).json() as Bundle)).toEqual([]);
    expect(families((await get(`_lastUpdated=ge${past}%2B01:00`)).json() as Bundle)).toEqual(['Dupont', 'Durand', 'Martin']);
  });

  it('an unsupported modifier is a 400 (R4: servers SHALL reject unsupported modifiers)', async () => {
    const response = await get('identifier:exact=111');
    expect(response.statusCode).toBe(400);
    expect((response.json() as OperationOutcome).issue[0].code).toBe('not-supported');
  });

  it(':in with a ValueSet the server does not know is a 400 OperationOutcome naming the parameter, even without strict handling', async () => {
    const response = await get('identifier:in=http://example.org/vs');
    expect(response.statusCode).toBe(400);
    const outcome = response.json() as OperationOutcome;
    expect(outcome.issue[0].code).toBe('not-found');
    expect(outcome.issue[0].expression).toEqual(['identifier:in']);
    expect(outcome.issue[0].diagnostics).toContain('http://example.org/vs');
  });

  it(':not-in over HTTP: patients without a gender have no coding in administrative-gender', async () => {
    const response = await get('gender:not-in=http://hl7.org/fhir/ValueSet/administrative-gender');
    expect(response.statusCode).toBe(200);
    expect(families(response.json())).toEqual(['Dupont', 'Durand', 'Martin']);
  });

  it('_count above the maximum is reduced to it (MAX_PAGE_SIZE, default 1000)', async () => {
    const bundle = (await get('_count=5000')).json() as Bundle;
    expect(bundle.link!.find((l) => l.relation === 'self')!.url).toContain('_count=1000');
  });

  it('without _count the page size is DEFAULT_PAGE_SIZE (20)', async () => {
    const bundle = (await get('family=du')).json() as Bundle;
    expect(bundle.link!.find((l) => l.relation === 'self')!.url).toContain('_count=20');
  });
});
