/**
 * What metrics cost per request: the same requests through app.inject() on two
 * apps in this process, one with METRICS_ENABLED=false (baseline) and one with
 * the default (the onResponse hook counting and timing every request, the
 * store and validators measured through proxies). Alternating rounds, so both
 * see the same machine load; prints requests/s and the ratio.
 *
 *   npx tsx scripts/bench-operability-overhead.ts [--requests 3000] [--rounds 5]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';

const { values } = parseArgs({ options: { requests: { type: 'string', default: '3000' }, rounds: { type: 'string', default: '5' } } });
const REQUESTS = Number(values.requests);
const ROUNDS = Number(values.rounds);

async function app(metrics: boolean) {
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-bench-ops-'));
  const ctx = buildContext(loadConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', AUTH_MODE: 'none', VALIDATION_ENFORCEMENT: 'off', METRICS_ENABLED: String(metrics) }));
  await ctx.store.open();
  const instance = await buildApp(ctx, { logger: false });
  await instance.ready();
  const created = await instance.inject({ method: 'POST', url: '/fhir/Patient', headers: { 'content-type': 'application/fhir+json' }, payload: '{"resourceType":"Patient","name":[{"family":"Banc"}]}' });
  const id = (JSON.parse(created.body) as { id: string }).id;
  return { instance, id, dataDir };
}

const subjects = { baseline: await app(false), metrics: await app(true) };
const totals = { baseline: 0, metrics: 0 };
for (let round = 0; round < ROUNDS; round++) {
  for (const name of ['baseline', 'metrics'] as const) {
    const { instance, id } = subjects[name];
    const started = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i++) await instance.inject({ url: i % 2 === 0 ? `/fhir/Patient/${id}` : '/fhir/Patient?family=banc' });
    totals[name] += Number(process.hrtime.bigint() - started) / 1e9;
  }
}
const rate = (name: 'baseline' | 'metrics') => (REQUESTS * ROUNDS) / totals[name];
console.log(`baseline (METRICS_ENABLED=false): ${rate('baseline').toFixed(0)} requests/s`);
console.log(`metrics on (default):            ${rate('metrics').toFixed(0)} requests/s`);
console.log(`ratio: ${(rate('metrics') / rate('baseline')).toFixed(3)} (reads and searches alternated, ${REQUESTS * ROUNDS} each)`);
for (const { instance, dataDir } of Object.values(subjects)) {
  await instance.close();
  rmSync(dataDir, { recursive: true, force: true });
}
