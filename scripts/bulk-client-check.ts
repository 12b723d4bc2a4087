/**
 * Drives Relais's Bulk Data $export with a client nobody here wrote: the SMART
 * Health IT Bulk Data Client (github.com/smart-on-fhir/bulk-data-client), in
 * its own process, authenticating with SMART Backend Services. A developer
 * check, not part of CI (it needs the client checked out and installed):
 *
 *   git clone https://github.com/smart-on-fhir/bulk-data-client /tmp/bdc   # tested at 3be801e (v1.2.1)
 *   (cd /tmp/bdc && npm install --omit=dev --engine-strict=false)         # it declares node <19; it runs on 20
 *   npx tsx scripts/bulk-client-check.ts --client /tmp/bdc
 *
 * What it does: starts Relais (AUTH_MODE=dev) on a temporary folder and a free
 * port, loads the fixtures with the loader (directory + the five discharges),
 * registers the client as a regional platform with its ES384 public key (as
 * `npm run register-client` does), so the client gets its tokens from Relais's
 * own SMART Backend Services token endpoint (/auth/token: signed assertion,
 * client_credentials, system/*.rs). Then each scenario runs the client
 * (kick-off, polling, manifest, downloads) and compares the files it saved with
 * what the platform may read, resource by resource.
 * Prints PASS/FAIL per scenario; exit code 1 if any failed.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import type { Resource } from 'fhir/r4';
import { DEFAULT_PLATFORM_SHARED_TYPES } from '../src/access/access-policy.js';
import { isCompartmentType } from '../src/access/patient-compartment.js';
import { buildApp } from '../src/app.js';
import { runImport } from '../src/bulk/import-run.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import { registerClient } from './register-client.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { client: { type: 'string', default: '/tmp/bdc' }, keep: { type: 'boolean', default: false } } });
const clientDir = resolve(values.client!);
const ROOT = resolve(import.meta.dirname, '..');

async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createNetServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => done(port));
    });
  });
}

const dataDir = mkdtempSync(join(tmpdir(), 'relais-bdc-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}/fhir`;
const env = { DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', BASE_URL: base, LOG_LEVEL: 'warn', AUTH_MODE: 'dev', RATE_LIMIT_MAX: '100000' };
const config = loadConfig(env);
const ctx = buildContext(config, undefined, { bulk: { settings: { pollMs: 200 } } });
await ctx.store.open();
const app = await buildApp(ctx, { logger: false });
await app.listen({ port, host: '127.0.0.1' });

// --- the fixtures, through the loader -------------------------------------------------------
const loaded = await runImport(ctx.engine.asServer('bulk client check: fixtures'), [join(ROOT, 'fixtures/directory-touraine.json'), join(ROOT, 'fixtures/discharges')]);
const server = ctx.engine.asServer('bulk client check');
const patients = ((await server.search('Patient', [['_count', '100']])).entry ?? []).map((e) => e.resource!.id!).sort();
await server.update('Group', 'tournee-nord', { resourceType: 'Group', id: 'tournee-nord', type: 'person', actual: true, member: patients.slice(0, 2).map((id) => ({ entity: { reference: `Patient/${id}` } })) });

// --- the client, registered with Relais's own SMART Backend Services token endpoint -------------------
const clientId = 'plateforme-regionale-check';
const privateKeyFile = join(dataDir, 'client-private.jwk.json');
const tokenUrl = await registerClient({ client: clientId, role: 'platform', 'generate-key': privateKeyFile }, env);
const privateJwk = JSON.parse(readFileSync(privateKeyFile, 'utf8')) as Record<string, unknown>;

// --- scenarios --------------------------------------------------------------------------------
interface Scenario {
  name: string;
  args: string[];
  /** The resources the platform may read that this export must hold ("Type/id"), computed through the engine. */
  expected: () => Promise<string[]>;
  deleted?: string[];
}

const shared = new Set((config.PLATFORM_SHARED_TYPES ?? '').split(',').filter(Boolean));
const sharedTypes = shared.size > 0 ? [...shared] : [...DEFAULT_PLATFORM_SHARED_TYPES];

async function all(types: string[], params: Array<[string, string]> = []): Promise<string[]> {
  const found: string[] = [];
  for (const type of types) for (const e of (await server.search(type, [...params, ['_count', '1000']])).entry ?? []) found.push(`${e.resource!.resourceType}/${e.resource!.id}`);
  return found.sort();
}
function inCompartmentOf(resource: Resource, ids: string[]): boolean {
  if (resource.resourceType === 'Patient') return ids.includes(resource.id!);
  return ids.some((id) => JSON.stringify(resource).includes(`"Patient/${id}"`));
}
async function compartment(ids: string[], types: string[], params: Array<[string, string]> = []): Promise<string[]> {
  const found: string[] = [];
  for (const type of types.filter(isCompartmentType)) for (const e of (await server.search(type, [...params, ['_count', '1000']])).entry ?? []) if (inCompartmentOf(e.resource!, ids)) found.push(`${type}/${e.resource!.id}`);
  return found.sort();
}

let sinceInstant = '';
const deletedIds: string[] = [];
const scenarios: Scenario[] = [
  { name: 'system-level export, GET ($export)', args: ['--global'], expected: () => all(sharedTypes) },
  { name: 'Patient-level export, GET, _type', args: ['-t', 'Patient,Encounter,ServiceRequest'], expected: () => all(['Patient', 'Encounter', 'ServiceRequest']) },
  { name: 'Group-level export (Group/tournee-nord/$export)', args: ['-g', 'tournee-nord'], expected: () => compartment(patients.slice(0, 2), sharedTypes) },
  { name: 'POST kick-off with patient', args: ['-p', patients[2], '-t', 'Patient,Encounter,MedicationRequest'], expected: () => compartment([patients[2]], ['Patient', 'Encounter', 'MedicationRequest']) },
  { name: '_typeFilter (Task?status=requested)', args: ['--global', '-t', 'Task', '-q', 'Task?status=requested'], expected: () => all(['Task'], [['status', 'requested']]) },
  { name: '_elements (Patient.id, Patient.birthDate)', args: ['--global', '-t', 'Patient', '-e', 'Patient.id,Patient.birthDate'], expected: () => all(['Patient']) },
  { name: 'unsupported parameter under Prefer: handling=lenient', args: ['--global', '-t', 'Organization', '-i', 'LatestProvenanceResources', '--lenient'], expected: () => all(['Organization']) },
  {
    name: '_since with a change and a deletion after it',
    args: [],
    // The update made here, and whatever the server itself wrote since (the coordination of the loaded
    // discharges keeps writing its Communications and Tasks for a moment after the load).
    expected: async () => {
      const changed = await compartment(patients, ['Patient', 'Communication'], [['_lastUpdated', `gt${sinceInstant}`]]);
      if (!changed.includes(`Patient/${patients[0]}`)) throw new Error('the update made after _since is not found by a search');
      return changed;
    },
    deleted: [],
  },
];

// Prepare the _since scenario: an instant, then one update and one deletion after it. The client
// sends `-s` at second precision (moment's format() drops the milliseconds): the instant is the next
// whole second, waited for, so that what was loaded before it is not "changed since" on the wire.
async function prepareSince(): Promise<void> {
  const nextSecond = Math.ceil((Date.now() + 1) / 1000) * 1000;
  sinceInstant = new Date(nextSecond).toISOString();
  await new Promise((done) => setTimeout(done, nextSecond - Date.now() + 20));
  const patient = (await server.read('Patient', patients[0])).resource!;
  await server.update('Patient', patients[0], { ...patient, active: true } as Resource);
  const flag = ((await server.search('Communication', [['_count', '1']])).entry ?? [])[0]?.resource;
  if (flag) {
    await server.delete('Communication', flag.id!);
    deletedIds.push(`Communication/${flag.id}`);
  }
}

async function runClient(scenario: Scenario, destination: string): Promise<{ ok: boolean; detail: string }> {
  const configFile = join(destination, '..', `config-${randomUUID()}.cjs`);
  writeFileSync(
    configFile,
    `module.exports = ${JSON.stringify({ fhirUrl: `${base}/`, tokenUrl, clientId, privateKey: privateJwk, scope: 'system/*.rs', reporter: 'text', destination, retryAfterMSec: 200, accessTokenLifetime: 240, downloadAttachments: false })};\n`,
  );
  try {
    const result = await run(process.execPath, [clientDir, '--config', configFile, ...scenario.args], { cwd: clientDir, timeout: 180_000, env: { ...process.env, SHOW_ERRORS: 'y' } });
    return { ok: true, detail: result.stdout.split('\n').filter((l) => /completed|downloaded|Status endpoint/.test(l)).slice(-2).join(' | ') };
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    const said = `${failure.stdout ?? ''}\n${failure.stderr ?? ''}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter(Boolean).slice(-40).join(' / ');
    return { ok: false, detail: `client failed: ${said}`.slice(0, 3000) };
  } finally {
    rmSync(configFile, { force: true });
  }
}

function downloaded(destination: string): { resources: string[]; deleted: string[]; subsetted: boolean; errors: number } {
  const resources: string[] = [];
  const deleted: string[] = [];
  let subsetted = true;
  let errors = 0;
  // The client saves output files at the top, deletions and errors in subfolders.
  const files = (readdirSync(destination, { recursive: true }) as string[]).filter((f) => f.endsWith('.ndjson') && !f.endsWith('log.ndjson'));
  for (const file of files) {
    for (const line of readFileSync(join(destination, file), 'utf8').split('\n').filter(Boolean)) {
      const resource = JSON.parse(line) as Resource & { entry?: Array<{ request?: { method?: string; url?: string } }>; type?: string };
      if (resource.resourceType === 'Bundle' && resource.type === 'transaction') deleted.push(...(resource.entry ?? []).filter((e) => e.request?.method === 'DELETE').map((e) => e.request!.url!));
      else if (resource.resourceType === 'OperationOutcome') errors++;
      else {
        resources.push(`${resource.resourceType}/${resource.id}`);
        if (!JSON.stringify(resource.meta ?? {}).includes('SUBSETTED')) subsetted = false;
      }
    }
  }
  return { resources: resources.sort(), deleted: deleted.sort(), subsetted, errors };
}

let failures = 0;
const rows: string[] = [];
const started = Date.now();
for (const scenario of scenarios) {
  if (scenario.name.startsWith('_since')) {
    await prepareSince();
    scenario.args = ['-t', 'Patient,Communication', '-s', sinceInstant];
    scenario.deleted = deletedIds;
  }
  const destination = mkdtempSync(join(tmpdir(), 'relais-bdc-out-'));
  const outcome = await runClient(scenario, destination);
  let verdict = outcome.ok ? 'PASS' : 'FAIL';
  let detail = outcome.detail;
  if (outcome.ok) {
    const got = downloaded(destination);
    const expected = await scenario.expected();
    const missing = expected.filter((r) => !got.resources.includes(r));
    const extra = got.resources.filter((r) => !expected.includes(r));
    const duplicates = got.resources.length - new Set(got.resources).size;
    const checks: string[] = [];
    if (missing.length || extra.length || duplicates) checks.push(`missing ${missing.length} [${missing.slice(0, 3)}], unexpected ${extra.length} [${extra.slice(0, 3)}], duplicates ${duplicates}`);
    if (scenario.deleted && JSON.stringify(got.deleted) !== JSON.stringify([...scenario.deleted].sort())) checks.push(`deleted ${JSON.stringify(got.deleted)} != ${JSON.stringify(scenario.deleted)}`);
    if (scenario.args.includes('-e') && !got.subsetted) checks.push('resources not marked SUBSETTED');
    if (scenario.args.includes('--lenient') && got.errors !== 1) checks.push(`expected 1 OperationOutcome in the error file, got ${got.errors}`);
    if (checks.length > 0) {
      verdict = 'FAIL';
      detail = checks.join('; ');
    } else detail = `${got.resources.length} resources${got.deleted.length ? `, ${got.deleted.length} deletion(s)` : ''}${got.errors ? `, ${got.errors} error-file entr${got.errors > 1 ? 'ies' : 'y'}` : ''}, as expected`;
  }
  if (verdict === 'FAIL') failures++;
  rows.push(`| ${scenario.name} | \`${scenario.args.join(' ').replace(sinceInstant || '\u0000', '<instant>')}\` | ${verdict} | ${detail.replace(/\|/g, '/')} |`);
  process.stdout.write(`${verdict}  ${scenario.name}: ${detail}\n`);
  if (!values.keep) rmSync(destination, { recursive: true, force: true });
}

process.stdout.write(`\nfixtures loaded: ${loaded.stats.created + loaded.stats.updated} resources (${loaded.stats.rejected} rejected${loaded.rejections.length ? `: ${loaded.rejections.map((r) => `${r.source} ${r.reason}`).join('; ')}` : ''}); ${scenarios.length} scenarios in ${((Date.now() - started) / 1000).toFixed(1)} s\n\n| scenario | client arguments | result | detail |\n|---|---|---|---|\n${rows.join('\n')}\n`);
await app.close();
rmSync(dataDir, { recursive: true, force: true });
process.exit(failures > 0 ? 1 : 0);
