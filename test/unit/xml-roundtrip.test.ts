/**
 * The FHIR XML converter (src/fhir/xml/): JSON → XML → JSON returns the same
 * resource for the official R4 examples, and the XML it writes follows the R4
 * XML page (definition order, value attributes, primitive extensions, resource
 * containers, XHTML narrative, no empty elements).
 *
 * The examples here are a deterministic sample (every 8th file by name, ~660
 * resources, a few seconds); `npx tsx scripts/xml-roundtrip.ts` checks all 5,306
 * (about a minute: a few bundles hold hundreds of resources).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { FhirXml } from '../../src/fhir/xml/fhir-xml.js';

const xml = new FhirXml(loadDefinitions());
const folder = 'node_modules/hl7.fhir.r4.examples/';
const SAMPLE_EVERY = 8;

describe('round trip over the official R4 examples', () => {
  const files = readdirSync(folder)
    .filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.'))
    .sort()
    .filter((_, i) => i % SAMPLE_EVERY === 0);

  it(`JSON → XML → JSON is unchanged for every ${SAMPLE_EVERY}th example`, () => {
    expect(files.length).toBeGreaterThan(600);
    const failures: string[] = [];
    for (const file of files) {
      const resource = JSON.parse(readFileSync(folder + file, 'utf8'));
      if (typeof resource.resourceType !== 'string') continue;
      const text = xml.write(resource);
      let back: unknown;
      try {
        back = xml.read(text);
      } catch (error) {
        failures.push(`${file}: ${(error as Error).message}`);
        continue;
      }
      if (JSON.stringify(sortKeys(back)) !== JSON.stringify(sortKeys(resource))) failures.push(file);
    }
    expect(failures).toEqual([]);
  }, 180_000); // ~5 s alone; a loaded 2-core machine (parallel suites) needed over 30 s
});

/** Key order is not significant in JSON; compare with keys sorted. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}

describe('the XML written', () => {
  it('follows the definition order whatever the JSON key order, with value attributes and element ids as attributes', () => {
    const text = xml.write({ gender: 'female', name: [{ given: ['Jeanne'], family: 'Martin', id: 'n1' }], id: 'p1', resourceType: 'Patient', active: true });
    expect(text).toBe(
      '<?xml version="1.0" encoding="UTF-8"?><Patient xmlns="http://hl7.org/fhir"><id value="p1"/><active value="true"/><name id="n1"><family value="Martin"/><given value="Jeanne"/></name><gender value="female"/></Patient>',
    );
  });

  it('writes primitive extensions and ids inside the primitive, and keeps null slots of primitive arrays', () => {
    const patient = {
      resourceType: 'Patient',
      name: [{ given: ['Jeanne', null], _given: [null, { id: 'g2', extension: [{ url: 'http://example.org/initial', valueString: 'M' }] }] }],
    };
    const text = xml.write(patient);
    expect(text).toContain('<given value="Jeanne"/><given id="g2"><extension url="http://example.org/initial"><valueString value="M"/></extension></given>');
    expect(xml.read(text)).toEqual(patient);
  });

  it('puts resources inside their containers and leaves out empty elements', () => {
    const bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', contained: [{ resourceType: 'Organization', id: 'o' }], managingOrganization: { reference: '#o' } } }, { fullUrl: 'urn:x', search: {} }],
      link: [],
    };
    const text = xml.write(bundle);
    expect(text).toContain('<entry><resource><Patient><contained><Organization><id value="o"/></Organization></contained><managingOrganization><reference value="#o"/></managingOrganization></Patient></resource></entry>');
    expect(text).toContain('<entry><fullUrl value="urn:x"/></entry>');
    expect(text).not.toContain('<search');
    expect(text).not.toContain('<link');
  });

  it('keeps text exactly: quotes, markup characters, line breaks, tabs and carriage returns in attributes; numbers as JavaScript reads them', () => {
    const observation = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'a "quoted" <b> & \'x\'\n\tsecond line\r\nthird' },
      valueQuantity: { value: 0.0000001, unit: 'mg' },
      referenceRange: [{ low: { value: 12345678901234 }, high: { value: -1.5 } }],
    };
    const text = xml.write(observation);
    expect(text).toContain('&quot;quoted&quot; &lt;b&gt; &amp;');
    expect(text).toContain('<value value="1e-7"/>');
    expect(xml.read(text)).toEqual(observation);
  });

  it('copies a well-formed narrative as XHTML, and writes any other narrative as escaped text so the document stays well-formed', () => {
    const good = { resourceType: 'Basic', code: { text: 'x' }, text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml"><p>A<br/>B</p></div>' } };
    expect(xml.write(good)).toContain('<div xmlns="http://www.w3.org/1999/xhtml"><p>A<br/>B</p></div>');
    expect(xml.read(xml.write(good))).toEqual(good);
    const noNamespace = { ...good, text: { status: 'generated', div: '<div><p>A</p></div>' } };
    expect(xml.write(noNamespace)).toContain('<div xmlns="http://www.w3.org/1999/xhtml"><p>A</p></div>');
    const htmlEntity = { ...good, text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">A&nbsp;B</div>' } };
    const written = xml.write(htmlEntity);
    expect(written).toContain('&lt;div xmlns=');
    expect(() => xml.read(written)).not.toThrow();
  });
});

describe('the XML read', () => {
  it('types numbers and booleans from their text, and leaves malformed ones as text for the validator to report', () => {
    const read = xml.read(
      '<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="t"/></code><valueQuantity><value value="1.50"/></valueQuantity><component><code><text value="c"/></code><valueBoolean value="maybe"/></component></Observation>',
    );
    expect(read).toMatchObject({ valueQuantity: { value: 1.5 }, component: [{ valueBoolean: 'maybe' }] });
  });

  it('carries unknown elements over (for the validator to name) and ignores comments, declarations and xsi attributes', () => {
    const read = xml.read(
      '<?xml version="1.0" encoding="utf-8"?><!-- note --><Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://hl7.org/fhir patient.xsd"><colour value="blue"/><active value="true"/></Patient>',
    );
    expect(read).toEqual({ resourceType: 'Patient', colour: ['blue'], active: true });
  });

  it('normalises literal line breaks inside attribute values to spaces, as XML does, and decodes character references', () => {
    const read = xml.read('<Patient xmlns="http://hl7.org/fhir"><name><text value="a\nb&#10;c&#x1F600;"/></name></Patient>');
    expect(read).toEqual({ resourceType: 'Patient', name: [{ text: 'a b\nc😀' }] });
  });
});
