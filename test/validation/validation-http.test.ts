/**
 * Validation as integrators meet it over HTTP: enforcement on write (422 with
 * an OperationOutcome, nothing stored), strictness by configuration, $validate,
 * $expand, $validate-code, conformance resources searchable by url, and the
 * CapabilityStatement's supportedProfile.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROFILES_DIR } from '../../src/conformance/load-conformance.js';
import { seedNetworkConformance } from '../../src/startup/seed-conformance.js';
import { FHIR_JSON, startTestServer, type TestServer } from '../helpers/test-server.js';

const B = 'https://relais-sante.fr/fhir';
const example = (file: string) => JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'examples', file), 'utf8'));
const invalid = (file: string) => JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, 'examples', 'invalid', file), 'utf8'));

describe('validation over HTTP', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => server.close());

  it('rejects a write breaking the network profile with 422 and stores nothing', async () => {
    const body = invalid('PractitionerRole-unknown-act.json');
    const res = await server.app.inject({ method: 'PUT', url: `/fhir/PractitionerRole/${body.id}`, headers: FHIR_JSON, payload: body });
    expect(res.statusCode).toBe(422);
    const outcome = res.json();
    expect(outcome.resourceType).toBe('OperationOutcome');
    expect(outcome.issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['PractitionerRole.extension[0].value.ofType(Coding)'] }));
    expect((await server.app.inject({ method: 'GET', url: `/fhir/PractitionerRole/${body.id}` })).statusCode).toBe(404);
  });

  it('validates a claimed profile (meta.profile) on create', async () => {
    const body = invalid('Patient-ins-no-gender.json');
    delete body.id;
    const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient', headers: FHIR_JSON, payload: body });
    expect(res.statusCode).toBe(422);
    expect(res.json().issue).toContainEqual(expect.objectContaining({ expression: ['Patient.gender'] }));
  });

  it('accepts the valid examples', async () => {
    for (const file of ['Patient-patient-ins-durand.json', 'PractitionerRole-nurse-martin-liberal.json', 'CarePlan-pps-durand.json']) {
      const body = example(file);
      const res = await server.app.inject({ method: 'PUT', url: `/fhir/${body.resourceType}/${body.id}`, headers: FHIR_JSON, payload: body });
      expect(res.statusCode, file).toBe(201);
    }
  });

  it('$validate at type level returns 200 with the issues, and honours profile=', async () => {
    const body = invalid('ServiceRequest-order-unknown-act.json');
    const res = await server.app.inject({ method: 'POST', url: '/fhir/ServiceRequest/$validate', headers: FHIR_JSON, payload: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: body }] } });
    expect(res.statusCode).toBe(200);
    expect(res.json().issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['ServiceRequest.code'] }));
    const withoutClaim = { ...body, meta: undefined };
    const asReferral = await server.app.inject({ method: 'POST', url: `/fhir/ServiceRequest/$validate?profile=${encodeURIComponent(`${B}/StructureDefinition/relais-referral`)}`, headers: FHIR_JSON, payload: withoutClaim });
    expect(asReferral.json().issue).toContainEqual(expect.objectContaining({ diagnostics: expect.stringContaining("slice 'referral'") }));
    const unknown = await server.app.inject({ method: 'POST', url: '/fhir/ServiceRequest/$validate?profile=http://example.org/nope', headers: FHIR_JSON, payload: withoutClaim });
    expect(unknown.statusCode).toBe(400);
  });

  it('$validate answers 400 to a body that is not a resource, and 200 with the verdict to a resource of another type', async () => {
    for (const payload of [{ resourceType: {} }, { resourceType: 7 }, {}, { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { name: 'x' } }] }]) {
      const res = await server.app.inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: FHIR_JSON, payload });
      expect(res.statusCode, JSON.stringify(payload)).toBe(400);
      expect(res.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', expression: ['resource'] }] });
    }
    const otherType = await server.app.inject({ method: 'POST', url: '/fhir/Patient/$validate', headers: FHIR_JSON, payload: { resourceType: 'Observation' } });
    expect(otherType.statusCode).toBe(200);
    expect(otherType.json().issue).toContainEqual(expect.objectContaining({ severity: 'error', expression: ['resourceType'] }));
  });

  it('$validate at instance level validates the stored resource; mode=delete checks existence', async () => {
    const ok = await server.app.inject({ method: 'GET', url: '/fhir/Patient/patient-ins-durand/$validate' });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().issue.filter((i: { severity: string }) => i.severity === 'error')).toEqual([]);
    const del = await server.app.inject({ method: 'GET', url: '/fhir/Patient/patient-ins-durand/$validate?mode=delete' });
    expect(del.statusCode).toBe(200);
    expect((await server.app.inject({ method: 'GET', url: '/fhir/Patient/nobody/$validate' })).statusCode).toBe(404);
  });

  it('$expand and $validate-code on the network ValueSets', async () => {
    const expand = await server.app.inject({ method: 'GET', url: `/fhir/ValueSet/$expand?url=${encodeURIComponent(`${B}/ValueSet/relais-technical-acts`)}` });
    expect(expand.statusCode).toBe(200);
    expect(expand.json().expansion.contains.map((c: { code: string }) => c.code)).toContain('picc-line');
    expect(expand.json().expansion.total).toBe(12);
    const yes = await server.app.inject({ method: 'GET', url: `/fhir/ValueSet/$validate-code?url=${encodeURIComponent(`${B}/ValueSet/relais-technical-acts`)}&system=${encodeURIComponent(`${B}/CodeSystem/relais-technical-acts`)}&code=stoma-care` });
    expect(yes.json().parameter[0]).toEqual({ name: 'result', valueBoolean: true });
    const no = await server.app.inject({ method: 'GET', url: `/fhir/ValueSet/$validate-code?url=${encodeURIComponent(`${B}/ValueSet/relais-technical-acts`)}&code=juggling` });
    expect(no.json().parameter[0]).toEqual({ name: 'result', valueBoolean: false });
    const unknown = await server.app.inject({ method: 'GET', url: '/fhir/ValueSet/$expand?url=http://example.org/vs' });
    expect(unknown.statusCode).toBe(404);
  });

  it('serves the conformance resources, searchable by url, and lists supported profiles', async () => {
    await seedNetworkConformance(server.ctx.engine, server.ctx.engine.facts.profileValidation!.registry);
    const found = await server.app.inject({ method: 'GET', url: `/fhir/StructureDefinition?url=${encodeURIComponent(`${B}/StructureDefinition/relais-patient`)}` });
    expect(found.json().entry?.[0]?.resource?.id).toBe('relais-patient');
    const q = await server.app.inject({ method: 'GET', url: `/fhir/Questionnaire?url=${encodeURIComponent(`${B}/Questionnaire/relais-multidisciplinary-evaluation`)}` });
    expect(q.json().entry?.[0]?.resource?.item).toHaveLength(7);
    const cs = await server.app.inject({ method: 'GET', url: '/fhir/metadata' });
    const patient = cs.json().rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
    expect(patient.supportedProfile).toContain(`${B}/StructureDefinition/relais-patient-ins`);
  });

  // Found by the HL7 validator (scripts/hl7-validator-check.ts): the CapabilityStatement named an
  // OperationDefinition for $find-professionals that nothing published.
  it('publishes an OperationDefinition for every network operation the CapabilityStatement names', async () => {
    await seedNetworkConformance(server.ctx.engine, server.ctx.engine.facts.profileValidation!.registry);
    const cs = (await server.app.inject({ method: 'GET', url: '/fhir/metadata' })).json();
    const named: Array<{ name: string; definition: string }> = [
      ...(cs.rest[0].operation ?? []),
      ...cs.rest[0].resource.flatMap((r: { operation?: Array<{ name: string; definition: string }> }) => r.operation ?? []),
    ];
    const own = named.filter((o) => o.definition.startsWith(`${B}/`));
    expect(own.map((o) => o.name)).toContain('find-professionals');
    for (const operation of own) {
      const found = await server.app.inject({ method: 'GET', url: `/fhir/OperationDefinition?url=${encodeURIComponent(operation.definition)}` });
      expect(found.statusCode).toBe(200);
      const definition = found.json().entry?.[0]?.resource;
      expect({ url: operation.definition, code: definition?.code }).toEqual({ url: operation.definition, code: operation.name });
    }
  });
});

describe('VALIDATION_ENFORCEMENT', () => {
  it('off: only structure is checked on write', async () => {
    const server = await startTestServer({ VALIDATION_ENFORCEMENT: 'off' });
    try {
      const body = invalid('PractitionerRole-unknown-act.json');
      const res = await server.app.inject({ method: 'PUT', url: `/fhir/PractitionerRole/${body.id}`, headers: FHIR_JSON, payload: body });
      expect(res.statusCode).toBe(201);
    } finally {
      await server.close();
    }
  });
  it('claimed: network profiles apply only when claimed', async () => {
    const server = await startTestServer({ VALIDATION_ENFORCEMENT: 'claimed' });
    try {
      const body = invalid('Practitioner-rpps-short.json');
      expect((await server.app.inject({ method: 'PUT', url: `/fhir/Practitioner/${body.id}`, headers: FHIR_JSON, payload: body })).statusCode).toBe(201);
      const claimed = { ...body, id: 'claimed', meta: { profile: [`${B}/StructureDefinition/relais-practitioner`] } };
      expect((await server.app.inject({ method: 'PUT', url: '/fhir/Practitioner/claimed', headers: FHIR_JSON, payload: claimed })).statusCode).toBe(422);
      // An extension's own definition always applies, claimed or not.
      const act = invalid('PractitionerRole-unknown-act.json');
      expect((await server.app.inject({ method: 'PUT', url: `/fhir/PractitionerRole/${act.id}`, headers: FHIR_JSON, payload: act })).statusCode).toBe(422);
    } finally {
      await server.close();
    }
  });
});
