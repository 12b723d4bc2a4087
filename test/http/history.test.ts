/**
 * history at instance, type and system level (R4 http page, "history"):
 * newest first, deletions as DELETE entries, _since (at or after), and paging
 * links that stay stable while other clients write.
 */
import type { Bundle } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, STRUCTURE_ONLY, useTestServer } from '../helpers/test-server.js';

const BASE = 'http://relais.test/fhir';

const { inject } = useTestServer(STRUCTURE_ONLY);

async function getBundle(url: string): Promise<Bundle> {
  const response = await inject({ method: 'GET', url: url.startsWith(BASE) ? `/fhir${url.slice(BASE.length)}` : url });
  expect(response.statusCode, response.body).toBe(200);
  const bundle = response.json() as Bundle;
  expect(bundle.resourceType).toBe('Bundle');
  expect(bundle.type).toBe('history');
  return bundle;
}

async function create(resourceType: string, body: Record<string, unknown> = {}): Promise<string> {
  const response = await inject({ method: 'POST', url: `/fhir/${resourceType}`, headers: FHIR_JSON, payload: { resourceType, ...body } });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

async function update(resourceType: string, id: string, body: Record<string, unknown> = {}): Promise<void> {
  const response = await inject({ method: 'PUT', url: `/fhir/${resourceType}/${id}`, headers: FHIR_JSON, payload: { resourceType, id, ...body } });
  expect(response.statusCode, response.body).toBe(200);
}

const keyOf = (entry: NonNullable<Bundle['entry']>[number]) => `${entry.fullUrl}|${entry.response?.etag}`;

describe('instance history', () => {
  it('lists every version newest first, the deletion as a DELETE entry without resource', async () => {
    const id = await create('Patient', { active: true });
    await update('Patient', id, { active: false });
    expect((await inject({ method: 'DELETE', url: `/fhir/Patient/${id}` })).statusCode).toBe(204);
    const bundle = await getBundle(`/fhir/Patient/${id}/_history`);
    expect(bundle.total).toBe(3);
    const entries = bundle.entry!;
    expect(entries.map((e) => e.response?.etag)).toEqual(['W/"3"', 'W/"2"', 'W/"1"']);
    expect(entries[0].request).toEqual({ method: 'DELETE', url: `Patient/${id}` });
    expect(entries[0].resource).toBeUndefined();
    expect(entries[1].request?.method).toBe('PUT');
    expect(entries[1].resource).toMatchObject({ resourceType: 'Patient', id, active: false, meta: { versionId: '2' } });
    expect(entries[2].request?.method).toBe('POST');
    expect(entries[2].resource).toMatchObject({ active: true, meta: { versionId: '1' } });
    for (const entry of entries) expect(entry.fullUrl).toBe(`${BASE}/Patient/${id}`);
    // Each entry carries its commit instant, newest first.
    const instants = entries.map((e) => e.response!.lastModified!);
    expect([...instants].sort().reverse()).toEqual(instants);
  });

  it('answers 404 for an unknown id and for an unknown type', async () => {
    expect((await inject({ method: 'GET', url: '/fhir/Patient/nobody/_history' })).statusCode).toBe(404);
    const unknownType = await inject({ method: 'GET', url: '/fhir/Nonsense/_history' });
    expect(unknownType.statusCode).toBe(404);
    expect(unknownType.json().resourceType).toBe('OperationOutcome');
  });
});

describe('type and system history', () => {
  it('type history holds only that type, newest first; system history holds all types', async () => {
    const organization = await create('Organization', { name: 'SSIAD du Val' });
    const device = await create('Device');
    await update('Organization', organization, { name: 'SSIAD du Val (Nord)' });
    const typeBundle = await getBundle('/fhir/Organization/_history');
    expect(typeBundle.entry!.every((e) => e.fullUrl!.startsWith(`${BASE}/Organization/`))).toBe(true);
    expect(typeBundle.entry!.slice(0, 2).map(keyOf)).toEqual([`${BASE}/Organization/${organization}|W/"2"`, `${BASE}/Organization/${organization}|W/"1"`]);
    const systemBundle = await getBundle('/fhir/_history');
    expect(systemBundle.entry!.slice(0, 3).map(keyOf)).toEqual([
      `${BASE}/Organization/${organization}|W/"2"`,
      `${BASE}/Device/${device}|W/"1"`,
      `${BASE}/Organization/${organization}|W/"1"`,
    ]);
    expect(systemBundle.total).toBeGreaterThanOrEqual(3);
  });

  it('_since keeps the versions committed at or after the instant', async () => {
    const first = await create('Practitioner');
    const second = await create('Practitioner');
    const secondInstant = (await inject({ method: 'GET', url: `/fhir/Practitioner/${second}` })).json().meta.lastUpdated as string;
    await update('Practitioner', first, { active: true });
    const bundle = await getBundle(`/fhir/Practitioner/_history?_since=${encodeURIComponent(secondInstant)}`);
    expect(bundle.entry!.map(keyOf)).toEqual([`${BASE}/Practitioner/${first}|W/"2"`, `${BASE}/Practitioner/${second}|W/"1"`]);
    const future = await getBundle(`/fhir/Practitioner/_history?_since=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`);
    expect(future.total).toBe(0);
    expect(future.entry ?? []).toEqual([]);
    // HAPI's client sends the offset's '+' unescaped (query decoding makes it a space): the same
    // instant written at +01:00 must select the same versions, not fail or shift by the offset.
    const atPlusOne = new Date(Date.parse(secondInstant) + 3_600_000).toISOString().replace('Z', '+01:00');
    const unescaped = await getBundle(`/fhir/Practitioner/_history?_since=${atPlusOne}`);
    expect(unescaped.entry!.map(keyOf)).toEqual(bundle.entry!.map(keyOf));
    const bad = await inject({ method: 'GET', url: '/fhir/Practitioner/_history?_since=yesterday' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().resourceType).toBe('OperationOutcome');
  });
});

describe('system history with _type', () => {
  it('keeps only the listed types, in its links too; an unknown type is refused', async () => {
    const device = await create('Device');
    const medication = await create('Medication');
    await create('Person');
    await update('Device', device, { manufacturer: 'Acme' });
    const bundle = await getBundle('/fhir/_history?_type=Device,Medication&_count=2');
    expect(new Set(bundle.entry!.map((e) => e.fullUrl!.split('/')[4]))).toEqual(new Set(['Device', 'Medication']));
    expect(bundle.entry!.map(keyOf)).toEqual([`${BASE}/Device/${device}|W/"2"`, `${BASE}/Medication/${medication}|W/"1"`]);
    const all = await getBundle('/fhir/_history?_type=Device,Medication&_count=1000');
    expect(bundle.total).toBe(all.entry!.length);
    expect(all.entry!.every((e) => /\/(Device|Medication)\//.test(e.fullUrl!))).toBe(true);
    const next = bundle.link!.find((l) => l.relation === 'next')!.url;
    expect(new URL(next).searchParams.get('_type')).toBe('Device,Medication');
    expect((await getBundle(next)).entry!.every((e) => /\/(Device|Medication)\//.test(e.fullUrl!))).toBe(true);
    const unknown = await inject({ method: 'GET', url: '/fhir/_history?_type=Nonsense' });
    expect(unknown.statusCode).toBeGreaterThanOrEqual(400);
    expect(unknown.statusCode).toBeLessThan(500);
    expect(unknown.json().resourceType).toBe('OperationOutcome');
  });
});

describe('paging', () => {
  it('walks next links to the end with no duplicate and no gap, even when writes happen between pages', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push(await create('Location', { name: `Antenne ${i}` }));
    for (const id of ids.slice(0, 4)) await update('Location', id, { name: 'renamed' });
    const expected = (await getBundle('/fhir/Location/_history?_count=1000')).entry!.map(keyOf);
    expect(expected).toHaveLength(11);

    const seen: string[] = [];
    let page = await getBundle('/fhir/Location/_history?_count=3');
    let pages = 0;
    for (;;) {
      pages++;
      expect(page.total).toBe(11);
      expect(page.entry!.length).toBeLessThanOrEqual(3);
      seen.push(...page.entry!.map(keyOf));
      // Another client writes while this one pages: the walk must not shift.
      await create('Location', { name: `during page ${pages}` });
      await update('Location', ids[pages % ids.length], { name: `edit ${pages}` });
      const next = page.link?.find((l) => l.relation === 'next');
      if (!next) break;
      page = await getBundle(next.url);
      expect(page.link?.find((l) => l.relation === 'previous')).toBeDefined();
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(expected);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rejects a malformed _count', async () => {
    expect((await inject({ method: 'GET', url: '/fhir/_history?_count=-1' })).statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: '/fhir/_history?_count=many' })).statusCode).toBe(400);
  });
});
