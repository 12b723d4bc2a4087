/**
 * A search asked again word for word is answered from a kept parse (src/search/search-query-cache.ts:
 * kept the second time its text is seen, deep-frozen). Whatever reads that parse afterwards — paging,
 * sorting, includes, element selection, totals, the stores — must only read it: a reader that changed
 * it would throw on the frozen parse, a 500 on the third identical request. Each search here is asked
 * three times and must answer the same each time.
 */
import type { Bundle } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

const { inject } = useTestServer();

async function create(resource: object): Promise<string> {
  const response = await inject({ method: 'POST', url: `/fhir/${(resource as { resourceType: string }).resourceType}`, headers: FHIR_JSON, payload: JSON.stringify(resource) });
  expect(response.statusCode).toBe(201);
  return (response.json() as { id: string }).id;
}

/** What a client relies on in an answer: status, matches in order, included resources, total, issues. */
function gist(body: Bundle & { issue?: unknown[] }): unknown {
  if (body.resourceType !== 'Bundle') return body;
  return { total: body.total, entries: (body.entry ?? []).map((e) => [e.search?.mode, e.resource?.resourceType, e.resource?.id, Object.keys(e.resource ?? {}).sort().join(',')]), links: (body.link ?? []).map((l) => l.relation) };
}

describe('a search repeated word for word', () => {
  it('answers the third time as the first, for every kind of search a parse can be kept for', async () => {
    const patient = await create({ resourceType: 'Patient', name: [{ family: 'Répétée', given: ['Anne'] }], gender: 'female', birthDate: '1950-03-04' });
    const other = await create({ resourceType: 'Patient', name: [{ family: 'Répété', given: ['Paul'] }], gender: 'male', birthDate: '1948-01-02' });
    for (const [i, value] of [70.5, 71, 69.8].entries()) {
      await create({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: `Patient/${i === 2 ? other : patient}` }, effectiveDateTime: `2026-0${i + 1}-10`, valueQuantity: { value, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } });
    }
    const searches = [
      '/fhir/Patient?name=rep&_sort=-birthdate,family&_count=1',
      '/fhir/Patient?family:exact=Répétée&_elements=name,gender',
      '/fhir/Patient?gender:not=male&_summary=true&_total=accurate',
      '/fhir/Patient?birthdate=ge1949&_summary=count',
      '/fhir/Patient?_id=' + patient + '&_revinclude=Observation:subject',
      '/fhir/Observation?code=http://loinc.org|29463-7&_sort=-date&_include=Observation:subject&_count=2',
      '/fhir/Observation?value-quantity=gt70|http://unitsofmeasure.org|kg&date=ge2026-01-01&date=lt2026-12-31',
      '/fhir/Observation?subject:missing=false&_lastUpdated=gt2020-01-01&_total=accurate',
      '/fhir?_type=Patient,Observation&_count=3&_sort=_lastUpdated',
      '/fhir/Patient?name=rep&unknown-parameter=1',
    ];
    for (const url of searches) {
      const answers: unknown[] = [];
      for (let round = 0; round < 3; round++) {
        const response = await inject({ method: 'GET', url });
        expect(response.statusCode, `${url} (round ${round + 1})`).toBe(200);
        answers.push(gist(response.json()));
      }
      expect(answers[1], url).toEqual(answers[0]);
      expect(answers[2], url).toEqual(answers[0]);
    }
    // A next page followed three times (its link's text repeats too).
    const first = (await inject({ method: 'GET', url: '/fhir/Patient?name=rep&_count=1' })).json() as Bundle;
    const next = new URL(first.link!.find((l) => l.relation === 'next')!.url);
    for (let round = 0; round < 3; round++) expect((await inject({ method: 'GET', url: `${next.pathname}${next.search}` })).statusCode).toBe(200);
  });
});
