/**
 * What authentication, access control and audit cost over HTTP (issue 17):
 * the same load, from this process (autocannon), against
 *   1. Relais with AUTH_MODE=none,
 *   2. Relais with the default authentication (AUTH_MODE=dev) and a minted
 *      token — a coordinator's, and a nurse's (a practitioner whose every
 *      request is decided on her consents, care teams and agreement) —, every
 *      access audited,
 *   3. a bare Fastify route serving a stored Patient (scripts/bench-http-bare.ts),
 * each server a process of its own, started fresh on its own copy of one
 * generated network. Phases: read, search by INS, by name prefix, with
 * _include, create, update, a 10-entry transaction. It prints, per phase,
 * requests/s and the server's CPU time per request (utime + stime of the server
 * process, all its threads, from /proc/<pid>/stat), and the ratios.
 *
 *   npx tsx scripts/bench-http.ts [--patients 1000] [--duration 10] [--connections 32] [--rounds 1]
 *   npx tsx scripts/bench-http.ts --scaling 1000,100000 [--duration 10]   # name-prefix search at two sizes
 *   BENCH_CPU_PROF=/tmp/prof npx tsx scripts/bench-http.ts ...             # plus a CPU profile of each server
 *   BENCH_FROM_SOURCE=1 npx tsx scripts/bench-http.ts ...                  # Relais from src/ through tsx (see RELAIS)
 *   BENCH_RELAIS_ENV='LOG_LEVEL=warn METRICS_ENABLED=false' npx tsx ...    # extra variables for Relais (what a part costs)
 *
 * Relais runs as deployed: the build in dist/ (`node dist/cli.js serve`), made first when the sources changed.
 *
 * On a shared machine wall-clock rates follow whatever else runs: the runs of
 * one round go back to back, and the CPU time per request is the steadier figure.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import type { Resource } from 'fhir/r4';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { mintDevToken } from './mint-token.js';
import { generateNetwork, NIR_SYSTEM, parseFlags, seededRandom, type NetworkIndex } from './network-dataset.js';

const ROOT = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const scalingArg = argv.indexOf('--scaling');
const scaling = scalingArg >= 0 ? argv.splice(scalingArg, 2)[1].split(',').map(Number) : undefined;
/** `--only off,nurse` / `--phases read,search`: a subset (for profiling); the ratio table then shows what ran. */
const listFlag = (name: string) => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv.splice(at, 2)[1].split(',') : undefined;
};
const onlyCallers = listFlag('--only');
const onlyPhases = listFlag('--phases');
const flags = parseFlags(argv, { patients: 1000, duration: 10, connections: 32, rounds: 1, observations: 4, encounters: 1, seed: 42, reachable: 50 });
const BASE_URL = 'http://127.0.0.1/fhir';
const NURSE_RPPS = '10999999999';

interface Dataset {
  dir: string;
  index: NetworkIndex;
  /** The patients the nurse reaches (consent, care team, agreement). */
  nursePatients: string[];
}

/** Loads the network straight into a store (index extraction included, validation skipped), plus the nurse's facts. */
async function makeDataset(patients: number, observations: number, encounters: number): Promise<Dataset> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-http-'));
  const ctx = buildContext(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', BASE_URL }));
  await ctx.store.open();
  const index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] };
  let batch: WriteOperation[] = [];
  const put = async (resource: Resource, flush = false) => {
    batch.push({ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: ctx.engine.facts.extractor.extract(resource) });
    if (batch.length >= 500 || flush) {
      await ctx.store.write(batch);
      batch = [];
    }
  };
  const started = Date.now();
  for (const resource of generateNetwork({ patients, observationsPerPatient: observations, encountersPerPatient: encounters, seed: flags.seed }, index)) await put(resource);
  const nursePatients = index.patientIds.slice(0, Math.min(flags.reachable, index.patientIds.length));
  const facts: Resource[] = [
    { resourceType: 'Organization', id: 'bench-ssiad', name: 'SSIAD du banc d’essai' } as Resource,
    { resourceType: 'Practitioner', id: 'bench-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: NURSE_RPPS }], name: [{ family: 'Infirmière' }] } as Resource,
    { resourceType: 'PractitionerRole', id: 'bench-nurse-role', practitioner: { reference: 'Practitioner/bench-nurse' }, organization: { reference: 'Organization/bench-ssiad' } } as Resource,
    { resourceType: 'Contract', id: 'bench-convention', status: 'executed', subject: [{ reference: 'Organization/bench-ssiad' }] } as Resource,
  ];
  for (const patient of nursePatients) {
    facts.push({
      resourceType: 'Consent',
      id: `consent-${patient}`,
      status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] },
      category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }],
      patient: { reference: `Patient/${patient}` },
      performer: [{ reference: `Patient/${patient}` }],
      provision: { type: 'permit' },
    } as Resource);
    facts.push({ resourceType: 'CareTeam', id: `team-${patient}`, status: 'active', subject: { reference: `Patient/${patient}` }, participant: [{ member: { reference: 'Practitioner/bench-nurse' } }] } as Resource);
  }
  for (const [i, resource] of facts.entries()) await put(resource, i === facts.length - 1);
  await ctx.store.close();
  process.stderr.write(`dataset: ${patients} patients loaded in ${((Date.now() - started) / 1000).toFixed(0)} s (${dir})\n`);
  return { dir, index, nursePatients };
}

interface Server {
  child: ChildProcess;
  origin: string;
  stop(): Promise<void>;
}

/** A port free right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => done(port));
    });
  });
}

/** Starts a server process (its log, at the default level, goes to /dev/null) and waits until it answers. */
async function startServer(entry: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort();
  // BENCH_CPU_PROF=<folder>: each server writes a V8 CPU profile there when it stops (for finding where the time goes).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const command = entry.endsWith('.ts') ? ['--import', 'tsx', entry] : [entry, 'serve'];
  const child = spawn(process.execPath, [...profile, ...command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', BASE_URL, RATE_LIMIT_MAX: '1000000000', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const origin = `http://127.0.0.1:${port}`;
  let exited = false;
  child.once('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`${entry} exited before answering`);
    // Ready, not merely listening: Relais answers (503) while it opens the store and seeds its conformance
    // resources (validated writes), which ran into the first measured phase before this waited for /readyz.
    const path = entry === RELAIS ? '/readyz' : '/fhir/Patient/none';
    const up = await fetch(`${origin}${path}`).then((response) => path !== '/readyz' || response.ok, () => false);
    if (up) break;
    await sleep(200);
  }
  return {
    child,
    origin,
    stop: () =>
      new Promise<void>((done) => {
        if (exited) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/** CPU seconds used so far by a process, all threads (utime + stime, /proc/<pid>/stat), or by one thread (/proc/<pid>/task/<tid>/stat). */
function cpuSeconds(pid: number, thread?: number): number {
  const fields = readFileSync(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Phase {
  name: string;
  /** The request to send next (autocannon calls it for every request). */
  next: () => { method: 'GET' | 'POST' | 'PUT'; path: string; body?: string };
}

type Caller = 'coordinator' | 'nurse' | 'off';

function phases(data: Dataset, caller: Caller): Phase[] {
  const random = seededRandom(7);
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
  const patientIds = caller === 'nurse' ? data.nursePatients : data.index.patientIds;
  const position = new Map(data.index.patientIds.map((id, i) => [id, i]));
  const nir = (id: string) => data.index.nirs[position.get(id)!];
  const family = (id: string) => data.index.families[position.get(id)!];
  const prefix = (id: string) => {
    const name = family(id).replace(/[^A-Za-zÀ-ÿ]/g, '');
    return name.slice(0, 3 + Math.floor(random() * Math.max(1, Math.min(3, name.length - 2))));
  };
  const observation = (patient: string, id?: string) => ({
    resourceType: 'Observation',
    ...(id ? { id } : {}),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code: '29463-7', display: 'Poids' }] },
    subject: { reference: `Patient/${patient}` },
    performer: [{ reference: 'Practitioner/bench-nurse' }],
    effectiveDateTime: new Date().toISOString(),
    valueQuantity: { value: Math.round((45 + random() * 60) * 10) / 10, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  });
  // Updates go to Observations of the caller's patients that the dataset holds (obs-<patient index>-0).
  const updatable = patientIds.map((id) => ({ patient: id, id: `obs-${position.get(id)}-0` }));
  return [
    { name: 'read Patient/[id]', next: () => ({ method: 'GET', path: `/fhir/Patient/${pick(patientIds)}` }) },
    { name: 'search by INS', next: () => ({ method: 'GET', path: `/fhir/Patient?identifier=${encodeURIComponent(`${NIR_SYSTEM}|${nir(pick(patientIds))}`)}` }) },
    { name: 'search by name prefix', next: () => ({ method: 'GET', path: `/fhir/Patient?name=${encodeURIComponent(prefix(pick(patientIds)))}` }) },
    { name: 'search + _include', next: () => ({ method: 'GET', path: `/fhir/Observation?subject=Patient/${pick(patientIds)}&_include=Observation:subject` }) },
    { name: 'create', next: () => ({ method: 'POST', path: '/fhir/Observation', body: JSON.stringify(observation(pick(patientIds))) }) },
    {
      name: 'update',
      next: () => {
        const target = pick(updatable);
        return { method: 'PUT', path: `/fhir/Observation/${target.id}`, body: JSON.stringify(observation(target.patient, target.id)) };
      },
    },
    {
      name: '10-entry transaction',
      next: () => ({
        method: 'POST',
        path: '/fhir',
        body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 10 }, () => ({ resource: observation(pick(patientIds)), request: { method: 'POST', url: 'Observation' } })) }),
      }),
    },
  ];
}

interface PhaseResult {
  rate: number;
  p50: number;
  cpuMsPerRequest: number;
  /** Of which the event loop's thread (the rest: lmdb-js' commits and fsyncs in libuv's pool, GC helpers, the log's thread). */
  mainThreadMsPerRequest: number;
  failures: number;
}

async function drive(server: Server, phase: Phase, token: string | undefined): Promise<PhaseResult> {
  const headers: Record<string, string> = { accept: 'application/fhir+json', 'content-type': 'application/fhir+json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  // A short warm-up (JIT, caches, connections), not counted.
  const options = (seconds: number): autocannon.Options => ({
    url: server.origin,
    connections: flags.connections,
    duration: seconds,
    headers,
    requests: [{ setupRequest: (request) => ({ ...request, ...phase.next() }) }],
  });
  await autocannon(options(Math.max(1, Math.round(flags.duration / 5))));
  const pid = server.child.pid!;
  const cpuBefore = cpuSeconds(pid);
  const mainBefore = cpuSeconds(pid, pid);
  const result = await autocannon(options(flags.duration));
  const cpu = cpuSeconds(pid) - cpuBefore;
  const main = cpuSeconds(pid, pid) - mainBefore;
  const answered = result.requests.total;
  const perRequest = (seconds: number) => (answered > 0 ? (seconds * 1000) / answered : NaN);
  return { rate: result.requests.average, p50: result.latency.p50, cpuMsPerRequest: perRequest(cpu), mainThreadMsPerRequest: perRequest(main), failures: result.non2xx + result.errors + result.timeouts };
}

/**
 * Relais as it is deployed (`npm start`, the image): the build in dist/ (made first if the sources changed,
 * scripts/build-if-stale.mjs), run by node. BENCH_FROM_SOURCE=1 runs src/ through tsx instead, as this script
 * did before 2026-12-07: tsx's esbuild transform keeps function names (keepNames), wrapping every closure
 * created at run time in a __name() call (about 0.3 µs each, measured), so it measured slower code than what
 * runs, while the bare Fastify baseline's hot path is Fastify's own untransformed JavaScript.
 */
const FROM_SOURCE = process.env.BENCH_FROM_SOURCE === '1';
const RELAIS = FROM_SOURCE ? 'src/server.ts' : 'dist/cli.js';
if (!FROM_SOURCE) {
  const build = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('the build failed (scripts/build-if-stale.mjs)');
}

/** BENCH_RELAIS_ENV="NAME=value NAME=value": variables added to Relais' environment (to measure what a part costs by turning it off). */
const RELAIS_ENV: Record<string, string> = Object.fromEntries(
  (process.env.BENCH_RELAIS_ENV ?? '')
    .split(/\s+/)
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);

/** One server started on a fresh copy of the dataset, every phase driven against it. */
async function runRelais(data: Dataset, caller: Caller, only?: string[]): Promise<Map<string, PhaseResult>> {
  const dir = mkdtempSync(join(tmpdir(), 'relais-bench-run-'));
  cpSync(data.dir, dir, { recursive: true });
  const env = { DATA_DIR: dir, AUTH_MODE: caller === 'off' ? 'none' : 'dev', ...RELAIS_ENV };
  let token: string | undefined;
  if (caller === 'coordinator') token = await mintDevToken({ role: 'coordinator', sub: 'bench-coordinator', ttlSeconds: 3600 }, { ...env, BASE_URL });
  if (caller === 'nurse') token = await mintDevToken({ role: 'nurse', rpps: NURSE_RPPS, ttlSeconds: 3600 }, { ...env, BASE_URL });
  const server = await startServer(RELAIS, env);
  const results = new Map<string, PhaseResult>();
  try {
    for (const phase of phases(data, caller)) {
      if (only && !only.includes(phase.name)) continue;
      if (onlyPhases && !onlyPhases.some((prefix) => phase.name.startsWith(prefix))) continue;
      const result = await drive(server, phase, token);
      results.set(phase.name, result);
      process.stderr.write(`  ${caller.padEnd(11)} ${phase.name.padEnd(22)} ${result.rate.toFixed(0).padStart(6)}/s  p50 ${String(result.p50).padStart(5)} ms  CPU ${result.cpuMsPerRequest.toFixed(3)} ms/req (event loop ${result.mainThreadMsPerRequest.toFixed(3)})${result.failures ? `  (${result.failures} failed)` : ''}\n`);
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

async function runBare(data: Dataset): Promise<PhaseResult> {
  const server = await startServer('scripts/bench-http-bare.ts', { DATA_DIR: data.dir });
  try {
    const result = await drive(server, phases(data, 'off')[0], undefined);
    process.stderr.write(`  bare Fastify read Patient/[id]      ${result.rate.toFixed(0).padStart(6)}/s  p50 ${String(result.p50).padStart(5)} ms  CPU ${result.cpuMsPerRequest.toFixed(3)} ms/req (event loop ${result.mainThreadMsPerRequest.toFixed(3)})\n`);
    return result;
  } finally {
    await server.stop();
  }
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

if (scaling) {
  // Name-prefix search at two sizes (patients and their care plans only, to keep the load short).
  const rows: string[] = [];
  const rates: Array<Map<string, PhaseResult>> = [];
  for (const patients of scaling) {
    const data = await makeDataset(patients, 0, 0);
    rates.push(await runRelais(data, 'off', ['search by name prefix', 'search by INS']));
    rmSync(data.dir, { recursive: true, force: true });
  }
  for (const phase of ['search by name prefix', 'search by INS']) {
    const [small, large] = [rates[0].get(phase)!, rates.at(-1)!.get(phase)!];
    rows.push(`| ${phase} | ${fmt(small.rate)} | ${fmt(large.rate)} | ${fmt(large.rate / small.rate, 2)} | ${fmt(small.cpuMsPerRequest, 2)} | ${fmt(large.cpuMsPerRequest, 2)} | ${fmt(small.cpuMsPerRequest / large.cpuMsPerRequest, 2)} |`);
  }
  process.stdout.write(`\nAUTH_MODE=none, ${flags.connections} connections, ${flags.duration} s per phase, load average ${loadavg()[0].toFixed(1)}\n`);
  process.stdout.write(`| phase | /s at ${scaling[0]} | /s at ${scaling.at(-1)} | rate ratio | CPU ms/req at ${scaling[0]} | at ${scaling.at(-1)} | CPU ratio |\n|---|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n`);
} else {
  const data = await makeDataset(flags.patients, flags.observations, flags.encounters);
  for (let round = 1; round <= flags.rounds; round++) {
    process.stderr.write(`round ${round} (load average ${loadavg()[0].toFixed(1)})\n`);
    const runs = (caller: Caller | 'bare') => !onlyCallers || onlyCallers.includes(caller);
    const none = new Map<string, PhaseResult>();
    const bare = runs('bare') ? await runBare(data) : undefined;
    const off = runs('off') ? await runRelais(data, 'off') : none;
    const coordinator = runs('coordinator') ? await runRelais(data, 'coordinator') : none;
    const nurse = runs('nurse') ? await runRelais(data, 'nurse') : none;
    if (onlyCallers) continue;
    const lines = [
      `\nRound ${round}: ${flags.patients} patients, ${flags.connections} connections, ${flags.duration} s per phase, load average ${loadavg()[0].toFixed(1)}`,
      '| phase | auth off /s | coordinator /s | ratio | nurse /s | ratio | CPU ms/req off | coordinator | CPU ratio | nurse | CPU ratio |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ];
    for (const [phase, o] of off) {
      const c = coordinator.get(phase)!;
      const n = nurse.get(phase)!;
      lines.push(
        `| ${phase} | ${fmt(o.rate)} | ${fmt(c.rate)} | ${fmt(c.rate / o.rate, 2)} | ${fmt(n.rate)} | ${fmt(n.rate / o.rate, 2)} | ${fmt(o.cpuMsPerRequest, 2)} | ${fmt(c.cpuMsPerRequest, 2)} | ${fmt(o.cpuMsPerRequest / c.cpuMsPerRequest, 2)} | ${fmt(n.cpuMsPerRequest, 2)} | ${fmt(o.cpuMsPerRequest / n.cpuMsPerRequest, 2)} |`,
      );
    }
    const read = off.get('read Patient/[id]')!;
    if (!bare) continue;
    lines.push(`\nread without a token / bare Fastify: ${fmt(read.rate / bare.rate, 2)} by rate (${fmt(read.rate)} / ${fmt(bare.rate)}), ${fmt(bare.cpuMsPerRequest / read.cpuMsPerRequest, 2)} by CPU per request (${fmt(bare.cpuMsPerRequest, 3)} / ${fmt(read.cpuMsPerRequest, 3)} ms)`);
    const failures = [...off.values(), ...coordinator.values(), ...nurse.values()].reduce((sum, r) => sum + r.failures, 0);
    if (failures > 0) lines.push(`(${failures} requests failed: the rates above count answered requests only)`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  rmSync(data.dir, { recursive: true, force: true });
}
