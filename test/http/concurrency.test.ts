/**
 * The two concurrency properties of the foundation issue, through app.inject()
 * and over a real TCP port (fetch, so requests really overlap in the server):
 * - 50 simultaneous identical If-None-Exist creates make exactly one resource;
 *   the other 49 answer 200 with that resource's id;
 * - 20 simultaneous updates carrying the same If-Match version: exactly one 200,
 *   the others 412, and the resource is at version 2.
 */
import type { AddressInfo } from 'node:net';
import type { Bundle } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, injectInto, startTestServer, STRUCTURE_ONLY, type TestServer } from '../helpers/test-server.js';

const RPPS = 'urn:oid:1.2.250.1.71.4.2.1';

interface Reply {
  status: number;
  body: { id?: string; resourceType?: string; meta?: { versionId?: string } };
}

/** One way of sending a request: in-process injection or HTTP over the port. */
type Send = (method: string, path: string, headers: Record<string, string>, body?: unknown) => Promise<Reply>;

let server: TestServer;
let baseUrl: string;

beforeAll(async () => {
  server = await startTestServer(STRUCTURE_ONLY);
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await server.close();
});

const viaInject: Send = async (method, path, headers, body) => {
  const response = await injectInto(server.app, { method: method as 'GET', url: path, headers, ...(body !== undefined ? { payload: body as object } : {}) });
  return { status: response.statusCode, body: response.body ? response.json() : {} };
};

const viaPort: Send = async (method, path, headers, body) => {
  const response = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {} };
};

async function practitionersWith(send: Send, value: string): Promise<string[]> {
  const reply = await send('GET', `/fhir/Practitioner?identifier=${encodeURIComponent(`${RPPS}|${value}`)}&_count=100`, {});
  expect(reply.status).toBe(200);
  return ((reply.body as Bundle).entry ?? []).map((e) => e.resource!.id!);
}

async function systemHistoryTotal(send: Send): Promise<number> {
  const reply = await send('GET', '/fhir/_history?_count=0', {});
  return (reply.body as Bundle).total!;
}

for (const [name, send] of [
  ['app.inject()', viaInject],
  ['a real port', viaPort],
] as const) {
  describe(`concurrency over ${name}`, () => {
    it('50 simultaneous identical If-None-Exist creates make exactly one resource', async () => {
      const value = `${name.length}${Date.now()}`;
      const before = await systemHistoryTotal(send);
      const replies = await Promise.all(
        Array.from({ length: 50 }, () =>
          send('POST', '/fhir/Practitioner', { ...FHIR_JSON, 'if-none-exist': `identifier=${RPPS}|${value}` }, { resourceType: 'Practitioner', identifier: [{ system: RPPS, value }] }),
        ),
      );
      const statuses = replies.map((r) => r.status).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(49);
      const ids = new Set(replies.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      expect(await practitionersWith(send, value)).toEqual([...ids]);
      // Exactly one version was written in all.
      expect(await systemHistoryTotal(send)).toBe(before + 1);
    });

    it('20 simultaneous updates with the same If-Match version: one 200, nineteen 412', async () => {
      const created = await send('POST', '/fhir/Patient', FHIR_JSON, { resourceType: 'Patient', active: true });
      expect(created.status).toBe(201);
      const id = created.body.id!;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          send('PUT', `/fhir/Patient/${id}`, { ...FHIR_JSON, 'if-match': 'W/"1"' }, { resourceType: 'Patient', id, name: [{ family: `Writer ${i}` }] }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(1);
      expect(statuses.filter((s) => s === 412)).toHaveLength(19);
      for (const reply of replies.filter((r) => r.status === 412)) expect(reply.body.resourceType).toBe('OperationOutcome');
      const winner = replies.find((r) => r.status === 200)!;
      const current = await send('GET', `/fhir/Patient/${id}`, {});
      expect(current.body.meta?.versionId).toBe('2');
      expect(current.body).toEqual(winner.body);
      const history = await send('GET', `/fhir/Patient/${id}/_history`, {});
      expect((history.body as Bundle).total).toBe(2);
    });

    it('20 simultaneous conditional updates with the same criteria create one resource and update it', async () => {
      const value = `cu-${name.length}-${Date.now()}`;
      // An unrelated write being committed makes the conditional writes share the next commit batch.
      const unrelated = send('POST', '/fhir/Patient', FHIR_JSON, { resourceType: 'Patient' });
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          send('PUT', `/fhir/Practitioner?identifier=${encodeURIComponent(`${RPPS}|${value}`)}`, FHIR_JSON, {
            resourceType: 'Practitioner',
            identifier: [{ system: RPPS, value }],
            name: [{ family: `Writer ${i}` }],
          }),
        ),
      );
      expect((await unrelated).status).toBe(201);
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 201), JSON.stringify(replies.find((r) => r.status >= 400)?.body)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200), JSON.stringify(statuses)).toHaveLength(19);
      expect(new Set(replies.map((r) => r.body.id)).size).toBe(1);
      expect(await practitionersWith(send, value)).toHaveLength(1);
    });

    it('20 simultaneous updates without If-Match all succeed, each as its own version', async () => {
      const created = await send('POST', '/fhir/Patient', FHIR_JSON, { resourceType: 'Patient' });
      const id = created.body.id!;
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => send('PUT', `/fhir/Patient/${id}`, FHIR_JSON, { resourceType: 'Patient', id, name: [{ family: `Writer ${i}` }] })),
      );
      expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
      const versions = replies.map((r) => Number(r.body.meta!.versionId)).sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    });
  });
}
