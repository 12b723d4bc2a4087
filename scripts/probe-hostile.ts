/**
 * Hostile requests against a started server holding a generated network,
 * one at a time, while /healthz is probed every 10 ms on its own connection:
 * how long each request takes and how long the event loop was held (the
 * slowest /healthz answer during it). Then the time a nurse's read of a
 * hidden id takes against an unknown one (issue 18: they must not tell apart).
 * A measurement, not a test:
 *
 *   npx tsx scripts/probe-hostile.ts --patients 5000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { mintDevToken } from './mint-token.js';
import { generateNetwork, parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 5000, observations: 4, encounters: 1, seed: 42, timing: 200 });
const dataDir = mkdtempSync(join(tmpdir(), 'relais-probe-'));
const env = { DATA_DIR: dataDir, LOG_LEVEL: 'silent', AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000000', BASE_URL: 'http://127.0.0.1:0/fhir', VALIDATION_ENFORCEMENT: 'off' };
const config = loadConfig(env);
const ctx = buildContext(config);
await ctx.store.open();
let batch: WriteOperation[] = [];
for (const resource of generateNetwork({ patients: flags.patients, observationsPerPatient: flags.observations, encountersPerPatient: flags.encounters, seed: flags.seed })) {
  batch.push({ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: ctx.engine.facts.extractor.extract(resource as Resource) });
  if (batch.length >= 500) {
    await ctx.store.write(batch);
    batch = [];
  }
}
if (batch.length > 0) await ctx.store.write(batch);
const seed = ctx.engine.asServer('probe setup');
await seed.update('Practitioner', 'probe-nurse', { resourceType: 'Practitioner', id: 'probe-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10000000001' }] });
await seed.update('Observation', 'probe-hidden', { resourceType: 'Observation', id: 'probe-hidden', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/probe-patient' } });
const app = await buildApp(ctx, { logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
const coordinator = await mintDevToken({ role: 'coordinator', sub: 'probe', ttlSeconds: 3600 }, env);
const nurse = await mintDevToken({ role: 'nurse', rpps: '10000000001', ttlSeconds: 3600 }, env);

const big = (n: number, size: number) => ({ resourceType: 'Patient', name: Array.from({ length: n }, (_, i) => ({ family: `F${i}`.padEnd(size, 'x') })) });
const HOSTILE: Array<{ name: string; method: string; path: string; body?: unknown; type?: string }> = [
  { name: 'sort all patients by 5 keys, 1000 per page', method: 'GET', path: '/fhir/Patient?_sort=-birthdate,family,given,gender,_id&_count=1000' },
  { name: 'broad name prefix, 1000 per page', method: 'GET', path: '/fhir/Patient?name=ma&_count=1000' },
  { name: 'observations + _include subject, 1000', method: 'GET', path: '/fhir/Observation?_count=1000&_include=Observation:subject' },
  { name: 'patients + _revinclude observations, 1000', method: 'GET', path: '/fhir/Patient?_count=1000&_revinclude=Observation:subject' },
  { name: '_has over every observation', method: 'GET', path: '/fhir/Patient?_has:Observation:subject:status=final&_count=1000' },
  { name: 'system history, 1000', method: 'GET', path: '/fhir/_history?_count=1000' },
  { name: 'exact total of everything', method: 'GET', path: '/fhir/Patient?_total=accurate&_count=1' },
  { name: 'batch of 1000 small searches', method: 'POST', path: '/fhir', body: { resourceType: 'Bundle', type: 'batch', entry: Array.from({ length: 1000 }, (_, i) => ({ request: { method: 'GET', url: `Patient?family=${String.fromCharCode(97 + (i % 26))}&_count=10` } })) } },
  { name: 'transaction of 1000 creates', method: 'POST', path: '/fhir', body: { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 1000 }, () => ({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } })) } },
  { name: 'Patient of 9,000 names (≈9 MB)', method: 'POST', path: '/fhir/Patient', body: big(9000, 1000) },
  { name: '$validate of 9,000 names', method: 'POST', path: '/fhir/Patient/$validate', body: big(9000, 1000) },
  { name: 'a 9 MB string', method: 'POST', path: '/fhir/Patient', body: { resourceType: 'Patient', name: [{ text: 'x'.repeat(9_000_000) }] } },
];

async function probeDuring(run: () => Promise<{ status: number; detail: string }>): Promise<{ status: number; detail: string; ms: number; maxProbeMs: number }> {
  let probing = true;
  let maxProbeMs = 0;
  const prober = (async () => {
    while (probing) {
      const t0 = performance.now();
      await fetch(`${origin}/healthz`).then((r) => r.arrayBuffer());
      maxProbeMs = Math.max(maxProbeMs, performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const t0 = performance.now();
  const { status, detail } = await run();
  const ms = performance.now() - t0;
  probing = false;
  await prober;
  return { status, detail, ms, maxProbeMs };
}

console.log(`network: ${flags.patients} patients; embedded store; Node ${process.version}`);
console.log('| hostile request | status | time ms | slowest /healthz during it, ms |\n|---|---:|---:|---:|');
for (const h of HOSTILE) {
  const { status, detail, ms, maxProbeMs } = await probeDuring(async () => {
    const response = await fetch(`${origin}${h.path}`, {
      method: h.method,
      headers: { authorization: `Bearer ${coordinator}`, ...(h.body ? { 'content-type': 'application/fhir+json' } : {}) },
      ...(h.body ? { body: JSON.stringify(h.body) } : {}),
    });
    const text = await response.text();
    // A refusal says why (the limit that applied).
    const detail = response.status >= 400 ? ` (${(JSON.parse(text) as { issue?: Array<{ diagnostics?: string }> }).issue?.[0]?.diagnostics?.slice(0, 90) ?? ''})` : '';
    return { status: response.status, detail };
  });
  console.log(`| ${h.name} | ${status}${detail} | ${ms.toFixed(0)} | ${maxProbeMs.toFixed(0)} |`);
}

// Hidden against unknown, for a nurse (restricted): alternating, medians.
const times: Record<string, number[]> = { hidden: [], unknown: [] };
for (let i = 0; i < flags.timing; i++) {
  for (const [kind, id] of [['hidden', 'probe-hidden'], ['unknown', `probe-missing-${i}`]] as const) {
    const t0 = performance.now();
    const response = await fetch(`${origin}/fhir/Observation/${id}`, { headers: { authorization: `Bearer ${nurse}` } });
    await response.arrayBuffer();
    times[kind].push(performance.now() - t0);
  }
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
console.log(`\nnurse read, ${flags.timing} each, alternating: hidden id median ${median(times.hidden).toFixed(2)} ms, unknown id median ${median(times.unknown).toFixed(2)} ms (ratio ${(median(times.hidden) / median(times.unknown)).toFixed(2)})`);
await app.close();
rmSync(dataDir, { recursive: true, force: true });
