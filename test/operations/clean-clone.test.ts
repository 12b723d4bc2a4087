/**
 * Relais as a newcomer and an operator get it, on a copy of the repository's
 * files (what a clone has: tracked and new, never ignored ones):
 * - the README's quick start, its two blocks run as written (`npm ci` aside:
 *   the installed node_modules are linked instead; 8080 becomes a free port):
 *   the server builds and starts, the token is minted, metadata, a create and a
 *   search answer;
 * - `npm start` again with nothing changed does not rebuild;
 * - the `relais` command's subcommands from the copy (npm scripts) and from the
 *   compiled `dist/cli.js`: help, token, register-client, reindex, import (a
 *   bad line reported with its reason, exit code 1) and export, whose files
 *   import into an empty store and export again identical;
 * - the Docker image's runtime layout without Docker: the runtime stage of the
 *   Dockerfile replayed (its ENV, `npm ci --omit=dev` — production
 *   dependencies only —, the `relais` link, its COPY instructions, the build
 *   stage's `dist`), then the image's command serving, `relais token`,
 *   `relais reindex`, `relais export` and `relais import` working inside it.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_TOKEN_HINT } from '../../src/auth/dev-keys.js';

const ROOT = resolve(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'relais-clone-'));
const clone = join(work, 'relais');
const processes: ChildProcess[] = [];

afterAll(async () => {
  for (const child of processes) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((done) => child.once('exit', done));
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
    await Promise.race([exited, new Promise((done) => setTimeout(done, 15_000))]);
  }
  rmSync(work, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** The fenced block after `<!-- quick-start:NAME -->` in the README. */
function readmeBlock(name: string): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const match = new RegExp(`<!-- quick-start:${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(readme);
  if (!match) throw new Error(`README has no quick-start:${name} block`);
  return match[1];
}

const baseEnv = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...extra });

/** Starts a command in its own process group (npm start runs a shell, then node); resolves once `ready` is logged. */
async function startInBackground(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 300_000): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  processes.push(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await new Promise<void>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`not ready in time:\n${output}`)), timeoutMs);
    const check = setInterval(() => {
      if (ready.test(output)) {
        clearTimeout(timer);
        clearInterval(check);
        done();
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        clearInterval(check);
        fail(new Error(`exited with ${child.exitCode}:\n${output}`));
      }
    }, 100);
  });
  return { child, output: () => output };
}

/** SIGTERM to the whole group; resolves with how its leader ended (a shell or npm leader ends by the signal, node itself with 0). */
async function stop(child: ChildProcess): Promise<number | NodeJS.Signals | null> {
  const exited = new Promise<number | NodeJS.Signals | null>((done) => child.once('exit', (code, signal) => done(code ?? signal)));
  process.kill(-child.pid!, 'SIGTERM');
  return exited;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
}

/** Runs a command that may end with a non-zero code: its code and both outputs. */
function runWithStatus(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The resources of an export folder's NDJSON files, by type/id, without meta (versions and dates differ between stores). */
function exportedResources(folder: string, types: string[]): Record<string, unknown> {
  const resources: Record<string, unknown> = {};
  for (const type of types) {
    for (const line of readFileSync(join(folder, `${type}-1.ndjson`), 'utf8').split('\n').filter(Boolean)) {
      const { meta: _meta, ...resource } = JSON.parse(line) as { resourceType: string; id: string; meta?: unknown };
      resources[`${resource.resourceType}/${resource.id}`] = resource;
    }
  }
  return resources;
}

beforeAll(() => {
  // A clone's files: tracked and new ones, not those .gitignore excludes (node_modules, dist, data...).
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    if (!existsSync(join(ROOT, file)) || lstatSync(join(ROOT, file)).isDirectory()) continue;
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(ROOT, file), join(clone, file));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir');
});

describe('a clean copy of the repository', () => {
  let port: number;

  it('the README quick start, as written: the server builds and starts, then the token, metadata, a create and a search work', async () => {
    port = await freePort();
    const withPort = (block: string) => block.replaceAll('8080', String(port));
    // `npm ci` installs from the lockfile: here the installed node_modules are linked (same lockfile).
    const serverBlock = withPort(readmeBlock('server'))
      .split('\n')
      .filter((line) => line.trim() !== 'npm ci')
      .join('\n');
    expect(readmeBlock('server')).toMatch(/^npm ci$/m);
    const server = await startInBackground('bash', ['-c', serverBlock], clone, baseEnv({ PORT: String(port) }), /Relais FHIR R4 server ready/);
    // The start-up log's hint is the README's command.
    const readyLine = server.output().split('\n').find((line) => line.includes('Relais FHIR R4 server ready'))!;
    expect(JSON.parse(readyLine).token).toBe(DEV_TOKEN_HINT);
    expect(DEV_TOKEN_HINT.startsWith(readmeBlock('client').split('\n')[0])).toBe(true);
    expect(server.output()).toContain(`Server listening at http://127.0.0.1:${port}`);

    const output = run('bash', ['-c', withPort(readmeBlock('client'))], clone, baseEnv({ PORT: String(port) }));
    const [metadata, created, found] = output.split('\n').filter(Boolean);
    expect(metadata).toContain('"resourceType":"CapabilityStatement"');
    const patient = JSON.parse(created) as { resourceType: string; id: string };
    expect(patient.resourceType).toBe('Patient');
    const bundle = JSON.parse(found) as { total: number; entry: Array<{ resource: { id: string } }> };
    expect(bundle.total).toBe(1);
    expect(bundle.entry[0].resource.id).toBe(patient.id);
    expect([0, 'SIGTERM']).toContain(await stop(server.child));
  }, 600_000);

  it('`npm start` with nothing changed does not build again', async () => {
    const stamp = join(clone, 'dist', '.build-stamp');
    const before = { stamp: statSync(stamp).mtimeMs, cli: statSync(join(clone, 'dist', 'cli.js')).mtimeMs };
    const server = await startInBackground('npm', ['start'], clone, baseEnv({ PORT: String(await freePort()), AUTH_MODE: 'none' }), /Relais FHIR R4 server ready/);
    expect(server.output()).not.toContain('tsc -p tsconfig.build.json');
    expect(statSync(stamp).mtimeMs).toBe(before.stamp);
    expect(statSync(join(clone, 'dist', 'cli.js')).mtimeMs).toBe(before.cli);
    expect([0, 'SIGTERM']).toContain(await stop(server.child));
  }, 300_000);

  it('the relais subcommands work from the copy (npm scripts) and from dist/cli.js', () => {
    const env = baseEnv({ DATA_DIR: join(work, 'cli-data'), PORT: '8080' });
    expect(run('node', ['dist/cli.js', 'help'], clone, env)).toMatch(/serve[\s\S]*token[\s\S]*register-client[\s\S]*reindex[\s\S]*import[\s\S]*export/);
    expect(run('node', ['dist/cli.js', '--help'], clone, env)).toMatch(/^ {2}import +load NDJSON[\s\S]*^ {2}export +write the store/m);
    const token = run('npm', ['run', '-s', 'token', '--', '--role', 'coordinator'], clone, env).trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(run('node', ['dist/cli.js', 'token', '--role', 'nurse', '--rpps', '10001234567'], clone, env).trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    const registered = run('npm', ['run', '-s', 'register-client', '--', '--client', 'plateforme-ars', '--role', 'platform', '--generate-key', join(work, 'ars.jwk.json')], clone, env);
    expect(registered).toContain("registered 'plateforme-ars'");
    expect(run('node', ['dist/cli.js', 'reindex', 'Patient'], clone, env)).toMatch(/^reindex: 0 of 0 current resources reindexed/);
    // Usage errors: exit code 2 and a message.
    expect(() => run('node', ['dist/cli.js', 'token', '--role', 'janitor'], clone, env)).toThrow(/unknown role 'janitor'/);
    expect(runWithStatus('node', ['dist/cli.js', 'frobnicate'], clone, env).status).toBe(2);
    expect(runWithStatus('node', ['dist/cli.js', 'import'], clone, env)).toMatchObject({ status: 2, stderr: expect.stringContaining('usage: relais import') });
    expect(runWithStatus('node', ['dist/cli.js', 'export', '--out', join(work, 'x'), '--type', 'Patient,Unicorn'], clone, env)).toMatchObject({ status: 2, stderr: expect.stringContaining("'Unicorn' is not an R4 resource type") });
  }, 300_000);

  it('relais import and export from the copy (npm run) and from dist/cli.js: a bad line reported with its reason, the data round-trips', () => {
    // Default settings (network profiles enforced), each tool on its own DATA_DIR, as an operator runs them.
    const input = join(work, 'import-input');
    mkdirSync(input, { recursive: true });
    const lines = [
      { resourceType: 'Patient', id: 'pat-import-1', name: [{ family: 'Lefèvre', given: ['Hélène'] }], gender: 'female', birthDate: '1941-03-12' },
      { resourceType: 'Patient', id: 'pat-import-2', name: [{ family: 'Dubois' }], gender: 'male' },
      { resourceType: 'Patient', id: 'pat-import-3', birthDate: 'le 3 mai' },
      { resourceType: 'Observation', id: 'obs-import-1', status: 'final', code: { text: 'Poids' }, subject: { reference: 'Patient/pat-import-1' }, valueQuantity: { value: 58.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' } },
    ].map((r) => JSON.stringify(r));
    writeFileSync(join(input, 'network.ndjson'), `${lines.join('\n')}\n`);
    const first = baseEnv({ DATA_DIR: join(work, 'import-a') });
    const loaded = runWithStatus('npm', ['run', '-s', 'import', '--', input], clone, first);
    // Exit code 1: a line was rejected; the summary names it (file:line) with the reason; the rest is imported.
    expect(loaded.status, loaded.stderr).toBe(1);
    expect(loaded.stdout).toMatch(/^imported 1 file\(s\) in [\d:]+: 3 created, 0 updated, 0 unchanged, 1 rejected/m);
    expect(loaded.stdout).toMatch(new RegExp(`^rejected:\\n {2}${join(input, 'network.ndjson')}:3: .*birthDate`, 'm'));
    // The progress line on stderr (not a terminal: one line at the end).
    expect(loaded.stderr).toMatch(/^4 resources \(3 new, 0 updated, 0 unchanged, 1 rejected\) · [\d,]+\/s · 100% · ETA 0:00$/m);

    const types = ['Patient', 'Observation'];
    const outA = join(work, 'export-a');
    const exported = runWithStatus('node', ['dist/cli.js', 'export', '--out', outA, '--type', types.join(','), '--quiet'], clone, first);
    expect(exported.status, exported.stderr).toBe(0);
    expect(exported.stdout).toMatch(/^exported 3 resources in 2 file\(s\) to /);
    const manifest = JSON.parse(readFileSync(join(outA, 'manifest.json'), 'utf8')) as { output: Array<{ type: string; url: string; count: number }> };
    expect(manifest.output).toEqual([
      { type: 'Patient', url: 'Patient-1.ndjson', count: 2 },
      { type: 'Observation', url: 'Observation-1.ndjson', count: 1 },
    ]);

    // Into an empty store, from dist: everything accepted (exit 0), then exported again: the same resources.
    const second = baseEnv({ DATA_DIR: join(work, 'import-b') });
    const reloaded = runWithStatus('node', ['dist/cli.js', 'import', '--quiet', outA], clone, second);
    expect(reloaded.status, reloaded.stdout + reloaded.stderr).toBe(0);
    expect(reloaded.stdout).toMatch(/^imported 3 file\(s\) in [\d:]+: 3 created, 0 updated, 0 unchanged, 0 rejected/);
    const outB = join(work, 'export-b');
    expect(runWithStatus('npm', ['run', '-s', 'export', '--', '--out', outB, '--type', types.join(','), '--quiet'], clone, second).status).toBe(0);
    const roundTripped = exportedResources(outB, types);
    expect(Object.keys(roundTripped).sort()).toEqual(['Observation/obs-import-1', 'Patient/pat-import-1', 'Patient/pat-import-2']);
    expect(roundTripped).toEqual(exportedResources(outA, types));
    expect(roundTripped['Patient/pat-import-1']).toEqual(JSON.parse(lines[0]));
    // Run again on the same files: nothing new, nothing rejected.
    expect(run('node', ['dist/cli.js', 'import', '--quiet', outA], clone, second)).toMatch(/: 0 created, 0 updated, 3 unchanged, 0 rejected/);
  }, 300_000);

  it("the Docker image's runtime stage, replayed: production dependencies only, the relais command, the image's command serving", async () => {
    const dockerfile = readFileSync(join(clone, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
    const build = dockerfile.slice(0, dockerfile.lastIndexOf('\nFROM '));
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(build).toMatch(/FROM node:(22|24)-/);
    expect(runtime).toMatch(/FROM node:(22|24)-/);
    // The build stage's last step made dist in the copy (npm start ran `npm run build` above).
    expect(build).toMatch(/RUN npm run build/);

    const app = join(work, 'image', 'app');
    const bin = join(work, 'image', 'usr-local-bin');
    const data = join(work, 'image', 'data');
    mkdirSync(app, { recursive: true });
    mkdirSync(bin, { recursive: true });
    mkdirSync(data, { recursive: true });
    const env: Record<string, string> = {};
    for (const line of runtime.split('\n').map((l) => l.trim())) {
      if (line.startsWith('ENV ')) for (const [, key, value] of line.slice(4).matchAll(/([A-Z_]+)=(\S+)/g)) env[key] = value;
      const copy = /^COPY\s+(?:--from=(\S+)\s+)?(.+)$/.exec(line);
      if (copy) {
        const paths = copy[2].split(/\s+/);
        const target = paths.pop()!;
        for (const source of paths) {
          const from = copy[1] === 'build' ? join(clone, source.replace(/^\/app\//, '')) : join(clone, source);
          expect(existsSync(from), `COPY ${source}`).toBe(true);
          cpSync(from, target.endsWith('/') ? join(app, source) : join(app, target), { recursive: true });
        }
      }
      const command = /^RUN (.+)$/.exec(line)?.[1];
      if (!command) continue;
      if (command.startsWith('npm ci')) {
        // Production dependencies only, from the lockfile (from the npm cache where it has them); the cache is left alone.
        expect(command).toContain('--omit=dev');
        run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], app, baseEnv());
        expect(existsSync(join(app, 'node_modules', 'fastify'))).toBe(true);
        expect(existsSync(join(app, 'node_modules', 'tsx'))).toBe(false);
      } else if (command.startsWith('ln -s ')) {
        const [, target, link] = command.split(/\s+/).slice(1);
        expect(target).toBe('/app/dist/cli.js');
        symlinkSync(join(app, 'dist', 'cli.js'), join(bin, link.split('/').pop()!));
      }
    }
    expect(env).toMatchObject({ HOST: '0.0.0.0', NODE_ENV: 'production', DATA_DIR: '/data' });
    expect(readlinkSync(join(bin, 'relais'))).toBe(join(app, 'dist', 'cli.js'));
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runtime)![1]) as string[];
    expect(cmd).toEqual(['node', 'dist/cli.js', 'serve']);

    // The container's environment, with this machine's port and folder in place of 8080 and /data.
    const imagePort = await freePort();
    const containerEnv = baseEnv({ ...env, PATH: `${bin}:${process.env.PATH ?? ''}`, PORT: String(imagePort), HOST: '127.0.0.1', DATA_DIR: data });
    const server = await startInBackground(cmd[0], cmd.slice(1), app, containerEnv, /Relais FHIR R4 server ready/);
    // FR Core is inside the image, loaded at start.
    expect(server.output()).toMatch(/FHIR packages loaded: [^"]*hl7\.fhir\.fr\.core#2\.2\.0/);
    const token = run('relais', ['token', '--role', 'coordinator'], app, containerEnv).trim();
    const origin = `http://127.0.0.1:${imagePort}`;
    expect((await fetch(`${origin}/readyz`)).status).toBe(200);
    const created = await fetch(`${origin}/fhir/Patient`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Dans-L-Image' }] }),
    });
    expect(created.status).toBe(201);
    expect((await fetch(`${origin}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${origin}/docs/`)).status).toBe(200);
    expect(await (await fetch(`${origin}/metrics`)).text()).toContain('relais_http_requests_total');
    expect(await stop(server.child)).toBe(0);
    // With the server stopped (the embedded store's lock is released), reindex, export and import run inside the image.
    expect(run('relais', ['reindex', 'Patient'], app, containerEnv)).toMatch(/^reindex: 1 of 1 current resources reindexed/);
    const backup = join(work, 'image', 'backup');
    expect(run('relais', ['export', '--out', backup, '--type', 'Patient', '--quiet'], app, containerEnv)).toMatch(/^exported 1 resources in 1 file\(s\)/);
    expect(readFileSync(join(backup, 'Patient-1.ndjson'), 'utf8')).toContain('Dans-L-Image');
    const restored = { ...containerEnv, DATA_DIR: join(work, 'image', 'data-restored') };
    expect(run('relais', ['import', '--quiet', backup], app, restored)).toMatch(/^imported 2 file\(s\) in [\d:]+: 1 created, 0 updated, 0 unchanged, 0 rejected/);
  }, 600_000);
});
