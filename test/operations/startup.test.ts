/**
 * Start-up as an operator meets it: every bad configuration stops the process
 * with exit code 2 and one line naming the variable and what it accepts; a
 * port already in use is reported before the store is opened (no lock, no
 * journal, nothing seeded); HOST is 127.0.0.1 unless set.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freshDataDir } from '../helpers/spawned-server.js';

const ROOT = resolve(import.meta.dirname, '../..');
const blockers: Server[] = [];
afterAll(() => {
  for (const blocker of blockers) blocker.close();
});

async function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  clearTimeout(timer);
  return { code, stderr, stdout };
}

describe('configuration errors', () => {
  it('name the variable, what it accepts and what was given, all of them in one line', () => {
    expect(() => loadConfig({ AUTH_MODE: 'dve' })).toThrow('invalid configuration: AUTH_MODE must be one of dev, oidc, none (got "dve")');
    expect(() => loadConfig({ LOG_LEVEL: 'verbose', PORT: '70000' })).toThrow(/PORT must be <= 65535 \(got "70000"\); LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent/);
    expect(() => loadConfig({ DISCHARGE_ALERT_RULES: 'weekend,typo' })).toThrow(/comma-separated list of friday-afternoon, weekend, holiday-eve/);
    expect(() => loadConfig({ RATE_LIMIT_MAX_BY_ROLE: 'nurse=10' })).toThrow(/roles among practitioner, coordinator, auditor, hospital, platform, anonymous/);
    expect(() => loadConfig({ METRICS_ENABLED: 'yes' })).toThrow('METRICS_ENABLED must be true or false (got "yes")');
    // Secrets are never repeated.
    expect(() => loadConfig({ MONGODB_URI: 'http://admin:s3cret@db' })).toThrow(/MONGODB_URI must be a mongodb:\/\/ or mongodb\+srv:\/\/ URI$/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/^invalid configuration: METRICS_TOKEN must be at least 16 characters long$/);
    expect(() => loadConfig({ SUBSCRIPTION_TOKEN_SECRET: 'too-short-secret' })).toThrow(/^invalid configuration: SUBSCRIPTION_TOKEN_SECRET must be at least 32 characters long$/);
    expect(() => loadConfig({ SUBSCRIPTION_ENDPOINT_SCHEMES: 'ftp' })).toThrow('SUBSCRIPTION_ENDPOINT_SCHEMES must be https, http or a comma-separated list of both, e.g. http,https (got "ftp")');
  });

  it('listen on 127.0.0.1 unless HOST says otherwise (the image sets 0.0.0.0)', () => {
    expect(loadConfig({}).HOST).toBe('127.0.0.1');
    expect(readFileSync(resolve(ROOT, 'Dockerfile'), 'utf8')).toMatch(/^\s+HOST=0\.0\.0\.0/m);
  });

  it('a port already in use: exit 2 with one line naming PORT, before the store is opened', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    blockers.push(blocker);
    const port = (blocker.address() as { port: number }).port;
    const dataDir = freshDataDir();
    const { code, stderr } = await run({ PORT: String(port), DATA_DIR: dataDir, AUTH_MODE: 'none' });
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`relais: invalid configuration: PORT ${port} on HOST 127.0.0.1 is already in use; choose another PORT (or HOST)`);
    // The store was never opened: no lock file, no journal.
    expect(existsSync(resolve(dataDir, 'relais.lock'))).toBe(false);
    expect(readdirSync(dataDir).filter((f) => f !== 'dev-auth')).toEqual([]);
  }, 90_000);

  it('an OIDC setup without issuer: exit 2 with one line (was exit 1)', async () => {
    const { code, stderr } = await run({ PORT: '0', DATA_DIR: freshDataDir(), AUTH_MODE: 'oidc', AUTH_JWKS_URL: 'https://idp.example/jwks' });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe('relais: invalid configuration: AUTH_MODE=oidc needs AUTH_ISSUER');
  }, 90_000);

  it('an unknown platform type (checked when the context is built): exit 2 with one line', async () => {
    const { code, stderr } = await run({ PORT: '0', DATA_DIR: freshDataDir(), PLATFORM_SHARED_TYPES: 'Patient,Patiente' });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('PLATFORM_SHARED_TYPES');
  }, 90_000);
});
