/**
 * Relais driven as an integrator would drive it: with fhir-kit-client (a
 * general-purpose FHIR client from npm, unaware of this server) over a real
 * TCP port. If the client can read the CapabilityStatement, create, read,
 * vread, update, patch, search, page through history and delete, then the
 * wire format (media types, Location, ETag, bundles, links) is what clients expect.
 */
import { createServer } from 'node:net';
import type { Bundle, CapabilityStatement, OperationOutcome, Patient } from 'fhir/r4';
import { Client, CapabilityTool } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, STRUCTURE_ONLY, type TestServer } from '../helpers/test-server.js';

/** The INS-NIR identifier system (FRENCH-CONVENTIONS.md). */
const INS_NIR = 'urn:oid:1.2.250.1.213.1.4.8';

/** A port free right now, so the server's BASE_URL (used in links) can name it before listening. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let server: TestServer;
let client: Client;
beforeAll(async () => {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}/fhir`;
  server = await startTestServer({ ...STRUCTURE_ONLY, BASE_URL: baseUrl, DEFAULT_PAGE_SIZE: '2' });
  await server.app.listen({ port, host: '127.0.0.1' });
  client = new Client({ baseUrl });
});
afterAll(async () => {
  await server.close();
});

/** fhir-kit-client rejects non-2xx answers with { response: { status, data } }. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; data: OperationOutcome }> {
  try {
    await promise;
  } catch (error) {
    const { response } = error as { response?: { status: number; data: OperationOutcome } };
    if (response) return response;
    throw error;
  }
  throw new Error('expected the request to fail');
}

describe('fhir-kit-client against Relais', () => {
  it('reads the CapabilityStatement and finds what it needs', async () => {
    const capability = (await client.capabilityStatement()) as unknown as CapabilityStatement;
    expect(capability.fhirVersion).toBe('4.0.1');
    const tool = new CapabilityTool(capability as never);
    for (const interaction of ['read', 'vread', 'create', 'update', 'patch', 'delete', 'search-type', 'history-instance', 'history-type']) {
      expect(tool.resourceCan('Patient', interaction), interaction).toBe(true);
    }
    expect(tool.serverCan('history-system')).toBe(true);
  });

  it('creates, reads, vreads, updates, patches, searches, pages through history and deletes', async () => {
    const created = (await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', identifier: [{ system: INS_NIR, value: '248097512345678' }], name: [{ family: 'Moreau', given: ['Lucie'] }] },
    })) as unknown as Patient;
    expect(created.id).toBeDefined();
    expect(created.meta?.versionId).toBe('1');
    const id = created.id!;

    const read = (await client.read({ resourceType: 'Patient', id })) as unknown as Patient;
    expect(read.name?.[0].family).toBe('Moreau');

    const updated = (await client.update({ resourceType: 'Patient', id, body: { ...read, gender: 'female' } as never })) as unknown as Patient;
    expect(updated.meta?.versionId).toBe('2');

    const patched = (await client.patch({ resourceType: 'Patient', id, jsonPatch: [{ op: 'add', path: '/birthDate', value: '1948-03-12' }] })) as unknown as Patient;
    expect(patched).toMatchObject({ gender: 'female', birthDate: '1948-03-12', meta: { versionId: '3' } });

    const first = (await client.vread({ resourceType: 'Patient', id, version: '1' })) as unknown as Patient;
    expect(first.gender).toBeUndefined();

    const found = (await client.search({ resourceType: 'Patient', searchParams: { identifier: `${INS_NIR}|248097512345678` } })) as unknown as Bundle;
    expect(found.type).toBe('searchset');
    expect(found.entry?.map((e) => e.resource?.id)).toEqual([id]);

    // History of 3 versions with a page size of 2: the client follows the next link.
    const page1 = (await client.resourceHistory({ resourceType: 'Patient', id })) as unknown as Bundle;
    expect(page1.type).toBe('history');
    expect(page1.total).toBe(3);
    const next = client.nextPage({ bundle: page1 as never });
    expect(next).toBeDefined();
    const page2 = (await next!) as unknown as Bundle;
    const versions = [...page1.entry!, ...page2.entry!].map((e) => (e.resource as Patient).meta?.versionId);
    expect(versions).toEqual(['3', '2', '1']);
    expect(client.nextPage({ bundle: page2 as never })).toBeUndefined();

    await client.delete({ resourceType: 'Patient', id });
    const gone = await failure(client.read({ resourceType: 'Patient', id }));
    expect(gone.status).toBe(410);
    const typeHistory = (await client.typeHistory({ resourceType: 'Patient' })) as unknown as Bundle;
    expect(typeHistory.total).toBe(4);
    expect(typeHistory.entry?.[0].request?.method).toBe('DELETE');
  });

  it('gets OperationOutcomes it can show to a user when something is wrong', async () => {
    const missing = await failure(client.read({ resourceType: 'Patient', id: 'nobody' }));
    expect(missing.status).toBe(404);
    const invalid = await failure(client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', birthDate: '2023-02-30' } }));
    expect(invalid.status).toBe(400);
    const outcome = typeof invalid.data === 'string' ? (JSON.parse(invalid.data) as OperationOutcome) : invalid.data;
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue[0].expression).toEqual(['Patient.birthDate']);
  });

  it('conditional update by identifier through the client', async () => {
    const body = { resourceType: 'Patient', identifier: [{ system: INS_NIR, value: '180017512345601' }], active: true };
    const first = (await client.update({ resourceType: 'Patient', searchParams: { identifier: `${INS_NIR}|180017512345601` }, body })) as unknown as Patient;
    const second = (await client.update({ resourceType: 'Patient', searchParams: { identifier: `${INS_NIR}|180017512345601` }, body: { ...body, active: false } })) as unknown as Patient;
    expect(second.id).toBe(first.id);
    expect(second.meta?.versionId).toBe('2');
  });
});
