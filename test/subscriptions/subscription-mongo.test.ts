/**
 * Subscriptions on MongoDB (issue 12): two Relais applications, each with its
 * own MongoStore (its own connection pool, as two processes behind a load
 * balancer have), on one database of the test server, one rest-hook
 * subscription, writes arriving through both. Both workers look for the
 * subscription's undelivered events; the queue's lease lets one at a time
 * deliver, so every event is delivered exactly once here (the normal case),
 * in eventNumber order.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Bundle, Parameters } from 'fhir/r4';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { buildContext, type RelaisContext } from '../../src/context.js';
import { dropDatabases, freshDatabaseName, mongoUri } from '../store/mongo-test-database.js';

const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/alert-raised';

describe.skipIf(!mongoUri)('subscriptions on MongoDB, two processes', () => {
  const database = freshDatabaseName();
  const instances: Array<{ ctx: RelaisContext; app: FastifyInstance }> = [];
  const eventNumbers: number[] = [];
  let receiver: Server;
  let endpoint = '';

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        const bundle = body ? (JSON.parse(body) as Bundle) : undefined;
        const status = bundle?.entry?.[0].resource as Parameters | undefined;
        for (const p of status?.parameter ?? []) if (p.name === 'notification-event') eventNumbers.push(Number(p.part!.find((x) => x.name === 'event-number')!.valueString));
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    for (let i = 0; i < 2; i++) {
      const config = loadConfig({
        MONGODB_URI: mongoUri,
        MONGODB_DATABASE: database,
        DATA_DIR: '/nonexistent',
        BASE_URL: 'http://relais.test/fhir',
        LOG_LEVEL: 'silent',
        AUTH_MODE: 'none',
        VALIDATION_ENFORCEMENT: 'off',
        SUBSCRIPTION_ENDPOINT_SCHEMES: 'http',
        SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true',
        SUBSCRIPTION_POLL_MS: '100',
      });
      const ctx = buildContext(config);
      await ctx.store.open();
      instances.push({ ctx, app: await buildApp(ctx, { logger: false }) });
    }
  });

  afterAll(async () => {
    for (const { app } of instances) await app.close();
    await new Promise((resolve) => receiver?.close(resolve));
    await dropDatabases([database]);
  });

  const post = (i: number, type: string, body: unknown) =>
    instances[i].app.inject({ method: 'POST', url: `/fhir/${type}`, headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify(body) });

  it('delivers each event once, in order, whichever process committed it', async () => {
    await instances[0].app.inject({ method: 'PUT', url: '/fhir/Patient/pm', headers: { 'content-type': 'application/fhir+json' }, payload: JSON.stringify({ resourceType: 'Patient', id: 'pm' }) });
    const created = await post(0, 'Subscription', {
      resourceType: 'Subscription',
      status: 'requested',
      reason: 'two processes',
      criteria: TOPIC,
      _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: 'patient=Patient/pm' }] },
      channel: {
        type: 'rest-hook',
        endpoint,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] },
      },
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    // The other process learns of the subscription from the store (SUBSCRIPTION_POLL_MS).
    await expect.poll(() => instances.every(({ ctx }) => ctx.subscriptions.registry.get(id)?.status === 'active'), { timeout: 10_000 }).toBe(true);
    const writes = 30;
    await Promise.all(
      Array.from({ length: writes }, (_, n) => post(n % 2, 'Flag', { resourceType: 'Flag', status: 'active', code: { text: `alerte ${n}` }, subject: { reference: 'Patient/pm' } })),
    );
    await expect.poll(() => eventNumbers.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(writes);
    await new Promise((resolve) => setTimeout(resolve, 500)); // a duplicate would arrive meanwhile
    expect(eventNumbers).toEqual(Array.from({ length: writes }, (_, n) => n + 1));
  }, 60_000);
});
