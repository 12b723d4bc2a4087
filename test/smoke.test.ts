import { test, expect } from 'vitest';
import { startTestServer, FHIR_JSON } from './helpers/test-server.js';
test('smoke', async () => {
  const s = await startTestServer();
  let r = await s.app.inject({ method: 'GET', url: '/fhir/metadata' });
  console.log(r.statusCode, r.headers['content-type'], r.body.length);
  r = await s.app.inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient', name: [{ family: 'Dupont' }] } });
  console.log(r.statusCode, r.headers, r.body);
  const id = r.json().id;
  r = await s.app.inject({ method: 'GET', url: `/fhir/Patient/${id}` }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'GET', url: `/fhir/Patient?name=dup` }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'DELETE', url: `/fhir/Patient/${id}` }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'GET', url: `/fhir/Patient/${id}` }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'GET', url: `/fhir/Patient/${id}/_history` }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: '{bad' }); console.log(r.statusCode, r.body);
  r = await s.app.inject({ method: 'POST', url: '/fhir/metadata', headers: FHIR_JSON, payload: '{}' }); console.log(r.statusCode, r.headers.allow, r.body);
  await s.close();
});
