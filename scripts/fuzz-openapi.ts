/**
 * Property-based fuzzing of the HTTP API from its own OpenAPI document
 * (/openapi.json) with schemathesis (PyPI), against a freshly started server
 * on a temporary data folder, with a coordinator token (the role that may do
 * the most). A developer check, and a bounded run in CI (`--ci`).
 *
 *   npx tsx scripts/fuzz-openapi.ts                      # every operation, 10 examples each
 *   npx tsx scripts/fuzz-openapi.ts --tags Patient,Observation --examples 25
 *   npx tsx scripts/fuzz-openapi.ts --ci                 # CI: fixed seed, deterministic, a few types
 *
 * schemathesis is installed on first use into .tmp/fuzz-venv (python3 -m venv,
 * pip from PyPI). What is checked, on every response:
 * - not_a_server_error: no 5xx, ever (README: never 5xx for anything a client sends);
 * - status_code_conformance, content_type_conformance, response_headers_conformance,
 *   response_schema_conformance: the response is one the document declares;
 * - unsupported_method (405 for undeclared methods), missing_required_header,
 *   ignored_auth (without the token: 401), use_after_free and
 *   ensure_resource_availability (stateful: a deleted resource is gone, a
 *   created one can be read).
 * Not gated: positive_data_acceptance (a schema-valid body is not a valid FHIR
 * resource: profiles, invariants, references and search syntax are beyond a
 * JSON Schema, and every such refusal is a documented 4XX OperationOutcome)
 * and negative_data_rejection (counted and printed: where the server is more
 * lenient than the document, e.g. an unknown search parameter is ignored as
 * the FHIR search page prescribes).
 * Prints the figures the README quotes and exits 1 on any gated failure.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { mintDevToken } from '../src/cli/token-command.js';

const ROOT = resolve(import.meta.dirname, '..');
const VENV = join(ROOT, '.tmp', 'fuzz-venv');
const SCHEMATHESIS_VERSION = '4.32.5';
const GATED = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'unsupported_method',
  'missing_required_header',
  'ignored_auth',
  'use_after_free',
  'ensure_resource_availability',
];
/**
 * CI: the whole-server interactions and the types the network's daily work turns on (the patient,
 * the nurses' observations, the coordination tasks), ~2 minutes; every type in the developer run.
 */
const CI_TAGS = ['System', 'Patient', 'Observation', 'Task'];

const { values } = parseArgs({
  options: {
    ci: { type: 'boolean', default: false },
    tags: { type: 'string' },
    examples: { type: 'string' },
    seed: { type: 'string', default: '20261206' },
    workers: { type: 'string', default: '2' },
    'max-time': { type: 'string' },
  },
});

function schemathesis(): string {
  const bin = join(VENV, 'bin', 'schemathesis');
  if (existsSync(bin)) return bin;
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  process.stdout.write(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${VENV}\n`);
  execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  execFileSync(join(VENV, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`], { stdio: 'inherit' });
  return bin;
}

async function startServer(dataDir: string): Promise<{ origin: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, AUTH_MODE: 'dev', LOG_LEVEL: 'info', RATE_LIMIT_MAX: '10000000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  let log = '';
  const origin = await new Promise<string>((done, fail) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      const port = /Server listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1];
      if (port && log.includes('Relais FHIR R4 server ready')) done(`http://127.0.0.1:${port}`);
    });
    void exited.then(() => fail(new Error(`the server exited before it was ready:\n${log}`)));
  });
  child.stdout!.resume();
  return {
    origin,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Report {
  running_time: number;
  operations: { selected: number; tested: number };
  test_cases: { generated: number; with_failures: number };
  failures: Array<{ code: string; title: string; count: number; operations: string[] }>;
  errors?: Array<{ title?: string; message?: string }> | { count?: number };
}

const bin = schemathesis();
const dataDir = mkdtempSync(join(tmpdir(), 'relais-fuzz-'));
const reportFile = join(dataDir, 'schemathesis-report.json');
const server = await startServer(dataDir);
let exitCode = 1;
try {
  // The server's own configuration (PORT=0): the token's audience is the base URL it derives from it.
  const token = await mintDevToken({ role: 'coordinator', ttlSeconds: 6 * 3600 }, { DATA_DIR: dataDir, PORT: '0', AUTH_MODE: 'dev' });
  const tags = values.tags ? values.tags.split(',') : values.ci ? CI_TAGS : [];
  const examples = values.examples ?? (values.ci ? '5' : '10');
  const args = [
    'run',
    `${server.origin}/openapi.json`,
    '--url',
    `${server.origin}/fhir`,
    '-H',
    `Authorization: Bearer ${token}`,
    '--checks',
    [...GATED, 'negative_data_rejection'].join(','),
    '--max-examples',
    examples,
    '--seed',
    values.seed!,
    '--workers',
    values.workers!,
    '--request-timeout',
    '30',
    '--suppress-health-check',
    'all',
    '--no-color',
    '--report',
    'json',
    '--report-json-path',
    reportFile,
    ...(values.ci ? ['--generation-deterministic'] : []),
    ...(values['max-time'] ? ['--max-time', values['max-time']] : []),
    ...tags.flatMap((tag) => ['--include-tag', tag]),
  ];
  const run = spawn(bin, args, { cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  run.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  run.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await new Promise((done) => run.once('exit', done));
  if (!existsSync(reportFile)) throw new Error(`schemathesis wrote no report:\n${output}`);
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as Report;
  const gatedCodes = new Set(['ST101', 'ST102', 'ST103', 'ST104', 'ST105', 'ST106', 'ST203', 'ST204', 'ST301', 'ST302', 'ST303']);
  const serverErrors = report.failures.filter((f) => /server error/i.test(f.title)).reduce((n, f) => n + f.count, 0);
  const schemaContradictions = report.failures.filter((f) => !/server error/i.test(f.title) && f.code !== 'ST201' && f.code !== 'ST202').reduce((n, f) => n + f.count, 0);
  const lenient = report.failures.filter((f) => f.code === 'ST201').reduce((n, f) => n + f.count, 0);
  mkdirSync(join(ROOT, '.tmp'), { recursive: true });
  writeFileSync(join(ROOT, '.tmp', 'fuzz-last.log'), output);
  process.stdout.write(output.slice(Math.max(0, output.lastIndexOf('=== SUMMARY') - 40)));
  process.stdout.write('(the whole schemathesis output: .tmp/fuzz-last.log)\n');
  process.stdout.write(
    `\nfuzz: ${report.operations.tested} of ${report.operations.selected} operations, ${report.test_cases.generated} test cases generated in ${report.running_time.toFixed(0)} s (${values.ci ? 'deterministic generation' : `seed ${values.seed}`}): ` +
      `${serverErrors} server errors (5xx), ${schemaContradictions} responses contradicting the document, ${lenient} schema-violating requests accepted (not gated)\n`,
  );
  for (const failure of report.failures.filter((f) => gatedCodes.has(f.code) || /server error/i.test(f.title))) {
    process.stdout.write(`  ${failure.code} ${failure.title}: ${failure.count} (${failure.operations.slice(0, 8).join(', ')}${failure.operations.length > 8 ? ', ...' : ''})\n`);
  }
  exitCode = serverErrors === 0 && schemaContradictions === 0 ? 0 : 1;
} finally {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
process.exit(exitCode);
