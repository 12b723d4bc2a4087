/**
 * The pieces of subscriptions that need no server: the registry compares a
 * write only with the subscriptions its own values could satisfy (thousands
 * registered, a handful tested); the endpoint policy refuses non-public
 * addresses, hosts off the list, other schemes and credentials in URLs, also
 * at connection time (a name resolving to loopback); topics read from
 * profiles/ (Backport "Basic"-wrapped SubscriptionTopic).
 */
import { describe, expect, it } from 'vitest';
import { loadDefinitions } from '../../src/fhir/definitions.js';
import { IndexExtractor } from '../../src/search/index-extractor.js';
import { SearchCompiler } from '../../src/search/search-query.js';
import { SearchParameterRegistry } from '../../src/search/search-parameters.js';
import { CriteriaCompiler } from '../../src/subscriptions/criteria-filter.js';
import { EndpointPolicy, isPublicAddress } from '../../src/subscriptions/endpoint-policy.js';
import { SubscriptionRegistry } from '../../src/subscriptions/subscription-registry.js';
import type { SubscriptionSpec } from '../../src/subscriptions/subscription-request.js';
import { TopicCatalogue } from '../../src/subscriptions/topic-catalogue.js';
import { sendHook } from '../../src/subscriptions/rest-hook-sender.js';

const definitions = loadDefinitions();
const parameters = new SearchParameterRegistry(definitions.searchParameters, definitions.resourceTypes);
const base = 'http://relais.test/fhir';
const criteria = new CriteriaCompiler(new SearchCompiler(parameters, { defaultCount: 20, maxCount: 100, baseUrl: base }), parameters, base);
const extractor = new IndexExtractor(parameters, { baseUrl: base });

async function spec(id: string, resourceType: string, params: Array<[string, string]>): Promise<SubscriptionSpec> {
  return {
    id,
    status: 'active',
    matchers: [{ resourceType, filter: await criteria.compile(resourceType, params) }],
    channel: { type: 'rest-hook', endpoint: 'https://example.org', format: 'json', headers: [], content: 'empty', maxCount: 1 },
  };
}

describe('subscription registry', () => {
  it('compares a write with the subscriptions its values could satisfy, not with all of them', async () => {
    const registry = new SubscriptionRegistry();
    for (let i = 0; i < 3000; i++) registry.set(await spec(`s${i}`, 'Observation', [['patient', `Patient/p${i}`]]));
    registry.set(await spec('by-code', 'Observation', [['code', 'http://loinc.org|29463-7']]));
    registry.set(await spec('any-final', 'Observation', [['status', 'final']]));
    registry.set(await spec('unkeyed', 'Observation', [['value-quantity', 'gt80']]));
    const observation = { resourceType: 'Observation' as const, id: 'o1', status: 'final' as const, code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: 'Patient/p42' }, valueQuantity: { value: 90, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } };
    const index = extractor.extract(observation);
    const candidates = registry.candidates('Observation', index);
    expect(candidates.map((c) => c.spec.id).sort()).toEqual(['any-final', 'by-code', 's42', 'unkeyed']);
    const doc = { id: 'o1', type: 'Observation', lastUpdated: '', idx: index };
    const notified = registry.notified({ resourceType: 'Observation', interaction: 'create', current: { resource: observation, doc } }, candidates);
    expect(notified.map((s) => s.id).sort()).toEqual(['any-final', 'by-code', 's42', 'unkeyed']);
    // Another patient, another code, not final, light: only the unkeyed one is even tested, and fails.
    const other = { ...observation, status: 'preliminary' as const, code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] }, subject: { reference: 'Patient/zz' }, valueQuantity: { ...observation.valueQuantity, value: 50 } };
    const otherIndex = extractor.extract(other);
    const few = registry.candidates('Observation', otherIndex);
    expect(few.map((c) => c.spec.id)).toEqual(['unkeyed']);
    expect(registry.notified({ resourceType: 'Observation', interaction: 'create', current: { resource: other, doc: { ...doc, idx: otherIndex } } }, few)).toEqual([]);
    expect(registry.listensTo('Patient')).toBe(false);
  });

  it('refuses criteria that need other resources or shape results', async () => {
    await expect(criteria.compile('Observation', [['subject.name', 'x']])).rejects.toThrow(/chain/);
    await expect(criteria.compile('Observation', [['_has:Observation:subject:code', 'x']])).rejects.toThrow(/_has/);
    await expect(criteria.compile('Observation', [['_sort', 'date']])).rejects.toThrow(/shapes search results/);
    await expect(criteria.compile('Observation', [['nonsense', 'x']])).rejects.toThrow(/not supported/);
  });
});

describe('endpoint policy', () => {
  const strict = new EndpointPolicy({ schemes: ['https'], hosts: [], allowPrivateAddresses: false });

  it('knows the non-public ranges (IPv4, IPv6, IPv4-mapped)', () => {
    for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '224.0.0.1']) {
      expect(isPublicAddress(address), address).toBe(false);
    }
    for (const address of ['193.51.24.1', '2a01:e0a::1']) expect(isPublicAddress(address), address).toBe(true);
  });

  it('refuses other schemes, credentials, hosts off the list and non-public addresses', async () => {
    await expect(strict.check('http://193.51.24.1/hook')).rejects.toThrow(/http: scheme is not allowed/);
    await expect(strict.check('https://user:pw@193.51.24.1/hook')).rejects.toThrow(/credentials/);
    await expect(strict.check('https://127.0.0.1/hook')).rejects.toThrow(/loopback, private/);
    await expect(strict.check('https://[::1]/hook')).rejects.toThrow(/loopback, private/);
    await expect(strict.check('https://localhost/hook')).rejects.toThrow(/loopback, private/);
    const listed = new EndpointPolicy({ schemes: ['https'], hosts: ['*.chu-tours.fr'], allowPrivateAddresses: true });
    expect(() => listed.checkUrl('https://hooks.chu-tours.fr/x')).not.toThrow();
    expect(() => listed.checkUrl('https://evil.example/x')).toThrow(/not among the hosts/);
  });

  it('refuses at connection time a name that resolves to loopback (the lookup given to node:http)', async () => {
    const result = await sendHook(new EndpointPolicy({ schemes: ['http'], hosts: [], allowPrivateAddresses: false }), { method: 'POST', url: 'http://localhost:9/hook', headers: {}, timeoutMs: 2000 });
    expect(result).toMatchObject({ ok: false });
    expect((result as { error: string }).error).toMatch(/loopback, private/);
  });
});

describe('topic catalogue', () => {
  it('reads the network topics from profiles/ (Basic-wrapped SubscriptionTopic)', () => {
    const catalogue = TopicCatalogue.fromDirectory('profiles');
    expect(catalogue.all().map((t) => t.url.split('/').pop()).sort()).toEqual(['alert-raised', 'care-plan-revised', 'consent-changed', 'discharge-announced', 'discharge-changed', 'message-to-care-team']);
    const discharge = catalogue.get('https://relais-sante.fr/fhir/SubscriptionTopic/discharge-announced')!;
    expect(discharge.triggers).toMatchObject([{ resourceType: 'Encounter', interactions: ['create', 'update'] }]);
    expect(discharge.canFilterBy.map((f) => f.filterParameter)).toContain('patient');
    for (const topic of catalogue.all()) for (const f of topic.canFilterBy) expect(parameters.get(f.resourceType, f.filterParameter), `${topic.url} ${f.filterParameter}`).toBeDefined();
  });
});
