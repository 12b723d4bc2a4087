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
  it('CATALOGUE.md is up to date', () => {
    expect(() => execFileSync(process.execPath, ['--import', 'tsx', 'scripts/generate-catalogue.ts', '--check'], { cwd: join(DEFAULT_PROFILES_DIR, '..'), stdio: 'pipe' })).not.toThrow();
  });
});
