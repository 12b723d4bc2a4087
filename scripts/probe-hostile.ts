/**
 * Hostile requests against a started server holding a generated network,
 * one at a time, while /healthz is probed every 10 ms on its own connection:
 * how long each request takes and how long the event loop was held (the
 * slowest /healthz answer during it). Then the time a nurse's read of a
 * hidden id takes against an unknown one (issue 18: they must not tell apart).
 * A measurement, not a test:
 *
 *   npx tsx scripts/probe-hostile.ts --patients 5000
 *
 * `--sortextra N` adds N small Observations (written straight to the store) so
 * that `_sort` over every Observation sorts that many more matches. `--repeat N`
 * sends each request N times: the table then gives the median of the N times
 * and of the N slowest probes (on a loaded machine one run's slowest probe is
 * mostly scheduling noise), and the slowest probe of all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Resource } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { mintDevToken } from './mint-token.js';
import { generateNetwork, parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 5000, observations: 4, encounters: 1, seed: 42, timing: 200, sortextra: 0, repeat: 1 });
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
for (let i = 0; i < flags.sortextra; i++) {
  const resource = { resourceType: 'Observation', id: `sort-${i}`, status: 'final', code: { text: 'x' }, effectiveDateTime: new Date(Date.UTC(2020, 0, 1) + ((i * 7919) % 1e6) * 60_000).toISOString() } as Resource;
  batch.push({ kind: 'put', resourceType: 'Observation', id: resource.id!, resource, index: ctx.engine.facts.extractor.extract(resource) });
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

// Big single resources allowed by the default limits (BODY_LIMIT_BYTES 10 MB, LIMIT_ARRAY_ELEMENTS 1000, R4's 1 MB per string).
const base64Of = (bytes: number) => Buffer.alloc(bytes, 'relais-').toString('base64');
const bigXml = `<Patient xmlns="http://hl7.org/fhir"><name><text value="${'x'.repeat(9_000_000)}"/></name></Patient>`;
const big = (n: number, size: number) => ({ resourceType: 'Patient', name: Array.from({ length: n }, (_, i) => ({ family: `F${i}`.padEnd(size, 'x') })) });
const HOSTILE: Array<{ name: string; method: string; path: string; body?: unknown; type?: string }> = [
  { name: 'one small read (control: what the machine itself adds)', method: 'GET', path: '/fhir/Patient?_count=1' },
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
  { name: 'Patient of 999 names of 9,000 letters (≈9 MB)', method: 'POST', path: '/fhir/Patient', body: big(999, 9000) },
  { name: 'DocumentReference, 7 MB inline attachment', method: 'POST', path: '/fhir/DocumentReference', body: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'application/pdf', data: base64Of(5_250_000) } }] } },
  { name: 'Binary, 7 MB', method: 'POST', path: '/fhir/Binary', body: { resourceType: 'Binary', contentType: 'application/pdf', data: base64Of(5_250_000) } },
  { name: 'a 9 MB XML string (refused)', method: 'POST', path: '/fhir/Patient', body: bigXml, type: 'application/fhir+xml' },
  { name: 'sort every Observation by date, 10 per page', method: 'GET', path: '/fhir/Observation?_sort=-date&_count=10' },
];

/**
 * The client side runs in its own thread (its own event loop): sending a 9 MB body and reading a
 * 9 MB answer in the server's thread added the client's own work to what the probes measured.
 * It sends one request while probing /healthz every 10 ms, and answers how long both took.
 */
const CLIENT = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.on('message', async (h) => {
  let probing = true;
  let maxProbeMs = 0;
  const prober = (async () => {
    while (probing) {
      const t0 = performance.now();
      await fetch(workerData.origin + '/healthz').then((r) => r.arrayBuffer());
      maxProbeMs = Math.max(maxProbeMs, performance.now() - t0);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const t0 = performance.now();
  const response = await fetch(workerData.origin + h.path, { method: h.method, headers: h.headers, body: h.body });
  const text = await response.text();
  const ms = performance.now() - t0;
  probing = false;
  await prober;
  let detail = '';
  if (response.status >= 400) {
    try { detail = ' (' + String(JSON.parse(text).issue?.[0]?.diagnostics ?? '').slice(0, 90) + ')'; } catch {}
  }
  parentPort.postMessage({ status: response.status, detail, ms, maxProbeMs });
});`;
const client = new Worker(CLIENT, { eval: true, workerData: { origin } });

function probeDuring(h: (typeof HOSTILE)[number], payload: string | undefined): Promise<{ status: number; detail: string; ms: number; maxProbeMs: number }> {
  return new Promise((resolve) => {
    client.once('message', resolve);
    client.postMessage({
      path: h.path,
      method: h.method,
      headers: { authorization: `Bearer ${coordinator}`, accept: 'application/fhir+json', ...(payload !== undefined ? { 'content-type': h.type ?? 'application/fhir+json' } : {}) },
      body: payload,
    });
  });
}

console.log(`network: ${flags.patients} patients (+${flags.sortextra} small Observations); embedded store; Node ${process.version}; load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`| hostile request | status | time ms | slowest /healthz during it, ms${flags.repeat > 1 ? ` (median of ${flags.repeat}; slowest of all)` : ''} |\n|---|---:|---:|---:|`);
// PROBE_ONLY=<regular expression> runs only the hostile requests whose name matches it.
const only = process.env.PROBE_ONLY ? new RegExp(process.env.PROBE_ONLY, 'i') : undefined;
const middle = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor((list.length - 1) / 2)];
for (const h of HOSTILE.filter((c) => !only || only.test(c.name))) {
  const runs: Array<{ status: number; detail: string; ms: number; maxProbeMs: number }> = [];
  const payload = h.body === undefined ? undefined : typeof h.body === 'string' ? h.body : JSON.stringify(h.body);
  for (let i = 0; i < Math.max(1, flags.repeat); i++) runs.push(await probeDuring(h, payload));
  const probes = runs.map((r) => r.maxProbeMs);
  const slowest = runs.length > 1 ? `${middle(probes).toFixed(0)}; ${Math.max(...probes).toFixed(0)}` : probes[0].toFixed(0);
  console.log(`| ${h.name} | ${runs[0].status}${runs[0].detail} | ${middle(runs.map((r) => r.ms)).toFixed(0)} | ${slowest} |`);
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
await client.terminate();
await app.close();
rmSync(dataDir, { recursive: true, force: true });
