/**
 * The OpenAPI document (/openapi.json) is a valid OpenAPI 3.1 document, lists
 * every route of the route table (and nothing the table does not route), the
 * search parameters the CapabilityStatement declares for each type and the
 * registered operations (the Subscription operations among them), the
 * subscriptions websocket endpoint, the bulk export's status and file routes;
 * and, compared with every route Fastify registered, nothing is left out but
 * the documented exclusions and the 405 answers to unsupported methods.
 * Swagger UI (/docs) serves the same document.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import type { CapabilityStatement } from 'fhir/r4';
import Fastify from 'fastify';
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { registerFhirRoutes, type RouteDescription } from '../../src/rest/fhir-routes.js';
import { buildOpenApi, OUTSIDE_THE_DOCUMENT } from '../../src/rest/openapi.js';
import { mintDevToken } from '../../src/cli/token-command.js';
import { devAuthEnv } from '../helpers/authenticated-requests.js';
import { useTestServer } from '../helpers/test-server.js';

interface OpenApi {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, { parameters?: Array<{ $ref?: string; name?: string }>; responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }> }>>;
  components: { parameters: Record<string, { name: string; in: string; required?: boolean }>; schemas: Record<string, { properties?: Record<string, unknown> }> };
}

const { inject, server } = useTestServer({ VALIDATION_ENFORCEMENT: 'off', AUTH_MODE: 'dev' });
let document: OpenApi;
let routes: RouteDescription[];
let capability: CapabilityStatement;

beforeAll(async () => {
  const response = await inject({ url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/json/);
  document = JSON.parse(response.body) as OpenApi;
  // The route table itself, registered on a bare instance exactly as the app does.
  const ctx = server().ctx;
  const table = registerFhirRoutes(Fastify(), { engine: ctx.engine, sessionOf: () => ctx.engine.asAnonymous({}), operations: ctx.operations, baseUrl: ctx.engine.facts.baseUrl, software: { name: 'Relais', version: 'test' } });
  routes = table.routes;
  capability = (await inject({ url: '/fhir/metadata' })).json() as CapabilityStatement;
});

/** The route of the table a documented path is served by (`/Patient/$match` → `/:type/:id`); static segments win, as in the router. */
function routeOf(path: string, method: string): RouteDescription | undefined {
  const segments = path.split('/').filter(Boolean);
  const candidates = routes.filter((route) => {
    const pattern = route.url.split('/').filter(Boolean);
    if (route.method.toString().toLowerCase() !== method || pattern.length !== segments.length) return false;
    return pattern.every((part, i) => (part.startsWith(':') ? segments[i] !== '' : part === segments[i]));
  });
  const staticParts = (route: RouteDescription) => route.url.split('/').filter((part) => part && !part.startsWith(':')).length;
  return candidates.sort((a, b) => staticParts(b) - staticParts(a))[0];
}

describe('OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (the OpenAPI 3.1 JSON Schema, every $ref resolved)', async () => {
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(document.servers[0].url).toBe('http://relais.test/fhir');
  }, 60_000);

  it('documents every route of the route table, and only routed paths', () => {
    // (The websocket endpoint, outside the FHIR base and the table, is checked below.)
    const documented = Object.entries(document.paths)
      .filter(([path]) => path !== '/ws/subscriptions')
      .flatMap(([path, item]) => Object.keys(item).map((method) => ({ path, method })));
    const served = new Set<RouteDescription>();
    for (const { path, method } of documented) {
      const route = routeOf(path, method);
      expect(route, `${method.toUpperCase()} ${path} is documented but not routed`).toBeDefined();
      served.add(route!);
    }
    for (const route of routes) expect(served.has(route), `route ${route.method.toString()} ${route.url} is not documented`).toBe(true);
  });

  it('documents every route the server registers (all of Fastify\'s, not only the route table\'s), but the listed exclusions and the 405 refusals', async () => {
    // Every route, as Fastify registers it, on an app built like any other.
    const dataDir = mkdtempSync(join(tmpdir(), 'relais-openapi-routes-'));
    const ctx = buildContext(loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'dev', VALIDATION_ENFORCEMENT: 'off' }));
    await ctx.store.open();
    const registered: Array<{ method: string; url: string }> = [];
    const app = await buildApp(ctx, { logger: false, onRoute: (route) => registered.push(...[route.method].flat().map((method) => ({ method, url: route.url }))) });
    await app.ready();
    try {
      const basePath = new URL(document.servers[0].url).pathname;
      const patternOf = (url: string) => url.split('/').filter(Boolean);
      // The registered route a concrete path reaches, as the router picks it (static segments win over parameters).
      const routeFor = (path: string, method: string) => {
        const segments = patternOf(path);
        const candidates = registered.filter((route) => {
          const pattern = patternOf(route.url);
          return route.method === method && pattern.length === segments.length && pattern.every((part, i) => (part.startsWith(':') ? segments[i] !== '' : part === segments[i]));
        });
        const staticParts = (route: { url: string }) => patternOf(route.url).filter((part) => !part.startsWith(':')).length;
        return candidates.sort((a, b) => staticParts(b) - staticParts(a))[0];
      };
      const covered = new Set<{ method: string; url: string }>();
      for (const [path, item] of Object.entries(document.paths)) {
        // A path item with its own server (the websocket) is on the origin; the others under the FHIR base.
        const full = 'servers' in item ? path : `${basePath}${path === '/' ? '' : path}`.replace(/\{[^}]+\}/g, 'x');
        for (const method of Object.keys(item).filter((key) => key !== 'servers')) {
          const route = routeFor(full, method.toUpperCase());
          expect(route, `${method.toUpperCase()} ${path} is documented but no route serves it`).toBeDefined();
          covered.add(route!);
        }
      }
      const undocumented = registered.filter((route) => !covered.has(route) && route.method !== 'HEAD' && !OUTSIDE_THE_DOCUMENT.some((outside) => outside.url.test(route.url)));
      // What is left must be the refusals: a method the path does not support, answered 405 with Allow.
      const authorization = `Bearer ${await mintDevToken({ role: 'coordinator', ttlSeconds: 600 }, devAuthEnv(dataDir))}`;
      for (const route of undocumented) {
        const url = route.url.replace(':type', 'Patient').replace(':id', 'p1').replace(':vid', '1').replace(':operation', '$everything').replace(/:\w+/g, 'x');
        const response = await app.inject({ method: route.method as never, url, headers: { authorization } });
        expect(response.statusCode, `${route.method} ${route.url} is neither documented nor a 405 refusal`).toBe(405);
        expect(response.headers.allow).toBeDefined();
      }
      expect(undocumented.length).toBeGreaterThan(0);
      // The bulk routes, registered outside the route table, are among the documented ones.
      expect(covered).toContainEqual({ method: 'GET', url: '/fhir/bulk-status/:job' });
      expect(covered).toContainEqual({ method: 'DELETE', url: '/fhir/bulk-status/:job' });
      expect(covered).toContainEqual({ method: 'GET', url: '/fhir/bulk-files/:job/:file' });
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('documents the bulk export after its kick-off: status (202, 200 manifest, 500), cancel (202), files (NDJSON), and the kick-off\'s 202', async () => {
    const status = document.paths['/bulk-status/{job}'];
    expect(Object.keys(status.get.responses).sort()).toEqual(['200', '202', '4XX', '500']);
    expect(Object.keys(status.get.responses['202'].headers!).sort()).toEqual(['Retry-After', 'X-Progress']);
    expect(Object.keys(status.get.responses['200'].content!)).toEqual(['application/json']);
    expect(Object.keys(status.delete.responses).sort()).toEqual(['202', '4XX']);
    expect(Object.keys(document.paths['/bulk-files/{job}/{file}'].get.responses['200'].content!)).toEqual(['application/fhir+ndjson']);
    for (const path of ['/$export', '/Patient/$export', '/Group/{id}/$export']) {
      const kickoff = document.paths[path].get;
      expect(Object.keys(kickoff.responses).sort(), path).toEqual(['202', '4XX']);
      expect(kickoff.parameters!.map((p) => document.components.parameters[p.$ref!.split('/').pop()!])).toContainEqual(expect.objectContaining({ name: 'Prefer', in: 'header', required: true }));
    }
    // Links let a client (or the fuzzer's stateful phase) follow an export: kick-off → status, cancel; manifest → file.
    const operationIds = new Set(Object.values(document.paths).flatMap((item) => Object.values(item).map((op) => (op as { operationId?: string }).operationId)));
    const linksOf = (response: unknown) => Object.values((response as { links: Record<string, { operationId: string }> }).links).map((link) => link.operationId);
    expect(linksOf(document.paths['/$export'].get.responses['202'])).toEqual(['bulk-export-status', 'bulk-export-cancel']);
    expect(linksOf(status.get.responses['200'])).toEqual(['bulk-export-file']);
    for (const id of ['bulk-export-status', 'bulk-export-cancel', 'bulk-export-file']) expect(operationIds.has(id)).toBe(true);
    // What the server answers, as documented: an unknown job is a 404 OperationOutcome; a real one 202 then 200 with the manifest.
    const token = await mintDevToken({ role: 'coordinator', ttlSeconds: 600 }, devAuthEnv(server().dataDir));
    const headers = { authorization: `Bearer ${token}` };
    const unknown = await inject({ url: `/fhir/bulk-status/${'0'.repeat(32)}`, headers });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ resourceType: 'OperationOutcome' });
    const kickoff = await inject({ url: '/fhir/$export?_type=Patient', headers: { ...headers, prefer: 'respond-async' } });
    expect(kickoff.statusCode).toBe(202);
    const statusPath = new URL(kickoff.headers['content-location'] as string).pathname;
    let polled = await inject({ url: statusPath, headers });
    for (let i = 0; polled.statusCode === 202 && i < 100; i++) {
      expect(polled.headers['x-progress']).toBeDefined();
      expect(polled.headers['retry-after']).toMatch(/^\d+$/);
      await new Promise((done) => setTimeout(done, 200));
      polled = await inject({ url: statusPath, headers });
    }
    expect(polled.statusCode).toBe(200);
    const manifest = polled.json() as Record<string, unknown>;
    const schema = (document.components.schemas.BulkExportManifest as unknown as { required: string[]; properties: Record<string, unknown> });
    for (const key of schema.required) expect(manifest).toHaveProperty(key);
    for (const key of Object.keys(manifest)) expect(schema.properties).toHaveProperty(key);
    expect((await inject({ method: 'DELETE', url: statusPath, headers })).statusCode).toBe(202);
    expect((await inject({ url: statusPath, headers })).statusCode).toBe(404);
  }, 60_000);

  it('documents each type with the interactions and search parameters of the CapabilityStatement', () => {
    const resources = capability.rest![0].resource!;
    expect(resources.length).toBeGreaterThan(140);
    for (const resource of resources) {
      const interactions = new Set(resource.interaction!.map((i) => i.code));
      const type = resource.type;
      expect(!!document.paths[`/${type}/{id}`]?.get, `read ${type}`).toBe(interactions.has('read'));
      expect(!!document.paths[`/${type}`]?.post, `create ${type}`).toBe(interactions.has('create'));
      expect(!!document.paths[`/${type}/{id}/_history/{vid}`]?.get, `vread ${type}`).toBe(interactions.has('vread'));
      const search = document.paths[`/${type}`]?.get;
      expect(!!search, `search ${type}`).toBe(interactions.has('search-type'));
      const parameterNames = new Set((search?.parameters ?? []).map((p) => (p.$ref ? document.components.parameters[p.$ref.split('/').pop()!].name : p.name)));
      for (const declared of resource.searchParam ?? []) expect(parameterNames.has(declared.name), `${type}?${declared.name}`).toBe(true);
      // The resource schema carries the type's elements (choice elements expanded).
      expect(document.components.schemas[type].properties).toHaveProperty('resourceType');
    }
    expect(document.components.schemas.Patient.properties).toHaveProperty('deceasedBoolean');
    expect(document.components.schemas.Patient.properties).toHaveProperty('_birthDate');
  });

  it('documents the registered operations at their levels, POST-only operations without GET, and every error as an OperationOutcome', () => {
    for (const operation of server().ctx.operations.all()) {
      const types = operation.resourceTypes ?? ['Patient'];
      for (const level of operation.levels) {
        const path = level === 'system' ? `/$${operation.name}` : level === 'type' ? `/${types[0]}/$${operation.name}` : `/${types[0]}/{id}/$${operation.name}`;
        expect(document.paths[path]?.post, `POST ${path}`).toBeDefined();
        expect(!!document.paths[path]?.get, `GET ${path}`).toBe(!operation.affectsState);
      }
    }
    const methods = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);
    for (const item of Object.values(document.paths)) {
      for (const [method, operation] of Object.entries(item)) if (methods.has(method)) expect(operation.responses['4XX']).toEqual({ $ref: '#/components/responses/Error' });
    }
  });

  it('documents the subscriptions websocket on the server origin; a plain GET there gets the 426 OperationOutcome it declares', async () => {
    const item = document.paths['/ws/subscriptions'] as unknown as { servers: Array<{ url: string }>; get: { responses: Record<string, unknown> } };
    expect(item.servers).toEqual([expect.objectContaining({ url: 'http://relais.test' })]);
    expect(Object.keys(item.get.responses).sort()).toEqual(['101', '4XX']);
    const plain = await inject({ url: '/ws/subscriptions' });
    expect(plain.statusCode).toBe(426);
    expect(plain.headers.upgrade).toBe('websocket');
    expect(plain.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-supported' }] });
    // The CapabilityStatement advertises the same endpoint.
    expect(JSON.stringify(capability)).toContain('ws://relais.test/ws/subscriptions');
  });

  it('fails to build when a route of the table has no description, instead of leaving it out', () => {
    const ctx = server().ctx;
    const extra = [...routes, { method: 'GET', url: '/:type/$unheard-of/:id' } as RouteDescription];
    expect(() => buildOpenApi({ routes: extra, capability, operations: ctx.operations.all(), definitions: ctx.definitions, baseUrl: 'http://x/fhir', authenticated: true, version: '1' })).toThrow(/no description/);
  });

  it('is served without a token, and Swagger UI at /docs shows the same document', async () => {
    const ui = await inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toContain('swagger-ui');
    const fromUi = await inject({ url: '/docs/json' });
    expect(fromUi.statusCode).toBe(200);
    expect(JSON.parse(fromUi.body)).toEqual(document);
    const gzipped = await inject({ url: '/openapi.json', headers: { 'accept-encoding': 'gzip' } });
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.rawPayload.length).toBeLessThan(JSON.stringify(document).length / 5);
  });
});
