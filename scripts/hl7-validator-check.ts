/**
 * Checks what Relais emits with a validator nobody here wrote: the official HL7 FHIR
 * validator (Java library org.hl7.fhir.validation from HAPI's org.hl7.fhir.core).
 *
 * A DEVELOPER TOOL, NOT PART OF CI: it needs Java 17+, Maven and a prepared FHIR package
 * cache, and takes a few minutes. It starts the real server (src/server.ts) on a temporary
 * data directory, drives a realistic set of requests (CRUD, search with paging and _include,
 * history, batch, transaction, errors, $expand/$validate/$match, the directory fixture and
 * the discharge bundles of fixtures/discharges/, AuditEvents), saves every JSON
 * response body under the output directory, validates them and profiles/*.json with the HL7
 * validator, and prints a summary of the issues grouped by message.
 *
 * Setup, once per machine (works offline with only Maven Central and the npm registry):
 *
 *   npx tsx scripts/hl7-validator-check.ts --setup
 *
 * which does:
 *   1. `mvn dependency:copy-dependencies` of ca.uhn.hapi.fhir:org.hl7.fhir.validation:6.3.32
 *      (+ org.fhir:ucum, an optional dependency the validator needs at run time, and
 *      slf4j-simple) into .tmp/hl7-validator/lib (gitignored), via a throwaway pom there.
 *   2. The package hl7.fhir.r4.core#4.0.1 is not on the npm registry, so it is rebuilt in
 *      the FHIR package cache (~/.fhir/packages/hl7.fhir.r4.core#4.0.1/package/) from the
 *      conformance resources of the hl7.fhir.r4.examples devDependency (the same
 *      StructureDefinitions with snapshots, ValueSets, CodeSystems, SearchParameters... of
 *      the R4 4.0.1 publication).
 *   3. `npm pack hl7.fhir.xver-extensions@0.1.0` into the cache: the validator loads it
 *      unconditionally for R4.
 *
 *   4. FR Core (FR_CORE_TGZ, default ../shared/fhir-packages/hl7.fhir.fr.core-2.2.0.tgz): its
 *      StructureDefinitions, ValueSets and CodeSystems are extracted to .tmp/hl7-validator/
 *      fr-core-resources and loaded as a plain folder (loading the package itself would make the
 *      validator fetch its dependencies, whose versions are not on npm).
 *
 * Run:   npx tsx scripts/hl7-validator-check.ts [--out DIR] [--keep-going]
 *
 * The validator runs through scripts/hl7-validator/Hl7Check.java (why: see that file) with
 * no terminology server (like `-tx n/a`) and without the hl7.terminology / extensions
 * packages (their npm versions need dependency versions that are not on npm). Consequences,
 * to keep in mind when reading the output: codes of external code systems (terminology.hl7.org,
 * DICOM, SNOMED, LOINC, French systems) cannot be checked and are reported as warnings or
 * information, not errors; extensions defined outside R4 core, FR Core and profiles/
 * are reported as unknown. Example URLs are allowed (the fixtures' fictional hospital uses
 * example.org systems on purpose) and Type/id references are assumed valid (no server to
 * resolve them against), like the CLI's -allow-example-urls and -assumeValidRestReferences.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const TOOL_DIR = join(ROOT, '.tmp', 'hl7-validator');
const LIB_DIR = join(TOOL_DIR, 'lib');
const VALIDATOR_VERSION = '6.3.32';
const PACKAGE_CACHE = join(homedir(), '.fhir', 'packages');
const DRIVER = join(ROOT, 'scripts', 'hl7-validator', 'Hl7Check.java');
/** FR Core's resources, loaded as a plain folder (its package.json would make the validator fetch its dependencies). */
const FR_CORE_TGZ = process.env.FR_CORE_TGZ ?? join(ROOT, '..', 'shared', 'fhir-packages', 'hl7.fhir.fr.core-2.2.0.tgz');
const FR_CORE_DIR = join(TOOL_DIR, 'fr-core-resources');

const { values: args } = parseArgs({
  options: {
    setup: { type: 'boolean', default: false },
    out: { type: 'string', default: join(TOOL_DIR, 'run') },
    'keep-going': { type: 'boolean', default: false },
  },
});

function run(command: string, argv: string[], cwd: string): void {
  const result = spawnSync(command, argv, { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`${command} ${argv.join(' ')} failed (${result.status ?? result.signal})`);
}

function setup(): void {
  mkdirSync(TOOL_DIR, { recursive: true });
  writeFileSync(
    join(TOOL_DIR, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.relais</groupId>
  <artifactId>hl7-validator-deps</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>ca.uhn.hapi.fhir</groupId><artifactId>org.hl7.fhir.validation</artifactId><version>${VALIDATOR_VERSION}</version></dependency>
    <dependency><groupId>org.fhir</groupId><artifactId>ucum</artifactId><version>1.0.8</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>2.0.3</version></dependency>
    <!-- optional dependency the validator loads when it tries to reach a package or build server: without it the JVM aborts -->
    <dependency><groupId>com.squareup.okhttp3</groupId><artifactId>okhttp</artifactId><version>4.12.0</version></dependency>
  </dependencies>
</project>
`,
  );
  run('mvn', ['-q', '-B', 'dependency:copy-dependencies', `-DoutputDirectory=${LIB_DIR}`], TOOL_DIR);

  const core = join(PACKAGE_CACHE, 'hl7.fhir.r4.core#4.0.1', 'package');
  if (!existsSync(join(core, 'package.json'))) {
    const examples = join(ROOT, 'node_modules', 'hl7.fhir.r4.examples');
    mkdirSync(core, { recursive: true });
    const conformance = /^(StructureDefinition|ValueSet|CodeSystem|SearchParameter|ConceptMap|OperationDefinition|CompartmentDefinition)-/;
    for (const file of readdirSync(examples)) {
      if (!conformance.test(file)) continue;
      // example-* StructureDefinitions are examples without snapshots, not part of the core package
      if (file.startsWith('StructureDefinition-example-')) continue;
      cpSync(join(examples, file), join(core, file));
    }
    writeFileSync(
      join(core, 'package.json'),
      JSON.stringify({
        name: 'hl7.fhir.r4.core',
        version: '4.0.1',
        fhirVersions: ['4.0.1'],
        type: 'Core',
        license: 'CC0-1.0',
        canonical: 'http://hl7.org/fhir',
        'tools-version': 3,
        title: 'FHIR R4 package : Core Model (rebuilt locally from hl7.fhir.r4.examples)',
        url: 'http://hl7.org/fhir/R4',
        dependencies: {},
      }),
    );
  }
  const xver = join(PACKAGE_CACHE, 'hl7.fhir.xver-extensions#0.1.0');
  if (!existsSync(join(xver, 'package', 'package.json'))) {
    const packDir = join(TOOL_DIR, 'pkgs');
    mkdirSync(packDir, { recursive: true });
    run('npm', ['pack', 'hl7.fhir.xver-extensions@0.1.0'], packDir);
    mkdirSync(xver, { recursive: true });
    run('tar', ['xzf', join(packDir, 'hl7.fhir.xver-extensions-0.1.0.tgz'), '-C', xver], packDir);
  }
  if (existsSync(FR_CORE_TGZ)) {
    rmSync(FR_CORE_DIR, { recursive: true, force: true });
    mkdirSync(FR_CORE_DIR, { recursive: true });
    run('tar', ['xzf', FR_CORE_TGZ, '-C', FR_CORE_DIR, '--strip-components=1', '--wildcards', 'package/StructureDefinition-*.json', 'package/ValueSet-*.json', 'package/CodeSystem-*.json'], ROOT);
  } else {
    console.warn(`FR Core not found at ${FR_CORE_TGZ} (set FR_CORE_TGZ): its extensions will be reported as unknown`);
  }
  console.log(`validator ready in ${LIB_DIR}; packages in ${PACKAGE_CACHE}`);
}

// ---------------------------------------------------------------------------------------
// The server and the requests
// ---------------------------------------------------------------------------------------

interface Server {
  child: ChildProcess;
  origin: string;
  stop(): Promise<void>;
}

async function startServer(env: Record<string, string> & { DATA_DIR: string }): Promise<Server> {
  const dataDir = env.DATA_DIR;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const origin = await new Promise<string>((done, fail) => {
    let seen = '';
    const timer = setTimeout(() => fail(new Error(`server did not start: ${stderr}`)), 90_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(seen);
      if (match && seen.includes('Relais FHIR R4 server ready')) {
        clearTimeout(timer);
        done(match[1]);
      }
    });
    child.once('exit', (code) => fail(new Error(`server exited (${code}): ${stderr}`)));
  });
  return {
    child,
    origin,
    async stop() {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Saved {
  file: string;
  request: string;
  status: number;
}

class Driver {
  private n = 0;
  readonly saved: Saved[] = [];

  constructor(
    private readonly origin: string,
    private readonly outDir: string,
    private readonly headers: Record<string, string> = {},
    /** Prefix of the saved files, so that two drivers never write the same name. */
    private readonly prefix = '',
  ) {}

  /** A URL the server gave (on its public base) on the address it listens on. */
  local(url: string): string {
    const parsed = new URL(url);
    return `${this.origin}${parsed.pathname}${parsed.search}`;
  }

  /** Sends the request; saves the body when it is a FHIR resource; returns status, body and headers. */
  async call(name: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any; location: string | null }> {
    const url = path.startsWith('http') ? path : `${this.origin}/fhir${path}`;
    const response = await fetch(url, {
      method,
      headers: { accept: 'application/fhir+json', ...(body !== undefined ? { 'content-type': 'application/fhir+json' } : {}), ...this.headers, ...headers },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (json && typeof json.resourceType === 'string') {
      const file = `${this.prefix}${String(++this.n).padStart(3, '0')}-${name}.json`;
      writeFileSync(join(this.outDir, file), JSON.stringify(json, null, 1));
      this.saved.push({ file, request: `${method} ${path.replace(this.origin, '')}`, status: response.status });
    }
    return { status: response.status, json, location: response.headers.get('location') };
  }
}

function fixture(path: string): any {
  return JSON.parse(readFileSync(join(ROOT, path), 'utf8'));
}

async function driveUnauthenticated(d: Driver): Promise<void> {
  await d.call('metadata', 'GET', '/metadata');
  const patient = {
    resourceType: 'Patient',
    identifier: [{ system: 'https://hopital-fictif.example.org/fhir/sid/ipp', value: 'HL7CHECK-1' }],
    name: [{ family: 'Durand', given: ['Alice'] }],
    gender: 'female',
    birthDate: '1950-02-03',
  };
  const created = await d.call('create-patient', 'POST', '/Patient', patient, { prefer: 'return=representation' });
  const id = created.json?.id as string;
  await d.call('create-patient-outcome', 'POST', '/Patient', { ...patient, identifier: [{ system: patient.identifier[0].system, value: 'HL7CHECK-2' }] }, { prefer: 'return=OperationOutcome' });
  await d.call('read-patient', 'GET', `/Patient/${id}`);
  await d.call('update-patient', 'PUT', `/Patient/${id}`, { ...patient, id, telecom: [{ system: 'phone', value: '0600000000' }] }, { prefer: 'return=representation' });
  await d.call('vread-patient', 'GET', `/Patient/${id}/_history/1`);
  await d.call('history-instance', 'GET', `/Patient/${id}/_history`);
  await d.call('history-type', 'GET', '/Patient/_history?_count=2');
  await d.call('history-system', 'GET', '/_history?_count=3');
  await d.call('summary-patient', 'GET', `/Patient/${id}?_summary=true`);
  await d.call('summary-text-patient', 'GET', `/Patient/${id}?_summary=text`);
  await d.call('summary-data-search', 'GET', '/Patient?_summary=data&_count=2');
  await d.call('elements-search', 'GET', '/Patient?_elements=name,gender&_count=2');
  await d.call('patch-patient', 'PATCH', `/Patient/${id}`, [{ op: 'add', path: '/active', value: true }], { 'content-type': 'application/json-patch+json', prefer: 'return=representation' });
  await d.call('conditional-update', 'PUT', '/Patient?identifier=https://hopital-fictif.example.org/fhir/sid/ipp|HL7CHECK-3', { resourceType: 'Patient', identifier: [{ system: 'https://hopital-fictif.example.org/fhir/sid/ipp', value: 'HL7CHECK-3' }], name: [{ family: 'Conditionnel' }] }, { prefer: 'return=representation' });
  await d.call('conditional-create-existing', 'POST', '/Patient', patient, { 'if-none-exist': `identifier=${patient.identifier[0].system}|${patient.identifier[0].value}`, prefer: 'return=representation' });
  await d.call('err-conditional-multiple', 'PUT', '/Patient?gender=female', { resourceType: 'Patient', gender: 'female' });
  await d.call('elements-patient', 'GET', `/Patient/${id}?_elements=name`);

  // the directory and the discharges (transactions; the intake adds Task/Flag/Communication)
  await d.call('tx-directory', 'POST', '', fixture('fixtures/directory-touraine.json'));
  const dischargeDir = join(ROOT, 'fixtures', 'discharges');
  for (const file of readdirSync(dischargeDir).sort()) {
    await d.call(`tx-discharge-${basename(file, '.json')}`, 'POST', '', fixture(join('fixtures', 'discharges', file)));
  }

  const page1 = await d.call('search-page1', 'GET', '/Patient?_count=2&_sort=family');
  const next = page1.json?.link?.find((l: { relation: string }) => l.relation === 'next')?.url;
  // the link is on the server's public base URL: follow it on the address the server listens on
  if (next) await d.call('search-page2', 'GET', d.local(next));
  await d.call('search-include', 'GET', '/Encounter?_include=Encounter:subject&_count=3');
  await d.call('search-revinclude', 'GET', `/Patient?_id=${id}&_revinclude=Provenance:target`);
  await d.call('search-total', 'GET', '/Patient?_summary=count');
  await d.call('search-tasks', 'GET', '/Task?_count=50');
  await d.call('search-flags', 'GET', '/Flag?_count=50');
  await d.call('search-communications', 'GET', '/Communication?_count=50');
  await d.call('search-servicerequests', 'GET', '/ServiceRequest?_count=5');
  await d.call('search-post', 'POST', '/Patient/_search', 'family=Durand', { 'content-type': 'application/x-www-form-urlencoded' });
  await d.call('search-system', 'GET', '/?_type=Patient,Organization&_count=3');

  await d.call('batch', 'POST', '', {
    resourceType: 'Bundle',
    type: 'batch',
    entry: [
      { resource: { resourceType: 'Practitioner', name: [{ family: 'Batch' }] }, request: { method: 'POST', url: 'Practitioner' } },
      { request: { method: 'GET', url: `Patient/${id}` } },
      { request: { method: 'GET', url: 'Patient/does-not-exist' } },
      { resource: { resourceType: 'Patient', gender: 'not-a-gender' }, request: { method: 'POST', url: 'Patient' } },
      { request: { method: 'GET', url: 'Patient?family=Durand' } },
    ],
  });
  await d.call('transaction', 'POST', '', {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      { fullUrl: 'urn:uuid:6f1c1a44-2c56-4f1c-9a77-0a1b2c3d4e5f', resource: { resourceType: 'Organization', name: 'Cabinet infirmier HL7' }, request: { method: 'POST', url: 'Organization' } },
      {
        resource: { resourceType: 'Practitioner', name: [{ family: 'Tx' }] },
        request: { method: 'POST', url: 'Practitioner', ifNoneExist: 'family=Tx' },
      },
      { resource: { resourceType: 'Patient', id, name: [{ family: 'Durand' }], gender: 'female' }, request: { method: 'PUT', url: `Patient/${id}` } },
    ],
  });

  // $operations
  await d.call('expand-network', 'GET', '/ValueSet/$expand?url=https://relais-sante.fr/fhir/ValueSet/relais-communication-category');
  await d.call('expand-core', 'GET', '/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/administrative-gender');
  await d.call('validate-code', 'GET', '/ValueSet/$validate-code?url=http://hl7.org/fhir/ValueSet/administrative-gender&code=female&system=http://hl7.org/fhir/administrative-gender');
  await d.call('validate-ok', 'POST', '/Patient/$validate', patient);
  await d.call('validate-bad', 'POST', '/Patient/$validate', { resourceType: 'Patient', birthDate: 'yesterday' });
  await d.call('match', 'POST', '/Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: patient }] });
  // $find-professionals answers for an order whose patient has no nurse of their own (422 otherwise): try each
  const orders = (await d.call('sr-for-find', 'GET', '/ServiceRequest?_count=20')).json?.entry ?? [];
  for (const entry of orders) {
    if ((await d.call('find-professionals', 'GET', `/ServiceRequest/${entry.resource.id}/$find-professionals`)).status === 200) break;
  }
  await d.call('structuredefinition-read', 'GET', '/StructureDefinition/relais-patient');
  await d.call('structuredefinition-search', 'GET', '/StructureDefinition?url=https://relais-sante.fr/fhir/StructureDefinition/relais-task');

  // errors: each should be an OperationOutcome with a valid issue type
  await d.call('err-404', 'GET', '/Patient/does-not-exist');
  await d.call('err-unknown-type', 'GET', '/NotAType/1');
  await d.call('err-unknown-param', 'GET', '/Patient?not-a-param=1', undefined, { prefer: 'handling=strict' });
  await d.call('err-bad-date', 'GET', '/Patient?birthdate=notadate');
  await d.call('err-invalid-resource', 'POST', '/Patient', { resourceType: 'Patient', gender: 'x', foo: 1 });
  await d.call('err-not-json', 'POST', '/Patient', '{not json');
  await d.call('err-type-mismatch', 'POST', '/Patient', { resourceType: 'Observation', status: 'final', code: { text: 'x' } });
  await d.call('err-precondition', 'PUT', `/Patient/${id}`, { ...patient, id }, { 'if-match': 'W/"99"' });
  await d.call('err-method', 'PATCH', '/Patient', '[]', { 'content-type': 'application/json-patch+json' });
  await d.call('err-media-type', 'POST', '/Patient', 'x', { 'content-type': 'text/plain' });
  await d.call('err-not-acceptable', 'GET', `/Patient/${id}`, undefined, { accept: 'image/png' });
  await d.call('err-bad-tx', 'POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'GET', url: 'Patient/does-not-exist' } }] });
  await d.call('err-bad-bundle-type', 'POST', '', { resourceType: 'Bundle', type: 'collection' });
  const deleted = await d.call('delete-target', 'POST', '/Practitioner', { resourceType: 'Practitioner', name: [{ family: 'Gone' }] }, { prefer: 'return=representation' });
  await d.call('delete', 'DELETE', `/Practitioner/${deleted.json?.id}`);
  await d.call('err-410', 'GET', `/Practitioner/${deleted.json?.id}`);
  await d.call('history-with-delete', 'GET', `/Practitioner/${deleted.json?.id}/_history`);
  await d.call('err-expand-unknown', 'GET', '/ValueSet/$expand?url=http://example.org/no-such-vs');
  await d.call('err-match-empty', 'POST', '/Patient/$match', { resourceType: 'Parameters' });
}

/** With AUTH_MODE=dev: accesses by a coordinator, then the AuditEvents they left, read by an auditor. */
async function driveAudited(origin: string, outDir: string, env: Record<string, string>): Promise<Saved[]> {
  const { mintDevToken } = await import('./mint-token.js');
  const tokenEnv = { ...process.env, ...env };
  const coordinator = await mintDevToken({ role: 'coordinator', rpps: '10009876543', ttlSeconds: 600 }, tokenEnv);
  const auditor = await mintDevToken({ role: 'auditor', sub: 'audit-1', ttlSeconds: 600 }, tokenEnv);
  const anonymous = new Driver(origin, outDir, {}, 'a-');
  await anonymous.call('err-401-no-token', 'GET', '/Patient');
  const badToken = new Driver(origin, outDir, { authorization: 'Bearer not-a-token' }, 'b-');
  await badToken.call('err-401-bad-token', 'GET', '/Patient');
  const asCoordinator = new Driver(origin, outDir, { authorization: `Bearer ${coordinator}` }, 'c-');
  const created = await asCoordinator.call('audited-create', 'POST', '/Patient', { resourceType: 'Patient', name: [{ family: 'Audit' }] }, { prefer: 'return=representation' });
  if (created.json?.id) await asCoordinator.call('audited-read', 'GET', `/Patient/${created.json.id}`);
  await asCoordinator.call('audited-search', 'GET', '/Patient?family=Audit');
  await asCoordinator.call('audited-forbidden', 'DELETE', '/AuditEvent/x');
  const asAuditor = new Driver(origin, outDir, { authorization: `Bearer ${auditor}` }, 'd-');
  const audits = await asAuditor.call('auditevents', 'GET', '/AuditEvent?_count=50');
  // each AuditEvent also on its own, so that an issue names the event
  for (const [i, entry] of (audits.json?.entry ?? []).entries()) {
    writeFileSync(join(outDir, `e-auditevent-${i}.json`), JSON.stringify(entry.resource, null, 1));
  }
  return [...anonymous.saved, ...badToken.saved, ...asCoordinator.saved, ...asAuditor.saved];
}

// ---------------------------------------------------------------------------------------
// Validation and summary
// ---------------------------------------------------------------------------------------

interface Issue {
  file: string;
  severity: string;
  location: string;
  message: string;
}

function validate(files: string[], ooDir: string): Issue[] {
  mkdirSync(ooDir, { recursive: true });
  const result = spawnSync('java', ['-Xmx3g', '-cp', `${LIB_DIR}/*`, DRIVER, ooDir, ...(existsSync(FR_CORE_DIR) ? [FR_CORE_DIR] : []), join(ROOT, 'profiles'), '--', ...files], {
    cwd: TOOL_DIR,
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 28,
  });
  if (result.status !== 0) throw new Error(`validator failed (${result.status ?? result.signal})`);
  const issues: Issue[] = [];
  for (const file of files) {
    const ooFile = join(ooDir, `${basename(file)}.oo.json`);
    if (!existsSync(ooFile)) {
      issues.push({ file: basename(file), severity: 'fatal', location: '', message: 'not validated' });
      continue;
    }
    const oo = JSON.parse(readFileSync(ooFile, 'utf8'));
    for (const issue of oo.issue ?? []) {
      issues.push({
        file: basename(file),
        severity: issue.severity,
        location: (issue.expression ?? issue.location ?? [''])[0],
        message: issue.details?.text ?? issue.diagnostics ?? '',
      });
    }
  }
  return issues;
}

/** Groups messages that differ only by a position, an id or a quoted value. */
function messageKey(message: string): string {
  return message.replace(/\[\d+\]/g, '[n]').replace(/'[^']*'/g, "'…'").replace(/"[^"]*"/g, '"…"').replace(/\d+/g, 'N').slice(0, 220);
}

async function main(): Promise<void> {
  if (args.setup) return setup();
  if (!existsSync(LIB_DIR) || !existsSync(join(PACKAGE_CACHE, 'hl7.fhir.r4.core#4.0.1'))) {
    throw new Error('validator not set up: run `npx tsx scripts/hl7-validator-check.ts --setup` first');
  }
  const outDir = resolve(args.out!);
  rmSync(outDir, { recursive: true, force: true });
  const responses = join(outDir, 'responses');
  mkdirSync(responses, { recursive: true });

  const open = await startServer({ AUTH_MODE: 'none', DATA_DIR: mkdtempSync(join(tmpdir(), 'relais-hl7check-')) });
  const saved: Saved[] = [];
  try {
    const driver = new Driver(open.origin, responses);
    await driveUnauthenticated(driver);
    saved.push(...driver.saved);
  } finally {
    await open.stop();
  }
  // a fixed BASE_URL so that the minted tokens' audience is the one the server expects
  const devEnv = { AUTH_MODE: 'dev', DATA_DIR: mkdtempSync(join(tmpdir(), 'relais-hl7check-')), BASE_URL: 'http://relais.test/fhir' };
  const audited = await startServer(devEnv);
  try {
    saved.push(...(await driveAudited(audited.origin, responses, devEnv)));
  } finally {
    await audited.stop();
  }
  writeFileSync(join(outDir, 'requests.json'), JSON.stringify(saved, null, 1));

  const profileFiles = readdirSync(join(ROOT, 'profiles')).filter((f) => f.endsWith('.json')).map((f) => join(ROOT, 'profiles', f));
  const files = [...readdirSync(responses).sort().map((f) => join(responses, f)), ...profileFiles];
  console.log(`validating ${files.length} files (${files.length - profileFiles.length} responses, ${profileFiles.length} profiles)...`);
  const issues = validate(files, join(outDir, 'outcomes'));
  writeFileSync(join(outDir, 'issues.json'), JSON.stringify(issues, null, 1));

  const counts: Record<string, number> = {};
  for (const issue of issues) counts[issue.severity] = (counts[issue.severity] ?? 0) + 1;
  const groups = new Map<string, Issue[]>();
  for (const issue of issues.filter((i) => i.severity === 'error' || i.severity === 'fatal' || i.severity === 'warning')) {
    const key = `${issue.severity}: ${messageKey(issue.message)}`;
    groups.set(key, [...(groups.get(key) ?? []), issue]);
  }
  for (const [key, group] of [...groups.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    console.log(`\n${key}  (${group.length})`);
    for (const issue of group.slice(0, 4)) console.log(`    ${issue.file} @ ${issue.location}: ${issue.message.slice(0, 300)}`);
    if (group.length > 4) console.log(`    ... and ${group.length - 4} more`);
  }
  console.log(`\n${files.length} files validated; issues by severity: ${JSON.stringify(counts)}; details in ${outDir}/issues.json`);
  if (!args['keep-going'] && (counts.error ?? 0) + (counts.fatal ?? 0) > 0) process.exitCode = 1;
}

await main();
