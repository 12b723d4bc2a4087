/**
 * Values a hostile client could store and other clients would then follow or
 * choke on (issue 18, "Dangerous values stored"): references with a scheme
 * other than relative, http(s), urn:uuid, urn:oid or #id; ids "." and ".."
 * (allowed by R4's regex, meaningless as URL segments); NUL and the other C0
 * control characters in strings (R4 string rule: only tab, CR and LF).
 * Each is refused with a 4xx OperationOutcome naming the element, and nothing
 * is stored.
 */
import { describe, expect, it } from 'vitest';
import { FHIR_JSON, useTestServer } from '../helpers/test-server.js';

type Outcome = { resourceType: string; issue: Array<{ severity: string; expression?: string[]; diagnostics?: string }> };

describe('dangerous values are refused on write', () => {
  const { inject } = useTestServer();

  const refused = async (resource: object, element: string, method: 'POST' | 'PUT' = 'POST', url = `/fhir/${(resource as { resourceType: string }).resourceType}`) => {
    const res = await inject({ method, url, headers: FHIR_JSON, payload: resource });
    expect([400, 422], res.body).toContain(res.statusCode);
    const outcome = res.json() as Outcome;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue.filter((i) => i.severity === 'error').flatMap((i) => i.expression ?? [])).toContain(element);
  };

  for (const reference of ['javascript:alert(1)', 'JavaScript:alert(document.cookie)', 'vbscript:msgbox(1)', 'data:text/html;base64,PHNjcmlwdD4=', 'file:///etc/passwd', 'ftp://example.org/x']) {
    it(`Reference.reference '${reference}' is refused`, async () => {
      await refused({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference } }, 'Observation.subject.reference');
    });
  }

  it('relative, http(s), urn:uuid, urn:oid and #id references are accepted', async () => {
    for (const reference of ['Patient/p1', 'Patient/p1/_history/2', 'http://example.org/fhir/Patient/p1', 'https://example.org/fhir/Patient/p1', 'urn:oid:1.2.250.1.71.4.2.2', 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e5f']) {
      const res = await inject({ method: 'POST', url: '/fhir/Observation', headers: FHIR_JSON, payload: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference } } });
      expect(res.statusCode, `${reference}: ${res.body}`).toBe(201);
    }
  });

  it("ids '.' and '..' are refused in the body, in the URL and in transaction entries", async () => {
    // The router normalises /Patient/.. (even percent-encoded) to /fhir, where PUT is a 405: refused either way.
    for (const url of ['/fhir/Patient/..', '/fhir/Patient/%2E%2E', '/fhir/Patient/%2E']) {
      const res = await inject({ method: 'PUT', url, headers: FHIR_JSON, payload: { resourceType: 'Patient', id: url.endsWith('%2E') ? '.' : '..' } });
      expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, url).toBeLessThan(500);
    }
    const transaction = await inject({
      method: 'POST',
      url: '/fhir',
      headers: FHIR_JSON,
      payload: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient', id: '..' }, request: { method: 'PUT', url: 'Patient/..' } }] },
    });
    expect(transaction.statusCode, transaction.body).toBe(400);
    const validated = await inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: FHIR_JSON, payload: { resourceType: 'Patient', id: '..' } });
    expect((validated.json() as Outcome).issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['Patient.id'] }));
    expect((await inject({ method: 'GET', url: '/fhir/Patient/_history' })).json().total).toBe(0);
  });

  it("references to the ids '.' and '..' are refused", async () => {
    await refused({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/..' } }, 'Observation.subject.reference');
  });

  it('ids that merely contain dots stay valid', async () => {
    const res = await inject({ method: 'PUT', url: '/fhir/Patient/a.b', headers: FHIR_JSON, payload: { resourceType: 'Patient', id: 'a.b' } });
    expect(res.statusCode, res.body).toBe(201);
  });

  for (const [name, char] of [['NUL', '\u0000'], ['BEL', '\u0007'], ['ESC', '\u001b'], ['vertical tab', '\u000b']] as const) {
    it(`a ${name} character in a string is refused`, async () => {
      await refused({ resourceType: 'Patient', name: [{ family: `Dur${char}and` }] }, 'Patient.name[0].family');
    });
  }

  it('a control character in a code or a uri is refused too', async () => {
    await refused({ resourceType: 'Patient', gender: 'female\u0000' }, 'Patient.gender');
    await refused({ resourceType: 'Patient', identifier: [{ system: 'urn:oid:1.2\u0001', value: '1' }] }, 'Patient.identifier[0].system');
  });

  it('tab, carriage return and line feed stay allowed', async () => {
    const res = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: { resourceType: 'Patient', name: [{ text: 'Alice\tDurand\r\nnée Martin' }] } });
    expect(res.statusCode, res.body).toBe(201);
  });
});
