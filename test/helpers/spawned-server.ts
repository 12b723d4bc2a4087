/**
 * Runs the real server entry point (src/server.ts) as a child process, for the
 * tests that need a process boundary: SIGKILL crash recovery, graceful SIGTERM
 * shutdown, and what the server writes to its log.
 *
 * The child is `node --import tsx src/server.ts`: it works on a clean clone
 * after `npm ci` (tsx is a devDependency) with no build step, and it is ONE
 * process, so a signal sent to its pid reaches the server itself (through `npx`
 * a SIGKILL would hit the npx wrapper and leave the server running).
 * PORT=0 lets the OS choose a free port; the port is read from the
 * "Server listening at" log line, and the server is used once it logged "ready".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

export interface SpawnedServer {
  child: ChildProcess;
  /** http://127.0.0.1:<port> */
  origin: string;
  dataDir: string;
  /** Every stdout line so far (pino JSON). */
  stdout: string[];
  stderr: string[];
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Folders made by `freshDataDir`, removed once the test file's tests have run: several tests only
 * need a folder for a server that refuses to start, and each run left dozens of them in the
 * temporary directory. (A hook called while a test file is collected, as this module's import is,
 * belongs to that file's root suite.)
 */
const madeDataDirs = new Set<string>();
afterAll(() => {
  for (const folder of madeDataDirs) rmSync(folder, { recursive: true, force: true });
  madeDataDirs.clear();
});

export function freshDataDir(): string {
  const folder = mkdtempSync(join(tmpdir(), 'relais-proc-'));
  madeDataDirs.add(folder);
  return folder;
}

export async function spawnServer(
  options: { dataDir?: string; env?: Record<string, string>; startTimeoutMs?: number; cwd?: string; entry?: string } = {},
): Promise<SpawnedServer> {
  const dataDir = options.dataDir ?? freshDataDir();
  // `cwd` and `entry` run the server from another layout (e.g. the Docker image's, see test/validation/fr-core-default.test.ts).
  const child = spawn(process.execPath, ['--import', 'tsx', options.entry ?? 'src/server.ts'], {
    cwd: options.cwd ?? ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      AUTH_MODE: 'none',
      VALIDATION_ENFORCEMENT: 'off',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
  const collect = (into: string[]) => {
    let partial = '';
    return (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      into.push(...lines.filter(Boolean));
    };
  };
  child.stdout!.on('data', collect(stdout));
  child.stderr!.on('data', collect(stderr));

  const origin = await new Promise<string>((resolveOrigin, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time; stderr: ${stderr.join('\n')}`)), options.startTimeoutMs ?? 60_000);
    // The port is taken first ("Server listening at"), the store opened next: the server serves once "ready".
    const look = () => {
      if (!stdout.some((line) => line.includes('Relais FHIR R4 server ready'))) return;
      for (const line of stdout) {
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          child.stdout!.off('data', look);
          resolveOrigin(match[1]);
          return;
        }
      }
    };
    child.stdout!.on('data', look);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited before listening (code ${code}, signal ${signal}); stderr: ${stderr.join('\n')}`));
    });
  });

  return {
    child,
    origin,
    dataDir,
    stdout,
    stderr,
    exited,
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
