/**
 * Hostile HTTP requests, generated property-style with fast-check: methods,
 * paths (real routes, operations, histories, junk segments), query strings
 * (real parameter names with modifiers, chains, _has, control parameters,
 * and junk: huge, unicode, malformed prefixes and dates), headers (content
 * types, Accept, If-Match, If-None-Exist, Prefer, break-the-glass) and bodies
 * (arbitrary JSON, real resources mutated at random, Bundles, Parameters of
 * the wrong shape, XML, garbage) — sent with or without a token of each role.
 * Every answer must be a considered one: never a 5xx.
 */
import fc from 'fast-check';

export interface HostileRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS';
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Which token (by role) to send; undefined = none. */
  token?: string;
}

const TYPES = ['Patient', 'Observation', 'Encounter', 'Task', 'ServiceRequest', 'CarePlan', 'Communication', 'Flag', 'Consent', 'CareTeam', 'Contract', 'AuditEvent', 'Practitioner', 'PractitionerRole', 'Organization', 'Location', 'ValueSet', 'Bundle', 'Parameters', 'Binary', 'Subscription', 'Group'];
const JUNK = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('..', '.', '%00', '%2e%2e', '%', '%zz', '\u0000', '$', '$$', '_history', 'a'.repeat(300), '-1', '1e309', 'null', '[]', '{}', '😀', 'é', '\\', '//', '?', '#'),
);
const ids = fc.oneof(fc.constantFrom('pat-1', 'obs-1', 'dac-touraine', 'pr-claire-moreau', 'unknown', 'x'.repeat(64), 'x'.repeat(65)), fc.uuid(), JUNK);
const types = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...TYPES) }, { weight: 1, arbitrary: JUNK });
const operations = fc.constantFrom('$validate', '$match', '$expand', '$validate-code', '$find-professionals', '$everything', '$export', '$meta', '$unknown', '$');

const segment = (value: fc.Arbitrary<string>) => value.map((v) => encodeURIComponent(v));
const paths = fc.oneof(
  fc.constant('/fhir'),
  fc.constant('/fhir/metadata'),
  fc.constant('/fhir/_history'),
  segment(types).map((t) => `/fhir/${t}`),
  fc.tuple(segment(types), segment(ids)).map(([t, i]) => `/fhir/${t}/${i}`),
  fc.tuple(segment(types), segment(ids)).map(([t, i]) => `/fhir/${t}/${i}/_history`),
  fc.tuple(segment(types), segment(ids), fc.oneof(fc.constantFrom('1', '2', '0', '-1', '99999999999999999999'), segment(JUNK))).map(([t, i, v]) => `/fhir/${t}/${i}/_history/${v}`),
  segment(types).map((t) => `/fhir/${t}/_search`),
  segment(types).map((t) => `/fhir/${t}/_history`),
  fc.tuple(segment(types), operations).map(([t, o]) => `/fhir/${t}/${o}`),
  fc.tuple(segment(types), segment(ids), operations).map(([t, i, o]) => `/fhir/${t}/${i}/${o}`),
  operations.map((o) => `/fhir/${o}`),
  fc.array(segment(JUNK), { minLength: 1, maxLength: 6 }).map((parts) => `/fhir/${parts.join('/')}`),
  fc.array(segment(JUNK), { minLength: 1, maxLength: 3 }).map((parts) => `/${parts.join('/')}`),
);

const PARAMETER_NAMES = [
  'family', 'given', 'name', 'identifier', 'birthdate', 'gender', 'address-city', 'subject', 'patient', 'code', 'status', 'date', 'value-quantity',
  'subject:Patient.name', 'subject:Patient.identifier', '_has:Observation:subject:code', '_id', '_lastUpdated', '_tag', '_profile', '_text', '_content',
  '_sort', '_count', '_offset', '_cursor', '_total', '_summary', '_elements', '_include', '_revinclude', '_include:iterate', '_type', '_since', '_format', '_pretty',
  'name:exact', 'name:contains', 'code:in', 'code:not', 'code:below', 'identifier:of-type', 'near', 'url', 'system', 'onlyCertainMatches', 'count', 'radius', 'mode', 'profile',
];
const values = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 15 }),
  fc.integer().map(String),
  fc.double().map(String),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.tuple(fc.constantFrom('eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx'), fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)), fc.string({ maxLength: 12 }))).map(([p, v]) => p + v),
  fc.constantFrom('Patient:subject', 'Observation:subject', '*', 'Patient:*', '-birthdate,family', '_id', '1000', '0', '-5', 'true', 'count', 'accurate', 'http://loinc.org|8302-2', '|', '||', 'a|b|c', '48.1|2.3|10|km', 'ValueSet/x', JUNK.toString()),
  fc.string({ maxLength: 5000 }),
);
const queries = fc.array(fc.tuple(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...PARAMETER_NAMES) }, { weight: 1, arbitrary: JUNK }), values), { maxLength: 8 });

const CONTENT_TYPES = ['application/fhir+json', 'application/json', 'application/fhir+xml', 'application/xml', 'application/x-www-form-urlencoded', 'application/json-patch+json', 'text/plain', 'application/fhir+json; charset=latin1', 'multipart/form-data', ''];
const headers = fc.record(
  {
    'content-type': fc.constantFrom(...CONTENT_TYPES),
    accept: fc.constantFrom('application/fhir+json', 'application/fhir+xml', 'text/html', '*/*', 'application/json;q=0', 'garbage'),
    'if-match': fc.oneof(fc.constantFrom('W/"1"', '*', '"1", W/"2"', 'W/""', 'W/"abc"'), JUNK),
    'if-none-exist': fc.oneof(fc.constantFrom('identifier=x|y', 'name=a', '_id=pat-1', ''), JUNK),
    'if-none-match': fc.constantFrom('W/"1"', '*', 'x'),
    'if-modified-since': fc.oneof(fc.constant('Tue, 01 Jan 2030 00:00:00 GMT'), JUNK),
    prefer: fc.constantFrom('return=minimal', 'return=representation', 'return=OperationOutcome', 'handling=strict', 'respond-async', 'x'),
    'x-break-the-glass': fc.oneof(fc.constant('patient found unconscious at home'), JUNK),
  },
  { requiredKeys: [] },
);

/** Resources to mutate: a few of each kind the server holds. */
const SAMPLES: object[] = [
  { resourceType: 'Patient', name: [{ family: 'Hostile', given: ['Fuzz'] }], birthDate: '1950-01-01', gender: 'female' },
  { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-1' }, valueQuantity: { value: 70, unit: 'kg' } },
  { resourceType: 'Task', status: 'requested', intent: 'order', for: { reference: 'Patient/pat-1' } },
  { resourceType: 'Communication', status: 'completed', subject: { reference: 'Patient/pat-1' }, payload: [{ contentString: 'x' }] },
  { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient?_count=1' } }] },
  { resourceType: 'Bundle', type: 'transaction', entry: [{ fullUrl: 'urn:uuid:11111111-1111-4111-8111-111111111111', resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] },
  { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', birthDate: '1950-01-01' } }] },
  [{ op: 'replace', path: '/active', value: true }],
];

/** A sample with one value replaced somewhere (or a key added) by arbitrary JSON. */
const mutated = fc.tuple(fc.constantFrom(...SAMPLES), fc.jsonValue({ maxDepth: 3 }), fc.string({ maxLength: 12 }), fc.nat()).map(([sample, value, key, pick]) => {
  const copy = structuredClone(sample) as Record<string, unknown>;
  const slots: Array<[Record<string, unknown> | unknown[], string | number]> = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach((v, i) => (slots.push([node, i]), walk(v)));
    else if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) (slots.push([node as Record<string, unknown>, k]), walk(v));
  };
  walk(copy);
  if (slots.length === 0 || pick % 5 === 0) copy[key || 'extra'] = value;
  else {
    const [holder, slot] = slots[pick % slots.length];
    (holder as Record<string | number, unknown>)[slot] = value;
  }
  return JSON.stringify(copy);
});

const bodies = fc.oneof(
  { weight: 3, arbitrary: mutated },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(...SAMPLES.map((s) => JSON.stringify(s))) },
  { weight: 1, arbitrary: fc.constantFrom('<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>', '<!DOCTYPE x [<!ENTITY e "e">]><Patient/>', '<Patient', 'family=a&family=b', '{"resourceType":"Patient"', '\u0000\u0001', '[]', 'null', '"x"') },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...PARAMETER_NAMES), fc.string({ maxLength: 20 })), { maxLength: 20 }).map((pairs) => new URLSearchParams(pairs).toString()) },
);

export const ROLES = ['coordinator', 'nurse', 'hospital', 'platform', 'auditor', 'garbage'] as const;

export const hostileRequests: fc.Arbitrary<HostileRequest> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
    path: paths,
    query: queries,
    headers,
    body: fc.option(bodies, { freq: 2 }),
    token: fc.option(fc.constantFrom(...ROLES), { freq: 8 }),
  })
  .map(({ method, path, query, headers: h, body, token }) => {
    const search = query.length > 0 ? `?${query.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&')}` : '';
    const withBody = body !== null && method !== 'GET' && method !== 'HEAD';
    const sent: Record<string, string> = {};
    for (const [name, value] of Object.entries(h)) if (value !== undefined && (name !== 'content-type' || withBody)) sent[name] = value;
    return {
      method: method as HostileRequest['method'],
      path: path + search,
      headers: sent,
      ...(withBody ? { body } : {}),
      ...(token !== null ? { token } : {}),
    };
  });
