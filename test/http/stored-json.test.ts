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
import type { Bundle } from 'fhir/r4';
import { compactJson, entryOfVersion, storedJsonOf } from '../../src/store/stored-json.js';
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

describe('searchsets sent with the stored JSON of their entries', () => {
  it('send the bytes serialising the bundle gives, for matches, included resources and an outcome entry', async () => {
    const ids: Array<{ type: string; id: string }> = [];
    for (const body of BODIES) {
      const created = await injectInto(server.app, { method: 'POST', url: `/fhir/${body.resourceType}`, headers: FHIR_JSON, payload: body });
      ids.push({ type: body.resourceType, id: (created.json() as Resource).id! });
    }
    // An observation of the first patient, to be found with the patient _included.
    const patient = ids[0];
    const observation = await injectInto(server.app, { method: 'POST', url: '/fhir/Observation', headers: FHIR_JSON, payload: { ...BODIES[1], subject: { reference: `Patient/${patient.id}` } } });
    const observationId = (observation.json() as Resource).id!;
    const urls = [
      `/fhir/Patient?_id=${ids[0].id},${ids[2].id}`,
      `/fhir/Observation?_id=${observationId}&_include=Observation:subject`,
      `/fhir/Patient?_id=${patient.id}&_revinclude=Observation:subject&unknown-parameter=1`,
      `/fhir?_type=Patient,Observation&_id=${patient.id},${observationId}`,
    ];
    for (const url of urls) {
      const response = await inject(url);
      expect(response.statusCode, response.body).toBe(200);
      const bundle = response.json() as Bundle;
      // Byte for byte what JSON.stringify gives of the same bundle (members in order, the bodies' own text).
      expect(response.body).toBe(JSON.stringify(bundle));
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(response.body)));
      const resources = (bundle.entry ?? []).filter((e) => e.search?.mode !== 'outcome');
      expect(resources.length).toBeGreaterThan(0);
      for (const entry of resources) {
        const stored = (await server.ctx.store.readCurrent(entry.resource!.resourceType, entry.resource!.id!))!;
        expect(entry.resource).toEqual(stored.resource);
        expect(entry.fullUrl).toBe(`http://relais.test/fhir/${stored.resourceType}/${stored.id}`);
      }
    }
    const withOutcome = (await inject(urls[2])).json() as Bundle;
    expect(withOutcome.entry!.map((e) => e.search?.mode)).toEqual(['match', 'include', 'outcome']);
  });

  it('build searchsets whose entries hold the stored versions (the path the answers above take)', async () => {
    const created = await injectInto(server.app, { method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: BODIES[0] });
    const { id } = created.json() as Resource;
    const bundle = await server.ctx.engine.asServer('test').search('Patient', [['_id', id!]]);
    const stored = (await server.ctx.store.readCurrent('Patient', id!))!;
    // The entry's text is the store's: what compactJson writes is the stored text, not a serialisation of the parsed body.
    const text = compactJson(bundle);
    expect(text).toContain(`"resource":${storedJsonOf(stored)}`);
    expect(text).toBe(JSON.stringify(bundle));
    expect(bundle.entry![0].resource).toEqual(stored.resource);
  });

  it('still apply _summary, _elements, _pretty and XML to searchsets', async () => {
    const created = await injectInto(server.app, { method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: BODIES[0] });
    const { id } = created.json() as Resource;
    const url = `/fhir/Patient?_id=${id}`;
    const summary = (await inject(`${url}&_summary=data`)).json() as Bundle;
    expect((summary.entry![0].resource as { text?: unknown }).text).toBeUndefined();
    const elements = (await inject(`${url}&_elements=gender`)).json() as Bundle;
    expect((elements.entry![0].resource as { name?: unknown }).name).toBeUndefined();
    expect((elements.entry![0].resource as { gender?: unknown }).gender).toBe('female');
    const pretty = await inject(`${url}&_pretty=true`);
    expect(pretty.body).toBe(JSON.stringify(pretty.json(), null, 2));
    const xml = await inject(url, { accept: 'application/fhir+xml' });
    expect(xml.body).toContain('<family value="N’Diaye"/>');
    expect(xml.body).toContain('<Bundle xmlns="http://hl7.org/fhir">');
  });

  it('send a resource put in place of the stored one as that resource, and serialise copies as plain values', async () => {
    const created = await injectInto(server.app, { method: 'POST', url: '/fhir/Observation', headers: FHIR_JSON, payload: BODIES[1] });
    const { id } = created.json() as Resource;
    const version = (await server.ctx.store.readCurrent('Observation', id!))!;
    const entry = entryOfVersion<{ fullUrl: string; resource: Resource; search: unknown }>('x', version, { mode: 'match' });
    expect(Object.keys(entry)).toEqual(['fullUrl', 'resource', 'search']);
    const bundle = { resourceType: 'Bundle', type: 'searchset', entry: [entry, { fullUrl: 'y', resource: undefined, search: { mode: 'include' } }] };
    expect(compactJson(bundle)).toBe(JSON.stringify(bundle));
    expect(compactJson(bundle)).toContain(storedJsonOf(version)!);
    const replacement = { resourceType: 'Observation', id: 'other', status: 'final' } as Resource;
    entry.resource = replacement;
    expect(entry.resource).toBe(replacement);
    expect(compactJson(bundle)).toBe(JSON.stringify(bundle));
    expect(compactJson(bundle)).not.toContain(storedJsonOf(version)!);
    expect(JSON.parse(JSON.stringify({ ...entryOfVersion<object>('x', version, {}) }))).toEqual({ fullUrl: 'x', resource: version.resource, search: {} });
  });
});
