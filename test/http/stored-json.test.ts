/**
 * A read answered with the stored version unchanged is sent as the JSON text the
 * store keeps (src/store/stored-json.ts) instead of being serialised again: the
 * body must be byte for byte what serialising the version gave, with the same
 * headers, for resources of every kind (accents, emoji, escapes, decimals, a body
 * over lmdb-js' compression threshold, an update's later version); and every
 * transformation (_summary, _elements, _pretty, XML) still applies.
 */
import type { Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storedJsonOf } from '../../src/store/stored-json.js';
import { FHIR_JSON, injectInto, startTestServer, STRUCTURE_ONLY, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(STRUCTURE_ONLY);
});
afterAll(async () => {
  await server.close();
});

type Body = Record<string, unknown> & { resourceType: string };
const BODIES: Body[] = [
  {
    resourceType: 'Patient',
    text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Hélène N’Diaye — « née » &amp; 😀</div>' },
    identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '248097512345678' }],
    name: [{ family: 'N’Diaye', given: ['Hélène', 'Zoë'], text: 'Quote " backslash \\ slash / tab\tnewline\n' }],
    gender: 'female',
    birthDate: '1948-03-12',
  },
  {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Poids' }] },
    valueQuantity: { value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
    component: [{ code: { text: 'x' }, valueQuantity: { value: 1e21 } }, { code: { text: 'y' }, valueInteger: 0 }],
  },
  // Over lmdb-js' 1 KiB compression threshold: stored compressed.
  { resourceType: 'Patient', name: [{ family: 'Dupont' }], address: Array.from({ length: 20 }, (_, i) => ({ line: [`${i} rue de la République`], city: 'Lyon', postalCode: '69001' })) },
];

const inject = (url: string, headers: Record<string, string> = {}) => injectInto(server.app, { method: 'GET', url, headers });

describe('reads sent as the stored JSON', () => {
  it('send the bytes and headers serialising the version gave, for reads and version reads', async () => {
    for (const body of BODIES) {
      const created = await injectInto(server.app, { method: 'POST', url: `/fhir/${body.resourceType}`, headers: FHIR_JSON, payload: body });
      expect(created.statusCode, created.body).toBe(201);
      const { id } = created.json() as Resource;
      // A later version too (its record is the newest of two).
      const updated = await injectInto(server.app, { method: 'PUT', url: `/fhir/${body.resourceType}/${id}`, headers: FHIR_JSON, payload: { ...body, id, language: 'fr' } });
      expect(updated.statusCode, updated.body).toBe(200);
      for (const [url, versionId] of [[`/fhir/${body.resourceType}/${id}`, 2], [`/fhir/${body.resourceType}/${id}/_history/1`, 1], [`/fhir/${body.resourceType}/${id}/_history/2`, 2]] as const) {
        const stored = (await server.ctx.store.readVersion(body.resourceType, id!, versionId))!;
        // The store kept the text (so the read below takes the stored-text path) ...
        expect(storedJsonOf(stored)).toBeDefined();
        const response = await inject(url);
        expect(response.statusCode).toBe(200);
        // ... and the body is what serialising the version gives (JSON.stringify leaves the attached text out).
        expect(response.body).toBe(JSON.stringify(stored.resource));
        expect(response.headers['content-type']).toBe('application/fhir+json; charset=utf-8');
        expect(response.headers.etag).toBe(`W/"${versionId}"`);
        expect(response.headers['last-modified']).toBe(new Date(stored.lastUpdated).toUTCString());
        expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)));
      }
    }
  });

  it('still applies _summary, _elements, _pretty, XML and plain JSON to the stored version', async () => {
    const created = await injectInto(server.app, { method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: BODIES[0] });
    const { id } = created.json() as Resource;
    const stored = (await server.ctx.store.readCurrent('Patient', id!))!.resource as Resource & { text?: unknown };
    const url = `/fhir/Patient/${id}`;
    expect((await inject(`${url}?_summary=false`)).body).toBe(JSON.stringify(stored));
    expect((await inject(`${url}?_pretty=true`)).body).toBe(JSON.stringify(stored, null, 2));
    const summary = (await inject(`${url}?_summary=data`)).json() as Record<string, unknown>;
    expect(summary.text).toBeUndefined();
    expect(summary.name).toEqual(BODIES[0].name);
    const elements = (await inject(`${url}?_elements=gender`)).json() as Record<string, unknown>;
    expect(elements.name).toBeUndefined();
    expect(elements.gender).toBe('female');
    const xml = await inject(url, { accept: 'application/fhir+xml' });
    expect(xml.headers['content-type']).toBe('application/fhir+xml; charset=utf-8');
    expect(xml.body).toContain('<Patient xmlns="http://hl7.org/fhir">');
    const plain = await inject(url, { accept: 'application/json' });
    expect(plain.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(plain.body).toBe(JSON.stringify(stored));
  });

  it('give versions whose body reads, copies and serialises as a plain value, and whose copies carry no stored text', async () => {
    const created = await injectInto(server.app, { method: 'POST', url: '/fhir/Observation', headers: FHIR_JSON, payload: BODIES[1] });
    const { id } = created.json() as Resource;
    const version = (await server.ctx.store.readCurrent('Observation', id!))!;
    const plain = JSON.parse(JSON.stringify(version)) as typeof version;
    expect(plain.resource).toEqual(version.resource);
    expect(structuredClone(version).resource).toEqual(version.resource);
    const copy = { ...version };
    expect(copy.resource).toEqual(version.resource);
    expect(storedJsonOf(version)).toBe(JSON.stringify(version.resource));
    expect(storedJsonOf(copy)).toBeUndefined();
    // The parsed body is one object, read as many times as asked.
    expect(version.resource).toBe(version.resource);
  });
});
