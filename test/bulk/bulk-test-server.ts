/**
 * Test servers for the bulk suites: the app over an embedded store in a
 * temporary folder (or a given MongoDB database), with bulk export timings
 * shortened (no settle delay, fast polling, short leases), and helpers to
 * drive an export from kick-off to manifest.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';
import { buildApp } from '../../src/app.js';
import type { BulkSettings } from '../../src/bulk/bulk-settings.js';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';

export const FAST_BULK: Partial<BulkSettings> = { settleMs: 0, pollMs: 50, leaseMs: 3000, sweepMs: 3_600_000 };

export interface BulkTestServer {
  app: FastifyInstance;
  ctx: RelaisContext;
  dataDir: string;
  /** Stops the app (the worker gives its jobs back) without removing the data. */
  stop(): Promise<void>;
  /** Stops and removes the data folder. */
  close(): Promise<void>;
}

export interface BulkServerOptions {
  /** Reuse a data folder (a restart). */
  dataDir?: string;
  /** The bulk export's clock (expiry tests). */
  clock?: () => Date;
}

export async function startBulkServer(env: Record<string, string> = {}, bulk: Partial<BulkSettings> = {}, options: BulkServerOptions = {}): Promise<BulkTestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'relais-bulk-http-'));
  const config = loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none', VALIDATION_ENFORCEMENT: 'off', ...env });
  const ctx = buildContext(config, undefined, { bulk: { settings: { ...FAST_BULK, ...bulk }, ...(options.clock ? { clock: options.clock } : {}) } });
  await ctx.store.open();
  const app = await buildApp(ctx, { logger: false });
  await app.ready();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await app.close();
  };
  return {
    app,
    ctx,
    dataDir,
    stop,
    async close() {
      await stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: Array<{ type: string; url: string; count: number }>;
  deleted?: Array<{ type: string; url: string; count: number }>;
  error: Array<{ type: string; url: string; count: number }>;
}

const PATH = (url: string) => url.replace('http://relais.test', '');

/** Kick-off (GET, or POST with a body); returns the response. */
export function kickOff(app: FastifyInstance, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<LightMyRequestResponse> {
  return app.inject({
    method: body === undefined ? 'GET' : 'POST',
    url: `/fhir/${path}`,
    headers: { accept: 'application/fhir+json', prefer: 'respond-async', ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
}

/** Polls a status URL until it is no longer 202 (or the timeout); returns the last response. */
export async function poll(app: FastifyInstance, statusUrl: string, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<LightMyRequestResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await app.inject({ method: 'GET', url: PATH(statusUrl), headers: { accept: 'application/json', ...headers } });
    if (response.statusCode !== 202 || Date.now() > deadline) return response;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** GET a file of a manifest; its lines parsed. */
export async function download(app: FastifyInstance, url: string, headers: Record<string, string> = {}): Promise<Array<Record<string, unknown>>> {
  const response = await app.inject({ method: 'GET', url: PATH(url), headers });
  expect(response.statusCode, response.body).toBe(200);
  expect(response.headers['content-type']).toMatch(/^application\/fhir\+ndjson/);
  return response.body.split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Kick-off, poll to completion, download everything: the manifest and the resources by file type. */
export async function exportAll(app: FastifyInstance, path: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ manifest: Manifest; resources: Array<Record<string, unknown>>; deleted: Array<Record<string, unknown>>; errors: Array<Record<string, unknown>> }> {
  const started = await kickOff(app, path, headers, body);
  expect(started.statusCode, started.body).toBe(202);
  const done = await poll(app, String(started.headers['content-location']), headers);
  expect(done.statusCode, done.body).toBe(200);
  const manifest = JSON.parse(done.body) as Manifest;
  const resources: Array<Record<string, unknown>> = [];
  for (const file of manifest.output) resources.push(...(await download(app, file.url, headers)));
  const deleted: Array<Record<string, unknown>> = [];
  for (const file of manifest.deleted ?? []) deleted.push(...(await download(app, file.url, headers)));
  const errors: Array<Record<string, unknown>> = [];
  for (const file of manifest.error) errors.push(...(await download(app, file.url, headers)));
  return { manifest, resources, deleted, errors };
}

export async function put(app: FastifyInstance, resource: { resourceType: string; id?: string } & Record<string, unknown>, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  const response = await app.inject({
    method: resource.id ? 'PUT' : 'POST',
    url: resource.id ? `/fhir/${resource.resourceType}/${resource.id}` : `/fhir/${resource.resourceType}`,
    headers: { 'content-type': 'application/fhir+json', ...headers },
    payload: JSON.stringify(resource),
  });
  expect(response.statusCode, response.body).toBeLessThan(300);
  return response;
}
