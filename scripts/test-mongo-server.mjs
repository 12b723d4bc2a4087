#!/usr/bin/env node
/**
 * The test database: a MongoDB wire-protocol server for the MongoDB contract
 * tests, on a free loopback port, with nothing to install but Java 17 and
 * Maven (FerretDB, the first choice, cannot be fetched from the Go proxy here).
 *
 * It is de.bwaldvogel:mongo-java-server (Maven Central, memory backend), started
 * by scripts/test-mongo-server/MongoTestServer.java through Java's single-file
 * source launcher. What it lacks compared with MongoDB is listed in
 * docs/storage.md ("Test server"); the store detects it rather than assuming.
 *
 *   node scripts/test-mongo-server.mjs install   fetch the jars (Maven) if missing
 *   node scripts/test-mongo-server.mjs start     start in the background, print the URI
 *   node scripts/test-mongo-server.mjs stop      stop the one `start` launched
 *
 * Tests use startTestMongo() (test/store/mongo-global-setup.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const launcherDir = join(here, 'test-mongo-server');
const cacheDir = join(root, 'node_modules', '.cache', 'relais-test-mongo');
const classpathFile = join(cacheDir, 'classpath.txt');
const pidFile = join(cacheDir, 'server.pid');

function hasCommand(command, args) {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

function cachedClasspath() {
  if (!existsSync(classpathFile)) return undefined;
  const classpath = readFileSync(classpathFile, 'utf8').trim();
  return classpath && classpath.split(':').every((jar) => existsSync(jar)) ? classpath : undefined;
}

/** Resolves the server's jars with Maven (downloads them once into ~/.m2). Returns the classpath. */
export function ensureInstalled({ quiet = true } = {}) {
  if (!hasCommand('java', ['-version'])) throw new Error('java (17 or later) is not installed');
  const cached = cachedClasspath();
  if (cached) return cached;
  if (!hasCommand('mvn', ['-v'])) throw new Error('Maven (mvn) is not installed');
  mkdirSync(cacheDir, { recursive: true });
  execFileSync(
    'mvn',
    ['-B', '-Dstyle.color=never', ...(quiet ? ['-q'] : []), '-f', join(launcherDir, 'pom.xml'), 'dependency:build-classpath', `-Dmdep.outputFile=${classpathFile}`],
    { stdio: quiet ? ['ignore', 'ignore', 'pipe'] : 'inherit', timeout: 600_000 },
  );
  const classpath = cachedClasspath();
  if (!classpath) throw new Error('Maven did not produce the mongo-java-server classpath');
  return classpath;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Waits until the server answers a real command over the wire protocol. */
async function waitUntilAnswering(uri, deadline) {
  const { MongoClient } = await import('mongodb');
  let lastError;
  while (Date.now() < deadline) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000, connectTimeoutMS: 1000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
  throw new Error(`test MongoDB server did not answer: ${lastError?.message ?? 'timeout'}`);
}

/**
 * Starts a server on a free loopback port (or on `port`). `detached`: survives this process
 * (CLI `start`); otherwise it stops when this process exits (its stdin closes).
 */
export async function startTestMongo({ detached = false, timeoutMs = 60_000, port: wantedPort = undefined } = {}) {
  const classpath = ensureInstalled();
  const port = wantedPort ?? (await freePort());
  const child = spawn('java', ['-Xmx512m', '-cp', classpath, join(launcherDir, 'MongoTestServer.java'), String(port), ...(detached ? [] : ['--until-stdin-closes'])], {
    stdio: [detached ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached,
  });
  let output = '';
  const listening = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      if (/^listening /m.test(output)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', (error) => reject(new Error(`cannot run java: ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`test MongoDB server exited (${code}): ${output.trim().split('\n').slice(-3).join(' | ')}`)));
  });
  const deadline = Date.now() + timeoutMs;
  const timer = new Promise((_, reject) => setTimeout(() => reject(new Error('test MongoDB server did not start in time')), timeoutMs).unref());
  try {
    await Promise.race([listening, timer]);
    const uri = `mongodb://127.0.0.1:${port}/?directConnection=true`;
    await waitUntilAnswering(uri, deadline);
    if (detached) {
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
    }
    return {
      uri,
      pid: child.pid,
      async stop() {
        if (child.exitCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}

async function main(command) {
  switch (command) {
    case 'install': {
      const classpath = ensureInstalled({ quiet: false });
      process.stdout.write(`mongo-java-server ready (${classpath.split(':').length} jars)\n`);
      break;
    }
    case 'start': {
      const server = await startTestMongo({ detached: true });
      mkdirSync(cacheDir, { recursive: true });
      writeFileSync(pidFile, String(server.pid));
      process.stdout.write(`${server.uri}\n`);
      break;
    }
    case 'stop': {
      if (!existsSync(pidFile)) {
        process.stdout.write('no test MongoDB server started by this script\n');
        break;
      }
      const pid = Number(readFileSync(pidFile, 'utf8'));
      try {
        process.kill(pid, 'SIGTERM');
        process.stdout.write(`stopped test MongoDB server (pid ${pid})\n`);
      } catch {
        process.stdout.write(`test MongoDB server (pid ${pid}) was not running\n`);
      }
      rmSync(pidFile, { force: true });
      break;
    }
    default:
      process.stderr.write('usage: node scripts/test-mongo-server.mjs install|start|stop\n');
      process.exit(2);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv[2]).catch((error) => {
    process.stderr.write(`test-mongo-server: ${error.message}\n`);
    process.exit(1);
  });
}
