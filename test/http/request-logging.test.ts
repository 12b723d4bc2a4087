/**
 * The one line logged per request (src/rest/request-logging.ts): written by the server's logger with the
 * request's bindings, without making the request's child logger, it is the line the child wrote — the
 * same fields in the same order — and it never carries a header, a query string or a body. The child is
 * made only when something logs through request.log, and then writes as before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { RequestLogger } from '../../src/rest/request-logging.js';
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

  it('is one line, in the order the request child wrote it, without headers, query string or body, and makes no child', async () => {
    const created = await app.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Secretname' }] }) });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    const child = vi.spyOn(app.log, 'child');
    const read = await app.inject({
      url: `/fhir/Patient/${id}?_format=json&_elements=name`,
      headers: { authorization: 'Bearer secret-token-value', cookie: 'session=secret-cookie-value', 'x-request-id': 'log-test-1', 'x-other': 'secret-header-value' },
    });
    expect(read.statusCode).toBe(200);
    expect(child).not.toHaveBeenCalled();
    child.mockRestore();
    const logged = linesOf('log-test-1');
    expect(logged).toHaveLength(1);
    const [line] = logged;
    expect(Object.keys(line)).toEqual(['level', 'time', 'pid', 'hostname', 'reqId', 'req', 'res', 'responseTime', 'msg']);
    expect(line).toMatchObject({ level: 30, reqId: 'log-test-1', req: { method: 'GET', path: `/fhir/Patient/${id}`, id: 'log-test-1' }, res: { statusCode: 200 }, msg: 'request completed' });
    expect(Object.keys(line.req as Line)).toEqual(['method', 'path', 'id']);
    const text = lines.join('\n');
    for (const secret of ['secret-token-value', 'secret-cookie-value', 'secret-header-value', '_elements', 'Secretname']) expect(text).not.toContain(secret);
  });

  it('is the line the request child would write, byte for byte, whether or not the child was made', () => {
    const written: string[] = [];
    const options = {
      level: 'info',
      timestamp: () => ',"time":1',
      serializers: { req: (request: { method: string; url: string }) => ({ method: request.method, path: request.url }), res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }) },
    };
    const root = pino(options, { write: (line: string) => written.push(line) });
    const fields = () => ({ req: { method: 'GET', url: '/fhir/Patient/1' }, res: { statusCode: 200 }, responseTime: 1.25 });
    // What Fastify did for every request: a child with the request id, then the line through it.
    root.child({ reqId: 'r-1' }, {}).info(fields(), 'request completed');
    const lazy = new RequestLogger(root, { reqId: 'r-1' });
    const completed = () => lazy.requestCompleted(fields().req, fields().res, fields().responseTime);
    completed();
    // A line below the server's level makes no child; one at an enabled level makes it, and the next lines go through it.
    const child = vi.spyOn(root, 'child');
    lazy.debug('not logged at info');
    expect(child).not.toHaveBeenCalled();
    lazy.warn({ detail: 1 }, 'through the child');
    expect(child).toHaveBeenCalledTimes(1);
    completed();
    lazy.info('again');
    expect(child).toHaveBeenCalledTimes(1);
    expect(written).toHaveLength(5);
    expect(written[1]).toBe(written[0]);
    expect(written[3]).toBe(written[0]);
    expect(JSON.parse(written[2])).toMatchObject({ level: 40, reqId: 'r-1', detail: 1, msg: 'through the child' });
    expect(JSON.parse(written[4])).toMatchObject({ level: 30, reqId: 'r-1', msg: 'again' });
    // Its level is the server's until set, then the child's.
    expect(lazy.level).toBe('info');
    lazy.level = 'error';
    expect(lazy.level).toBe('error');
    expect(root.level).toBe('info');
  });
});
