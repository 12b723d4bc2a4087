/**
 * Subscriptions end to end, over real sockets on loopback: a real HTTP
 * receiver (node:http) for rest-hook, a real websocket client (ws) for the
 * websocket channel, the server listening on a random port. AUTH_MODE=none
 * here (deliveries act as the anonymous caller); access at delivery time is
 * in subscription-access.test.ts.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Endpoints that misbehave, each in its own way. */
function badReceiver(): Server {
  return createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data' });
        res.end();
      } else if (req.url === '/huge') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('x'.repeat(8 * 1024 * 1024));
      } else if (req.url === '/error') {
        res.writeHead(500);
        res.end();
      }
      // '/silent': never answers.
    });
  });
}

class Receiver {
  readonly received: Received[] = [];
  /** Status to answer with (500 makes deliveries fail). */
  status = 200;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        this.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
        res.statusCode = this.status;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  async waitFor(predicate: (r: Received[]) => boolean, timeoutMs = 8000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      if (Date.now() > end) throw new Error(`receiver: condition not met; got ${this.received.length} requests`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  bundles(): Bundle[] {
    return this.received.filter((r) => r.body.startsWith('{')).map((r) => JSON.parse(r.body) as Bundle);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const statusOf = (bundle: Bundle) => bundle.entry![0].resource as Parameters;
const part = (p: Parameters, name: string) => p.parameter?.find((x) => x.name === name);
const eventNumbers = (bundle: Bundle) =>
  (statusOf(bundle).parameter ?? []).filter((x) => x.name === 'notification-event').map((e) => Number(e.part!.find((q) => q.name === 'event-number')!.valueString));

const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/alert-raised';

describe('subscriptions over real sockets', () => {
  let server: TestServer;
  let receiver: Receiver;
  let base: string;

  beforeAll(async () => {
    receiver = new Receiver();
    await receiver.start();
    server = await startTestServer({
      VALIDATION_ENFORCEMENT: 'off',
      SUBSCRIPTION_ENDPOINT_SCHEMES: 'http,https',
      SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true',
      SUBSCRIPTION_RETRY_BASE_MS: '50',
      SUBSCRIPTION_RETRY_MAX_MS: '200',
      SUBSCRIPTION_ERROR_AFTER_FAILURES: '3',
      SUBSCRIPTION_POLL_MS: '100',
      SUBSCRIPTION_TIMEOUT_MS: '400',
    });
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(server.app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${base}/fhir/${path}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const put = async (path: string, body: unknown) => {
    const res = await fetch(`${base}/fhir/${path}`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const get = async (path: string) => {
    const res = await fetch(`${base}/fhir/${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  const topicSubscription = (filter: string, content: string, extra: Record<string, unknown> = {}) => ({
    resourceType: 'Subscription',
    status: 'requested',
    reason: 'alerts of one patient',
    criteria: TOPIC,
    _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: filter }] },
    channel: {
      type: 'rest-hook',
      endpoint: receiver.url,
      payload: 'application/fhir+json',
      _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: content }] },
      header: ['Authorization: Bearer receiver-secret'],
      ...extra,
    },
  });

  it('advertises the websocket URL and the network topics in the CapabilityStatement', async () => {
    const { body } = await get('metadata');
    const rest = (body.rest as Array<Record<string, unknown>>)[0];
    expect(rest.extension).toEqual([{ url: 'http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket', valueUri: 'ws://relais.test/ws/subscriptions' }]);
    const subscription = (rest.resource as Array<{ type: string; extension?: Array<{ valueCanonical: string }> }>).find((r) => r.type === 'Subscription')!;
    expect(subscription.extension!.map((e) => e.valueCanonical)).toContain(TOPIC);
    expect(subscription.extension).toHaveLength(6);
  });

  it('topic-based rest-hook: handshake, then active; a matching write notifies (full resource, eventNumbers in order), a non-matching one does not; $status and $events', async () => {
    await put('Patient/pa', { resourceType: 'Patient', id: 'pa' });
    await put('Patient/pb', { resourceType: 'Patient', id: 'pb' });
    const created = await post('Subscription', topicSubscription('patient=Patient/pa', 'full-resource'));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.status).toBe('requested');
    const id = created.body.id as string;
    await receiver.waitFor((r) => r.some((x) => x.body.includes('"handshake"')));
    const handshake = receiver.bundles().find((b) => part(statusOf(b), 'type')?.valueCode === 'handshake')!;
    expect(handshake.type).toBe('history');
    expect(part(statusOf(handshake), 'subscription')?.valueReference?.reference).toBe(`http://relais.test/fhir/Subscription/${id}`);
    expect(receiver.received[0].headers.authorization).toBe('Bearer receiver-secret');
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 5000 }).toBe('active');

    // Not matching: another patient's alert, and an inactive alert of this patient.
    await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pb' } });
    await post('Flag', { resourceType: 'Flag', status: 'inactive', code: { text: 'ancienne' }, subject: { reference: 'Patient/pa' } });
    // Matching, twice.
    const first = await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pa' } });
    const second = await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'escarre' }, subject: { reference: 'Patient/pa' } });
    await receiver.waitFor((r) => r.filter((x) => x.body.includes('"event-notification"')).length >= 2);
    const notifications = receiver.bundles().filter((b) => part(statusOf(b), 'type')?.valueCode === 'event-notification');
    expect(notifications.flatMap(eventNumbers)).toEqual([1, 2]);
    expect(notifications.map((b) => (b.entry![1].resource as { id: string }).id)).toEqual([first.body.id, second.body.id]);
    expect(notifications[0].entry![1].request).toEqual({ method: 'POST', url: 'Flag' });
    expect(part(statusOf(notifications[1]), 'events-since-subscription-start')?.valueString).toBe('2');

    const status = await get(`Subscription/${id}/$status`);
    expect(status.status).toBe(200);
    const statusParameters = ((status.body as unknown as Bundle).entry![0].resource as Parameters);
    expect(part(statusParameters, 'status')?.valueCode).toBe('active');
    expect(part(statusParameters, 'events-since-subscription-start')?.valueString).toBe('2');

    const events = await get(`Subscription/${id}/$events?eventsSinceNumber=2&content=id-only`);
    const replay = events.body as unknown as Bundle;
    expect(eventNumbers(replay)).toEqual([2]);
    expect(replay.entry![1].resource).toBeUndefined();
    expect(replay.entry![1].fullUrl).toBe(`http://relais.test/fhir/Flag/${second.body.id}`);
  });

  it('retries while the receiver fails, turns to error after the configured count, then back to active when it recovers', async () => {
    await put('Patient/pc', { resourceType: 'Patient', id: 'pc' });
    // The filter in the Backport IG's own form: a search on the filtered type.
    const created = await post('Subscription', topicSubscription('Flag?patient=Patient/pc', 'id-only'));
    const id = created.body.id as string;
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 5000 }).toBe('active');
    receiver.status = 503;
    const before = receiver.received.length;
    await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pc' } });
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 8000 }).toBe('error');
    expect((await get(`Subscription/${id}`)).body.error).toMatch(/answered 503/);
    expect(receiver.received.length - before).toBeGreaterThanOrEqual(3);
    receiver.status = 200;
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 8000 }).toBe('active');
    const delivered = receiver.bundles().filter((b) => part(statusOf(b), 'subscription')?.valueReference?.reference?.endsWith(`/${id}`) && part(statusOf(b), 'type')?.valueCode === 'event-notification');
    // Id-only: the focus, an entry without the resource.
    const last = delivered.at(-1)!;
    expect(eventNumbers(last)).toEqual([1]);
    expect(last.entry![1].resource).toBeUndefined();
  });

  it('a receiver that redirects, times out, fails or answers a huge body affects only its own subscription', async () => {
    const bad = badReceiver();
    await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', resolve));
    const badBase = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
    try {
      await put('Patient/pz', { resourceType: 'Patient', id: 'pz' });
      const ids: Record<string, string> = {};
      for (const path of ['redirect', 'silent', 'error', 'huge']) {
        const res = await post('Subscription', { ...topicSubscription('patient=Patient/pz', 'id-only'), channel: { ...topicSubscription('', 'id-only').channel, endpoint: `${badBase}/${path}` } });
        ids[path] = res.body.id as string;
      }
      const good = await post('Subscription', topicSubscription('patient=Patient/pz', 'id-only'));
      await expect.poll(async () => (await get(`Subscription/${good.body.id}`)).body.status, { timeout: 5000 }).toBe('active');
      const started = Date.now();
      await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pz' } });
      await receiver.waitFor((r) => r.some((x) => x.body.includes(`Subscription/${good.body.id}"`) && x.body.includes('"event-notification"')), 5000);
      // The healthy endpoint is not held up by the three failing ones (their handshakes keep timing out or failing).
      expect(Date.now() - started).toBeLessThan(3000);
      for (const path of ['redirect', 'silent', 'error']) {
        await expect.poll(async () => (await get(`Subscription/${ids[path]}`)).body.status, { timeout: 10_000 }).toBe('error');
      }
      expect((await get(`Subscription/${ids.redirect}`)).body.error).toMatch(/302 \(redirects are not followed\)/);
      expect((await get(`Subscription/${ids.silent}`)).body.error).toMatch(/no answer within 400 ms/);
      // A 200 with a huge body is a success: the body is read up to 64 KiB and dropped.
      expect((await get(`Subscription/${ids.huge}`)).body.status).toBe('active');
    } finally {
      bad.closeAllConnections();
      await new Promise((resolve) => bad.close(resolve));
    }
  });

  it('sends heartbeats at the period the subscription asks for', async () => {
    const created = await post('Subscription', topicSubscription('patient=Patient/nobody', 'empty', { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-heartbeat-period', valueUnsignedInt: 1 }] }));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const heartbeats = () => receiver.bundles().filter((b) => part(statusOf(b), 'subscription')?.valueReference?.reference?.endsWith(`/${id}`) && part(statusOf(b), 'type')?.valueCode === 'heartbeat');
    await expect.poll(() => heartbeats().length, { timeout: 6000 }).toBeGreaterThanOrEqual(2);
    // Empty content: no topic in the status, no entries beyond it.
    expect(part(statusOf(heartbeats()[0]), 'topic')).toBeUndefined();
    expect(heartbeats()[0].entry).toHaveLength(1);
    await put(`Subscription/${id}`, { ...(await get(`Subscription/${id}`)).body, status: 'off' });
  });

  it('turns a subscription off at its end (Subscription.end; the ANS guide\'s validity period), after which it is not notified', async () => {
    await put('Patient/pe', { resourceType: 'Patient', id: 'pe' });
    const created = await post('Subscription', { ...topicSubscription('patient=Patient/pe', 'id-only'), end: new Date(Date.now() + 1500).toISOString() });
    const id = created.body.id as string;
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 5000 }).toBe('active');
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 8000 }).toBe('off');
    await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pe' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await server.ctx.store.outboxState(id)).toMatchObject({ head: 0 });
  });

  it('R4 criteria rest-hook with a JSON payload: the resource is PUT to [endpoint]/[type]/[id]', async () => {
    const created = await post('Subscription', {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'weights',
      criteria: 'Observation?code=http://loinc.org|29463-7',
      channel: { type: 'rest-hook', endpoint: receiver.url, payload: 'application/fhir+json' },
    });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await expect.poll(async () => (await get(`Subscription/${id}`)).body.status, { timeout: 5000 }).toBe('active');
    await post('Observation', { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] } });
    const weight = await post('Observation', { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] } });
    await receiver.waitFor((r) => r.some((x) => x.method === 'PUT' && x.url === `/hook/Observation/${weight.body.id}`));
    expect(receiver.received.filter((x) => x.method === 'PUT')).toHaveLength(1);
    const sent = receiver.received.find((x) => x.method === 'PUT')!;
    expect(sent.headers['content-type']).toBe('application/fhir+json');
    expect(JSON.parse(sent.body)).toMatchObject({ resourceType: 'Observation', id: weight.body.id });
  });

  it('drops an owner record sent without authentication (only the server records owners)', async () => {
    const forged = { url: 'https://relais-sante.fr/fhir/StructureDefinition/subscription-owner', extension: [{ url: 'kind', valueCode: 'coordinator' }, { url: 'issuer', valueUri: 'x' }, { url: 'subject', valueString: 'someone' }] };
    const created = await post('Subscription', { ...topicSubscription('patient=Patient/pa', 'empty'), extension: [forged, { url: 'https://example.org/other', valueString: 'kept' }] });
    expect(created.status).toBe(201);
    expect(created.body.extension).toEqual([{ url: 'https://example.org/other', valueString: 'kept' }]);
    expect(server.ctx.subscriptions.registry.get(created.body.id as string)?.owner).toBeUndefined();
  });

  it('refuses what it cannot honour with a 422 naming the element, and stores nothing', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...topicSubscription('patient=Patient/pa', 'id-only'), criteria: 'https://relais-sante.fr/fhir/SubscriptionTopic/unknown' }, 'Subscription.criteria'],
      [topicSubscription('code=abc', 'id-only'), 'Subscription.criteria.extension:filterCriteria[0]'],
      [topicSubscription('Encounter?patient=Patient/pa', 'id-only'), 'Subscription.criteria.extension:filterCriteria[0]'],
      [{ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?subject.name=x', channel: { type: 'rest-hook', endpoint: receiver.url } }, 'Subscription.criteria'],
      [{ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?code=1', channel: { type: 'rest-hook', endpoint: 'not a url' } }, 'Subscription.channel.endpoint'],
      [{ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?code=1', channel: { type: 'rest-hook', endpoint: 'ftp://127.0.0.1/x' } }, 'Subscription.channel.endpoint'],
      [{ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?code=1', channel: { type: 'rest-hook', endpoint: receiver.url, payload: 'text/csv' } }, 'Subscription.channel.payload'],
      [{ resourceType: 'Subscription', status: 'active', reason: 'x', criteria: 'Observation?code=1', channel: { type: 'rest-hook', endpoint: receiver.url } }, 'Subscription.status'],
      [{ resourceType: 'Subscription', status: 'requested', reason: 'x', criteria: 'Observation?code=1', channel: { type: 'email', endpoint: 'mailto:a@b.fr' } }, 'Subscription.channel.type'],
    ];
    const before = (await get('Subscription?_summary=count')).body.total;
    for (const [body, element] of cases) {
      const res = await post('Subscription', body);
      // 400 when the structure already refuses it (a url that is not one), else 422.
      expect([400, 422], `${element} ${JSON.stringify(res.body)}`).toContain(res.status);
      expect((res.body.issue as Array<{ expression: string[] }>)[0].expression).toEqual([element]);
    }
    expect((await get('Subscription?_summary=count')).body.total).toBe(before);
  });

  it('websocket: R4 bind/ping and Backport bind-with-token (handshake, then notification Bundles)', async () => {
    await put('Patient/pw', { resourceType: 'Patient', id: 'pw' });
    const r4 = await post('Subscription', { resourceType: 'Subscription', status: 'requested', reason: 'ws', criteria: 'Flag?patient=Patient/pw', channel: { type: 'websocket' } });
    const topic = await post('Subscription', { ...topicSubscription('patient=Patient/pw', 'id-only'), channel: { type: 'websocket', payload: 'application/fhir+json', _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] } } });
    expect([r4.status, topic.status]).toEqual([201, 201]);
    const tokenAnswer = (await get(`Subscription/${topic.body.id}/$get-ws-binding-token`)).body as unknown as Parameters;
    const token = part(tokenAnswer, 'token')!.valueString!;
    expect(part(tokenAnswer, 'websocket-url')?.valueUrl).toBe('ws://relais.test/ws/subscriptions');

    const socket = new WebSocket(`${base.replace('http', 'ws')}/ws/subscriptions`);
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    await new Promise((resolve) => socket.on('open', resolve));
    socket.send(`bind ${r4.body.id}`);
    socket.send(`bind-with-token ${token}`);
    await expect.poll(() => messages.some((m) => m === `bound ${r4.body.id}`) && messages.some((m) => m.includes('"handshake"')), { timeout: 5000, message: 'got: ' + messages.join(' | ').slice(0, 800) }).toBe(true);
    await post('Flag', { resourceType: 'Flag', status: 'active', code: { text: 'chute' }, subject: { reference: 'Patient/pw' } });
    await expect.poll(() => messages.includes(`ping ${r4.body.id}`) && messages.some((m) => m.includes('"event-notification"')), { timeout: 5000, message: 'got: ' + messages.join(' | ').slice(0, 800) }).toBe(true);
    const notification = JSON.parse(messages.find((m) => m.includes('"event-notification"'))!) as Bundle;
    expect(eventNumbers(notification)).toEqual([1]);
    socket.send('bind-with-token forged.token');
    await expect.poll(() => messages.some((m) => m.startsWith('error invalid or expired binding token')), { timeout: 3000 }).toBe(true);
    socket.close();
  });
});
