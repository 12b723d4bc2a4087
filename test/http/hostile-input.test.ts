/**
 * Hostile and broken input: each is refused with a 4xx OperationOutcome (never
 * a 5xx, never a stored resource), and the server keeps answering afterwards.
 * Runs with the default body limit (10 MB).
 */
import type { LightMyRequestResponse } from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, STRUCTURE_ONLY, useTestServer } from '../helpers/test-server.js';

const { inject } = useTestServer(STRUCTURE_ONLY);
let historyBefore: number;
beforeAll(async () => {
  historyBefore = await systemHistoryTotal();
});

async function systemHistoryTotal(): Promise<number> {
  return (await inject({ method: 'GET', url: '/fhir/_history?_count=0' })).json().total;
}

function expectRefused(response: LightMyRequestResponse, status?: number): void {
  expect(response.statusCode, response.body.slice(0, 300)).toBeGreaterThanOrEqual(400);
  expect(response.statusCode, response.body.slice(0, 300)).toBeLessThan(500);
  if (status) expect(response.statusCode).toBe(status);
  const body = response.json();
  expect(body.resourceType).toBe('OperationOutcome');
  expect(response.body).not.toMatch(/\n\s+at |\.ts:\d+|node_modules/);
}

const post = (payload: string | Buffer, url = '/fhir/Patient', headers: Record<string, string> = FHIR_JSON) => inject({ method: 'POST', url, headers, payload });

function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function nestedObjects(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

function extensionChain(depth: number): Record<string, unknown> {
  let node: Record<string, unknown> = { url: 'http://example.org/leaf', valueString: 'x' };
  for (let i = 0; i < depth; i++) node = { url: `http://example.org/level-${i}`, extension: [node] };
  return node;
}

describe('hostile input is refused with a 4xx OperationOutcome', () => {
  it('malformed JSON, truncated JSON, JSON with trailing garbage', async () => {
    for (const payload of ['{', '{"resourceType":"Patient"', '{"resourceType":"Patient"}}', "{'resourceType':'Patient'}", '\u0000', '{"resourceType":"Patient",,}']) {
      expectRefused(await post(payload), 400);
    }
  });

  it('a 20 MB body is a 413 (default limit 10 MB)', async () => {
    const payload = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(20 * 1024 * 1024) }] });
    expectRefused(await post(payload), 413);
  });

  it('2,000-deep nesting: arrays and objects, in a valid-looking resource, and as an extension chain', async () => {
    expectRefused(await post(nestedArrays(2000)));
    expectRefused(await post(nestedObjects(2000)));
    expectRefused(await post(`{"resourceType":"Patient","name":${nestedArrays(2000)}}`));
    expectRefused(await post(`{"resourceType":"Patient","name":[{"family":"x","extension":[${nestedObjects(2000)}]}]}`));
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', extension: [extensionChain(2000)] })));
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', modifierExtension: [extensionChain(2000)] })));
    // In a JSON Patch value as well.
    const id = (await post(JSON.stringify({ resourceType: 'Patient' }))).json().id;
    expectRefused(
      await inject({ method: 'PATCH', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/json-patch+json' }, payload: `[{"op":"add","path":"/extension","value":[${JSON.stringify(extensionChain(2000))}]}]` }),
    );
    expectRefused(await inject({ method: 'PATCH', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/json-patch+json' }, payload: `[{"op":"add","path":"/x","value":${nestedArrays(2000)}}]` }));
    await inject({ method: 'DELETE', url: `/fhir/Patient/${id}` });
  });

  it('nesting as deep as the body limit allows (millions of levels)', async () => {
    const depth = 4 * 1024 * 1024;
    expectRefused(await post(nestedArrays(depth)));
    expectRefused(await post(`{"resourceType":"Patient","name":${nestedArrays(depth)}}`));
  });

  it('a resourceType that does not match the URL, and an id that does not match', async () => {
    expectRefused(await post(JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' } })), 400);
    expectRefused(await inject({ method: 'PUT', url: '/fhir/Patient/abc', headers: FHIR_JSON, payload: { resourceType: 'Patient', id: 'xyz' } }), 400);
  });

  it('dates that do not exist', async () => {
    for (const birthDate of ['2023-02-30', '2023-13-01', '2023-00-10', '2023-04-31', '2023-1-1', '20230101', '2023-02-29']) {
      expectRefused(await post(JSON.stringify({ resourceType: 'Patient', birthDate })), 400);
    }
    for (const effectiveDateTime of ['2023-02-30T10:00:00Z', '2023-01-01T25:00:00Z', '2023-01-01T10:00:00', '2023-01-01T10:61:00Z']) {
      expectRefused(await post(JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, effectiveDateTime }), '/fhir/Observation'), 400);
    }
    expect((await post(JSON.stringify({ resourceType: 'Patient', birthDate: '2024-02-29' }))).statusCode).toBe(201);
  });

  it('unknown types, in the URL and inside the body', async () => {
    expectRefused(await post(JSON.stringify({ resourceType: 'Hacker' }), '/fhir/Hacker'), 404);
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', contained: [{ resourceType: 'Hacker', id: 'h' }] })), 400);
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', contained: [{ id: 'no-type' }] })), 400);
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', deceasedWhatever: true })), 400);
  });

  it('__proto__ and constructor.prototype keys (prototype poisoning)', async () => {
    expectRefused(await post('{"resourceType":"Patient","__proto__":{"isAdmin":true}}'), 400);
    expectRefused(await post('{"resourceType":"Patient","name":[{"family":"x","__proto__":{"polluted":1}}]}'), 400);
    expectRefused(await post('{"resourceType":"Patient","constructor":{"prototype":{"polluted":1}}}'), 400);
    const id = (await post('{"resourceType":"Patient"}')).json().id;
    for (const path of ['/__proto__/polluted', '/constructor/prototype/polluted', '/name/__proto__']) {
      const patched = await inject({ method: 'PATCH', url: `/fhir/Patient/${id}`, headers: { 'content-type': 'application/json-patch+json' }, payload: JSON.stringify([{ op: 'add', path, value: 1 }]) });
      expectRefused(patched);
    }
    expect((await inject({ method: 'GET', url: `/fhir/Patient/${id}` })).json().meta.versionId).toBe('1');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('huge strings (FHIR strings are limited to 1 MB)', async () => {
    const family = 'é'.repeat(1024 * 1024 + 1);
    expectRefused(await post(JSON.stringify({ resourceType: 'Patient', name: [{ family }] })), 400);
    const key = 'k'.repeat(1024 * 1024);
    expectRefused(await post(`{"resourceType":"Patient","${key}":1}`), 400);
  });

  it('bytes that are not UTF-8', async () => {
    const invalid = Buffer.concat([Buffer.from('{"resourceType":"Patient","name":[{"family":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}]}')]);
    expectRefused(await post(invalid), 400);
    const latin1 = Buffer.from('{"resourceType":"Patient","name":[{"family":"Hélène"}]}', 'latin1');
    expectRefused(await post(latin1), 400);
  });

  it('numbers out of range: 1e400, integers beyond 32 bits, NaN-like tokens', async () => {
    const observation = (value: string) => `{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":${value}}}`;
    expectRefused(await post(observation('1e400'), '/fhir/Observation'), 400);
    expectRefused(await post(observation('-1e400'), '/fhir/Observation'), 400);
    expectRefused(await post(observation('NaN'), '/fhir/Observation'), 400);
    expectRefused(await post(observation('"12"'), '/fhir/Observation'), 400);
    expectRefused(await post('{"resourceType":"Patient","multipleBirthInteger":1e400}'), 400);
    expectRefused(await post('{"resourceType":"Patient","multipleBirthInteger":2147483648}'), 400);
    expectRefused(await post('{"resourceType":"Patient","multipleBirthInteger":1.5}'), 400);
  });

  it('wrong JSON types at the top level and nulls where values belong', async () => {
    for (const payload of ['null', 'true', '"Patient"', '[{"resourceType":"Patient"}]']) expectRefused(await post(payload), 400);
    expectRefused(await post('{"resourceType":"Patient","active":null}'), 400);
    expectRefused(await post('{"resourceType":"Patient","name":[null]}'), 400);
    expectRefused(await post('{"resourceType":"Patient","name":[]}'), 400);
    expectRefused(await post('{"resourceType":"Patient","name":[{}]}'), 400);
  });
});

describe('after all that', () => {
  it('nothing was stored, the server is healthy and a normal create/read works', async () => {
    // Legitimately written: the deep-PATCH target (created, deleted), the leap-day Patient, the poisoning-PATCH target.
    expect(await systemHistoryTotal()).toBe(historyBefore + 4);
    const health = await inject({ method: 'GET', url: '/healthz' });
    expect(health.statusCode).toBe(200);
    const ready = await inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    const created = await post(JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Lefèvre', given: ['Anaïs'] }] }));
    expect(created.statusCode).toBe(201);
    const read = await inject({ method: 'GET', url: `/fhir/Patient/${created.json().id}` });
    expect(read.statusCode).toBe(200);
    expect(read.json().name[0]).toEqual({ family: 'Lefèvre', given: ['Anaïs'] });
  });
});
