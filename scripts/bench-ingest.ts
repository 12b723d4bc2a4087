/**
 * Ingestion of discharge bundles: how many hospital discharges (transaction
 * bundles, with the discharge intake that comes with them) Relais files per
 * second, and how many resources per second that is, on each store.
 *
 *   npx tsx scripts/bench-ingest.ts [--bundles 200] [--concurrency 8] [--stores embedded,mongo]
 *
 * Each bundle is one of the fixtures/discharges, made distinct (identifiers of
 * the patient, stay, orders...) so every post is a new discharge. Requests go
 * through the Fastify app in-process (app.inject: no sockets), with a fixed
 * number in flight. MongoDB: MONGODB_URI if set, else the test server
 * (scripts/test-mongo-server.mjs). Short by default: a sanity figure.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import { startTestMongo, type TestMongoServer } from './test-mongo-server.mjs';

const { values } = parseArgs({
  options: {
    bundles: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    stores: { type: 'string', default: 'embedded,mongo' },
  },
});
const BUNDLES = Number(values.bundles);
const CONCURRENCY = Number(values.concurrency);
const root = new URL('../fixtures/', import.meta.url);
const templates = readdirSync(new URL('discharges/', root))
  .filter((f) => f.endsWith('.json'))
  .map((f) => readFileSync(new URL(`discharges/${f}`, root), 'utf8'));
const directory = readFileSync(new URL('directory-touraine.json', root), 'utf8');

/** The i-th discharge: a fixture whose identifiers (INS, IPP, NDA, prescriptions...) are made unique. */
function discharge(i: number): string {
  const tag = String(i).padStart(6, '0');
  return templates[i % templates.length]
    .replace(/"(IPP|NDA|RX|DOC|MSG|CT)-/g, `"$1-${tag}-`)
    .replace(/\|(IPP|NDA|RX|DOC|MSG|CT)-/g, `|$1-${tag}-`)
    .replace(/([0-9]{9})[0-9]{6}\b/g, (_m, head: string) => `${head}${tag}`);
}

async function run(store: 'embedded' | 'mongo', mongo?: TestMongoServer) {
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-bench-'));
  const env: Record<string, string> = { DATA_DIR: dataDir, BASE_URL: 'http://relais.bench/fhir', LOG_LEVEL: 'silent', AUTH_MODE: 'none', COORDINATION_TEAM_FINESS: '370099991' };
  if (store === 'mongo') {
    env.MONGODB_URI = process.env.MONGODB_URI ?? mongo!.uri;
    env.MONGODB_DATABASE = `relais_bench_${Date.now()}`;
  }
  const ctx = buildContext(loadConfig(env));
  await ctx.store.open();
  const app = await buildApp(ctx, { logger: false });
  await app.ready();
  const post = (payload: string) => app.inject({ method: 'POST', url: '/fhir', headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' }, payload });
  try {
    const loaded = await post(directory);
    if (loaded.statusCode !== 200) {
      // e.g. a MongoDB deployment without multi-document transactions refuses transaction bundles.
      console.log(`${store.padEnd(8)} transactions refused by this deployment: ${loaded.statusCode} ${loaded.body.slice(0, 300)}`);
      return;
    }
    const before = (await ctx.store.history({ offset: 0, count: 0 })).total;
    let next = 0;
    let failed = 0;
    let firstFailure = '';
    let entries = 0;
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < BUNDLES) {
          const i = next++;
          const payload = discharge(i);
          entries += (JSON.parse(payload) as Bundle).entry!.length;
          const response = await post(payload);
          if (response.statusCode !== 200) {
            failed++;
            firstFailure ||= `${response.statusCode} ${response.body.slice(0, 300)}`;
          }
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const written = (await ctx.store.history({ offset: 0, count: 0 })).total - before;
    console.log(
      `${store.padEnd(8)} ${BUNDLES} bundles (${entries} entries; ${written} resources written incl. intake) in ${seconds.toFixed(2)} s: ` +
        `${(BUNDLES / seconds).toFixed(1)} bundles/s, ${(written / seconds).toFixed(0)} resources/s` +
        (failed ? `; ${failed} failed, first: ${firstFailure}` : ''),
    );
  } finally {
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const stores = values.stores.split(',') as Array<'embedded' | 'mongo'>;
console.log(`${BUNDLES} discharge bundles per store, ${CONCURRENCY} in flight, ${templates.length} fixture shapes`);
for (const store of stores) {
  let mongo: TestMongoServer | undefined;
  if (store === 'mongo' && !process.env.MONGODB_URI) mongo = await startTestMongo();
  try {
    await run(store, mongo);
  } finally {
    await mongo?.stop();
  }
}
