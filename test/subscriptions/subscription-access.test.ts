/**
 * Access and audit of subscriptions (issue 12) with real tokens (AUTH_MODE=dev)
 * and a real HTTP receiver on loopback: a subscription belongs to its creator
 * (recorded by the server whatever the body says, readable by nobody else);
 * each notification is checked at delivery time against what the creator may
 * read — another patient's data is withheld, and after the patient's consent
 * is withdrawn nothing more about that patient is sent — and every delivered
 * event is audited as the creator's read.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent, Bundle, Parameters, Resource } from 'fhir/r4';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { authenticatedRequests, devAuthEnv } from '../helpers/authenticated-requests.js';
import { STRUCTURE_ONLY, startTestServer, type TestServer } from '../helpers/test-server.js';

const NURSE_RPPS = '10000000001';
const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/care-plan-revised';
let server: TestServer;
let receiver: Server;
let endpoint: string;
const bodies: Bundle[] = [];
let nurse: string;
let otherNurse: string;

const seed = (resource: Resource) => server.ctx.engine.asServer('test setup').update(resource.resourceType, resource.id!, resource);
const carePlan = (id: string, patient: string, title: string): Resource =>
  ({ resourceType: 'CarePlan', id, status: 'active', intent: 'plan', title, subject: { reference: `Patient/${patient}` } }) as Resource;
const consent = (status: string): Resource =>
  ({
    resourceType: 'Consent',
    id: 'consent-a',
    status,
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: 'Patient/pat-a' },
    performer: [{ reference: 'Patient/pat-a' }],
    provision: { type: 'permit' },
  }) as Resource;

const { call } = authenticatedRequests(() => server, 'sub');
const focusIds = () =>
  bodies
    .filter((b) => ((b.entry![0].resource as Parameters).parameter ?? []).some((p) => p.name === 'type' && p.valueCode === 'event-notification'))
    .flatMap((b) => b.entry!.slice(1).map((e) => (e.resource as Resource | undefined)?.id));

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      if (body) bodies.push(JSON.parse(body) as Bundle);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  server = await startTestServer({
    AUTH_MODE: 'dev',
    RATE_LIMIT_MAX: '10000',
    ...STRUCTURE_ONLY,
    SUBSCRIPTION_ENDPOINT_SCHEMES: 'http',
    SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true',
    SUBSCRIPTION_POLL_MS: '100',
  });
  nurse = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  otherNurse = await mintDevToken({ role: 'nurse', rpps: '10000000099', ttlSeconds: 600 }, devAuthEnv(server.dataDir));
  for (const resource of [
    { resourceType: 'Practitioner', id: 'pr-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }] },
    { resourceType: 'Practitioner', id: 'pr-other', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000099' }] },
    { resourceType: 'Organization', id: 'org-ssiad', name: 'SSIAD' },
    { resourceType: 'PractitionerRole', id: 'role-nurse', practitioner: { reference: 'Practitioner/pr-nurse' }, organization: { reference: 'Organization/org-ssiad' } },
    { resourceType: 'Contract', id: 'convention', status: 'executed', subject: [{ reference: 'Organization/org-ssiad' }] },
    { resourceType: 'Patient', id: 'pat-a' },
    { resourceType: 'Patient', id: 'pat-b' },
    consent('active'),
    { resourceType: 'CareTeam', id: 'ct-a', status: 'active', subject: { reference: 'Patient/pat-a' }, participant: [{ member: { reference: 'Practitioner/pr-nurse' } }] },
  ] as Resource[]) {
    await seed(resource);
  }
});

afterAll(async () => {
  await server?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe('subscriptions and access', () => {
  let subscriptionId: string;

  it('records the creator as owner whatever the body says; nobody else may read it', async () => {
    const forged = { url: 'https://relais-sante.fr/fhir/StructureDefinition/subscription-owner', extension: [{ url: 'kind', valueCode: 'coordinator' }, { url: 'issuer', valueUri: 'x' }, { url: 'subject', valueString: 'someone-else' }] };
    const created = await call(nurse, 'POST', '/fhir/Subscription', {
      resourceType: 'Subscription',
      extension: [forged],
      status: 'requested',
      reason: 'my patients\' care plans',
      criteria: TOPIC,
      channel: {
        type: 'rest-hook',
        endpoint,
        payload: 'application/fhir+json',
        _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'full-resource' }] },
      },
    });
    expect(created.response.statusCode).toBe(201);
    subscriptionId = created.response.json().id;
    const stored = (await call(nurse, 'GET', `/fhir/Subscription/${subscriptionId}`)).response.json();
    const owner = stored.extension.filter((e: { url: string }) => e.url.endsWith('subscription-owner'));
    expect(owner).toHaveLength(1);
    expect(owner[0].extension).toEqual(expect.arrayContaining([{ url: 'kind', valueCode: 'practitioner' }, { url: 'rpps', valueString: NURSE_RPPS }]));
    const foreign = (await call(otherNurse, 'GET', `/fhir/Subscription/${subscriptionId}`)).response;
    expect(foreign.statusCode, foreign.body).toBe(404);
    expect((await call(otherNurse, 'GET', '/fhir/Subscription')).response.json().total).toBe(0);
    await expect.poll(async () => (await call(nurse, 'GET', `/fhir/Subscription/${subscriptionId}`)).response.json().status, { timeout: 5000 }).toBe('active');
  });

  it('delivers what the owner may read, withholds another patient\'s data, and audits each delivered event as the owner\'s read', async () => {
    await seed(carePlan('cp-b', 'pat-b', 'plan of a patient she does not follow'));
    await seed(carePlan('cp-a', 'pat-a', 'plan of her patient'));
    await expect.poll(() => focusIds(), { timeout: 5000 }).toContain('cp-a');
    expect(focusIds()).not.toContain('cp-b');
    const audits = await server.ctx.engine.asServer('test').search('AuditEvent', [['_count', '1000']]);
    const delivery = (audits.entry ?? [])
      .map((e) => e.resource as AuditEvent)
      .filter((e) => e.source.site === `subscription-${subscriptionId}` && e.outcome === '0');
    expect(delivery.some((e) => e.agent[0].who?.identifier?.value === NURSE_RPPS && e.entity?.some((x) => x.what?.reference === 'CarePlan/cp-a/_history/1'))).toBe(true);
  });

  it('after the consent is withdrawn, nothing more about that patient is sent', async () => {
    await seed(consent('inactive'));
    await seed(carePlan('cp-a2', 'pat-a', 'revised after withdrawal'));
    // The worker has processed the event (acknowledged) without sending it.
    await expect.poll(async () => {
      const state = await server.ctx.store.outboxState(subscriptionId);
      return state.head > 0 && state.acked === state.head;
    }, { timeout: 5000 }).toBe(true);
    expect(focusIds()).not.toContain('cp-a2');
    // $events (the owner's replay) leaves it out too.
    const replay = (await call(nurse, 'GET', `/fhir/Subscription/${subscriptionId}/$events`)).response.json() as Bundle;
    expect(replay.entry!.slice(1).map((e) => e.fullUrl)).not.toContain('http://relais.test/fhir/CarePlan/cp-a2');
  });
});
