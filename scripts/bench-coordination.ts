/**
 * What the re-evaluation of a discharge costs a write (issue 14): single PUTs
 * of discharge Encounters — unchanged (the coordination re-reads the
 * discharge, finds nothing to change, writes nothing) and with their date
 * moved by a day (it rewrites the Task, closes and raises Flags, tells the
 * team) — against a baseline in the same process: PUTs of Observations of the
 * same patients, a type no write extension is concerned with.
 *
 *   npx tsx scripts/bench-coordination.ts [--discharges 100] [--rounds 2]
 *
 * Embedded store, in-process (app.inject), one write at a time, after the
 * directory and the discharges (fixtures/discharges, made distinct) are loaded.
 * Prints per-write milliseconds (median, p95) and the ratio to the baseline.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle, Encounter, Resource } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';

const { values } = parseArgs({ options: { discharges: { type: 'string', default: '100' }, rounds: { type: 'string', default: '2' } } });
const DISCHARGES = Number(values.discharges);
const ROUNDS = Number(values.rounds);
const root = new URL('../fixtures/', import.meta.url);
const templates = readdirSync(new URL('discharges/', root))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => readFileSync(new URL(`discharges/${f}`, root), 'utf8'));

/** The i-th discharge: a fixture whose identifiers are made unique (as scripts/bench-ingest.ts does). */
function discharge(i: number): string {
  const tag = String(i).padStart(6, '0');
  return templates[i % templates.length]
    .replace(/"(IPP|NDA|RX|DOC|MSG|CT)-/g, `"$1-${tag}-`)
    .replace(/\|(IPP|NDA|RX|DOC|MSG|CT)-/g, `|$1-${tag}-`)
    .replace(/([0-9]{9})[0-9]{6}\b/g, (_m, head: string) => `${head}${tag}`);
}

function quantiles(samples: number[]): { p50: number; p95: number; mean: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), mean: samples.reduce((s, x) => s + x, 0) / samples.length };
}

const dataDir = mkdtempSync(join(tmpdir(), 'relais-bench-coordination-'));
const ctx = buildContext(loadConfig({ DATA_DIR: dataDir, BASE_URL: 'http://relais.bench/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none', COORDINATION_TEAM_FINESS: '370099991', RATE_LIMIT_MAX: '10000000' }));
await ctx.store.open();
const app = await buildApp(ctx, { logger: false });
await app.ready();
const send = async (method: 'POST' | 'PUT', url: string, body: unknown) => {
  const response = await app.inject({ method, url, headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, payload: typeof body === 'string' ? body : JSON.stringify(body) });
  if (response.statusCode >= 300) throw new Error(`${method} ${url}: ${response.statusCode} ${response.body.slice(0, 300)}`);
  return response;
};
try {
  await send('POST', '/fhir', readFileSync(new URL('directory-touraine.json', root), 'utf8'));
  for (let i = 0; i < DISCHARGES; i++) await send('POST', '/fhir', discharge(i));
  const server = ctx.engine.asServer('benchmark');
  const search = async (type: string) => ((await server.search(type, [['_count', '1000']])).entry ?? []).map((e) => e.resource as Resource);
  const encounters = (await search('Encounter')) as Encounter[];
  const observations: Resource[] = [];
  for (const encounter of encounters) {
    const created = await server.create('Observation', { resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: encounter.subject, valueQuantity: { value: 60, unit: 'kg' } });
    observations.push(created.version.resource!);
  }
  const time = async (write: () => Promise<unknown>) => {
    const started = process.hrtime.bigint();
    await write();
    return Number(process.hrtime.bigint() - started) / 1e6;
  };
  const samples = { baseline: [] as number[], unchanged: [] as number[], moved: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, so load on the shared machine weighs on each kind alike.
    for (let i = 0; i < encounters.length; i++) {
      const observation = observations[i] as Resource & { valueQuantity: { value: number } };
      samples.baseline.push(await time(() => send('PUT', `/fhir/Observation/${observation.id}`, { ...observation, meta: undefined, valueQuantity: { value: 60 + round + 1, unit: 'kg' } })));
      const encounter = encounters[i];
      samples.unchanged.push(await time(() => send('PUT', `/fhir/Encounter/${encounter.id}`, { ...encounter, meta: undefined })));
      const end = new Date(Date.parse(encounter.period!.end!) + (round % 2 === 0 ? 1 : -1) * 86_400_000).toISOString();
      samples.moved.push(await time(() => send('PUT', `/fhir/Encounter/${encounter.id}`, { ...encounter, meta: undefined, period: { ...encounter.period, end } })));
    }
  }
  const base = quantiles(samples.baseline);
  console.log(`${encounters.length} discharges, ${ROUNDS} round(s), one write at a time, embedded store`);
  for (const [name, list] of Object.entries(samples)) {
    const q = quantiles(list);
    console.log(
      `${name.padEnd(9)} ${list.length} PUTs: median ${q.p50.toFixed(1)} ms, p95 ${q.p95.toFixed(1)} ms, mean ${q.mean.toFixed(1)} ms` +
        (name === 'baseline' ? '' : ` — ×${(q.p50 / base.p50).toFixed(1)} the baseline median`),
    );
  }
  const bundle = (await server.search('Flag', [['_summary', 'count']])) as Bundle;
  console.log(`(${bundle.total} alert Flags at the end)`);
} finally {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
}
