/**
 * Search and storage benchmark: loads a generated network (scripts/network-dataset.ts)
 * into the configured store, then runs a fixed list of typical queries and
 * reports p50/p95/p99 latency and throughput per query, plus what the store
 * costs: load rate, RSS, size on disk, the longest event-loop stall during the
 * load and during maintenance, and the time to open the store again (restart).
 *
 *   npx tsx scripts/bench-search.ts                       # small default (CI-sized)
 *   npx tsx scripts/bench-search.ts --patients 10000      # ~100 k resources
 *   npx tsx scripts/bench-search.ts --patients 100000     # ~1 M resources (big run)
 *   DATA_DIR=/path npx tsx scripts/bench-search.ts --patients 100000 --load 0
 *       # queries, memory and restart over a folder an earlier run (same flags) left loaded:
 *       # the generator runs again only to know the values to query (nothing is written)
 *
 * Store: the one the environment configures (as the server does); by default
 * the embedded store in a fresh temporary folder, removed afterwards. Loading
 * goes straight to the store in batches (index entries computed by the same
 * extractor the server uses), skipping per-request validation so that loading
 * is not what is measured. Queries go through the engine (compile, sub-queries,
 * store, includes, bundle), not HTTP, so they measure search itself.
 *
 * Warm-up (`--warmup N`, each query N times before its `--iterations` measured runs): with a few
 * warm-up runs (3, as in the README's earlier tables) the sub-millisecond lookups are measured
 * while V8 is still optimising the search path, and more so on the side whose path is longer: at
 * 100 k resources, practitioner by RPPS cost 0.27–0.91 ms of CPU after 3 warm-up runs and 0.12–0.18
 * after 1,000 (the in-heap store 0.09–0.32 and 0.06–0.09). `--warmup 1000 --iterations 1000`
 * measures the steady state (README, "Lookups, fourth pass"); the same flags on both sides.
 * `--maintenance 0` skips the maintenance phase (50 paging snapshots saved, left to expire and
 * swept: its figures are then not printed), as for the journal store of the in-heap baseline, which
 * exposes none, and to rerun queries over a loaded folder quickly.
 *
 * CPU per query is printed to the microsecond (0.001 ms): the one-key lookups cost 0.05–0.1 ms, where
 * two decimals moved a ratio against the in-heap store by 0.1–0.2 with one digit.
 *
 * `--rounds N` runs the whole list N times in the same process, each round's table printed: the later
 * rounds measure a process that has run every query many times, as a long-running server has (the
 * in-heap baseline of issue 19 was measured in rounds of one loaded process: its load takes 15 minutes
 * at 1 M; at 100 k its one-patient lookups cost 0.13–0.18 ms in a first round, 0.05–0.10 in the next).
 *
 * `--only N` runs the N-th query of the list alone (1-based; 0, the default: all of them), and
 * `--profile 1` records a V8 CPU profile of each query's measured runs (node:inspector, sampling every
 * 100 µs) into a `.cpuprofile` file of the temporary folder, whose path is printed: what a query's
 * time goes to, without the load or the warm-up in the profile. CPU figures of a profiled run include
 * the profiler's own cost: compare them only with other profiled runs.
 *
 * Event-loop stalls are measured with perf_hooks.monitorEventLoopDelay (10 ms
 * resolution). The loader yields to the event loop every few resources, so the
 * longest stall it reports is the store's, not the benchmark's own index extraction.
 * On a shared machine a stall is either the process's own work or its wait for a
 * core: beside each stall, the longest time the main thread spent on a CPU
 * between two ticks of a 10 ms timer (Linux /proc/<pid>/task/<pid>/schedstat)
 * is the part the process itself is responsible for (its synchronous work + GC).
 */
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import type { Resource } from 'fhir/r4';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { ResourceStore, WriteOperation } from '../src/store/resource-store.js';
import { generateNetwork, NIR_SYSTEM, parseFlags, RPPS_SYSTEM, seededRandom, type NetworkIndex } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 500, observations: 6, encounters: 2, iterations: 30, warmup: 1, seed: 42, batch: 500, restart: 1, load: 1, maintenance: 1, only: 0, profile: 0, rounds: 1 });
const ownFolder = process.env.DATA_DIR ? undefined : mkdtempSync(join(tmpdir(), 'relais-bench-'));
// Paging snapshots expire after 10 s here, so that the maintenance phase has expired ones to drop.
const config = loadConfig({ LOG_LEVEL: 'silent', SEARCH_RESULT_SET_IDLE_SECONDS: '10', ...process.env, ...(ownFolder ? { DATA_DIR: ownFolder } : {}) });
const ctx = buildContext(config);
const engineCtx = ctx.engine.facts;
await ctx.store.open();

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

/** RSS split as Linux reports it: anonymous (heap, buffers) and file-backed (memory-mapped files: the page cache, reclaimable). */
function rssSplit(): string {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return ` (anonymous ${mib(kib('RssAnon'))}, file-backed ${mib(kib('RssFile'))})`;
  } catch {
    return '';
  }
}

/** Bytes allocated on disk under a folder (blocks, so sparse files count for what they really use). */
function diskUsage(path: string): number {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.blocks * 512;
  return readdirSync(path).reduce((sum, name) => sum + diskUsage(join(path, name)), stat.blocks * 512);
}

/**
 * The main thread's time on a CPU and waiting for one, in ms (Linux schedstat; undefined elsewhere).
 * A stall of the event loop on a shared machine is either work (on CPU) or waiting for a core (run
 * queue): the split says which.
 */
function mainThreadSchedule(): { onCpuMs: number; waitingMs: number } | undefined {
  try {
    const [onCpu, waiting] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ').map(Number);
    return { onCpuMs: onCpu / 1e6, waitingMs: waiting / 1e6 };
  } catch {
    return undefined;
  }
}

interface LoopWatch {
  /** Longest gap between two ticks of a 10 ms timer, wall clock (the event-loop stall as a client sees it). */
  maxStallMs: number;
  /** Longest time the main thread spent on a CPU between two ticks: its own longest synchronous stretch (work + GC), whatever the machine's load. */
  maxOnCpuMs: number | undefined;
}

/** Runs `task` while watching the event loop; returns its result and the longest stall (ms). */
async function watchingLoop<T>(task: () => Promise<T>): Promise<{ result: T } & LoopWatch> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  let last = mainThreadSchedule();
  let maxOnCpuMs = last ? 0 : undefined;
  const ticker = setInterval(() => {
    const now = mainThreadSchedule();
    if (now && last && maxOnCpuMs !== undefined) maxOnCpuMs = Math.max(maxOnCpuMs, now.onCpuMs - last.onCpuMs);
    last = now;
  }, 10);
  // The histogram records the gap between two of its timer ticks: let it tick once before the
  // task, or a stall at the very start of the task (a compaction, say) is never recorded.
  await sleep(50);
  try {
    const result = await task();
    return { result, maxStallMs: histogram.max / 1e6, maxOnCpuMs };
  } finally {
    clearInterval(ticker);
    histogram.disable();
  }
}

/** "875 ms (longest stretch … 50 ms)": the wall-clock stall and the main thread's own longest stretch on a CPU. */
const stall = (watch: LoopWatch) => `${watch.maxStallMs.toFixed(0)} ms${watch.maxOnCpuMs === undefined ? '' : ` (longest stretch of the main thread on a CPU: ${watch.maxOnCpuMs.toFixed(0)} ms)`}`;

// --- baseline: the longest stall of an idle event loop on this (shared) machine -----------
const idleWatch = await watchingLoop(() => sleep(5000));

// --- load ---------------------------------------------------------------------
const index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] };
const loadStart = performance.now();
const loadCpuStart = process.cpuUsage();
let loaded = 0;
const loadWatch = await watchingLoop(async () => {
  if (!flags.load) {
    for (const _resource of generateNetwork({ patients: flags.patients, observationsPerPatient: flags.observations, encountersPerPatient: flags.encounters, seed: flags.seed }, index));
    return;
  }
  let batch: WriteOperation[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    // A MongoDB deployment without transactions refuses multi-operation writes: one write per resource, concurrently.
    if (ctx.store.capabilities.atomicMultiWrite || batch.length === 1) await ctx.store.write(batch);
    else await Promise.all(batch.map((op) => ctx.store.write([op])));
    loaded += batch.length;
    batch = [];
    if (loaded % 20_000 < flags.batch) process.stderr.write(`\rloaded ${loaded}`);
  };
  let sinceYield = 0;
  for (const resource of generateNetwork({ patients: flags.patients, observationsPerPatient: flags.observations, encountersPerPatient: flags.encounters, seed: flags.seed }, index)) {
    batch.push({ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: engineCtx.extractor.extract(resource as Resource) });
    if (batch.length >= flags.batch) await flush();
    // The benchmark's own work (generation, index extraction) must not be what the stall measures.
    if (++sinceYield >= 25) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  await flush();
});
const loadSeconds = (performance.now() - loadStart) / 1000;
// CPU time of the whole process (every thread: event loop, lmdb-js' writer, GC) per resource: less
// sensitive than wall time to the other jobs of a shared machine.
const loadCpu = process.cpuUsage(loadCpuStart);
const cpuMicrosPerResource = (loadCpu.user + loadCpu.system) / Math.max(1, loaded);
process.stderr.write('\n');
const rssAfterLoad = process.memoryUsage().rss;
const rssAfterLoadSplit = rssSplit();
const heapAfterLoad = process.memoryUsage().heapUsed;
const diskAfterLoad = diskUsage(config.DATA_DIR);

// --- maintenance: what the store does in the background, watched ---------------------------
// The embedded store's only maintenance is its periodic sweep of expired paging snapshots (LMDB
// needs no compaction): 50 snapshots of 100,000 references are saved, left to expire (the bench's
// idle time is 10 s), and the event loop is watched while the sweep drops them (then one more
// sweep is run by hand, in case the periodic one has not come round yet).
/** A store's own maintenance, when it exposes one. */
type Maintainable = ResourceStore & { runMaintenance?: () => Promise<unknown> };
let maintenance = 'none exposed by this store';
const maintainable = ctx.store as Maintainable;
if (!flags.maintenance) maintenance = 'not measured (--maintenance 0)';
else if (typeof maintainable.runMaintenance === 'function') {
  const refs = Array.from({ length: 100_000 }, (_, i) => ({ resourceType: 'Observation', id: `obs-${i}` }));
  const saveStart = performance.now();
  for (let n = 0; n < 50; n++) await ctx.store.saveResultSet(`bench-maintenance-${n}`, 'bench', refs);
  const saveSeconds = (performance.now() - saveStart) / 1000;
  const watched = 2 * config.SEARCH_RESULT_SET_IDLE_SECONDS + 1;
  const maintenanceWatch = await watchingLoop(async () => {
    await sleep(watched * 1000);
    await maintainable.runMaintenance!();
  });
  let left = 0;
  for (let n = 0; n < 50; n++) if (await ctx.store.loadResultSet(`bench-maintenance-${n}`, 'bench', 0, 1)) left++;
  maintenance = `50 paging snapshots of 100,000 refs saved in ${saveSeconds.toFixed(1)} s, expired and dropped (${left} left); longest stall over those ${watched} s ${stall(maintenanceWatch)}`;
}

// --- queries --------------------------------------------------------------------
const random = seededRandom(flags.seed + 1);
const anyOf = <T>(list: T[]) => list[Math.floor(random() * list.length)];
const patient = () => anyOf(index.patientIds);
const prefix = (text: string, n: number) => text.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().slice(0, n);

const QUERIES: Array<{ name: string; type: string | undefined; params: () => string }> = [
  { name: 'patient by INS-NIR', type: 'Patient', params: () => `identifier=${NIR_SYSTEM}|${anyOf(index.nirs)}` },
  { name: 'patient by name prefix (accents)', type: 'Patient', params: () => `family=${prefix(anyOf(index.families), 4)}&_count=20` },
  { name: 'patient by family + birthdate range', type: 'Patient', params: () => `family=${prefix(anyOf(index.families), 5)}&birthdate=ge1940&birthdate=lt1960` },
  { name: 'practitioner by RPPS', type: 'Practitioner', params: () => `identifier=${RPPS_SYSTEM}|${anyOf(index.rpps)}` },
  { name: "patient's weights, newest first", type: 'Observation', params: () => `patient=Patient/${patient()}&code=http://loinc.org|29463-7&_sort=-date` },
  { name: "patient's observations since 2024", type: 'Observation', params: () => `subject=Patient/${patient()}&date=ge2024-01-01` },
  { name: "patient's open encounters", type: 'Encounter', params: () => `patient=${patient()}&status=in-progress` },
  { name: 'active care plan + _include patient', type: 'CarePlan', params: () => `patient=${patient()}&status=active&_include=CarePlan:patient` },
  { name: 'chain: observations by patient INS', type: 'Observation', params: () => `patient.identifier=${NIR_SYSTEM}|${anyOf(index.nirs)}&code=8480-6` },
  { name: 'patient + _revinclude encounters', type: 'Patient', params: () => `_id=${patient()}&_revinclude=Encounter:patient` },
  { name: 'near: agencies within 20 km', type: 'Location', params: () => `near=45.76|4.83|20|km` },
  { name: '_has: patients with fever ≥ 39.5 °C (count)', type: 'Patient', params: () => `_has:Observation:patient:value-quantity=ge39.5|http://unitsofmeasure.org|Cel&_summary=count` },
  { name: 'systolic > 175 mmHg (type scan), page 1', type: 'Observation', params: () => `code=http://loinc.org|8480-6&value-quantity=gt175|http://unitsofmeasure.org|mm[Hg]&_count=50` },
];

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const rows: string[] = [];
const profiles: string[] = [];
const profiler = flags.profile ? new Session() : undefined;
if (profiler) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
}
/** The tables of the rounds before the last (`--rounds`), printed before the last round's. */
const earlierRounds: string[][] = [];
const queryWatch = await watchingLoop(async () => {
  for (let round = 1; round <= flags.rounds; round++) {
    if (round > 1) earlierRounds.push(rows.splice(0));
    for (const [n, query] of QUERIES.entries()) {
      if (flags.only && flags.only !== n + 1) continue;
      const times: number[] = [];
      let hits = 0;
      // Warm-up runs (compile FHIRPath/regexes, fill caches, let the JIT optimise the search path: with
      // one, the first queries' CPU swung by 1.5× between runs of the same code), then measured runs.
      // Each query starts in a turn of its own, as a request does in the server (it arrives in an I/O
      // callback): back to back, queries of a few ms each resolved within one chain of microtasks, and
      // the longest stretch measured was a dozen of them together (CPU profile of the query phase).
      for (let i = 0; i < flags.warmup; i++) {
        await yieldToLoop();
        await ctx.engine.asServer('benchmark').search(query.type, [...new URLSearchParams(query.params()).entries()]);
      }
      if (profiler) await profiler.post('Profiler.start');
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      const faultsStart = process.resourceUsage();
      for (let i = 0; i < flags.iterations; i++) {
        const params = [...new URLSearchParams(query.params()).entries()];
        await yieldToLoop();
        const t0 = performance.now();
        const bundle = await ctx.engine.asServer('benchmark').search(query.type, params);
        times.push(performance.now() - t0);
        hits += bundle.total ?? bundle.entry?.length ?? 0;
      }
      const elapsed = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpuStart);
      const faultsEnd = process.resourceUsage();
      // Page faults per query: a store reading a memory-mapped file pays one on the first touch of each page
      // by the process (minor) and, for a page not in the page cache, a disk read (major). On the development
      // VM the page cache was found holding 368 of the 914 MiB of a 100 k folder with 22 GB free: a round's
      // CPU depends on them, so each round shows them.
      const minorFaults = (faultsEnd.minorPageFault - faultsStart.minorPageFault) / flags.iterations;
      const majorFaults = (faultsEnd.majorPageFault - faultsStart.majorPageFault) / flags.iterations;
      if (profiler) {
        const { profile } = await profiler.post('Profiler.stop');
        const file = join(tmpdir(), `bench-search-q${n + 1}-${process.pid}.cpuprofile`);
        writeFileSync(file, JSON.stringify(profile));
        profiles.push(`${query.name}: ${file}`);
      }
      times.sort((a, b) => a - b);
      rows.push(
        `| ${query.name} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${percentile(times, 99).toFixed(1)} | ${(flags.iterations / elapsed).toFixed(0)} | ${((cpu.user + cpu.system) / 1000 / flags.iterations).toFixed(3)} | ${(hits / flags.iterations).toFixed(1)} | ${minorFaults.toFixed(2)} | ${majorFaults.toFixed(2)} |`,
      );
    }
  }
});
profiler?.disconnect();
const rssAfterQueries = process.memoryUsage().rss;
const rssAfterQueriesSplit = rssSplit();
await ctx.store.close();

// --- restart: a new store over the same folder, as a new process would open it ------------
let restart = 'not measured (--restart 0)';
if (flags.restart) {
  const next = buildContext(config).store;
  const t0 = performance.now();
  try {
    await next.open();
    restart = `${((performance.now() - t0) / 1000).toFixed(2)} s, RSS then ${mib(process.memoryUsage().rss)}`;
    await next.close();
  } catch (error) {
    restart = `FAILED after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(error as Error).message}`;
  }
}

if (!flags.load) console.log(`--load 0: the data of ${config.DATA_DIR} reused, nothing loaded (load figures below are not measures)`);
console.log(`store: ${ctx.store.capabilities.name}; ${loaded} resources (${flags.patients} patients) loaded in ${loadSeconds.toFixed(1)} s (${(loaded / loadSeconds).toFixed(0)} resources/s, index extraction included; ${(cpuMicrosPerResource / 1000).toFixed(2)} ms of CPU per resource); ${flags.iterations} runs per query, sequential`);
console.log(`RSS after load ${mib(rssAfterLoad)}${rssAfterLoadSplit} (heap used ${mib(heapAfterLoad)}), after queries ${mib(rssAfterQueries)}${rssAfterQueriesSplit}, peak ${mib(process.resourceUsage().maxRSS * 1024)}; on disk ${mib(diskAfterLoad)}`);
console.log(`longest event-loop stall: load ${stall(loadWatch)}, queries ${stall(queryWatch)}; maintenance: ${maintenance}; idle baseline (5 s, nothing running) ${stall(idleWatch)}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`restart (open the store again): ${restart}`);
console.log('');
// CPU ms per query: the process's CPU time (all threads) over the runs, less sensitive than wall time to other jobs.
const header = ['| query | p50 ms | p95 ms | p99 ms | queries/s | CPU ms/query | mean total | minor page faults/query | major page faults/query (disk reads) |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|'];
for (const [i, earlier] of earlierRounds.entries()) console.log([`round ${i + 1} of ${flags.rounds}:`, '', ...header, ...earlier, ''].join('\n'));
if (flags.rounds > 1) console.log(`round ${flags.rounds} of ${flags.rounds}:\n`);
console.log(header.join('\n'));
for (const row of rows) console.log(row);
if (profiles.length > 0) console.log(`\nCPU profiles of the measured runs:\n${profiles.join('\n')}`);

if (ownFolder) rmSync(ownFolder, { recursive: true, force: true });
