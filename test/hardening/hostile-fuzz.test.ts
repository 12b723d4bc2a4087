/**
 * The hostile-input generator (hostile-generator.ts) run against a started
 * server over real HTTP (issue 18): in CI's bounded mode 20,000 generated
 * requests (HOSTILE_REQUESTS to change it), with a token of every role or
 * none, while /healthz is probed every 50 ms on its own connection. Must
 * hold: no 5xx at all, no /healthz probe slower than a second, and the heap
 * (after a full collection) back within 20 % of where it started once the
 * run is over. The seed is fixed (HOSTILE_SEED to change it), so a failure
 * replays exactly; fast-check then shrinks it to the smallest request that
 * still fails.
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Bundle } from 'fhir/r4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../scripts/mint-token.js';
import { devAuthEnv, registerInDirectory } from '../helpers/authenticated-requests.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { hostileRequests, ROLES, type HostileRequest } from './hostile-generator.js';

const REQUESTS = Number(process.env.HOSTILE_REQUESTS ?? 20_000);
const SEED = Number(process.env.HOSTILE_SEED ?? 18);
const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8')) as Bundle;

v8.setFlagsFromString('--expose-gc');
const collect = vm.runInNewContext('gc') as () => void;
const heapAfterCollection = () => {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
};

let server: TestServer;
let origin: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer({ AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000000', LOG_LEVEL: 'silent' });
  await registerInDirectory(server, { rpps: ['10000000001'], finess: ['370000481'] });
  const seed = server.ctx.engine.asServer('test setup');
  await seed.transaction(fixture('directory-touraine.json'));
  await seed.transaction(fixture('discharges/01-stoma-ambulatory-surgery.json'));
  await seed.update('Patient', 'pat-1', { resourceType: 'Patient', id: 'pat-1', name: [{ family: 'Cible' }] });
  await seed.update('Observation', 'obs-1', { resourceType: 'Observation', id: 'obs-1', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-1' } });
  const env = devAuthEnv(server.dataDir);
  tokens.coordinator = await mintDevToken({ role: 'coordinator', sub: 'fuzz-coord', ttlSeconds: 3600 }, env);
  tokens.nurse = await mintDevToken({ role: 'nurse', rpps: '10000000001', ttlSeconds: 3600 }, env);
  tokens.hospital = await mintDevToken({ role: 'hospital', finess: '370000481', client: 'fuzz-his', ttlSeconds: 3600 }, env);
  tokens.platform = await mintDevToken({ role: 'platform', client: 'fuzz-platform', ttlSeconds: 3600 }, env);
  tokens.auditor = await mintDevToken({ role: 'auditor', sub: 'fuzz-audit', ttlSeconds: 3600 }, env);
  tokens.garbage = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  const address = server.app.server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}, 120_000);
afterAll(async () => server.close());

/** Header values a real HTTP client can send (byte strings without control characters). */
const SENDABLE = /^[\t\x20-\x7e\x80-\xff]*$/;

async function send(request: HostileRequest): Promise<number> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) if (SENDABLE.test(value)) headers[name] = value;
  if (request.token) headers.authorization = `Bearer ${tokens[request.token]}`;
  const response = await fetch(`${origin}${request.path}`, { method: request.method, headers, ...(request.body !== undefined ? { body: request.body } : {}) });
  await response.arrayBuffer();
  return response.status;
}

describe('hostile input', () => {
  it(`answers ${REQUESTS} generated hostile requests without a single 5xx, /healthz stays responsive, memory comes back`, async () => {
    // Warm up (compiled profiles, caches), then measure from there.
    for (const path of ['/fhir/metadata', '/fhir/Patient?name=x', '/fhir/Observation/obs-1']) await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${tokens.coordinator}` } }).then((r) => r.arrayBuffer());
    const heapBefore = heapAfterCollection();

    const probes: number[] = [];
    let probing = true;
    const prober = (async () => {
      while (probing) {
        const started = performance.now();
        await fetch(`${origin}/healthz`).then((r) => r.arrayBuffer());
        probes.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const statuses = new Map<number, number>();
    try {
      await fc.assert(
        fc.asyncProperty(hostileRequests, async (request) => {
          const status = await send(request);
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          return status < 500;
        }),
        { numRuns: REQUESTS, seed: SEED, endOnFailure: false, interruptAfterTimeLimit: 30 * 60_000 },
      );
    } finally {
      probing = false;
      await prober;
    }
    const heapAfter = heapAfterCollection();
    probes.sort((a, b) => a - b);
    const p99 = probes[Math.floor(probes.length * 0.99)];
    const summary = {
      requests: [...statuses.values()].reduce((a, b) => a + b, 0),
      statuses: Object.fromEntries([...statuses.entries()].sort(([a], [b]) => a - b)),
      healthzProbes: probes.length,
      healthzP99Ms: Math.round(p99),
      healthzMaxMs: Math.round(probes[probes.length - 1]),
      heapBeforeMB: Math.round(heapBefore / 1e6),
      heapAfterMB: Math.round(heapAfter / 1e6),
    };
    console.log(`hostile input: ${JSON.stringify(summary)}`);
    expect(summary.requests).toBe(REQUESTS);
    expect([...statuses.keys()].filter((s) => s >= 500)).toEqual([]);
    expect(summary.healthzMaxMs).toBeLessThan(1000);
    expect(heapAfter).toBeLessThan(heapBefore * 1.2);
    void ROLES;
  }, 60 * 60_000);
});
