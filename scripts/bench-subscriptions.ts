/**
 * Subscriptions benchmark (not a test): what subscriptions cost the write path
 * and how fast notifications reach a receiver.
 *
 *   npx tsx scripts/bench-subscriptions.ts [--writes 1000] [--concurrency 8] [--subscriptions 0,10,1000] [--rounds 3]
 *
 * For each number of active subscriptions, on a fresh embedded store in a
 * temporary folder (the real app in-process, its delivery worker running):
 * N topic-based rest-hook subscriptions (alert-raised, each filtered on its own
 * patient, id-only content) pointing at a real HTTP receiver on loopback; then,
 * after a warm-up, `--writes` Flags are created through the engine,
 * `--concurrency` in flight, twice:
 * - "quiet": about a patient no subscription follows (the cost of matching
 *   against N subscriptions, nothing to deliver);
 * - "notifying": spread over the N patients, each write notifying exactly one
 *   subscription (matching, the outbox record, and the deliveries running
 *   beside the writes on the same two cores).
 * Reported: writes/s of both (and their ratio to N = 0's quiet run), and the
 * commit-to-receiver latency of each notification (from the create's
 * acknowledgement to the receiver reading the notification naming it).
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
    rounds: { type: 'string', default: '3' },
  },
});
const ROUNDS = Number(values.rounds);
const WRITES = Number(values.writes);
const CONCURRENCY = Number(values.concurrency);
const COUNTS = values.subscriptions.split(',').map(Number);
const TOPIC = 'https://relais-sante.fr/fhir/SubscriptionTopic/alert-raised';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

interface Result {
  count: number;
  quietPerSecond: number;
  /** Process CPU time (user + system) per write: steadier than wall time on a shared machine. */
  quietCpuUs: number;
  notifyingPerSecond?: number;
  notifyingCpuUs?: number;
  latencies: number[];
}

async function run(count: number): Promise<Result> {
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

    await session.update('Patient', 'quiet', { resourceType: 'Patient', id: 'quiet' });
    const committed = new Map<string, number>();
    /** `writes` Flag creates, CONCURRENCY in flight; returns writes/s and CPU µs per write. */
    const stream = async (writes: number, patientOf: (n: number) => string, record: boolean) => {
      let next = 0;
      const cpu = process.cpuUsage();
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < writes) {
            const n = next++;
            const result = await session.create('Flag', { resourceType: 'Flag', status: 'active', code: { text: `alerte ${n}` }, subject: { reference: `Patient/${patientOf(n)}` } });
            if (record) committed.set(result.version.id, performance.now());
          }
        }),
      );
      const used = process.cpuUsage(cpu);
      return { perSecond: writes / ((performance.now() - started) / 1000), cpuUs: (used.user + used.system) / writes };
    };
    await stream(200, () => 'quiet', false); // warm-up
    const quiet = await stream(WRITES, () => 'quiet', false);
    const notifying = count > 0 ? await stream(WRITES, (n) => `p${n % count}`, true) : undefined;
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
    return {
      count,
      quietPerSecond: quiet.perSecond,
      quietCpuUs: quiet.cpuUs,
      ...(notifying ? { notifyingPerSecond: notifying.perSecond, notifyingCpuUs: notifying.cpuUs } : {}),
      latencies,
    };
  } finally {
    await app.close();
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// Rounds interleave the configurations (0, 10, 1000, 0, 10, 1000…) so that a change of machine load
// (the development machine is shared) hits all of them alike; the median round of each is reported.
const rounds = new Map<number, Result[]>();
for (let round = 1; round <= ROUNDS; round++) {
  for (const count of COUNTS) {
    const result = await run(count);
    rounds.set(count, [...(rounds.get(count) ?? []), result]);
    console.error(`… round ${round}: ${count} subscriptions: quiet ${result.quietPerSecond.toFixed(0)}/s ${result.quietCpuUs.toFixed(0)} µs, notifying ${result.notifyingPerSecond?.toFixed(0) ?? '–'}/s ${result.notifyingCpuUs?.toFixed(0) ?? '–'} µs`);
  }
}
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
const results: Result[] = COUNTS.map((count) => {
  const all = rounds.get(count)!;
  const notifying = all.map((r) => r.notifyingPerSecond).filter((v): v is number => v !== undefined);
  const notifyingCpu = all.map((r) => r.notifyingCpuUs).filter((v): v is number => v !== undefined);
  return {
    count,
    quietPerSecond: median(all.map((r) => r.quietPerSecond)),
    quietCpuUs: median(all.map((r) => r.quietCpuUs)),
    ...(notifying.length > 0 ? { notifyingPerSecond: median(notifying), notifyingCpuUs: median(notifyingCpu) } : {}),
    latencies: all.flatMap((r) => r.latencies).sort((a, b) => a - b),
  };
});
const baseline = results.find((r) => r.count === 0)?.quietPerSecond;
const ratio = (v: number | undefined) => (v !== undefined && baseline ? (v / baseline).toFixed(2) : '–');
const baselineCpu = results.find((r) => r.count === 0)?.quietCpuUs;
const cpuRatio = (v: number | undefined) => (v !== undefined && baselineCpu ? (v / baselineCpu).toFixed(2) : '–');
console.log(`| active subscriptions | quiet writes/s (vs 0) | quiet CPU µs/write (vs 0) | notifying writes/s (vs 0) | notifying CPU µs/write (vs 0) | notifications received | latency p50 ms | p99 ms | max ms |`);
console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of results) {
  const l = r.latencies;
  const cells = l.length > 0 ? [percentile(l, 50).toFixed(1), percentile(l, 99).toFixed(1), l[l.length - 1].toFixed(1)] : ['–', '–', '–'];
  const notifying = r.notifyingPerSecond !== undefined ? `${r.notifyingPerSecond.toFixed(0)} (${ratio(r.notifyingPerSecond)})` : '–';
  const notifyingCpu = r.notifyingCpuUs !== undefined ? `${r.notifyingCpuUs.toFixed(0)} (${cpuRatio(r.notifyingCpuUs)})` : '–';
  console.log(
    `| ${r.count} | ${r.quietPerSecond.toFixed(0)} (${ratio(r.quietPerSecond)}) | ${r.quietCpuUs.toFixed(0)} (${cpuRatio(r.quietCpuUs)}) | ${notifying} | ${notifyingCpu} | ${r.count > 0 ? `${l.length}/${WRITES * ROUNDS}` : '–'} | ${cells.join(' | ')} |`,
  );
}
process.exit(0);
