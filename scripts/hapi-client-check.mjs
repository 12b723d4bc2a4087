/**
 * Drives Relais with HAPI FHIR's Java generic client (ca.uhn.hapi.fhir:hapi-fhir-client, the
 * client most French hospital software uses), in XML then JSON, and prints PASS/FAIL per step.
 *
 * A DEVELOPER TOOL, NOT PART OF CI: it needs Java 17+ and Maven (Maven Central reachable the
 * first time). It builds the server when dist/ is missing or older than src/ (`npm run build`),
 * starts `node dist/server.js` on a free port with AUTH_MODE=none and a temporary DATA_DIR,
 * compiles scripts/hapi-client-check/ (HapiClientCheck.java) and runs it against the server.
 *
 *   node scripts/hapi-client-check.mjs [--enforcement off|claimed|network]   (default: the server's default)
 *
 * Exit code 0 when every step passed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const PROJECT = join(ROOT, 'scripts', 'hapi-client-check');
const { values: args } = parseArgs({ options: { enforcement: { type: 'string' } } });

function run(command, argv, cwd) {
  const result = spawnSync(command, argv, { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${argv.join(' ')} failed (${result.status ?? result.signal})`);
}

/** Newest modification time under a folder, to decide whether dist/ is stale. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

const serverJs = join(ROOT, 'dist', 'server.js');
if (!existsSync(serverJs) || statSync(serverJs).mtimeMs < newest(join(ROOT, 'src'))) {
  console.log('building the server (npm run build)…');
  run('npm', ['run', 'build'], ROOT);
}
console.log('compiling the HAPI client check (mvn)…');
run('mvn', ['-q', '-B', 'compile', 'dependency:copy-dependencies', '-DoutputDirectory=target/lib'], PROJECT);

const port = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'relais-hapi-'));
const base = `http://127.0.0.1:${port}/fhir`;
const server = spawn(process.execPath, ['dist/server.js'], {
  cwd: ROOT,
  env: {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    PORT: String(port),
    HOST: '127.0.0.1',
    BASE_URL: base,
    AUTH_MODE: 'none',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...(args.enforcement ? { VALIDATION_ENFORCEMENT: args.enforcement } : {}),
  },
  stdio: ['ignore', 'ignore', 'inherit'],
});
let code = 1;
try {
  // Wait for /metadata to answer.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`server exited (${server.exitCode})`);
    try {
      if ((await fetch(`${base}/metadata`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error('server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 300));
  }
  console.log(`server on ${base} (VALIDATION_ENFORCEMENT=${args.enforcement ?? 'default'})`);
  const sep = process.platform === 'win32' ? ';' : ':';
  const check = spawnSync('java', ['-cp', `target/classes${sep}target/lib/*`, 'fr.relais.check.HapiClientCheck', base, args.enforcement ?? 'default'], { cwd: PROJECT, stdio: 'inherit' });
  code = check.status ?? 1;
} finally {
  const exited = new Promise((done) => server.once('exit', done));
  server.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(code);
