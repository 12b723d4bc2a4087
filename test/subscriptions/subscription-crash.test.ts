/**
 * Notifications survive a crash (issue 12, "Must show"): the real server
 * process takes a stream of writes matching an active rest-hook subscription
 * while a deliberately slow receiver (on loopback) lets a backlog build, is
 * killed with SIGKILL in the middle, and restarted on the same data folder.
 * Then every acknowledged write's notification arrives (at least once), and
 * every notification received is for a version that committed (readable
 * after the restart): none for a write that did not commit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { rmSync } from 'node:fs';
import type { Observation } from 'fhir/r4';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';

const FHIR_JSON = { 'content-type': 'application/fhir+json' };
const WORKERS = 3;
const KILL_AFTER = 60;
const CODE = { coding: [{ system: 'http://loinc.org', code: '29463-7' }] };

const dataDir = freshDataDir();
const servers: SpawnedServer[] = [];
const received = new Set<string>();
let receiver: Server;

afterAll(async () => {
  for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await Promise.all(servers.map((s) => s.exited));
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

describe('subscriptions: SIGKILL in the middle of a write stream', () => {
  it('delivers every acknowledged write after the restart, and nothing that did not commit', async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        // Slow on purpose: the backlog is still there when the server is killed.
        setTimeout(() => {
          if (req.method === 'PUT' && body) {
            const resource = JSON.parse(body) as Observation;
            received.add(`${resource.id}/${resource.meta?.versionId}`);
          }
          res.end();
        }, 15);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    const env = { SUBSCRIPTION_ENDPOINT_SCHEMES: 'http', SUBSCRIPTION_ALLOW_PRIVATE_ADDRESSES: 'true', SUBSCRIPTION_POLL_MS: '200' };

    const first = await spawnServer({ dataDir, env });
    servers.push(first);
    const created = await fetch(`${first.origin}/fhir/Subscription`, {
      method: 'POST',
      headers: FHIR_JSON,
      body: JSON.stringify({ resourceType: 'Subscription', status: 'requested', reason: 'crash test', criteria: 'Observation?code=http://loinc.org|29463-7', channel: { type: 'rest-hook', endpoint, payload: 'application/fhir+json' } }),
    });
    expect(created.status).toBe(201);

    const acknowledged: string[] = [];
    const ids: string[] = [];
    let killed = false;
    let sequence = 0;
    async function worker(): Promise<void> {
      while (!killed) {
        const n = ++sequence;
        const target = ids.length > 3 && n % 2 === 0 ? ids[n % ids.length] : undefined;
        try {
          const response = await fetch(target ? `${first.origin}/fhir/Observation/${target}` : `${first.origin}/fhir/Observation`, {
            method: target ? 'PUT' : 'POST',
            headers: FHIR_JSON,
            body: JSON.stringify({ resourceType: 'Observation', ...(target ? { id: target } : {}), status: 'final', code: CODE, valueQuantity: { value: 60 + (n % 40), unit: 'kg' } }),
          });
          if (response.status !== 200 && response.status !== 201) throw new Error(`unexpected ${response.status}`);
          const stored = (await response.json()) as Observation;
          acknowledged.push(`${stored.id}/${stored.meta!.versionId}`);
          if (!target) ids.push(stored.id!);
          if (acknowledged.length >= KILL_AFTER && !killed) {
            killed = true;
            first.child.kill('SIGKILL');
          }
        } catch {
          if (!killed) throw new Error('a write failed before the kill');
          return;
        }
      }
    }
    await Promise.all(Array.from({ length: WORKERS }, worker));
    await first.exited;
    const beforeRestart = received.size;
    expect(beforeRestart).toBeLessThan(acknowledged.length); // a backlog was left behind

    const second = await spawnServer({ dataDir, env });
    servers.push(second);
    await expect.poll(() => acknowledged.filter((a) => !received.has(a)).length, { timeout: 60_000, interval: 200 }).toBe(0);
    // Everything received is a version that committed.
    for (const key of received) {
      const [id, versionId] = key.split('/');
      expect((await fetch(`${second.origin}/fhir/Observation/${id}/_history/${versionId}`)).status, key).toBe(200);
    }
    console.log(`subscription crash test: ${acknowledged.length} acknowledged, ${beforeRestart} delivered before the kill, ${received.size} distinct versions delivered in all`);
  }, 120_000);
});
