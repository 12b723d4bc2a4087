/**
 * Member-path SearchParameter expressions are evaluated directly
 * (src/search/simple-path.ts, issue 17) and must index exactly what
 * fhirpath.js indexes: compared on the official R4 examples (every
 * STRIDE-th file, for time; all of them with STRIDE=1) and on the
 * AuditEvents the server writes for every access.
 */
import type { Resource } from 'fhir/r4';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAuditEvent } from '../../src/audit/audit-event.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { IndexExtractor } from '../../src/search/index-extractor.js';
import { SearchParameterRegistry } from '../../src/search/search-parameters.js';
import { compileSimplePath } from '../../src/search/simple-path.js';

const definitions = loadDefinitions();
const registry = new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes);
const baseUrl = 'http://relais.test/fhir';
const direct = new IndexExtractor(registry, { baseUrl });
const byFhirPath = new IndexExtractor(registry, { baseUrl, simplePaths: false });
const STRIDE = Number(process.env.STRIDE ?? 8);

describe('direct evaluation of member paths', () => {
  it('indexes every official R4 example as fhirpath.js does', () => {
    const folder = 'node_modules/hl7.fhir.r4.examples/';
    const files = readdirSync(folder).filter((f) => f.endsWith('.json') && !f.startsWith('package')).sort();
    let compared = 0;
    for (const [i, file] of files.entries()) {
      if (i % STRIDE !== 0) continue;
      const resource = JSON.parse(readFileSync(folder + file, 'utf8')) as Resource;
      if (!resource.resourceType || !definitions.resourceTypes.includes(resource.resourceType)) continue;
      expect(direct.extract(resource), file).toEqual(byFhirPath.extract(resource));
      compared++;
    }
    expect(compared).toBeGreaterThan(4000 / STRIDE);
  }, 60_000);

  it('indexes the AuditEvents of reads, searches, refusals and break-the-glass as fhirpath.js does', () => {
    const nurse = { kind: 'practitioner', role: 'nurse', subject: 'n-1', rpps: '10000000077', name: 'Inf. Martin' } as never;
    const records = [
      { principal: nurse, interaction: 'read', resourceType: 'Patient', id: 'p1', versionId: '3', patients: ['p1'], outcome: 'success', clientAddress: '127.0.0.1', requestId: 'req-1' },
      { principal: nurse, interaction: 'search-type', resourceType: 'Observation', patients: ['p1', 'p2'], outcome: 'success', query: 'subject=Patient/p1' },
      { principal: nurse, interaction: 'read', resourceType: 'Observation', id: 'o1', patients: ['p1'], outcome: 'denied', outcomeDetail: 'no-consent', breakTheGlass: { reason: 'urgence' } },
      { server: { reason: 'seeding' }, interaction: 'create', resourceType: 'Task', id: 't1', patients: [], outcome: 'success', onBehalfOf: [{ reference: 'Practitioner/pr-1', display: 'Dr X' }] },
    ] as const;
    for (const record of records) {
      const event = { ...buildAuditEvent(record as never, 'Relais'), id: 'a1', meta: { versionId: '1', lastUpdated: '2026-12-07T01:00:00Z' } } as Resource;
      const entries = direct.extract(event);
      expect(entries).toEqual(byFhirPath.extract(event));
      expect(Object.keys(entries)).toEqual(expect.arrayContaining(['date', 'subtype', 'outcome', 'type', 'action', ...(record.patients.length > 0 ? ['patient', 'entity'] : [])]));
    }
  });

  it('leaves to fhirpath.js what is not a member path of the type', () => {
    expect(compileSimplePath('Observation', 'Observation.value')).toBeUndefined(); // a choice element
    expect(compileSimplePath('Observation', "Observation.code.coding.where(system = 'x')")).toBeUndefined();
    expect(compileSimplePath('Bundle', 'Bundle.entry.resource')).toBeUndefined(); // a resource inside a resource
    expect(compileSimplePath('Patient', 'Observation.subject')).toBeUndefined();
    expect(compileSimplePath('Patient', 'Patient.birthDate.extension')).toBeUndefined(); // a primitive's members are under _birthDate
    expect(compileSimplePath('Patient', 'Patient.name | Patient.address')).toBeTypeOf('function');
  });
});
