/**
 * FR Core 2.2.0 ships with Relais (fhir-packages/, CC0) and is loaded with the
 * default configuration: after a plain start (no FHIR_PACKAGES_DIR set) and in
 * the Docker image's runtime layout, a resource claiming an FR Core profile is
 * checked against it, and the start-up log lists the packages loaded.
 *
 * The image layout is rebuilt without Docker from the Dockerfile itself: its
 * runtime stage's WORKDIR, ENV and COPY instructions are replayed into a
 * temporary folder, the build stage's `dist` being the TypeScript sources run
 * through tsx (what `npm run build` compiles), node_modules linked. A COPY the
 * image misses (e.g. fhir-packages/) is missing here too.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDataDir, spawnServer, type SpawnedServer } from '../helpers/spawned-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const FR = 'https://hl7.fr/ig/fhir/core/StructureDefinition/';
const FHIR_JSON = { 'content-type': 'application/fhir+json' };

/** Claims FR Core's INS patient profile but has no INS identifier, no birth-place extension, no official name. */
const notAnInsPatient = { resourceType: 'Patient', meta: { profile: [`${FR}fr-core-patient-ins`] }, name: [{ family: 'Durand', given: ['Alice'] }], gender: 'female', birthDate: '1950-02-03' };
/** Within FR Core's plain patient profile. */
const frCorePatient = { resourceType: 'Patient', meta: { profile: [`${FR}fr-core-patient`] }, name: [{ family: 'Durand', given: ['Alice'] }], gender: 'female', birthDate: '1950-02-03' };

const servers: SpawnedServer[] = [];
const folders: string[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function expectFrCoreApplied(server: SpawnedServer): Promise<void> {
  expect(server.stdout.some((line) => line.includes('FHIR packages loaded: hl7.fhir.fr.core#2.2.0'))).toBe(true);
  const refused = await fetch(`${server.origin}/fhir/Patient`, { method: 'POST', headers: FHIR_JSON, body: JSON.stringify(notAnInsPatient) });
  expect(refused.status).toBe(422);
  const outcome = (await refused.json()) as { issue: Array<{ severity: string; diagnostics: string }> };
  expect(outcome.issue.filter((i) => i.severity === 'error').map((i) => i.diagnostics).join('\n')).toContain(`profile ${FR}fr-core-patient-ins`);
  const accepted = await fetch(`${server.origin}/fhir/Patient`, { method: 'POST', headers: FHIR_JSON, body: JSON.stringify(frCorePatient) });
  expect(accepted.status, await accepted.text()).toBe(201);
}

/** The runtime stage of the Dockerfile: its WORKDIR, ENV pairs and COPY instructions. */
function runtimeStage(): { env: Record<string, string>; copies: Array<{ from?: string; sources: string[]; target: string }> } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const stage = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  const copies: Array<{ from?: string; sources: string[]; target: string }> = [];
  for (const line of stage.split('\n').map((l) => l.trim())) {
    if (line.startsWith('ENV ')) for (const [, k, v] of line.slice(4).matchAll(/([A-Z_]+)=(\S+)/g)) env[k] = v;
    const copy = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/.exec(line);
    if (!copy) continue;
    const paths = copy[2].split(/\s+/);
    copies.push({ from: copy[1], sources: paths.slice(0, -1), target: paths[paths.length - 1] });
  }
  return { env, copies };
}

describe('FR Core is loaded by default', () => {
  it('after a plain start from the repository (no FHIR_PACKAGES_DIR), FR Core profiles are applied', async () => {
    const dataDir = freshDataDir();
    folders.push(dataDir);
    const server = await spawnServer({ dataDir, env: { VALIDATION_ENFORCEMENT: 'network' } });
    servers.push(server);
    await expectFrCoreApplied(server);
  }, 90_000);

  it("in the Docker image's runtime layout, FR Core profiles are applied", async () => {
    const { env, copies } = runtimeStage();
    expect(copies.map((c) => c.target)).toContain('./fhir-packages');
    const app = mkdtempSync(join(tmpdir(), 'relais-image-'));
    folders.push(app);
    for (const copy of copies) {
      if (copy.from === 'build') {
        // The build stage's output: the compiled sources. Here the sources themselves, run by tsx.
        expect(copy.sources).toEqual(['/app/dist']);
        cpSync(join(ROOT, 'src'), join(app, copy.target), { recursive: true });
        continue;
      }
      for (const source of copy.sources) {
        expect(existsSync(join(ROOT, source)), `COPY ${source}: missing from the repository`).toBe(true);
        cpSync(join(ROOT, source), join(app, copy.target.endsWith('/') ? source : copy.target), { recursive: true });
      }
    }
    symlinkSync(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir');
    const dataDir = freshDataDir();
    folders.push(dataDir);
    const server = await spawnServer({
      cwd: app,
      entry: 'dist/server.ts',
      dataDir,
      env: { ...env, DATA_DIR: dataDir, PORT: '0', HOST: '127.0.0.1', VALIDATION_ENFORCEMENT: 'network' },
    });
    servers.push(server);
    await expectFrCoreApplied(server);
  }, 90_000);
});
