/**
 * Bulk data benchmark (issue 13): $export throughput and the memory it adds,
 * Patient/$everything latency for a patient with 500 resources, and the
 * loader's throughput — each beside a baseline measured in the same process.
 *
 *   npx tsx --expose-gc scripts/bench-bulk.ts                         # 10,000 patients ≈ 100,000 resources
 *   npx tsx --expose-gc scripts/bench-bulk.ts --patients 100000       # ≈ 1,000,000 resources
 *   npx tsx --expose-gc scripts/bench-bulk.ts --attachments 200 --attachment-mb 5   # + 1 GB of attachments
 *   ... --live-heap 1   # heap peaks measured after full collections (what is held, not yet-unreclaimed garbage)
 *   BENCH_DATA_DIR=/path ... # reuse a folder already holding the same network (e.g. the one
 *                            # `DATA_DIR=/path npm run bench:search -- --patients 100000` leaves: same generator,
 *                            # same seed), so that a 1,000,000-resource run does not load it twice; kept afterwards
 *
 * - Data: scripts/network-dataset.ts (10 resources per patient), written
 *   straight to the store with their index entries (the server's extractor);
 *   optionally DocumentReferences carrying large inline attachments.
 * - Export: a real kick-off (GET $export, a regional platform's token, so the
 *   access guard and the audit of every part are in the measure), polled to
 *   its manifest; resources/s from kick-off to manifest, and the peak of heap
 *   and RSS above what the loaded server held before (sampled every 20 ms).
 *   Baseline: the same resources read with the store's scan and serialised,
 *   in this process, with nothing else (no access filter, no files, no audit).
 * - $everything: 20 calls (after 3 warm-up calls) for a patient with 500
 *   resources (a coordinator's token); baseline: a plain search of that
 *   patient's Observations (`Observation?patient=...&_count=1000`).
 * - Import: `--import-patients` patients as NDJSON through the loader
 *   (validation, server's audit), into a fresh store; baseline: the same
 *   resources written straight to a store (index entries, no validation).
 * Embedded store unless MONGODB_URI is set. Run it niced on a shared machine.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Resource } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { runImport } from '../src/bulk/import-run.js';
import { loadConfig } from '../src/config.js';
import { buildContext, type RelaisContext } from '../src/context.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { mintDevToken } from './mint-token.js';
import { generateNetwork, parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { patients: 10_000, attachments: 0, 'attachment-mb': 5, 'import-patients': 2000, iterations: 20, batch: 500, 'live-heap': 0 });
/**
 * --live-heap 1: the heap is measured after a full collection (at most every 500 ms), i.e. what is
 * really held, not what the collector has yet to reclaim; slows the measures down (rates then not comparable).
 */
const liveHeap = flags['live-heap'] > 0;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const MB = 1024 * 1024;
const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function load(ctx: RelaisContext, resources: Iterable<Resource>, withIndex = true): Promise<{ count: number; seconds: number }> {
  const { extractor } = ctx.engine.facts;
  const started = performance.now();
  let count = 0;
  let batch: WriteOperation[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    if (ctx.store.capabilities.atomicMultiWrite) await ctx.store.write(batch);
    else await Promise.all(batch.map((op) => ctx.store.write([op])));
    count += batch.length;
    batch = [];
    if (count % 50_000 < flags.batch) process.stderr.write(`\rloaded ${fmt(count)}`);
  };
  for (const resource of resources) {
    batch.push({ kind: 'put', resourceType: resource.resourceType, id: resource.id!, resource, index: withIndex ? extractor.extract(resource) : {} });
    if (batch.length >= flags.batch) await flush();
  }
  await flush();
  process.stderr.write('\n');
  return { count, seconds: (performance.now() - started) / 1000 };
}

/**
 * Samples heap and RSS until stopped; the peaks above the baseline taken at start. The timer alone
 * misses a loop that never yields to the event loop (an LMDB scan resolves in microtasks): such a
 * loop calls sample() itself.
 */
function memoryProbe(): { sample: () => void; stop: () => { heapMB: number; rssMB: number; baseHeapMB: number; baseRssMB: number } } {
  gc();
  const base = process.memoryUsage();
  let heap = base.heapUsed;
  let rss = base.rss;
  let collected = 0;
  const sample = () => {
    if (liveHeap) {
      if (Date.now() - collected < 500) return;
      gc();
      collected = Date.now();
    }
    const now = process.memoryUsage();
    heap = Math.max(heap, now.heapUsed);
    rss = Math.max(rss, now.rss);
  };
  const timer = setInterval(sample, 20);
  return {
    sample,
    stop: () => {
      clearInterval(timer);
      collected = 0;
      sample();
      return { heapMB: (heap - base.heapUsed) / MB, rssMB: (rss - base.rss) / MB, baseHeapMB: base.heapUsed / MB, baseRssMB: base.rss / MB };
    },
  };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function* attachments(count: number, megabytes: number): Generator<Resource> {
  // Inline base64 data of `megabytes` MB each, as a scanned letter would be.
  const data = Buffer.alloc(Math.floor((megabytes * MB * 3) / 4), 7).toString('base64');
  for (let i = 0; i < count; i++) {
    yield { resourceType: 'DocumentReference', id: `doc-${i}`, status: 'current', subject: { reference: `Patient/pat-${i}` }, content: [{ attachment: { contentType: 'application/pdf', data } }] } as Resource;
  }
}

/** A patient whose identity is qualified (FR Core identity reliability VALI), as an INS requires. */
function qualified(patient: Resource): Resource {
  const extension = [{ url: 'https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability', extension: [{ url: 'identityStatus', valueCoding: { system: 'https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445', code: 'VALI' } }, { url: 'validationDate', valueDate: '2025-09-01' }] }];
  return { ...patient, extension } as Resource;
}

function* bigRecord(): Generator<Resource> {
  const subject = { reference: 'Patient/pat-big' };
  yield { resourceType: 'Patient', id: 'pat-big', name: [{ family: 'Grandjean' }], generalPractitioner: [{ reference: 'Practitioner/pr-0' }] } as Resource;
  for (let i = 0; i < 399; i++) yield { resourceType: 'Observation', id: `big-obs-${i}`, status: 'final', code: { text: 'Poids' }, subject, performer: [{ reference: `Practitioner/pr-${i % 5}` }], effectiveDateTime: new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString(), valueQuantity: { value: 70, unit: 'kg' } } as Resource;
  for (let i = 0; i < 50; i++) yield { resourceType: 'Encounter', id: `big-enc-${i}`, status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' }, subject, serviceProvider: { reference: 'Organization/org-0' } } as Resource;
  for (let i = 0; i < 30; i++) yield { resourceType: 'Condition', id: `big-cond-${i}`, subject, code: { text: `Problème ${i}` } } as Resource;
  for (let i = 0; i < 20; i++) yield { resourceType: 'MedicationRequest', id: `big-mr-${i}`, status: 'active', intent: 'order', subject, medicationCodeableConcept: { text: 'Metformine' } } as Resource;
}

const reusedDir = process.env.BENCH_DATA_DIR;
const dataDir = reusedDir ?? mkdtempSync(join(tmpdir(), 'relais-bench-bulk-'));
const env = { DATA_DIR: dataDir, BASE_URL: 'http://relais.bench/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'dev', RATE_LIMIT_MAX: '1000000', ...(process.env.MONGODB_URI ? { MONGODB_URI: process.env.MONGODB_URI } : {}) };
const ctx = buildContext(loadConfig(env), undefined, { bulk: { settings: { settleMs: 0, pollMs: 50 } } });
await ctx.store.open();
const app = await buildApp(ctx, { logger: false });
await app.ready();
const rows: string[] = [];
/** Each measure as soon as it is taken (a long run stopped later still leaves its figures). */
const report = (row: string) => {
  rows.push(row);
  process.stderr.write(`${row}\n`);
};
try {
  // --- data ------------------------------------------------------------------------------------
  // A reused folder already holds the network (checked below: the export must write what the baseline scanned).
  const reusing = reusedDir !== undefined && (await ctx.store.readCurrent('Patient', 'pat-0')) !== undefined;
  const network = reusing ? { count: 0, seconds: 0 } : await load(ctx, generateNetwork({ patients: flags.patients, observationsPerPatient: 6, encountersPerPatient: 2, seed: 42 }));
  const docs = flags.attachments > 0 ? await load(ctx, attachments(flags.attachments, flags['attachment-mb'])) : { count: 0, seconds: 0 };
  const record = await load(ctx, bigRecord());
  let total = network.count + docs.count + record.count;
  process.stderr.write(`data: ${reusing ? `reused ${dataDir}, ` : ''}${fmt(total)} resources loaded in ${fmt(network.seconds + docs.seconds + record.seconds, 1)} s\n`);
  const types = ['Organization', 'Location', 'Practitioner', 'Patient', 'Encounter', 'CarePlan', 'Observation', 'Condition', 'MedicationRequest', ...(docs.count > 0 ? ['DocumentReference'] : [])];
  const platform = await mintDevToken({ role: 'platform', client: 'bench-platform', ttlSeconds: 7200 }, env);
  const coordinator = await mintDevToken({ role: 'coordinator', sub: 'bench-coordinator', ttlSeconds: 7200 }, env);

  // --- baseline: a bare scan of the same resources, serialised ------------------------------------
  {
    const probe = memoryProbe();
    const started = performance.now();
    let scanned = 0;
    let bytes = 0;
    for (const type of types) for await (const version of ctx.store.scan({ resourceType: type, filter: {} })) {
      bytes += JSON.stringify(version.resource).length + 1;
      if (++scanned % 200 === 0) probe.sample();
    }
    const seconds = (performance.now() - started) / 1000;
    const memory = probe.stop();
    report(`| baseline: store scan + JSON of every resource | ${fmt(scanned)} | ${fmt(seconds, 1)} s | ${fmt(scanned / seconds)} /s | +${fmt(memory.heapMB)} MB heap, +${fmt(memory.rssMB)} MB RSS | ${fmt(bytes / MB)} MB of NDJSON |`);
    var baselineRate = scanned / seconds;
    if (reusing) total = scanned;
  }

  // --- $export as a regional platform -----------------------------------------------------------------
  {
    const probe = memoryProbe();
    const started = performance.now();
    const kickoff = await app.inject({ method: 'GET', url: `/fhir/$export?_type=${types.join(',')}`, headers: { authorization: `Bearer ${platform}`, prefer: 'respond-async', accept: 'application/fhir+json' } });
    if (kickoff.statusCode !== 202) throw new Error(`kick-off: ${kickoff.statusCode} ${kickoff.body}`);
    const status = String(kickoff.headers['content-location']).replace('http://relais.bench', '');
    let manifest: { output: Array<{ count: number }> } | undefined;
    for (;;) {
      const polled = await app.inject({ method: 'GET', url: status, headers: { authorization: `Bearer ${platform}` } });
      if (polled.statusCode === 200) {
        manifest = JSON.parse(polled.body);
        break;
      }
      if (polled.statusCode !== 202) throw new Error(`status: ${polled.statusCode} ${polled.body}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seconds = (performance.now() - started) / 1000;
    const memory = probe.stop();
    const written = manifest!.output.reduce((n, f) => n + f.count, 0);
    const job = (await ctx.bulk.storage.getJob(status.split('/').pop()!))!;
    const bytes = job.output.reduce((n, f) => n + f.bytes, 0);
    report(`| $export (platform token: access filter, audit per part, files) | ${fmt(written)} | ${fmt(seconds, 1)} s | ${fmt(written / seconds)} /s (${fmt((written / seconds / baselineRate) * 100)} % of baseline) | +${fmt(memory.heapMB)} MB heap, +${fmt(memory.rssMB)} MB RSS (server before: ${fmt(memory.baseHeapMB)} MB heap) | ${job.output.length} files, ${fmt(bytes / MB)} MB, ${job.cursor.part} audited parts |`);
    if (written !== total) throw new Error(`exported ${written} of ${total}`);
  }

  // --- Patient/$everything, 500 resources ----------------------------------------------------------------
  {
    const time = async (url: string): Promise<{ ms: number; count: number }> => {
      const started = performance.now();
      const response = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${coordinator}` } });
      if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body.slice(0, 300)}`);
      return { ms: performance.now() - started, count: (JSON.parse(response.body).entry ?? []).length };
    };
    const series = async (url: string) => {
      for (let i = 0; i < 3; i++) await time(url);
      const runs: number[] = [];
      let count = 0;
      for (let i = 0; i < flags.iterations; i++) {
        const { ms, count: c } = await time(url);
        runs.push(ms);
        count = c;
      }
      runs.sort((a, b) => a - b);
      return { p50: percentile(runs, 50), p95: percentile(runs, 95), count };
    };
    const everything = await series('/fhir/Patient/pat-big/$everything');
    const search = await series('/fhir/Observation?patient=Patient/pat-big&_count=1000');
    report(`| Patient/$everything (coordinator), one page | ${fmt(everything.count)} | p50 ${fmt(everything.p50, 1)} ms, p95 ${fmt(everything.p95, 1)} ms | ${fmt(everything.p50 / search.p50, 1)} × the baseline's p50 | | baseline: Observation?patient=…&_count=1000 (${search.count} resources): p50 ${fmt(search.p50, 1)} ms, p95 ${fmt(search.p95, 1)} ms |`);
  }

  // --- import (--import-patients 0: not measured) ---------------------------------------------------------
  if (flags['import-patients'] > 0) {
    const importDir = mkdtempSync(join(tmpdir(), 'relais-bench-import-'));
    try {
      // The network profile accepts an INS only on a qualified identity (relais-pat-1): the generated patients get the VALI status.
      const resources = [...generateNetwork({ patients: flags['import-patients'], observationsPerPatient: 6, encountersPerPatient: 2, seed: 7 })].map((r) => (r.resourceType === 'Patient' ? qualified(r) : r));
      const file = join(importDir, 'network.ndjson');
      writeFileSync(file, `${resources.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const target = buildContext(loadConfig({ ...env, DATA_DIR: join(importDir, 'data') }));
      await target.store.open();
      const started = performance.now();
      const { stats } = await runImport(target.engine.asServer('bench import'), [file], { concurrency: 16 });
      const seconds = (performance.now() - started) / 1000;
      await target.store.close();
      const direct = buildContext(loadConfig({ ...env, DATA_DIR: join(importDir, 'direct') }));
      await direct.store.open();
      const raw = await load(direct, resources);
      await direct.store.close();
      const done = stats.created + stats.updated + stats.unchanged;
      report(`| npm run import (NDJSON, validated, audited) | ${fmt(done)} | ${fmt(seconds, 1)} s | ${fmt(done / seconds)} /s (${fmt((done / seconds / (raw.count / raw.seconds)) * 100)} % of baseline) | | baseline: straight store writes with index entries, no validation: ${fmt(raw.count / raw.seconds)} /s; ${stats.rejected} rejected |`);
    } finally {
      rmSync(importDir, { recursive: true, force: true });
    }
  }
} finally {
  await app.close();
  if (!reusedDir) rmSync(dataDir, { recursive: true, force: true });
}

process.stdout.write(`\n${ctx.store.capabilities.name} store, ${fmt(flags.patients)} patients${flags.attachments ? ` + ${flags.attachments} attachments of ${flags['attachment-mb']} MB` : ''}${liveHeap ? ', heap measured live (after full collections)' : ''}\n\n| measure | resources | time | rate | memory added | notes |\n|---|---:|---|---|---|---|\n${rows.join('\n')}\n`);
process.exit(0);
