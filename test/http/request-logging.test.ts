/**
 * The one line logged per request (src/rest/request-logging.ts, the serialisers of src/app.ts): its fields
 * in their order, and never a header (Authorization, Cookie: the `req` serialiser keeps them out, with no
 * redaction pass), a query string or a body.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import type { FastifyInstance } from 'fastify';

type Line = Record<string, unknown>;

describe('the request log line', () => {
  const lines: string[] = [];
  let app: FastifyInstance;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'relais-request-logging-'));
    const ctx = buildContext(loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'info', AUTH_MODE: 'none', VALIDATION_ENFORCEMENT: 'off' }));
    await ctx.store.open();
    app = await buildApp(ctx, { logStream: { write: (line) => lines.push(line) } });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const linesOf = (requestId: string): Line[] => lines.map((line) => JSON.parse(line) as Line).filter((line) => line.reqId === requestId);

  it('is one line with the request id, method, path, status and time, without headers, query string or body', async () => {
    const created = await app.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Secretname' }] }) });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    const read = await app.inject({
      url: `/fhir/Patient/${id}?_format=json&_elements=name`,
      headers: { authorization: 'Bearer secret-token-value', cookie: 'session=secret-cookie-value', 'x-request-id': 'log-test-1', 'x-other': 'secret-header-value' },
    });
    expect(read.statusCode).toBe(200);
    const logged = linesOf('log-test-1');
    expect(logged).toHaveLength(1);
    const [line] = logged;
    expect(Object.keys(line)).toEqual(['level', 'time', 'pid', 'hostname', 'reqId', 'req', 'res', 'responseTime', 'msg']);
    expect(line).toMatchObject({ level: 30, reqId: 'log-test-1', req: { method: 'GET', path: `/fhir/Patient/${id}`, id: 'log-test-1' }, res: { statusCode: 200 }, msg: 'request completed' });
    expect(Object.keys(line.req as Line)).toEqual(['method', 'path', 'id']);
    const text = lines.join('\n');
    for (const secret of ['secret-token-value', 'secret-cookie-value', 'secret-header-value', '_elements', 'Secretname']) expect(text).not.toContain(secret);
  });
});
