/**
 * Subscriptions benchmark (not a test): what subscriptions cost the write path
 * and how fast notifications reach a receiver.
 *
 *   npx tsx scripts/bench-subscriptions.ts [--writes 1000] [--concurrency 8] [--subscriptions 0,10,1000]
 *
 * For each number of active subscriptions, on a fresh embedded store in a
 * temporary folder (the real app in-process, its delivery worker running):
 * N topic-based rest-hook subscriptions (alert-raised, each filtered on its own
 * patient, id-only content) pointing at a real HTTP receiver on loopback; then
 * `--writes` Flags are created through the engine, `--concurrency` in flight,
 * spread over the N patients (every write notifies exactly one subscription;
 * none when N = 0). Reported: writes/s (the ratio to N = 0 is what matching
 * and recording notifications cost), and for N > 0 the commit-to-receiver
 * latency of each notification (from the create's acknowledgement to the
 * receiver reading the notification naming it): p50, p99, max.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Bundle, Parameters } from 'fhir/r4';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';

const { values } = parseArgs({
  options: {
    writes: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    subscriptions: { type: 'string', default: '0,10,1000' },
  },
});
const WRITES = Number(values.writes);
const CONCURRENCY = Number(values.concurrency);
const COUNTS = values.subscriptions.split(',').map(Number);
const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/alert-raised';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function run(count: number): Promise<{ count: number; writesPerSecond: number; latencies: number[] }> {
  const arrived = new Map<string, number>();
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const now = performance.now();
      if (body) {
        const bundle = JSON.parse(body) as Bundle;
        const status = bundle.entry?.[0].resource as Parameters;
        for (const p of status.parameter ?? []) {
          const focus = p.name === 'notification-event' ? p.part?.find((x) => x.name === 'focus')?.valueReference?.reference : undefined;
          if (focus && !arrived.has(focus)) arrived.set(focus.split('/').pop()!, now);
        }
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const dataDir = mkdtempSync(join(tmpdir(), 'relais-bench-subs-'));
  const config = loadConfig({
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    AUTH_MODE: 'none',
    VALIDATION_ENFORCEMENT: 'off',
    SUBSCRIPTION_ENDPOINT_SCHEMES: 'http',
    SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true',
  });
  const ctx = buildContext(config);
  await ctx.store.open();
  const app = await buildApp(ctx, { logger: false });
  const session = ctx.engine.asAnonymous();
  try {
    for (let i = 0; i < Math.max(count, 1); i++) await session.update('Patient', `p${i}`, { resourceType: 'Patient', id: `p${i}` });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const created = await session.create('Subscription', {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'benchmark',
        criteria: TOPIC,
        _criteria: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria', valueString: `patient=Patient/p${i}` }] },
        channel: {
          type: 'rest-hook',
          endpoint,
          payload: 'application/fhir+json',
          _payload: { extension: [{ url: 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-payload-content', valueCode: 'id-only' }] },
        },
      });
      ids.push(created.version.id);
    }
    // Every handshake done before measuring.
    while (ids.some((id) => ctx.subscriptions.registry.get(id)?.status !== 'active')) await new Promise((r) => setTimeout(r, 50));

    const committed = new Map<string, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < WRITES) {
          const n = next++;
          const result = await session.create('Flag', { resourceType: 'Flag', status: 'active', code: { text: `alerte ${n}` }, subject: { reference: `Patient/p${n % Math.max(count, 1)}` } });
          committed.set(result.version.id, performance.now());
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const latencies: number[] = [];
    if (count > 0) {
      const deadline = Date.now() + 120_000;
      while (arrived.size < WRITES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const [id, at] of committed) {
        const got = arrived.get(id);
        if (got !== undefined) latencies.push(got - at);
      }
      latencies.sort((a, b) => a - b);
    }
    return { count, writesPerSecond: WRITES / elapsed, latencies };
  } finally {
    await app.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const results = [];
for (const count of COUNTS) {
  const result = await run(count);
  results.push(result);
  console.error(`… ${count} subscriptions done`);
}
const baseline = results.find((r) => r.count === 0)?.writesPerSecond;
console.log(`| active subscriptions | writes/s | vs 0 | notifications received | latency p50 ms | p99 ms | max ms |`);
console.log(`|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of results) {
  const l = r.latencies;
  const cells = l.length > 0 ? [percentile(l, 50).toFixed(1), percentile(l, 99).toFixed(1), l[l.length - 1].toFixed(1)] : ['–', '–', '–'];
  console.log(`| ${r.count} | ${r.writesPerSecond.toFixed(0)} | ${baseline ? (r.writesPerSecond / baseline).toFixed(2) : '–'} | ${r.count > 0 ? `${l.length}/${WRITES}` : '–'} | ${cells.join(' | ')} |`);
}
process.exit(0);
