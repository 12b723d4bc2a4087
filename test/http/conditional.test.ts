/**
 * Conditional create, update and delete (criteria on _id and identifier) and
 * If-Match optimistic locking, as the R4 http page describes them.
 */
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, STRUCTURE_ONLY, useTestServer } from '../helpers/test-server.js';

/** The idNatPs system (national health professional identifier, "8" + RPPS; FRENCH-CONVENTIONS.md). */
const RPPS = 'urn:oid:1.2.250.1.71.4.2.1';

const { inject } = useTestServer(STRUCTURE_ONLY);

let counter = 0;
/** A fresh identifier value per test, so tests do not see each other's resources. */
const freshRpps = () => `1000${Date.now() % 1_000_000}${++counter}`;

function practitioner(value: string, extra: Record<string, unknown> = {}) {
  return { resourceType: 'Practitioner', identifier: [{ system: RPPS, value }], ...extra };
}

async function systemHistoryTotal(): Promise<number> {
  return (await inject({ method: 'GET', url: '/fhir/_history?_count=0' })).json().total as number;
}

async function createPractitioner(value: string, extra: Record<string, unknown> = {}): Promise<string> {
  const response = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: FHIR_JSON, payload: practitioner(value, extra) });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().id as string;
}

describe('conditional create (If-None-Exist)', () => {
  it('creates when nothing matches (201)', async () => {
    const value = freshRpps();
    const response = await inject({
      method: 'POST',
      url: '/fhir/Practitioner',
      headers: { ...FHIR_JSON, 'if-none-exist': `identifier=${RPPS}|${value}` },
      payload: practitioner(value),
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.headers.location).toMatch(/\/Practitioner\/[^/]+\/_history\/1$/);
  });

  it('returns the one match (200, same id) and writes nothing', async () => {
    const value = freshRpps();
    const id = await createPractitioner(value);
    const before = await systemHistoryTotal();
    const response = await inject({
      method: 'POST',
      url: '/fhir/Practitioner',
      headers: { ...FHIR_JSON, 'if-none-exist': `identifier=${encodeURIComponent(`${RPPS}|${value}`)}` },
      payload: practitioner(value, { active: true }),
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json().id).toBe(id);
    expect(response.json().active).toBeUndefined();
    expect(response.headers.etag).toBe('W/"1"');
    expect(await systemHistoryTotal()).toBe(before);
  });

  it('also accepts the criteria written as a search URL (Type?... or absolute)', async () => {
    const value = freshRpps();
    const id = await createPractitioner(value);
    for (const criteria of [`Practitioner?identifier=${RPPS}|${value}`, `http://relais.test/fhir/Practitioner?identifier=${RPPS}|${value}`]) {
      const response = await inject({
        method: 'POST',
        url: '/fhir/Practitioner',
        headers: { ...FHIR_JSON, 'if-none-exist': criteria },
        payload: practitioner(value),
      });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().id).toBe(id);
    }
  });

  it('matches on _id too', async () => {
    const id = await createPractitioner(freshRpps());
    const response = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: { ...FHIR_JSON, 'if-none-exist': `_id=${id}` }, payload: practitioner(freshRpps()) });
    expect(response.statusCode).toBe(200);
    expect(response.json().id).toBe(id);
  });

  it('refuses when several match (412) and writes nothing', async () => {
    const value = freshRpps();
    await createPractitioner(value);
    await createPractitioner(value);
    const before = await systemHistoryTotal();
    const response = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: { ...FHIR_JSON, 'if-none-exist': `identifier=${RPPS}|${value}` }, payload: practitioner(value) });
    expect(response.statusCode).toBe(412);
    expect(response.json().resourceType).toBe('OperationOutcome');
    expect(await systemHistoryTotal()).toBe(before);
  });

  it('creates again once the earlier match was deleted', async () => {
    const value = freshRpps();
    const header = { ...FHIR_JSON, 'if-none-exist': `identifier=${RPPS}|${value}` };
    const first = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: header, payload: practitioner(value) });
    expect(first.statusCode).toBe(201);
    await inject({ method: 'DELETE', url: `/fhir/Practitioner/${first.json().id}` });
    const second = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: header, payload: practitioner(value) });
    expect(second.statusCode).toBe(201);
    expect(second.json().id).not.toBe(first.json().id);
  });

  it('refuses criteria that are empty or unknown (400)', async () => {
    for (const criteria of ['', '_count=1', 'not-a-parameter=1']) {
      const response = await inject({ method: 'POST', url: '/fhir/Practitioner', headers: { ...FHIR_JSON, 'if-none-exist': criteria }, payload: practitioner(freshRpps()) });
      expect(response.statusCode, criteria).toBe(400);
      expect(response.json().resourceType).toBe('OperationOutcome');
    }
  });
});

describe('conditional update (PUT [type]?criteria)', () => {
  it('creates when nothing matches (201), with the body id if it has one', async () => {
    const value = freshRpps();
    const created = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: FHIR_JSON, payload: practitioner(value) });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.headers.location).toBe(`http://relais.test/fhir/Practitioner/${created.json().id}/_history/1`);
    const other = freshRpps();
    const withId = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${other}`, headers: FHIR_JSON, payload: { ...practitioner(other), id: 'cond-upd-client-id' } });
    expect(withId.statusCode).toBe(201);
    expect(withId.json().id).toBe('cond-upd-client-id');
  });

  it('updates the one match (200, version 2), with or without the matching id in the body', async () => {
    const value = freshRpps();
    const id = await createPractitioner(value);
    const first = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: FHIR_JSON, payload: practitioner(value, { active: true }) });
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ id, active: true, meta: { versionId: '2' } });
    const second = await inject({ method: 'PUT', url: `/fhir/Practitioner?_id=${id}`, headers: FHIR_JSON, payload: { ...practitioner(value, { active: false }), id } });
    expect(second.statusCode).toBe(200);
    expect(second.json().meta.versionId).toBe('3');
  });

  it('refuses a body id that differs from the match (400) and several matches (412)', async () => {
    const value = freshRpps();
    const id = await createPractitioner(value);
    const mismatch = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: FHIR_JSON, payload: { ...practitioner(value), id: 'someone-else' } });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().resourceType).toBe('OperationOutcome');
    await createPractitioner(value);
    const many = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: FHIR_JSON, payload: practitioner(value) });
    expect(many.statusCode).toBe(412);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).json().meta.versionId).toBe('1');
  });

  it('honours If-Match on the matched resource', async () => {
    const value = freshRpps();
    await createPractitioner(value);
    const stale = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: { ...FHIR_JSON, 'if-match': 'W/"4"' }, payload: practitioner(value) });
    expect(stale.statusCode).toBe(412);
    const fresh = await inject({ method: 'PUT', url: `/fhir/Practitioner?identifier=${RPPS}|${value}`, headers: { ...FHIR_JSON, 'if-match': 'W/"1"' }, payload: practitioner(value) });
    expect(fresh.statusCode).toBe(200);
  });
});

describe('conditional delete (DELETE [type]?criteria)', () => {
  it('deletes the one match, answers 204 when none match, refuses several (412)', async () => {
    const value = freshRpps();
    const id = await createPractitioner(value);
    const one = await inject({ method: 'DELETE', url: `/fhir/Practitioner?identifier=${RPPS}|${value}` });
    expect(one.statusCode).toBe(204);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).statusCode).toBe(410);
    const none = await inject({ method: 'DELETE', url: `/fhir/Practitioner?identifier=${RPPS}|${value}` });
    expect(none.statusCode).toBe(204);
    const other = freshRpps();
    const a = await createPractitioner(other);
    const b = await createPractitioner(other);
    const many = await inject({ method: 'DELETE', url: `/fhir/Practitioner?identifier=${RPPS}|${other}` });
    expect(many.statusCode).toBe(412);
    expect(many.json().resourceType).toBe('OperationOutcome');
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${a}` })).statusCode).toBe(200);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${b}` })).statusCode).toBe(200);
  });

  it('deletes by _id', async () => {
    const id = await createPractitioner(freshRpps());
    expect((await inject({ method: 'DELETE', url: `/fhir/Practitioner?_id=${id}` })).statusCode).toBe(204);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).statusCode).toBe(410);
  });

  it('refuses a conditional delete without criteria (400), never deleting everything', async () => {
    const id = await createPractitioner(freshRpps());
    const response = await inject({ method: 'DELETE', url: '/fhir/Practitioner' });
    expect(response.statusCode).toBe(400);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).statusCode).toBe(200);
  });
});

describe('If-Match', () => {
  it('updates when the version is current, 412 when stale, 400 when malformed', async () => {
    const id = await createPractitioner(freshRpps());
    const ok = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': 'W/"1"' }, payload: { resourceType: 'Practitioner', id, active: true } });
    expect(ok.statusCode).toBe(200);
    const stale = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': 'W/"1"' }, payload: { resourceType: 'Practitioner', id, active: false } });
    expect(stale.statusCode).toBe(412);
    expect(stale.json().resourceType).toBe('OperationOutcome');
    for (const malformed of ['1', 'W/1', '"abc"', 'W/"0"']) {
      const response = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': malformed }, payload: { resourceType: 'Practitioner', id } });
      expect(response.statusCode, malformed).toBe(400);
    }
    const current = (await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).json();
    expect(current).toMatchObject({ active: true, meta: { versionId: '2' } });
  });

  it('applies to patch and delete too', async () => {
    const id = await createPractitioner(freshRpps());
    const patch = [{ op: 'add', path: '/active', value: true }];
    const stalePatch = await inject({ method: 'PATCH', url: `/fhir/Practitioner/${id}`, headers: { 'content-type': 'application/json-patch+json', 'if-match': 'W/"2"' }, payload: patch });
    expect(stalePatch.statusCode).toBe(412);
    const staleDelete = await inject({ method: 'DELETE', url: `/fhir/Practitioner/${id}`, headers: { 'if-match': 'W/"2"' } });
    expect(staleDelete.statusCode).toBe(412);
    expect((await inject({ method: 'GET', url: `/fhir/Practitioner/${id}` })).statusCode).toBe(200);
    const goodDelete = await inject({ method: 'DELETE', url: `/fhir/Practitioner/${id}`, headers: { 'if-match': 'W/"1"' } });
    expect(goodDelete.statusCode).toBe(204);
  });

  it('"*" means any current version (RFC 9110): updates, patches and deletes what exists, 412 where nothing does', async () => {
    const id = await createPractitioner(freshRpps());
    const put = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': '*' }, payload: { resourceType: 'Practitioner', id, active: true } });
    expect(put.statusCode).toBe(200);
    expect(put.headers.etag).toBe('W/"2"');
    const patched = await inject({ method: 'PATCH', url: `/fhir/Practitioner/${id}`, headers: { 'content-type': 'application/json-patch+json', 'if-match': '*' }, payload: [{ op: 'replace', path: '/active', value: false }] });
    expect(patched.statusCode).toBe(200);
    const absent = await inject({ method: 'PUT', url: '/fhir/Practitioner/if-match-star-absent', headers: { ...FHIR_JSON, 'if-match': '*' }, payload: { resourceType: 'Practitioner', id: 'if-match-star-absent' } });
    expect(absent.statusCode).toBe(412);
    expect((await inject({ method: 'GET', url: '/fhir/Practitioner/if-match-star-absent' })).statusCode).toBe(404);
    expect((await inject({ method: 'DELETE', url: `/fhir/Practitioner/${id}`, headers: { 'if-match': '*' } })).statusCode).toBe(204);
    expect((await inject({ method: 'DELETE', url: `/fhir/Practitioner/${id}`, headers: { 'if-match': '*' } })).statusCode).toBe(412);
  });

  it('a list of ETags is satisfied by any of them, and 412 when none is current', async () => {
    const id = await createPractitioner(freshRpps());
    const none = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': 'W/"2", W/"3"' }, payload: { resourceType: 'Practitioner', id, active: true } });
    expect(none.statusCode).toBe(412);
    expect(none.json().issue[0].diagnostics).toContain('one of 2, 3');
    const one = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': 'W/"3", W/"1"' }, payload: { resourceType: 'Practitioner', id, active: true } });
    expect(one.statusCode).toBe(200);
    expect(one.headers.etag).toBe('W/"2"');
    const malformed = await inject({ method: 'PUT', url: `/fhir/Practitioner/${id}`, headers: { ...FHIR_JSON, 'if-match': 'W/"2", junk' }, payload: { resourceType: 'Practitioner', id } });
    expect(malformed.statusCode).toBe(400);
  });

  it('"*" in a transaction entry: the write happens when the resource exists, the transaction fails when not', async () => {
    const id = await createPractitioner(freshRpps());
    const entry = (target: string) => ({ resource: { resourceType: 'Practitioner', id: target, active: true }, request: { method: 'PUT', url: `Practitioner/${target}`, ifMatch: '*' } });
    const ok = await inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: { resourceType: 'Bundle', type: 'transaction', entry: [entry(id)] } });
    expect(ok.statusCode, ok.body).toBe(200);
    expect(ok.json().entry[0].response.etag).toBe('W/"2"');
    const failed = await inject({ method: 'POST', url: '/fhir', headers: FHIR_JSON, payload: { resourceType: 'Bundle', type: 'transaction', entry: [entry('if-match-star-txn')] } });
    expect(failed.statusCode).toBe(412);
    expect((await inject({ method: 'GET', url: '/fhir/Practitioner/if-match-star-txn' })).statusCode).toBe(404);
  });

  it('If-Match on an update of an absent resource is a 412 (nothing to match)', async () => {
    const response = await inject({ method: 'PUT', url: '/fhir/Practitioner/if-match-absent', headers: { ...FHIR_JSON, 'if-match': 'W/"1"' }, payload: { resourceType: 'Practitioner', id: 'if-match-absent' } });
    expect(response.statusCode).toBe(412);
    expect((await inject({ method: 'GET', url: '/fhir/Practitioner/if-match-absent' })).statusCode).toBe(404);
  });
});
