/**
 * Every client-visible failure of the foundation issue, through the HTTP
 * stack: the status the R4 http page prescribes, an OperationOutcome body
 * (application/fhir+json), and never a stack trace or internal path.
 */
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VersionConflict } from '../../src/store/resource-store.js';
import { FHIR_JSON, injectInto, startTestServer, STRUCTURE_ONLY, type TestServer } from '../helpers/test-server.js';

let server: TestServer;
let patientId: string;
beforeAll(async () => {
  server = await startTestServer({ ...STRUCTURE_ONLY, BODY_LIMIT_BYTES: '4096' });
  patientId = (await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient' } })).json().id;
});
afterAll(async () => {
  await server.close();
});

const inject = (options: InjectOptions) => injectInto(server.app, options);

/** Asserts the response is an OperationOutcome error with that status, and returns its issues. */
function expectOutcome(response: LightMyRequestResponse, status: number): Array<{ severity: string; code: string; diagnostics?: string; expression?: string[] }> {
  expect(response.statusCode, response.body).toBe(status);
  expect(String(response.headers['content-type'])).toMatch(/^application\/fhir\+json/);
  const body = response.json();
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue.length).toBeGreaterThan(0);
  for (const issue of body.issue) {
    expect(['error', 'fatal']).toContain(issue.severity);
    expect(typeof issue.code).toBe('string');
  }
  // No stack trace, no source path, no internal error names.
  expect(response.body).not.toMatch(/\n\s+at |\.ts:\d+|node_modules|FST_ERR|Error:/);
  return body.issue;
}

describe('400 Bad Request', () => {
  it('malformed JSON', async () => {
    for (const payload of ['{bad', '{"resourceType": "Patient",}', '', '[1,2', 'null x']) {
      const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload });
      expectOutcome(response, 400);
    }
  });

  it('a body that is JSON but no resource', async () => {
    for (const payload of ['null', '[]', '42', '"Patient"']) {
      expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload }), 400);
    }
  });

  it('an invalid resource, with the location of each problem in expression', async () => {
    const response = await inject({
      method: 'POST',
      url: '/fhir/Patient',
      headers: FHIR_JSON,
      payload: { resourceType: 'Patient', colour: 'blue', birthDate: 19480312, gender: 'woman', name: { family: 'Martin' }, contact: [{ telecom: [{ system: 'phone', value: 33 }] }] },
    });
    const issues = expectOutcome(response, 400);
    const expressions = issues.flatMap((i) => i.expression ?? []);
    expect(expressions).toEqual(expect.arrayContaining(['Patient.colour', 'Patient.birthDate', 'Patient.name', 'Patient.contact[0].telecom[0].value']));
  });

  it('a resourceType that does not match the URL', async () => {
    const issues = expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Practitioner' } }), 400);
    expect(issues[0].expression).toEqual(['resourceType']);
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: { resourceType: 'Practitioner', id: patientId } }), 400);
    expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { name: [{ family: 'X' }] } }), 400);
  });

  it('an update whose body id differs from the URL, or has none', async () => {
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: { resourceType: 'Patient', id: 'another' } }), 400);
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: { resourceType: 'Patient' } }), 400);
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${patientId}` })).json().meta.versionId).toBe('1');
  });

  it('an id that is not a FHIR id', async () => {
    const long = 'a'.repeat(65);
    for (const id of ['bad_id', long, 'semi;colon', encodeURIComponent('é')]) {
      expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: FHIR_JSON, payload: { resourceType: 'Patient', id: decodeURIComponent(id) } }), 400);
      const read = await inject({ method: 'GET', url: `/fhir/Patient/${id}` });
      expect([400, 404], id).toContain(read.statusCode);
      expectOutcome(read, read.statusCode);
    }
  });

  it('an update without a body', async () => {
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}` }), 400);
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: '' }), 400);
  });

  it('a malformed If-Match', async () => {
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: { ...FHIR_JSON, 'if-match': 'version 1' }, payload: { resourceType: 'Patient', id: patientId } }), 400);
  });
});

describe('404 Not Found', () => {
  it('an unknown resource type, on every kind of route', async () => {
    expectOutcome(await inject({ method: 'GET', url: '/fhir/Patients/1' }), 404);
    expectOutcome(await inject({ method: 'GET', url: '/fhir/Patients' }), 404);
    expectOutcome(await inject({ method: 'POST', url: '/fhir/Patients', headers: FHIR_JSON, payload: { resourceType: 'Patients' } }), 404);
    expectOutcome(await inject({ method: 'PUT', url: '/fhir/patient/1', headers: FHIR_JSON, payload: { resourceType: 'patient', id: '1' } }), 404);
    expectOutcome(await inject({ method: 'DELETE', url: '/fhir/DomainResource/1' }), 404);
  });

  it('an unknown id and an unknown version', async () => {
    expectOutcome(await inject({ method: 'GET', url: '/fhir/Patient/unknown-id' }), 404);
    expectOutcome(await inject({ method: 'GET', url: `/fhir/Patient/${patientId}/_history/9` }), 404);
  });

  it('an unknown route, inside and outside the FHIR base', async () => {
    expectOutcome(await inject({ method: 'GET', url: `/fhir/Patient/${patientId}/_history/1/extra` }), 404);
    expectOutcome(await inject({ method: 'GET', url: '/nothing-here' }), 404);
    expectOutcome(await inject({ method: 'GET', url: '/' }), 404);
    expectOutcome(await inject({ method: 'GET', url: `/fhir/Patient/${patientId}/nonsense` }), 404);
  });
});

describe('405 Method Not Allowed', () => {
  it('answers with an Allow header listing what the path supports', async () => {
    const metadata = await inject({ method: 'DELETE', url: '/fhir/metadata' });
    expectOutcome(metadata, 405);
    expect(String(metadata.headers.allow)).toContain('GET');
    expect(String(metadata.headers.allow)).not.toContain('DELETE');
    const vread = await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}/_history/1`, headers: FHIR_JSON, payload: { resourceType: 'Patient', id: patientId } });
    expectOutcome(vread, 405);
    expect(String(vread.headers.allow)).toContain('GET');
    const typeHistory = await inject({ method: 'POST', url: '/fhir/Patient/_history', headers: FHIR_JSON, payload: {} });
    expectOutcome(typeHistory, 405);
    const instance = await inject({ method: 'POST', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: { resourceType: 'Patient' } });
    expectOutcome(instance, 405);
    expect(String(instance.headers.allow).split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'PUT', 'PATCH', 'DELETE']));
  });

  it('OPTIONS (no FHIR interaction) is a 405 listing what the path supports', async () => {
    const type = await inject({ method: 'OPTIONS', url: '/fhir/Patient' });
    expectOutcome(type, 405);
    expect(String(type.headers.allow).split(/,\s*/)).toEqual(expect.arrayContaining(['GET', 'POST']));
    const metadata = await inject({ method: 'OPTIONS', url: '/fhir/metadata' });
    expectOutcome(metadata, 405);
    expect(String(metadata.headers.allow)).toContain('GET');
  });
});

describe('406 Not Acceptable', () => {
  it('a format the server cannot produce', async () => {
    expectOutcome(await inject({ method: 'GET', url: `/fhir/Patient/${patientId}`, headers: { accept: 'text/turtle' } }), 406);
    expectOutcome(await inject({ method: 'GET', url: '/fhir/metadata?_format=ttl' }), 406);
  });
});

describe('409 and 412 version conflicts', () => {
  it('412 when If-Match is stale', async () => {
    const stale = await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: { ...FHIR_JSON, 'if-match': 'W/"7"' }, payload: { resourceType: 'Patient', id: patientId } });
    const issues = expectOutcome(stale, 412);
    expect(issues[0].code).toBe('conflict');
  });

  it('409 when the resource keeps changing under a patch without If-Match', async () => {
    // A store where every write loses the race: the engine re-reads and re-patches, then gives up with 409.
    const contended = await startTestServer(STRUCTURE_ONLY);
    try {
      const id = (await injectInto(contended.app, { method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient' } })).json().id;
      const store = contended.ctx.store;
      store.write = async (operations) => {
        throw new VersionConflict(operations[0].resourceType, operations[0].id, operations[0].expect, 99);
      };
      const response = await injectInto(contended.app, {
        method: 'PATCH',
        url: `/fhir/Patient/${id}`,
        headers: { 'content-type': 'application/json-patch+json' },
        payload: [{ op: 'add', path: '/active', value: true }],
      });
      const issues = expectOutcome(response, 409);
      expect(issues[0].code).toBe('conflict');
    } finally {
      await contended.close();
    }
  });
});

describe('413 Payload Too Large', () => {
  it('a body over BODY_LIMIT_BYTES', async () => {
    const payload = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(8192) }] });
    const issues = expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload }), 413);
    expect(issues[0].diagnostics).toContain('4096');
  });
});

describe('415 Unsupported Media Type', () => {
  it('a Turtle or YAML body, a text body, or a body without Content-Type', async () => {
    const turtle = '@prefix fhir: <http://hl7.org/fhir/> . [] a fhir:Patient .';
    expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'text/turtle' }, payload: turtle }), 415);
    expectOutcome(await inject({ method: 'PUT', url: `/fhir/Patient/${patientId}`, headers: { 'content-type': 'application/yaml' }, payload: 'resourceType: Patient' }), 415);
    expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'text/plain' }, payload: '{"resourceType":"Patient"}' }), 415);
    expectOutcome(await inject({ method: 'POST', url: '/fhir/Patient', payload: Buffer.from('{"resourceType":"Patient"}') }), 415);
  });

  it('a PATCH that is not JSON Patch, and a resource body sent to PATCH', async () => {
    expectOutcome(await inject({ method: 'PATCH', url: `/fhir/Patient/${patientId}`, headers: { 'content-type': 'application/xml-patch+xml' }, payload: '<diff/>' }), 415);
    expectOutcome(await inject({ method: 'PATCH', url: `/fhir/Patient/${patientId}`, headers: FHIR_JSON, payload: { resourceType: 'Patient' } }), 415);
  });
});

describe('422 Unprocessable Entity', () => {
  it('a JSON Patch that cannot be applied', async () => {
    const response = await inject({ method: 'PATCH', url: `/fhir/Patient/${patientId}`, headers: { 'content-type': 'application/json-patch+json' }, payload: [{ op: 'remove', path: '/name/5' }] });
    expectOutcome(response, 422);
  });
});

describe('errors on HEAD and with _pretty', () => {
  it('a HEAD on something absent is a 404 with no body; _pretty indents error outcomes too', async () => {
    const head = await inject({ method: 'HEAD', url: '/fhir/Patient/unknown-id' });
    expect(head.statusCode).toBe(404);
    expect(head.body).toBe('');
    const pretty = await inject({ method: 'GET', url: '/fhir/Patient/unknown-id?_pretty=true' });
    expect(pretty.statusCode).toBe(404);
    expect(pretty.body).toContain('\n  "resourceType": "OperationOutcome"');
  });
});
