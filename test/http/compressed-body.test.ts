/**
 * Compressed request bodies (Content-Encoding), as HAPI FHIR's GZipContentInterceptor sends
 * them: decoded before parsing, limited by the body limit after decoding (default 10 MB), and
 * refused with an OperationOutcome when the encoding is unknown or the data is not what it says.
 */
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, STRUCTURE_ONLY, useTestServer } from '../helpers/test-server.js';

const { inject } = useTestServer(STRUCTURE_ONLY);

const patient = { resourceType: 'Patient', name: [{ family: 'Lefèvre', given: ['Hélène'] }] };

describe('Content-Encoding on request bodies', () => {
  it('stores a gzip JSON body (accents intact) and a deflate one', async () => {
    const gz = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, 'content-encoding': 'gzip' }, payload: gzipSync(JSON.stringify(patient)) });
    expect(gz.statusCode, gz.body).toBe(201);
    const read = await inject({ method: 'GET', url: `/fhir/Patient/${gz.json().id}`, headers: { 'accept-encoding': 'gzip' } });
    expect(read.headers['content-encoding']).toBeUndefined(); // responses stay uncompressed (reverse proxy's job)
    expect(read.json().name).toEqual(patient.name);
    const deflated = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, 'content-encoding': 'deflate' }, payload: deflateSync(JSON.stringify(patient)) });
    expect(deflated.statusCode, deflated.body).toBe(201);
  });

  it('stores a gzip FHIR XML body', async () => {
    const xml = '<Patient xmlns="http://hl7.org/fhir"><name><family value="Lefèvre"/><given value="Zoé"/></name></Patient>';
    const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json', 'content-encoding': 'gzip' }, payload: gzipSync(xml) });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().name[0].given).toEqual(['Zoé']);
  });

  it('refuses data that is not gzip (400) and an unknown encoding (415), with an OperationOutcome', async () => {
    const notGzip = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, 'content-encoding': 'gzip' }, payload: JSON.stringify(patient) });
    expect(notGzip.statusCode).toBe(400);
    expect(notGzip.json().resourceType).toBe('OperationOutcome');
    expect(notGzip.json().issue[0].diagnostics).toMatch(/not valid gzip/);
    const unknown = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, 'content-encoding': 'compress' }, payload: JSON.stringify(patient) });
    expect(unknown.statusCode).toBe(415);
    expect(unknown.json().issue[0].code).toBe('not-supported');
  });

  it('counts the decoded size against the body limit: a 20 MB body gzipped to a few KB is a 413', async () => {
    const big = gzipSync(JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(20 * 1024 * 1024) }] }));
    expect(big.length).toBeLessThan(100_000);
    const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, 'content-encoding': 'gzip' }, payload: big });
    expect(response.statusCode).toBe(413);
    expect(response.json().resourceType).toBe('OperationOutcome');
  });
});
