/**
 * The loader (`npm run import`): NDJSON and Bundles, validated like any write,
 * a bad line reported with where and why while the rest is imported, and a
 * rerun that creates no duplicates; then the command-line tools end to end
 * (`relais export` to a folder, `relais import` of it into another store, run
 * as `npm run export` / `npm run import` do: `tsx src/cli.ts ...`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runImport } from '../../src/bulk/import-run.js';
import { startBulkServer, type BulkTestServer } from './bulk-test-server.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
let server: BulkTestServer;
let folder: string;

const count = async (type: string) => (await server.ctx.engine.asServer('test').search(type, [['_summary', 'count']])).total;

beforeAll(async () => {
  server = await startBulkServer();
  folder = mkdtempSync(join(tmpdir(), 'relais-import-'));
  const lines = [
    JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ family: 'Lefèvre' }] }),
    JSON.stringify({ resourceType: 'Patient', id: 'p2', name: [{ family: 'Dubois' }] }),
    '',
    '{"resourceType": "Patient", "id": "broken", ',
    JSON.stringify({ resourceType: 'Patient', identifier: [{ system: 'https://example.org/mrn', value: 'MRN-7' }], name: [{ family: 'Sans id' }] }),
    JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/p1' }, valueQuantity: { value: 71.5, unit: 'kg' } }),
    JSON.stringify({ resourceType: 'Observation', id: 'bad-element', status: 'final', colour: 'blue', code: { text: 'Poids' } }),
    JSON.stringify({ resourceType: 'Patient', id: 'p3', birthDate: 'le 3 mai' }),
  ];
  writeFileSync(join(folder, 'a-patients.ndjson'), `${lines.join('\n')}\n`);
  writeFileSync(join(folder, 'b-more.ndjson.gz'), gzipSync(`${JSON.stringify({ resourceType: 'Patient', id: 'p4' })}\n`));
  writeFileSync(
    join(folder, 'c-transaction.json'),
    JSON.stringify({
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: 'urn:uuid:9f0c1a64-8e5c-4d0a-9a4b-2f6f0e9f1a01', resource: { resourceType: 'Patient', name: [{ family: 'Martin' }] }, request: { method: 'POST', url: 'Patient' } },
        {
          fullUrl: 'urn:uuid:9f0c1a64-8e5c-4d0a-9a4b-2f6f0e9f1a02',
          resource: { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'HH' }, subject: { reference: 'urn:uuid:9f0c1a64-8e5c-4d0a-9a4b-2f6f0e9f1a01' } },
          request: { method: 'POST', url: 'Encounter' },
        },
      ],
    }),
  );
  writeFileSync(join(folder, 'd-collection.json'), JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Practitioner', id: 'pr-1', name: [{ family: 'Bernard' }] } }] }));
  writeFileSync(join(folder, 'notes.txt'), 'not imported');
});
afterAll(async () => {
  await server?.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('npm run import', () => {
  it('imports NDJSON (plain and gzipped) and Bundles from a folder; reports each bad line with its reason', async () => {
    const progress: number[] = [];
    const { stats, rejections } = await runImport(server.ctx.engine.asServer('import test'), [folder], { concurrency: 4, onProgress: (s) => progress.push(s.bytesRead) });
    expect(stats).toMatchObject({ files: 4, created: 8, updated: 0, unchanged: 0, rejected: 3 });
    expect(stats.bytesRead).toBe(stats.totalBytes);
    expect(progress.length).toBeGreaterThan(3);
    expect(rejections.map((r) => r.source.replace(folder, ''))).toEqual(['/a-patients.ndjson:4', '/a-patients.ndjson:7', '/a-patients.ndjson:8']);
    expect(rejections[0].reason).toContain('not valid JSON');
    expect(rejections[1].reason).toMatch(/^400 .*colour/);
    expect(rejections[2].reason).toMatch(/birthDate/);
    expect(await count('Patient')).toBe(5);
    expect(await count('Observation')).toBe(1);
    expect(await count('Encounter')).toBe(1);
    // The transaction's reference to its own patient was resolved.
    const encounter = (await server.ctx.engine.asServer('test').search('Encounter', [])).entry![0].resource as unknown as { subject: { reference: string } };
    const patient = (await server.ctx.engine.asServer('test').search('Patient', [['family', 'Martin']])).entry![0].resource!;
    expect(encounter.subject.reference).toBe(`Patient/${patient.id}`);
  });

  it('run again on the same files: nothing is duplicated and no new version is written', async () => {
    const history = async () => {
      let total = 0;
      for (const type of ['Patient', 'Observation', 'Encounter', 'Practitioner']) total += (await server.ctx.engine.asServer('test').history({ resourceType: type }, [['_count', '0']])).total ?? 0;
      return total;
    };
    const before = { patients: await count('Patient'), observations: await count('Observation'), encounters: await count('Encounter'), practitioners: await count('Practitioner') };
    const versionsBefore = await history();
    const { stats } = await runImport(server.ctx.engine.asServer('import test'), [folder]);
    expect(stats).toMatchObject({ created: 0, unchanged: 6, updated: 2, rejected: 3 });
    expect({ patients: await count('Patient'), observations: await count('Observation'), encounters: await count('Encounter'), practitioners: await count('Practitioner') }).toEqual(before);
    // Lines and collection entries are skipped when unchanged; the transaction runs again as a whole (its two PUTs version).
    expect((await history()) - versionsBefore).toBe(2);
  });
});

describe('command-line tools', () => {
  it('relais export writes NDJSON + manifest.json; relais import loads it into another store, with a progress line and a summary', async () => {
    const source = mkdtempSync(join(tmpdir(), 'relais-cli-src-'));
    const target = mkdtempSync(join(tmpdir(), 'relais-cli-dst-'));
    const out = mkdtempSync(join(tmpdir(), 'relais-cli-out-'));
    const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'silent', AUTH_MODE: 'none', VALIDATION_ENFORCEMENT: 'off' };
    try {
      const load = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'import', folder], { cwd: ROOT, env: { ...env, DATA_DIR: source } }).catch((e: { stdout: string; stderr: string; code: number }) => e);
      expect((load as { code?: number }).code, load.stderr).toBe(1); // three lines were rejected
      expect(load.stdout, load.stderr).toMatch(/imported 4 file\(s\) in .*: 8 created, 0 updated, 0 unchanged, 3 rejected/);
      expect(load.stdout).toContain('a-patients.ndjson:4: not valid JSON');
      expect(load.stderr).toMatch(/resources \(.* new, .* rejected\) · \d+\/s · \d+% · ETA/);
      const exported = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'export', '--out', out, '--type', 'Patient,Encounter,Observation,Practitioner', '--quiet'], { cwd: ROOT, env: { ...env, DATA_DIR: source } });
      expect(exported.stdout).toMatch(/exported 8 resources in 4 file\(s\)/);
      const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { output: Array<{ type: string; url: string; count: number }> };
      expect(manifest.output.map((f) => `${f.type}:${f.count}`)).toEqual(['Patient:5', 'Encounter:1', 'Observation:1', 'Practitioner:1']);
      expect(readdirSync(out).sort()).toEqual(['Encounter-1.ndjson', 'Observation-1.ndjson', 'Patient-1.ndjson', 'Practitioner-1.ndjson', 'manifest.json']);
      const reloaded = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'import', '--quiet', out], { cwd: ROOT, env: { ...env, DATA_DIR: target } });
      // manifest.json is read too, and skipped: it describes the files, it is not data.
      expect(reloaded.stdout).toMatch(/imported 5 file\(s\) in .*: 8 created, 0 updated, 0 unchanged, 0 rejected/);
    } finally {
      for (const dir of [source, target, out]) rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
