/**
 * The snapshots in profiles/ are what scripts/generate-snapshots.ts produces
 * from the differentials, and profiles/CATALOGUE.md is what
 * scripts/generate-catalogue.ts produces: neither can drift from its source.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateAll } from '../../scripts/generate-snapshots.js';
import { DEFAULT_PROFILES_DIR } from '../../src/conformance/load-conformance.js';

describe('generated artefacts of profiles/', () => {
  it('every snapshot is up to date with its differential', () => {
    for (const { file, sd } of generateAll().values()) {
      expect(JSON.parse(readFileSync(join(DEFAULT_PROFILES_DIR, file), 'utf8')).snapshot, file).toEqual(sd.snapshot);
    }
  });
  // Snapshot generators (HL7's included: "No match found for CarePlan.goal in the generated
  // snapshot ... (including order)") walk the differential alongside the base, so its elements
  // must come in the order of the base's elements (slices right after their element).
  it('every differential lists its elements in snapshot order', () => {
    for (const { file, sd } of generateAll().values()) {
      const position = new Map(sd.snapshot!.element.map((e, i) => [e.id!, i]));
      const order = sd.differential!.element.map((e) => position.get(e.id!));
      expect(order.every((p) => p !== undefined), file).toBe(true);
      expect(order, file).toEqual([...order].sort((a, b) => a! - b!));
    }
  });
  it('CATALOGUE.md is up to date', () => {
    expect(() => execFileSync(process.execPath, ['--import', 'tsx', 'scripts/generate-catalogue.ts', '--check'], { cwd: join(DEFAULT_PROFILES_DIR, '..'), stdio: 'pipe' })).not.toThrow();
  });
});
