/**
 * Formats and shaping (R4 http page "Content Types and encodings", search page
 * "_summary"/"_elements"), and the CapabilityStatement: that it says what is
 * true (fhirVersion, every R4 resource type, the formats) and that every
 * interaction it lists really answers.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { InjectOptions } from 'fastify';
import type { Bundle, CapabilityStatement } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, injectInto, startTestServer, STRUCTURE_ONLY, type TestServer } from '../helpers/test-server.js';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

let server: TestServer;
let patientId: string;
beforeAll(async () => {
  server = await startTestServer(STRUCTURE_ONLY);
  const response = await inject({
    method: 'POST',
    url: '/fhir/Patient',
    headers: FHIR_JSON,
    payload: {
      resourceType: 'Patient',
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">Jeanne Martin</div>' },
      identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '248097512345678' }],
      name: [{ family: 'Martin', given: ['Jeanne'] }],
      gender: 'female',
      birthDate: '1948-03-12',
      maritalStatus: { text: 'veuve' },
      contact: [{ name: { family: 'Martin', given: ['Paul'] }, telecom: [{ system: 'phone', value: '0600000000' }] }],
    },
  });
  expect(response.statusCode, response.body).toBe(201);
  patientId = response.json().id;
});
afterAll(async () => {
  await server.close();
});

const inject = (options: InjectOptions) => injectInto(server.app, options);
const read = (query = '', headers: Record<string, string> = {}) => inject({ method: 'GET', url: `/fhir/Patient/${patientId}${query}`, headers });
const mediaType = (response: { headers: Record<string, unknown> }) => String(response.headers['content-type']).split(';')[0];
const hasSubsetted = (resource: { meta?: { tag?: Array<{ system?: string; code?: string }> } }) =>
  (resource.meta?.tag ?? []).some((t) => t.system === SUBSETTED.system && t.code === SUBSETTED.code);

describe('_format and Accept', () => {
  it('_format json / application/fhir+json / application/json answer JSON, xml names answer XML; others are a 406 OperationOutcome', async () => {
    expect(mediaType(await read('?_format=json'))).toBe('application/fhir+json');
    expect(mediaType(await read('?_format=application/fhir%2Bjson'))).toBe('application/fhir+json');
    expect(mediaType(await read('?_format=application/json'))).toBe('application/json');
    // Typed unencoded, the '+' reaches the server as a space: still FHIR JSON.
    expect(mediaType(await read('?_format=application/fhir+json'))).toBe('application/fhir+json');
    expect((await inject({ method: 'GET', url: '/fhir/Patient?_format=application/fhir+json' })).statusCode).toBe(200);
    expect(mediaType(await read('?_format=xml'))).toBe('application/fhir+xml');
    expect(mediaType(await read('?_format=application/fhir%2Bxml'))).toBe('application/fhir+xml');
    expect(mediaType(await read('?_format=text/xml'))).toBe('application/fhir+xml');
    for (const format of ['ttl', 'text/turtle', 'html']) {
      const response = await read(`?_format=${format}`);
      expect(response.statusCode, format).toBe(406);
      expect(response.json().resourceType).toBe('OperationOutcome');
    }
  });

  it('_format overrides Accept', async () => {
    const response = await read('?_format=json', { accept: 'application/fhir+xml' });
    expect(response.statusCode).toBe(200);
    expect(mediaType(response)).toBe('application/fhir+json');
  });

  it('negotiates Accept with q-values and wildcards', async () => {
    const cases: Array<[string, number, string?]> = [
      ['application/fhir+json', 200, 'application/fhir+json'],
      ['application/json', 200, 'application/json'],
      ['application/fhir+xml;q=1.0, application/fhir+json;q=0.5', 200, 'application/fhir+xml'],
      ['application/json;q=0.2, application/fhir+json;q=0.9', 200, 'application/fhir+json'],
      ['application/fhir+json;q=0.1, application/json;q=0.8', 200, 'application/json'],
      ['text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8', 200, 'application/xml'],
      ['*/*', 200, 'application/fhir+json'],
      ['text/turtle', 406],
      ['application/fhir+json;q=0, text/turtle', 406],
    ];
    for (const [accept, status, type] of cases) {
      const response = await read('', { accept });
      expect(response.statusCode, accept).toBe(status);
      if (type) expect(mediaType(response), accept).toBe(type);
      else expect(response.json().resourceType).toBe('OperationOutcome');
    }
  });

  it('applies to writes and searches as well', async () => {
    const create = await inject({ method: 'POST', url: '/fhir/Patient?_format=ttl', headers: FHIR_JSON, payload: { resourceType: 'Patient' } });
    expect(create.statusCode).toBe(406);
    const search = await inject({ method: 'GET', url: '/fhir/Patient', headers: { accept: 'text/turtle' } });
    expect(search.statusCode).toBe(406);
  });

  it('_pretty=true indents the JSON; otherwise it is compact', async () => {
    const pretty = await read('?_pretty=true');
    expect(pretty.body).toContain('\n  "resourceType": "Patient"');
    const compact = await read();
    expect(compact.body).not.toContain('\n');
    expect(JSON.parse(pretty.body)).toEqual(JSON.parse(compact.body));
  });
});

describe('_summary and _elements on read', () => {
  it('_summary=true keeps the summary elements and tags the result SUBSETTED', async () => {
    const body = (await read('?_summary=true')).json();
    expect(body).toMatchObject({ resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1948-03-12' });
    expect(body.name).toBeDefined();
    expect(body.identifier).toBeDefined();
    expect(body.maritalStatus).toBeUndefined();
    expect(body.contact).toBeUndefined();
    expect(body.text).toBeUndefined();
    expect(hasSubsetted(body)).toBe(true);
    expect(body.meta.versionId).toBe('1');
  });

  it('_summary=text keeps text, id, meta and mandatory elements only', async () => {
    const body = (await read('?_summary=text')).json();
    expect(body.text.div).toContain('Jeanne Martin');
    expect(body.id).toBe(patientId);
    expect(body.name).toBeUndefined();
    expect(body.gender).toBeUndefined();
    expect(hasSubsetted(body)).toBe(true);
  });

  it('_summary=data removes the text only', async () => {
    const body = (await read('?_summary=data')).json();
    expect(body.text).toBeUndefined();
    expect(body.contact).toBeDefined();
    expect(body.maritalStatus).toBeDefined();
    expect(hasSubsetted(body)).toBe(true);
  });

  it('_summary=false returns the whole resource, untagged', async () => {
    const body = (await read('?_summary=false')).json();
    expect(body).toEqual((await read()).json());
    expect(hasSubsetted(body)).toBe(false);
  });

  it('_summary=count on a read and unknown _summary values are 400', async () => {
    expect((await read('?_summary=count')).statusCode).toBe(400);
    expect((await read('?_summary=maybe')).statusCode).toBe(400);
  });

  it('_elements keeps the listed elements (plus id, meta and mandatory ones) and tags SUBSETTED', async () => {
    const body = (await read('?_elements=birthDate,gender')).json();
    expect(Object.keys(body).sort()).toEqual(['birthDate', 'gender', 'id', 'meta', 'resourceType']);
    expect(hasSubsetted(body)).toBe(true);
  });
});

describe('_summary and _elements on search', () => {
  it('_summary=count returns the total without entries', async () => {
    const response = await inject({ method: 'GET', url: '/fhir/Patient?_summary=count' });
    expect(response.statusCode, response.body).toBe(200);
    const bundle = response.json() as Bundle;
    expect(bundle.total).toBe(1);
    expect(bundle.entry ?? []).toHaveLength(0);
  });

  it('_summary=true and _elements shape every entry and tag it SUBSETTED', async () => {
    const summary = (await inject({ method: 'GET', url: '/fhir/Patient?_summary=true' })).json() as Bundle;
    const resource = summary.entry![0].resource as unknown as Record<string, unknown>;
    expect(resource.contact).toBeUndefined();
    expect(hasSubsetted(resource)).toBe(true);
    const elements = (await inject({ method: 'GET', url: '/fhir/Patient?_elements=gender' })).json() as Bundle;
    const shaped = elements.entry![0].resource as unknown as Record<string, unknown>;
    expect(Object.keys(shaped).sort()).toEqual(['gender', 'id', 'meta', 'resourceType']);
    expect(hasSubsetted(shaped)).toBe(true);
  });
});

/** The concrete R4 resource types, read from HL7's own StructureDefinitions (not from our artefact). */
function officialResourceTypes(): string[] {
  const folder = 'node_modules/hl7.fhir.r4.examples/';
  const types = new Set<string>();
  for (const file of readdirSync(folder)) {
    if (!file.startsWith('StructureDefinition-')) continue;
    const definition = JSON.parse(readFileSync(folder + file, 'utf8'));
    if (definition.kind === 'resource' && definition.derivation === 'specialization' && !definition.abstract) types.add(definition.type);
  }
  return [...types].sort();
}

describe('CapabilityStatement (GET /metadata)', () => {
  let capability: CapabilityStatement;
  beforeAll(async () => {
    const response = await inject({ method: 'GET', url: '/fhir/metadata' });
    expect(response.statusCode).toBe(200);
    capability = response.json();
  });

  it('describes an R4 server speaking JSON and XML, with every R4 resource type', () => {
    expect(capability.resourceType).toBe('CapabilityStatement');
    expect(capability.fhirVersion).toBe('4.0.1');
    expect(capability.kind).toBe('instance');
    expect(capability.format).toEqual(expect.arrayContaining(['application/fhir+json', 'json', 'application/fhir+xml', 'xml']));
    expect(capability.patchFormat).toContain('application/json-patch+json');
    const rest = capability.rest![0];
    expect(rest.mode).toBe('server');
    const listed = rest.resource!.map((r) => r.type).sort();
    expect(listed).toEqual(officialResourceTypes());
    expect(listed).toHaveLength(146);
  });

  it('every interaction listed on a type really answers, for every type that needs no required element', async () => {
    const patient = capability.rest![0].resource!.find((r) => r.type === 'Patient')!;
    const codes = patient.interaction!.map((i) => i.code).sort();
    expect(codes).toEqual(expect.arrayContaining(['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread']));
    const run: Record<string, () => Promise<number>> = {};
    let id = '';
    run.create = async () => {
      const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient' } });
      id = response.json().id;
      return response.statusCode;
    };
    run.read = async () => (await inject({ method: 'GET', url: `/fhir/Patient/${id}` })).statusCode;
    run.vread = async () => (await inject({ method: 'GET', url: `/fhir/Patient/${id}/_history/1` })).statusCode;
    run.update = async () => (await inject({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: FHIR_JSON, payload: { resourceType: 'Patient', id, active: true } })).statusCode;
    run.patch = async () =>
      (await inject({ method: 'PATCH', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/json-patch+json' }, payload: [{ op: 'add', path: '/active', value: false }] })).statusCode;
    run['history-instance'] = async () => (await inject({ method: 'GET', url: `/fhir/Patient/${id}/_history` })).statusCode;
    run['history-type'] = async () => (await inject({ method: 'GET', url: '/fhir/Patient/_history' })).statusCode;
    run['search-type'] = async () => (await inject({ method: 'GET', url: `/fhir/Patient?_id=${id}` })).statusCode;
    run.delete = async () => (await inject({ method: 'DELETE', url: `/fhir/Patient/${id}` })).statusCode;
    // create first, delete last; anything listed but not known here fails the test.
    const order = ['create', ...codes.filter((c) => c !== 'create' && c !== 'delete'), ...(codes.includes('delete') ? ['delete'] : [])];
    for (const code of order) {
      expect(run[code], `no check for listed interaction ${code}`).toBeDefined();
      const status = await run[code]();
      expect([200, 201, 204], code).toContain(status);
    }
  });

  it('every listed system interaction really answers', async () => {
    const codes = capability.rest![0].interaction!.map((i) => i.code);
    expect(codes).toEqual(expect.arrayContaining(['history-system', 'search-system']));
    const run: Record<string, () => Promise<number>> = {
      'history-system': async () => (await inject({ method: 'GET', url: '/fhir/_history' })).statusCode,
      'search-system': async () => (await inject({ method: 'GET', url: '/fhir?_type=Patient' })).statusCode,
      batch: async () => (await inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient?_count=1' } }] } })).statusCode,
      transaction: async () =>
        (await inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] } })).statusCode,
    };
    for (const code of codes) {
      expect(run[code], `no check for listed interaction ${code}`).toBeDefined();
      expect((await run[code]!()), code).toBe(200);
    }
  });

  it('every resource type really is routed: type search and type history answer 200', async () => {
    for (const resource of capability.rest![0].resource!) {
      const search = await inject({ method: 'GET', url: `/fhir/${resource.type}?_count=1` });
      expect(search.statusCode, `${resource.type} search: ${search.body}`).toBe(200);
      const history = await inject({ method: 'GET', url: `/fhir/${resource.type}/_history?_count=1` });
      expect(history.statusCode, resource.type).toBe(200);
    }
  });

  it('lists conditional support that the conditional tests exercise', () => {
    const patient = capability.rest![0].resource!.find((r) => r.type === 'Patient')!;
    expect(patient.conditionalCreate).toBe(true);
    expect(patient.conditionalUpdate).toBe(true);
    expect(patient.conditionalDelete).toBe('single');
    expect(patient.conditionalRead).toBe('full-support');
    expect(patient.updateCreate).toBe(true);
    expect(patient.versioning).toBe('versioned-update');
  });
});

describe('406 before any work', () => {
  it('a write asking for an unproducible format is refused and not committed', async () => {
    const before = (await inject({ method: 'GET', url: '/fhir/_history?_count=0' })).json().total;
    const create = await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...FHIR_JSON, accept: 'text/turtle' }, payload: { resourceType: 'Patient' } });
    expect(create.statusCode).toBe(406);
    const update = await inject({ method: 'PUT', url: '/fhir/Patient/not-written?_format=ttl', headers: FHIR_JSON, payload: { resourceType: 'Patient', id: 'not-written' } });
    expect(update.statusCode).toBe(406);
    expect((await inject({ method: 'GET', url: '/fhir/_history?_count=0' })).json().total).toBe(before);
    expect((await inject({ method: 'GET', url: '/fhir/Patient/not-written' })).statusCode).toBe(404);
  });
});
