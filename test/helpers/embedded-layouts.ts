/**
 * LMDB layouts for the embedded store's low-level tests (planner, candidate judgement, replay):
 * fresh folders removed after each test, and index entries written through the store's own writer
 * (planWrites: versions, heads, keys, history logs), one transaction per call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { openLayout, type Layout } from '../../src/store/embedded/lmdb-layout.js';
import { BatchView, planWrites, type CommittedOperation } from '../../src/store/embedded/unit-writer.js';
import type { IndexEntries } from '../../src/store/resource-store.js';

/** A function giving a fresh layout in its own folder; every one is closed and removed after each test. */
export function temporaryLayouts(prefix: string): () => Layout {
  const opened: Array<{ layout: Layout; dir: string }> = [];
  afterEach(async () => {
    for (const { layout, dir } of opened.splice(0)) {
      await layout.env.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const layout = openLayout(dir);
    opened.push({ layout, dir });
    return layout;
  };
}

/** Writes `[id, index]` changes (undefined: a deletion) of one type, each a new version, in one transaction (`writeOnceTypes`: types written with compact heads, as the store writes its audit trail). */
export function indexWriter(layout: Layout, resourceType = 'Observation', writeOnceTypes?: ReadonlySet<string>): (changes: Array<[string, IndexEntries | undefined]>) => Promise<void> {
  const versions = new Map<string, number>();
  let seq = 0;
  return async (changes) => {
    const ops: CommittedOperation[] = changes.map(([id, index]) => {
      const versionId = (versions.get(id) ?? 0) + 1;
      versions.set(id, versionId);
      const lastUpdated = new Date(1_700_000_000_000 + ++seq).toISOString();
      return index ? { kind: 'put', resourceType, id, versionId, lastUpdated, resource: { resourceType, id } as never, index } : { kind: 'delete', resourceType, id, versionId, lastUpdated };
    });
    const view = new BatchView(layout, writeOnceTypes);
    await planWrites(view, ops, () => ++seq);
    await view.commit();
  };
}

/**
 * One round of random writes: up to `steps` of the ids o0…o{ids-1} (a fifth of the existing ones
 * deleted, the others given `entries(random)`); `current` follows them.
 */
export function randomRound(
  random: () => number,
  current: Map<string, IndexEntries>,
  entries: (random: () => number) => IndexEntries,
  { steps, ids }: { steps: number; ids: number },
): Array<[string, IndexEntries | undefined]> {
  const changes: Array<[string, IndexEntries | undefined]> = [];
  const touched = new Set<string>();
  for (let step = 0; step < steps; step++) {
    const id = `o${Math.floor(random() * ids)}`;
    if (touched.has(id)) continue;
    touched.add(id);
    const index = current.has(id) && random() < 0.2 ? undefined : entries(random);
    changes.push([id, index]);
    if (index) current.set(id, index);
    else current.delete(id);
  }
  return changes;
}
