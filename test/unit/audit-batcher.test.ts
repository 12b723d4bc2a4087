/**
 * Audit records of concurrent requests share store writes (src/audit/audit-batcher.ts,
 * issue 17): fewer writes than requests, each request answered only once the write
 * holding its records is acknowledged, one bad record failing its own request only,
 * and no batching where the store cannot write several operations atomically.
 */
import { describe, expect, it } from 'vitest';
import { AuditBatcher } from '../../src/audit/audit-batcher.js';
import type { ResourceStore, WriteOperation } from '../../src/store/resource-store.js';

/** A store whose writes are acknowledged when the test says so. */
function slowStore(atomicMultiWrite: boolean) {
  const writes: Array<{ operations: WriteOperation[]; acknowledge(): void; fail(error: Error): void; done: boolean }> = [];
  const store = {
    capabilities: { name: 'fake', atomicMultiWrite },
    write: (operations: WriteOperation[]) =>
      new Promise((resolve, reject) => {
        const write = { operations, done: false, acknowledge: () => ((write.done = true), resolve([])), fail: (e: Error) => ((write.done = true), reject(e)) };
        writes.push(write);
      }),
  } as unknown as ResourceStore;
  return { store, writes };
}
const op = (id: string): WriteOperation => ({ kind: 'put', resourceType: 'AuditEvent', id, resource: { resourceType: 'AuditEvent' } as never, index: {}, expect: 'absent' });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('audit batching', () => {
  it('writes the records arriving during a write together, each request waiting for its own write', async () => {
    const { store, writes } = slowStore(true);
    const batcher = new AuditBatcher(() => store);
    const answered: string[] = [];
    const request = (id: string) => batcher.write([op(id)]).then(() => answered.push(id));
    const first = request('a');
    await tick();
    const others = ['b', 'c', 'd', 'e'].map(request);
    await tick();
    expect(writes.map((w) => w.operations.map((o) => o.id))).toEqual([['a']]);
    writes[0].acknowledge();
    await first;
    await tick();
    expect(answered).toEqual(['a']); // b..e wait for their own write
    expect(writes.map((w) => w.operations.map((o) => o.id))).toEqual([['a'], ['b', 'c', 'd', 'e']]);
    writes[1].acknowledge();
    await Promise.all(others);
    expect(answered.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('fails only the request whose records the store refuses', async () => {
    const { store, writes } = slowStore(true);
    const batcher = new AuditBatcher(() => store);
    const first = batcher.write([op('a')]);
    await tick();
    const results = ['b', 'c', 'd'].map((id) => batcher.write([op(id)]).then(() => 'ok', () => 'failed'));
    writes[0].acknowledge();
    await first;
    await tick();
    writes[1].fail(new Error('refused')); // the batch b+c+d: retried one by one
    await tick();
    for (let retry = 0; retry < 3; retry++) {
      const w = writes[2 + retry];
      if (w.operations[0].id === 'c') w.fail(new Error('bad record'));
      else w.acknowledge();
      await tick();
    }
    expect(await Promise.all(results)).toEqual(['ok', 'failed', 'ok']);
    expect(writes.slice(2).map((w) => w.operations.map((o) => o.id))).toEqual([['b'], ['c'], ['d']]);
  });

  it('writes each operation alone where the store has no atomic multi-operation write', async () => {
    const { store, writes } = slowStore(false);
    const batcher = new AuditBatcher(() => store);
    const done = batcher.write([op('audit'), op('alert')]);
    await tick();
    expect(writes.map((w) => w.operations.map((o) => o.id))).toEqual([['audit']]);
    writes[0].acknowledge();
    await tick();
    expect(writes.map((w) => w.operations.map((o) => o.id))).toEqual([['audit'], ['alert']]);
    writes[1].acknowledge();
    await done;
  });
});
