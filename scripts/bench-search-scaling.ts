/**
 * Does the first page of a broad search cost in proportion to the page, or to the number of
 * matches? (issue 17: "name-prefix search at 100,000 patients at least 0.5 of its rate at 1,000".)
 * Loads a small and a large set of patients (the generated network's Patients only: the searches
 * measured are on Patient) into two fresh stores in the same process, runs the same broad searches
 * on each through the engine (compile, store, bundle), and prints each search's rate and CPU time
 * per query on both and the large/small ratio of rates.
 *
 *   nice -n 10 npx tsx scripts/bench-search-scaling.ts                        # 1,000 vs 100,000
 *   nice -n 10 npx tsx scripts/bench-search-scaling.ts --small 1000 --large 20000 --iterations 50
 *
 * The store is the embedded one (in temporary folders, removed afterwards) unless MONGODB_URI is set.
 * Also reports the longest event-loop stall (perf_hooks.monitorEventLoopDelay) during each set of queries.
 *
 * The embedded store keeps a first page's paging snapshot (held-snapshots.ts) and deals with it later
 * (at the next page, after 10 s, or when more than 32 are held), so part of a first page's work may
 * happen after it: the "with what is left" columns end the hold of every snapshot still held once a set
 * of queries is done (what the end of the hold time does: list them before 7 Dec 2026, release them to
 * their place in the history since) and count that CPU time too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Bundle, Patient, Resource } from 'fhir/r4';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import { EmbeddedStore } from '../src/store/embedded/embedded-store.js';
import { storeFromConfig } from '../src/store/store-from-config.js';
import { ACCESS_FACT_TYPES } from '../src/access/fact-cache.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { generateNetwork, parseFlags, seededRandom, type NetworkIndex } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { small: 1000, large: 100_000, iterations: 100, seed: 42 });

interface Row {
  name: string;
  perSecond: number;
  cpuMs: number;
  /** CPU per query counting what the end of the hold of the paging snapshots these queries left does. */
  cpuWithLeftMs: number;
  p50: number;
  meanEntries: number;
}

const prefix = (text: string, n: number) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().slice(0, n);

async function measure(patients: number): Promise<{ rows: Row[]; loadSeconds: number; stallMs: number }> {
  const folder = mkdtempSync(join(tmpdir(), 'relais-bench-scaling-'));
  const config = loadConfig({ LOG_LEVEL: 'silent', ...process.env, DATA_DIR: folder });
  const store = storeFromConfig(config, ACCESS_FACT_TYPES);
  const ctx = buildContext(config, store);
  await ctx.store.open();
  try {
    const index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] };
    const loadStart = performance.now();
    let batch: WriteOperation[] = [];
    let loaded = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await ctx.store.write(batch);
      loaded += batch.length;
      batch = [];
      if (loaded % 10_000 === 0) process.stderr.write(`\r${patients} patients: loaded ${loaded}`);
    };
    for (const resource of generateNetwork({ patients, observationsPerPatient: 0, encountersPerPatient: 0, seed: flags.seed }, index)) {
      if (resource.resourceType !== 'Patient') continue;
      batch.push({ kind: 'put', resourceType: 'Patient', id: resource.id!, resource, index: ctx.engine.facts.extractor.extract(resource as Resource) });
      if (batch.length >= 500) {
        await flush();
        await yieldToLoop();
      }
    }
    await flush();
    process.stderr.write('\n');
    const loadSeconds = (performance.now() - loadStart) / 1000;

    const random = seededRandom(flags.seed + 1);
    const anyOf = <T>(list: T[]) => list[Math.floor(random() * list.length)];
    const QUERIES: Array<{ name: string; params: () => string }> = [
      { name: 'name prefix (4 letters), page 1 of 20', params: () => `family=${prefix(anyOf(index.families), 4)}&_count=20` },
      { name: 'name prefix (3 letters), page 1 of 20', params: () => `name=${prefix(anyOf(index.families), 3)}&_count=20` },
      { name: 'family prefix + birthdate range', params: () => `family=${prefix(anyOf(index.families), 4)}&birthdate=ge1940&birthdate=lt1960&_count=20` },
      { name: 'gender (half of all), page 1 of 20', params: () => `gender=${random() < 0.5 ? 'female' : 'male'}&_count=20` },
      { name: 'all patients, page 1 of 20', params: () => `_count=20` },
      { name: 'name prefix, page 1 then page 2', params: () => `family=${prefix(anyOf(index.families), 4)}&_count=20&page2=1` },
    ];
    const rows: Row[] = [];
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    for (const query of QUERIES) {
      const run = async () => {
        const params = [...new URLSearchParams(query.params()).entries()];
        const page2 = params.some(([n]) => n === 'page2');
        const bundle: Bundle<Resource> = await ctx.engine.asServer('benchmark').search('Patient', params.filter(([n]) => n !== 'page2'));
        let entries = bundle.entry?.length ?? 0;
        const next = bundle.link?.find((l) => l.relation === 'next')?.url;
        if (page2 && next) entries += (await ctx.engine.asServer('benchmark').search('Patient', [...new URL(next).searchParams.entries()])).entry?.length ?? 0;
        return entries;
      };
      await run();
      const times: number[] = [];
      let entries = 0;
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      for (let i = 0; i < flags.iterations; i++) {
        const t0 = performance.now();
        entries += await run();
        times.push(performance.now() - t0);
      }
      const elapsed = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      if (store instanceof EmbeddedStore) await store.releaseHeldSnapshots();
      const cpuWithLeft = process.cpuUsage(cpuStart);
      times.sort((a, b) => a - b);
      const perQuery = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000 / flags.iterations;
      rows.push({ name: query.name, perSecond: flags.iterations / elapsed, cpuMs: perQuery(cpu), cpuWithLeftMs: perQuery(cpuWithLeft), p50: times[Math.floor(times.length / 2)], meanEntries: entries / flags.iterations });
    }
    histogram.disable();
    void ({} as Patient);
    return { rows, loadSeconds, stallMs: histogram.max / 1e6 };
  } finally {
    await ctx.store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

const small = await measure(flags.small);
const large = await measure(flags.large);
console.log(`store: ${process.env.MONGODB_URI ? 'mongodb' : 'embedded'}; ${flags.small} vs ${flags.large} patients (loaded in ${small.loadSeconds.toFixed(1)} s and ${large.loadSeconds.toFixed(1)} s); ${flags.iterations} sequential runs per search; longest event-loop stall during the searches ${small.stallMs.toFixed(0)} ms and ${large.stallMs.toFixed(0)} ms; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('');
// On a shared machine wall-clock rates follow the other jobs; CPU time per query is the steadier measure of cost.
console.log(`| search | /s at ${flags.small} | /s at ${flags.large} | rate ratio | CPU ms at ${flags.small} | CPU ms at ${flags.large} | CPU ratio (small/large) | with what is left: CPU ms at ${flags.small} | at ${flags.large} | ratio | p50 ms at ${flags.large} | entries |`);
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (let i = 0; i < small.rows.length; i++) {
  const s = small.rows[i];
  const l = large.rows[i];
  console.log(`| ${s.name} | ${s.perSecond.toFixed(0)} | ${l.perSecond.toFixed(0)} | ${(l.perSecond / s.perSecond).toFixed(2)} | ${s.cpuMs.toFixed(2)} | ${l.cpuMs.toFixed(2)} | ${(s.cpuMs / l.cpuMs).toFixed(2)} | ${s.cpuWithLeftMs.toFixed(2)} | ${l.cpuWithLeftMs.toFixed(2)} | ${(s.cpuWithLeftMs / l.cpuWithLeftMs).toFixed(2)} | ${l.p50.toFixed(1)} | ${l.meanEntries.toFixed(0)} |`);
}
