/**
 * Type-history benchmark for restricted callers: loads a generated network
 * (scripts/network-dataset.ts) into the configured store, rewrites every
 * Observation `--versions - 1` more times (so history is longer than the
 * current state), habilitates one nurse for `--reachable` patients (Consent,
 * CareTeam, the convention of her service), then measures
 * `GET Observation/_history?_count=50` through the engine with a
 * caller (access filter evaluated on each version's own index
 * entries, exact total, one AuditEvent written per request) for the nurse,
 * a coordinator (unfiltered, audited) and the server itself (no context),
 * first page and a deep page.
 *
 *   npx tsx scripts/bench-history.ts                      # small default
 *   npx tsx scripts/bench-history.ts --patients 5000      # ~50 k resources, ~90 k versions
 *
 * Store: the one the environment configures; by default the embedded store in
 * a fresh temporary folder, removed afterwards.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Observation, Resource } from 'fhir/r4';
import type { Caller } from '../src/engine/caller.js';
import { parseScopes } from '../src/identity/smart-scopes.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { generateNetwork, parseFlags, RPPS_SYSTEM, type NetworkIndex } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 500, observations: 6, encounters: 1, versions: 2, reachable: 20, iterations: 20, seed: 42, batch: 500 });
const ownFolder = process.env.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'relais-bench-history-'));
const config = loadConfig({ LOG_LEVEL: 'silent', ...process.env, ...(ownFolder ? { DATA_DIR: ownFolder } : {}) });
const ctx = buildContext(config);
const engineCtx = ctx.engine.facts;
await ctx.store.open();

// --- load ---------------------------------------------------------------------
let batch: WriteOperation[] = [];
let written = 0;
const flush = async () => {
  if (batch.length === 0) return;
  if (ctx.store.capabilities.atomicMultiWrite || batch.length === 1) await ctx.store.write(batch);
  else await Promise.all(batch.map((op) => ctx.store.write([op])));
  written += batch.length;
  batch = [];
};
const put = async (resource: Resource) => {
  batch.push({ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: engineCtx.extractor.extract(resource) });
  if (batch.length >= flags.batch) await flush();
};
const index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] };
const observations: Observation[] = [];
const loadStart = performance.now();
for (const resource of generateNetwork({ patients: flags.patients, observationsPerPatient: flags.observations, encountersPerPatient: flags.encounters, seed: flags.seed }, index)) {
  if (resource.resourceType === 'Observation') observations.push(resource as Observation);
  await put(resource);
}
await flush();
for (let v = 2; v <= flags.versions; v++) {
  for (const o of observations) await put({ ...o, status: v % 2 === 0 ? 'amended' : 'corrected' } as Resource);
}
await flush();

// One nurse, habilitated for the first `reachable` patients.
const NURSE_RPPS = '19900000001';
await put({ resourceType: 'Practitioner', id: 'bench-nurse', identifier: [{ system: RPPS_SYSTEM, value: NURSE_RPPS }] } as Resource);
await put({ resourceType: 'Organization', id: 'bench-ssiad', name: 'SSIAD du banc' } as Resource);
await put({ resourceType: 'PractitionerRole', id: 'bench-role', practitioner: { reference: 'Practitioner/bench-nurse' }, organization: { reference: 'Organization/bench-ssiad' } } as Resource);
await put({ resourceType: 'Contract', id: 'bench-convention', status: 'executed', subject: [{ reference: 'Organization/bench-ssiad' }] } as Resource);
for (const patient of index.patientIds.slice(0, flags.reachable)) {
  await put({
    resourceType: 'Consent',
    id: `bench-consent-${patient}`,
    status: 'active',
    scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
    patient: { reference: `Patient/${patient}` },
    performer: [{ reference: `Patient/${patient}` }],
    provision: { type: 'permit' },
  } as Resource);
  await put({ resourceType: 'CareTeam', id: `bench-ct-${patient}`, status: 'active', subject: { reference: `Patient/${patient}` }, participant: [{ member: { reference: 'Practitioner/bench-nurse' } }] } as Resource);
}
await flush();
const loadSeconds = (performance.now() - loadStart) / 1000;

// --- measure ------------------------------------------------------------------
const nurse: Caller = { kind: 'client', principal: { kind: 'practitioner', subject: 'bench-nurse', issuer: 'bench', role: 'nurse', rpps: NURSE_RPPS, scopes: parseScopes('user/*.rs') } };
const coordinator: Caller = { kind: 'client', principal: { kind: 'coordinator', subject: 'bench-coord', issuer: 'bench', role: 'coordinator', scopes: parseScopes('user/*.cruds') } };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const session = (caller: Caller) => ctx.engine.as(caller);
const rows: string[] = [];
for (const [who, rc] of [['nurse (filtered)', nurse], ['coordinator (unfiltered, audited)', coordinator], ['server (no context)', { kind: 'server', reason: 'benchmark' }]] as Array<[string, Caller]>) {
  for (const [page, params] of [
    ['first page', [['_count', '50']]],
    ['page at offset 1000', [['_count', '50'], ['_offset', '1000']]],
  ] as Array<[string, Array<[string, string]>]>) {
    await session(rc).history({ resourceType: 'Observation' }, params, false);
    const times: number[] = [];
    let total = 0;
    for (let i = 0; i < flags.iterations; i++) {
      const t0 = performance.now();
      const bundle = await session(rc).history({ resourceType: 'Observation' }, params, false);
      times.push(performance.now() - t0);
      total = bundle.total ?? 0;
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${who} | ${page} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${total} |`);
  }
}

// For comparison: the nurse's type search (same access filter, same facts gathered, over current versions only).
{
  const params: Array<[string, string]> = [['_count', '50']];
  await session(nurse).search('Observation', params);
  const times: number[] = [];
  let total = 0;
  for (let i = 0; i < flags.iterations; i++) {
    const t0 = performance.now();
    const bundle = await session(nurse).search('Observation', params);
    times.push(performance.now() - t0);
    total = bundle.total ?? 0;
  }
  times.sort((a, b) => a - b);
  rows.push(`| nurse, search Observation?_count=50 (comparison) | first page | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${total} |`);
}

console.log(
  `store: ${ctx.store.capabilities.name}; ${written} versions written (${flags.patients} patients, ${observations.length} observations × ${flags.versions} versions) in ${loadSeconds.toFixed(1)} s; nurse reaches ${flags.reachable} patients; ${flags.iterations} runs per row`,
);
console.log('');
console.log('| caller | page | p50 ms | p95 ms | Bundle.total |');
console.log('|---|---|---:|---:|---:|');
for (const row of rows) console.log(row);

await ctx.store.close();
if (ownFolder) rmSync(ownFolder, { recursive: true, force: true });
