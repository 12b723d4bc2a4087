/**
 * Every search parameter the CapabilityStatement declares, for every resource
 * type, finds a resource that carries a value for it; every other parameter
 * the server knows for the type is reported (outcome entry, 400 with
 * handling=strict), never answered with a silently empty result.
 *
 * Generated from the definitions: for each declared (type, parameter), a
 * resource holding a value at the parameter's FHIRPath (parameter-values.ts),
 * written with the server's own index extraction, then searched with criteria
 * derived from its index entry. A parameter whose expression yields no entry
 * for a resource built along it, or whose search misses the resource, fails.
 */
import type { Bundle, CapabilityStatement, OperationOutcome, Resource } from 'fhir/r4';
import { beforeAll, describe, expect, it } from 'vitest';
import { FhirError } from '../../src/errors.js';
import { expressionFor } from '../../src/search/index-extractor.js';
import { useTestServer } from '../helpers/test-server.js';
import { candidateResources, criteriaFor } from './parameter-values.js';

const XHTML = (text: string) => `<div xmlns="http://www.w3.org/1999/xhtml"><p>${text}</p></div>`;

interface Case {
  type: string;
  code: string;
  id: string;
  criteria: Array<[string, string]>;
}

describe('declared search parameters', () => {
  const { inject, server } = useTestServer();
  const cases: Case[] = [];
  const unbuildable: string[] = [];
  let declared: Map<string, Set<string>>;

  beforeAll(async () => {
    const metadata = (await inject({ method: 'GET', url: '/fhir/metadata' })).json() as CapabilityStatement;
    declared = new Map(metadata.rest![0].resource!.map((r) => [r.type, new Set((r.searchParam ?? []).map((p) => p.name))]));
    const { ctx } = server();
    const { extractor, searchParameters, definitions } = ctx.engine.facts;
    let n = 0;
    for (const [type, codes] of declared) {
      for (const code of codes) {
        if (code === '_id' || code === '_lastUpdated') continue;
        const parameter = searchParameters.get(type, code)!;
        const id = `gen-${++n}`;
        const unique = `v${n}`;
        let candidates: Array<Record<string, unknown>>;
        if (code === '_text' || code === '_content') {
          candidates = [{ resourceType: type, text: { status: 'generated', div: XHTML(`Pansement ${unique} à domicile`) } }];
          if (!definitions.childrenOf(type).has('text')) candidates = [{ resourceType: type, meta: { tag: [{ system: 'http://relais.test/tags', code: unique, display: `Pansement ${unique}` }] } }];
        } else {
          const expression = expressionFor(type, parameter.expression!)!;
          candidates = candidateResources(definitions, type, expression, parameter, unique);
        }
        let written: Case | undefined;
        for (const candidate of candidates) {
          const resource = { ...candidate, id } as Resource;
          const entries = extractor.extract(resource);
          const entry = (entries[code] as Array<Record<string, unknown>> | undefined)?.[0];
          const criteria = entry && criteriaFor(parameter, code, entry);
          if (!criteria) continue;
          await ctx.store.write([{ kind: 'put', resourceType: type, id, resource, index: entries, expect: 'absent' }]);
          written = { type, code, id, criteria };
          break;
        }
        if (written) cases.push(written);
        else unbuildable.push(`${type}.${code} (${parameter.expression})`);
      }
    }
  }, 120_000);

  it('declares search parameters for every resource type, with _include/_revinclude targets', async () => {
    const metadata = (await inject({ method: 'GET', url: '/fhir/metadata' })).json() as CapabilityStatement;
    const patient = metadata.rest![0].resource!.find((r) => r.type === 'Patient')!;
    expect(patient.searchInclude).toEqual(expect.arrayContaining(['*', 'Patient:general-practitioner', 'Patient:organization']));
    expect(patient.searchRevInclude).toEqual(expect.arrayContaining(['Observation:subject', 'Condition:patient', 'Encounter:subject']));
    for (const code of ['phonetic', '_text', '_content', 'name']) expect(declared.get('Patient')!.has(code), code).toBe(true);
  });

  it('every declared parameter of every type gets index entries from a resource carrying a value for it', () => {
    expect(unbuildable).toEqual([]);
    expect(cases.length).toBeGreaterThan(2000);
  });

  it('every declared parameter of every type finds the resource that carries its value', async () => {
    const { ctx } = server();
    const missed: string[] = [];
    for (const c of cases) {
      const bundle = await ctx.engine.asServer('test').search(c.type, [...c.criteria, ['_count', '50']], { strict: true }).catch((e: unknown) => e);
      if (bundle instanceof FhirError) {
        missed.push(`${c.type}?${c.criteria.map(([k, v]) => `${k}=${v}`).join('&')}: ${bundle.status} ${bundle.issues[0]?.diagnostics}`);
        continue;
      }
      const ids = ((bundle as Bundle).entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id);
      if (!ids.includes(c.id)) missed.push(`${c.type}?${c.criteria.map(([k, v]) => `${k}=${v}`).join('&')} did not find ${c.id}`);
    }
    expect(missed).toEqual([]);
  }, 120_000);

  it('a parameter the server knows for a type but does not declare is reported, never silently empty', async () => {
    const { ctx } = server();
    const silent: string[] = [];
    let checked = 0;
    for (const type of ctx.engine.facts.definitions.resourceTypes) {
      for (const parameter of ctx.engine.facts.searchParameters.allFor(type)) {
        if (declared.get(type)!.has(parameter.code) || parameter.type === 'composite' || parameter.code === 'near') continue;
        checked++;
        const bundle = await ctx.engine.asServer('test').search(type, [[parameter.code, 'x']], { strict: false }).catch((e: unknown) => e);
        if (bundle instanceof FhirError) continue; // refused with a 4xx: not silent
        const outcome = (bundle as Bundle).entry?.find((e) => e.search?.mode === 'outcome')?.resource as OperationOutcome | undefined;
        if (!outcome?.issue.some((i) => i.expression?.includes(parameter.code))) silent.push(`${type}?${parameter.code}`);
        const strict = await ctx.engine.asServer('test').search(type, [[parameter.code, 'x']], { strict: true }).catch((e: unknown) => e);
        if (!(strict instanceof FhirError) || strict.status !== 400) silent.push(`${type}?${parameter.code} (strict)`);
      }
    }
    expect(checked).toBeGreaterThan(100); // _query, _filter, ... on every type
    expect(silent).toEqual([]);
  }, 60_000);
});
