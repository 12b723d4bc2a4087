/**
 * The coordination's own writes notify like a client's (issues 12 and 14):
 * the Flags a re-evaluation raises join the client's write through the same
 * store path as the subscription outbox, so a subscriber to the network's
 * `alert-raised` topic is told of them — the coordination cell, and the ward
 * itself, which reads the alerts about its own discharges — whether the ward
 * sent a transaction or a single write. A real HTTP receiver on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Encounter, Flag, Parameters } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinationOf, replay, tokenFor } from '../helpers/coordination-story.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';

const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/alert-raised';
const BACKPORT = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';
const HOSPITAL = { role: 'hospital', finess: '370099992', client: 'dpi-chu-fictif' };
const COORDINATOR = { role: 'coordinator', sub: 'coordinatrice-dac' };
const NDA = 'NDA-2026-000505';

let server: TestServer;
let receiver: Server;
let endpoint: string;
/** Notification Bundles received, by the path the subscription posts to. */
const received = new Map<string, Bundle[]>();

async function call(token: string, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown) {
  const response = await server.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}) },
    ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
  });
  return { status: response.statusCode, body: response.body ? JSON.parse(response.body) : undefined };
}

/** The Flags delivered to one receiver path in event notifications. */
function flagsDelivered(path: string): Flag[] {
  return (received.get(path) ?? [])
    .filter((b) => ((b.entry?.[0]?.resource as Parameters | undefined)?.parameter ?? []).some((p) => p.name === 'type' && p.valueCode === 'event-notification'))
    .flatMap((b) => (b.entry ?? []).slice(1).map((e) => e.resource as Flag | undefined))
    .filter((r): r is Flag => r?.resourceType === 'Flag');
}

const subscription = (path: string, patient: string) => ({
  resourceType: 'Subscription',
  status: 'requested',
  reason: 'alerts of a discharge',
  criteria: TOPIC,
  _criteria: { extension: [{ url: `${BACKPORT}/backport-filter-criteria`, valueString: `patient=${patient}` }] },
  channel: {
    type: 'rest-hook',
    endpoint: `${endpoint}/${path}`,
    payload: 'application/fhir+json',
    _payload: { extension: [{ url: `${BACKPORT}/backport-payload-content`, valueCode: 'full-resource' }] },
  },
});

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const path = (req.url ?? '').split('/').pop()!;
      if (body) received.set(path, [...(received.get(path) ?? []), JSON.parse(body) as Bundle]);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  server = await startTestServer({
    AUTH_MODE: 'dev',
    RATE_LIMIT_MAX: '100000',
    COORDINATION_TEAM_FINESS: '370099991',
    SUBSCRIPTION_ENDPOINT_SCHEMES: 'http',
    SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true',
    SUBSCRIPTION_POLL_MS: '100',
  });
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('alerts raised by the coordination are notified', () => {
  it('the ward moves its stay to Saturday (a transaction), then back to Friday (a single PUT): the cell and the ward are told of each alert raised', async () => {
    await replay(server, '01-friday-evening-discharge.json', 'worklist');
    const before = await coordinationOf(server, NDA);
    const patient = before.flags['missing-items'].subject.reference!;
    const [coordinator, hospital] = await Promise.all([tokenFor(server, COORDINATOR), tokenFor(server, HOSPITAL)]);
    for (const [token, path] of [[coordinator, 'cell'], [hospital, 'ward']] as const) {
      const created = await call(token, 'POST', '/fhir/Subscription', subscription(path, patient));
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      await expect.poll(async () => (await call(token, 'GET', `/fhir/Subscription/${created.body.id}`)).body.status, { timeout: 5000 }).toBe('active');
    }

    // The rest of the story: what was missing sent, then the discharge moved to Saturday, both as transactions.
    await replay(server, '01-friday-evening-discharge.json');
    const weekend = (await coordinationOf(server, NDA)).flags.weekend;
    expect(weekend.status).toBe('active');
    for (const path of ['cell', 'ward']) {
      await expect.poll(() => flagsDelivered(path).map((f) => f.id), { timeout: 8000 }).toContain(weekend.id);
      expect(flagsDelivered(path).find((f) => f.id === weekend.id)!.code.text).toContain('2026-10-17 10h');
    }

    // Back to Friday evening with a single PUT of the stay: the Friday alert, closed on the way, is raised again.
    const stay = (await call(hospital, 'GET', `/fhir/${before.encounter}`)).body as Encounter;
    const moved = await call(hospital, 'PUT', `/fhir/${before.encounter}`, { ...stay, period: { ...stay.period, end: '2026-10-16T19:00:00+02:00' } });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    const friday = (await coordinationOf(server, NDA)).flags['friday-afternoon'];
    expect(friday.status).toBe('active');
    for (const path of ['cell', 'ward']) {
      await expect.poll(() => flagsDelivered(path).map((f) => f.id), { timeout: 8000 }).toContain(friday.id);
      // Closing an alert (the missing items, the weekend) notifies nobody: the topic fires when a Flag becomes active.
      expect(flagsDelivered(path).every((f) => f.status === 'active')).toBe(true);
      expect(flagsDelivered(path).map((f) => f.id)).not.toContain(before.flags['missing-items'].id);
    }
  });
});
