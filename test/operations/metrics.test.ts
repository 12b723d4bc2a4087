/**
 * /metrics (Prometheus text format): after a few requests it exposes the
 * named series with bounded labels — requests by interaction, resource type
 * and status class, latency histograms, store writes and reads, validation
 * time, and the queue depths background workers register (subscription
 * notifications, bulk export jobs by state) — and it can be
 * put behind METRICS_TOKEN (a 401 OperationOutcome without it) or turned off.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.close();
});

async function start(env: Record<string, string> = {}): Promise<TestServer> {
  const server = await startTestServer({ VALIDATION_ENFORCEMENT: 'network', ...env });
  servers.push(server);
  return server;
}

/** The value of one series of the exposition, e.g. series(text, 'relais_http_requests_total', { interaction: 'create' }). */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('/metrics', () => {
  it('exposes requests, latencies, store writes and reads, validation time and queue depths after a few requests', async () => {
    const server = await start();
    let pending = 3;
    server.ctx.metrics.registerQueueDepth('a-test-worker', () => pending);
    const inject = server.app.inject.bind(server.app);
    const created = await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Martin' }] }) });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    expect((await inject({ url: `/fhir/Patient/${id}` })).statusCode).toBe(200);
    expect((await inject({ url: '/fhir/Patient?family=martin' })).statusCode).toBe(200);
    expect((await inject({ url: '/fhir/Patient/nope' })).statusCode).toBe(404);
    expect((await inject({ url: '/fhir/NotAType/1' })).statusCode).toBe(404);
    expect((await inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: FHIR_JSON, payload: JSON.stringify({ resourceType: 'Patient' }) })).statusCode).toBe(200);
    pending = 7;
    // The store's own name (embedded, or mongodb when the suite runs with RELAIS_TEST_STORE=mongodb).
    const storeName = server.ctx.store.capabilities.name;

    const response = await inject({ url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = response.body;
    expect(series(text, 'relais_http_requests_total', { interaction: 'create', resource_type: 'Patient', status_class: '2xx' })).toBe(1);
    expect(series(text, 'relais_http_requests_total', { interaction: 'read', resource_type: 'Patient', status_class: '2xx' })).toBe(1);
    expect(series(text, 'relais_http_requests_total', { interaction: 'read', resource_type: 'Patient', status_class: '4xx' })).toBe(1);
    expect(series(text, 'relais_http_requests_total', { interaction: 'search-type', resource_type: 'Patient', status_class: '2xx' })).toBe(1);
    expect(series(text, 'relais_http_requests_total', { interaction: '$validate', resource_type: 'Patient', status_class: '2xx' })).toBe(1);
    // An unknown type is not a label value: the set of series cannot grow with what clients send.
    expect(text).not.toContain('NotAType');
    expect(series(text, 'relais_http_requests_total', { interaction: 'read', resource_type: '', status_class: '4xx' })).toBe(1);
    expect(series(text, 'relais_http_request_duration_seconds_count', { interaction: 'create', status_class: '2xx' })).toBe(1);
    expect(series(text, 'relais_store_write_duration_seconds_count', { store: storeName, outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(series(text, 'relais_store_read_duration_seconds_count', { store: storeName, operation: 'read' })).toBeGreaterThanOrEqual(1);
    expect(series(text, 'relais_store_read_duration_seconds_count', { store: storeName, operation: 'search' })).toBeGreaterThanOrEqual(1);
    expect(series(text, 'relais_validation_duration_seconds_count', { stage: 'structure' })).toBeGreaterThanOrEqual(1);
    expect(series(text, 'relais_validation_duration_seconds_count', { stage: 'profiles' })).toBeGreaterThanOrEqual(2);
    expect(series(text, 'relais_queue_depth', { queue: 'a-test-worker' })).toBe(7);
    // Nothing in the exposition names a resource.
    expect(text).not.toContain(id);
    expect(() => server.ctx.metrics.registerQueueDepth('a-test-worker', () => 0)).toThrow(/already registered/);
  });

  it('relais_queue_depth{queue="subscription-notifications"}: notifications committed and not yet delivered', async () => {
    const server = await start({ VALIDATION_ENFORCEMENT: 'off' });
    const inject = server.app.inject.bind(server.app);
    const depth = async () => series((await inject({ url: '/metrics' })).body, 'relais_queue_depth', { queue: 'subscription-notifications' });
    expect(await depth()).toBe(0);
    // A websocket subscription nobody is bound to: what it matches waits in its queue.
    const subscription = { resourceType: 'Subscription', status: 'requested', reason: 'metrics', criteria: 'Flag?patient=Patient/pm', channel: { type: 'websocket' } };
    expect((await inject({ method: 'POST', url: '/fhir/Subscription', headers: FHIR_JSON, payload: JSON.stringify(subscription) })).statusCode).toBe(201);
    const flag = { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pm' } };
    for (let i = 0; i < 2; i++) expect((await inject({ method: 'POST', url: '/fhir/Flag', headers: FHIR_JSON, payload: JSON.stringify(flag) })).statusCode).toBe(201);
    // Another patient's flag is not for this subscription.
    expect((await inject({ method: 'POST', url: '/fhir/Flag', headers: FHIR_JSON, payload: JSON.stringify({ ...flag, subject: { reference: 'Patient/other' } }) })).statusCode).toBe(201);
    // (A store that numbers after commit, MongoDB without transactions, may take a poll to count them.)
    const until = Date.now() + 10_000;
    while ((await depth()) !== 2 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await depth()).toBe(2);
  });

  it('relais_queue_depth{queue="bulk-export-jobs",state}: an export is counted from its kick-off until it completes, then 0', async () => {
    const server = await start({ VALIDATION_ENFORCEMENT: 'off' });
    const inject = server.app.inject.bind(server.app);
    const scrape = async () => {
      const text = (await inject({ url: '/metrics' })).body;
      return { queued: series(text, 'relais_queue_depth', { queue: 'bulk-export-jobs', state: 'queued' }), running: series(text, 'relais_queue_depth', { queue: 'bulk-export-jobs', state: 'running' }) };
    };
    expect(await scrape()).toEqual({ queued: 0, running: 0 });
    expect((await inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Export' }] }) })).statusCode).toBe(201);
    const kickoff = await inject({ url: '/fhir/$export?_type=Patient', headers: { prefer: 'respond-async' } });
    expect(kickoff.statusCode).toBe(202);
    // Accepted and not finished (the worker lets writes in flight settle for a second before it reads): one job, queued or running.
    const during = await scrape();
    expect(during.queued! + during.running!).toBe(1);
    const statusPath = new URL(kickoff.headers['content-location'] as string).pathname;
    const until = Date.now() + 30_000;
    while ((await inject({ url: statusPath })).statusCode === 202 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await inject({ url: statusPath })).statusCode).toBe(200);
    expect(await scrape()).toEqual({ queued: 0, running: 0 });
  });

  it('behind METRICS_TOKEN: 401 OperationOutcome without the token, 200 with it; FHIR tokens do not open it', async () => {
    const server = await start({ METRICS_TOKEN: 'a-long-scrape-secret-0123456789' });
    const refused = await server.app.inject({ url: '/metrics' });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    expect(refused.headers['www-authenticate']).toContain('Bearer');
    expect((await server.app.inject({ url: '/metrics', headers: { authorization: 'Bearer a-long-scrape-secret-012345678' } })).statusCode).toBe(401);
    const allowed = await server.app.inject({ url: '/metrics', headers: { authorization: 'Bearer a-long-scrape-secret-0123456789' } });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toContain('relais_http_requests_total');
  });

  it('METRICS_ENABLED=false: no /metrics route', async () => {
    const server = await start({ METRICS_ENABLED: 'false' });
    expect((await server.app.inject({ url: '/metrics' })).statusCode).toBe(404);
  });
});
