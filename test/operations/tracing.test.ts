/**
 * OpenTelemetry traces: off unless configured; when on, one HTTP request makes
 * a trace HTTP → engine → store (the request span of @fastify/otel, the
 * engine interaction under it, the store write under that), with no query
 * string, id or body in any attribute; and spans reach an OTLP/HTTP collector.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { startTracing, tracesEndpoint } from '../../src/telemetry/tracing.js';
import { FHIR_JSON } from '../helpers/test-server.js';

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

describe('OpenTelemetry tracing', () => {
  it('is off unless an OTLP endpoint is configured', () => {
    const config = loadConfig({ DATA_DIR: '/nowhere' });
    expect(tracesEndpoint(config)).toBeUndefined();
    expect(startTracing(config)).toBeUndefined();
    expect(tracesEndpoint(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }))).toBe('http://collector:4318/v1/traces');
    expect(tracesEndpoint(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/traces' }))).toBe('http://c:4318/traces');
  });

  it('traces a request HTTP → engine → store, without query strings, ids or bodies, and exports it over OTLP/HTTP', async () => {
    // A collector: records what the exporter posts (OTLP/HTTP, JSON).
    const received: string[] = [];
    const collector = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push(`${request.url} ${body}`);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((done) => collector.listen(0, '127.0.0.1', done));
    const port = (collector.address() as { port: number }).port;

    const dataDir = mkdtempSync(join(tmpdir(), 'relais-trace-'));
    folders.push(dataDir);
    const config = loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', AUTH_MODE: 'none', VALIDATION_ENFORCEMENT: 'off', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` });
    const memory = new InMemorySpanExporter();
    const inMemory = startTracing(config, memory)!;
    const ctx = buildContext(config, undefined, { tracer: inMemory.tracer });
    await ctx.store.open();
    const app = await buildApp(ctx, { logger: false, tracing: inMemory });
    await app.ready();
    const created = await app.inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Traced' }] }) });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    expect((await app.inject({ url: '/fhir/Patient?family=Traced&identifier=urn:oid:1.2.250.1.213.1.4.8|1234567890123' })).statusCode).toBe(200);
    // A failing interaction: its span says it failed and why in kind (404), without the error's text (it names the id).
    expect((await app.inject({ url: '/fhir/Patient/absent-patient-0042' })).statusCode).toBe(404);
    await app.close();
    // (Read before shutdown: shutting the exporter down empties it.)
    const spans = [...memory.getFinishedSpans()];
    await inMemory.shutdown();
    const byName = (name: string) => spans.filter((s) => s.name === name);
    const request = spans.find((s) => s.name === 'request' && s.attributes['http.request.method'] === 'POST')!;
    expect(request).toBeDefined();
    expect(request.attributes['http.route']).toBe('/fhir/:type');
    const create = byName('engine.create')[0];
    expect(create.attributes['fhir.resource_type']).toBe('Patient');
    const write = byName('store.write').find((s) => s.spanContext().traceId === request.spanContext().traceId)!;
    // Parent chain: store.write → ... → engine.create → ... → request (handler spans may sit in between).
    const parentOf = (span: (typeof spans)[number]) => spans.find((s) => s.spanContext().spanId === span.parentSpanContext?.spanId);
    const ancestors = (span: (typeof spans)[number]) => {
      const chain: string[] = [];
      for (let at = parentOf(span); at; at = parentOf(at)) chain.push(at.name);
      return chain;
    };
    expect(ancestors(write)).toContain('engine.create');
    expect(ancestors(write)).toContain('request');
    expect(ancestors(create)).toContain('request');
    const search = byName('engine.search')[0];
    expect(ancestors(byName('store.search').find((s) => s.spanContext().traceId === search.spanContext().traceId)!)).toContain('engine.search');
    const failedRead = byName('engine.read')[0];
    expect(failedRead.status.code).toBe(SpanStatusCode.ERROR);
    expect(failedRead.attributes['fhir.status']).toBe(404);
    // Nothing identifying: no query string (search criteria), no id (also none from an error's text), no body.
    const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    expect(everything).not.toContain('1234567890123');
    expect(everything).not.toContain('Traced');
    expect(everything).not.toContain(id);
    expect(everything).not.toContain('absent-patient-0042');
    // The path is the route pattern: the search's query string and the read's id are gone.
    const gets = spans.filter((s) => s.name === 'request' && s.attributes['http.request.method'] === 'GET');
    expect(gets.map((s) => s.attributes['url.path'])).toEqual(['/fhir/:type', '/fhir/:type/:id']);
    expect(gets[1].attributes['http.response.status_code']).toBe(404);

    // The configured exporter: a server started with the endpoint posts its spans to the collector.
    const exported = startTracing(config)!;
    const span = exported.tracer.startSpan('engine.read', { attributes: { 'url.full': 'http://x/fhir/Patient?identifier=secret-ins-number' } });
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'Patient/secret-patient-id is not known' });
    span.end();
    await exported.shutdown();
    collector.close();
    expect(received.some((r) => r.startsWith('/v1/traces ') && r.includes('engine.read') && r.includes('"relais"'))).toBe(true);
    expect(received.join('\n')).not.toMatch(/secret-/);
  });
});
