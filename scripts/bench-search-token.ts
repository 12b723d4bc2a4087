/**
 * Where a token's cost goes in a search (issue 17), in this process: the
 * searches of scripts/bench-http.ts (a Patient by INS, by a name prefix of 3–5
 * letters) through the engine, as the coordinator and as the nurse (a
 * practitioner decided on her consents, care teams and agreement), 32 in
 * flight, on the same generated network (1,000 patients), and printed as CPU
 * time per search (the whole process: the event loop, lmdb-js' write thread,
 * the collector; then the event loop's thread alone) for each of
 *   - without a token (AUTH_MODE=none's anonymous caller: no decision, no audit),
 *   - with the token as it runs (decision, access filter, AuditEvent built,
 *     indexed and written durably before the search answers),
 *   - the AuditEvent built and indexed but its store write skipped,
 *   - no AuditEvent at all (the decision and the restricted search only).
 * The last two are measuring devices (they reach into the guard's audit trail
 * and replace two of its methods): the differences give the share of the
 * decision, of building and indexing the AuditEvent, and of its store write.
 * Modes run in alternating order, round after round; medians are printed.
 *
 *   npx tsx scripts/bench-search-token.ts [--searches 2000] [--rounds 5] [--patients 1000] [--phases read,ins,name] [--callers coordinator,nurse]
 *
 * `--phases`: a Patient read by id, the INS search, the name-prefix search (default: the two searches).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4';
import { DEFAULT_CLAIMS_MAPPING, principalFromClaims } from '../src/auth/claims-mapping.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import type { AuditTrail } from '../src/audit/audit-trail.js';
import type { WriteOperation } from '../src/store/resource-store.js';
import { generateNetwork, NIR_SYSTEM, parseFlags, seededRandom, type NetworkIndex } from './network-dataset.js';

const argv = process.argv.slice(2);
const phasesAt = argv.indexOf('--phases');
/** `--phases read,ins,name`: which requests (default: the two searches). */
const phases = phasesAt >= 0 ? argv.splice(phasesAt, 2)[1].split(',') : ['ins', 'name'];
const callersAt = argv.indexOf('--callers');
const callers = callersAt >= 0 ? argv.splice(callersAt, 2)[1].split(',') : ['coordinator', 'nurse'];
for (const phase of phases) if (!['read', 'ins', 'name'].includes(phase)) throw new Error(`--phases: read, ins, name`);
const flags = parseFlags(argv, { searches: 2000, rounds: 5, patients: 1000 });

const dir = mkdtempSync(join(tmpdir(), 'relais-bench-search-token-'));
const ctx = buildContext(loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', BASE_URL: 'http://127.0.0.1/fhir', AUTH_MODE: 'dev' }));
await ctx.store.open();
const index: NetworkIndex = { patientIds: [], nirs: [], rpps: [], families: [] };
let batch: WriteOperation[] = [];
const put = async (r: Resource, flush = false) => {
  batch.push({ kind: 'put', resourceType: r.resourceType, id: r.id!, resource: r, index: ctx.engine.facts.extractor.extract(r) });
  if (batch.length >= 500 || flush) { await ctx.store.write(batch); batch = []; }
};
for (const r of generateNetwork({ patients: flags.patients, observationsPerPatient: 4, encountersPerPatient: 1, seed: 42 }, index)) await put(r as Resource);
const nursePatients = index.patientIds.slice(0, 50);
const facts: Resource[] = [
  { resourceType: 'Organization', id: 'bench-ssiad', name: 'SSIAD' } as Resource,
  { resourceType: 'Practitioner', id: 'bench-nurse', identifier: [{ system: 'https://rpps.esante.gouv.fr', value: '10999999999' }], name: [{ family: 'Infirmière' }] } as Resource,
  { resourceType: 'PractitionerRole', id: 'bench-nurse-role', practitioner: { reference: 'Practitioner/bench-nurse' }, organization: { reference: 'Organization/bench-ssiad' } } as Resource,
  { resourceType: 'Contract', id: 'bench-convention', status: 'executed', subject: [{ reference: 'Organization/bench-ssiad' }] } as Resource,
];
for (const patient of nursePatients) {
  facts.push({ resourceType: 'Consent', id: `consent-${patient}`, status: 'active', scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' }] }, category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0' }] }], patient: { reference: `Patient/${patient}` }, performer: [{ reference: `Patient/${patient}` }], provision: { type: 'permit' } } as Resource);
  facts.push({ resourceType: 'CareTeam', id: `team-${patient}`, status: 'active', subject: { reference: `Patient/${patient}` }, participant: [{ member: { reference: 'Practitioner/bench-nurse' } }] } as Resource);
}
for (const [i, r] of facts.entries()) await put(r, i === facts.length - 1);
const principals = {
  nurse: principalFromClaims({ sub: '10999999999', iss: 'https://dev', relais_role: 'nurse', rpps: '10999999999', scope: 'openid fhirUser user/*.crus' }, DEFAULT_CLAIMS_MAPPING),
  coordinator: principalFromClaims({ sub: 'coordinator-dev', iss: 'https://dev', relais_role: 'coordinator', scope: 'openid fhirUser user/*.cruds' }, DEFAULT_CLAIMS_MAPPING),
};
// The guard's audit trail (private to the engine; reached here only to measure without parts of it).
const trail = (ctx.engine as unknown as { guard: { deps: { trail: AuditTrail } } }).guard.deps.trail;
const original = { writeOperations: trail.writeOperations.bind(trail), operation: trail.operation.bind(trail) };
const modes: Record<string, () => void> = {
  audited: () => Object.assign(trail, original),
  'no-write': () => Object.assign(trail, { operation: original.operation, writeOperations: async () => {} }),
  'no-audit': () => Object.assign(trail, { operation: () => ({}) as WriteOperation, writeOperations: async () => {} }),
};
const pos = new Map(index.patientIds.map((id, i) => [id, i]));
const N = flags.searches;
const results = new Map<string, number[]>();
/** The event loop's own CPU per search (its thread's utime + stime in /proc, 10 ms ticks: runs of a second or more). */
const loopResults = new Map<string, number[]>();
function eventLoopCpuMs(): number {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
const combos: Array<[string, string, string]> = phases.map((phase) => ['off', phase, 'audited']);
for (const w of callers) for (const phase of phases) for (const mode of Object.keys(modes)) combos.push([w, phase, mode]);
for (let round = 0; round < flags.rounds; round++) {
  for (const [w, phase, mode] of round % 2 ? [...combos].reverse() : combos) {
    modes[mode]();
    const random = seededRandom(11 + round);
    const ids = w === 'nurse' ? nursePatients : index.patientIds;
    let next = 0;
    const one = async (i: number) => {
      const p = ids[Math.floor(random() * ids.length)];
      const family = index.families[pos.get(p)!].replace(/[^A-Za-zÀ-ÿ]/g, '');
      const params: Array<[string, string]> = phase === 'ins' ? [['identifier', `${NIR_SYSTEM}|${index.nirs[pos.get(p)!]}`]] : [['name', family.slice(0, 3 + Math.floor(random() * 3))]];
      const session = w === 'off' ? ctx.engine.asAnonymous({}) : ctx.engine.as({ kind: 'client', principal: principals[w as keyof typeof principals], clientAddress: '127.0.0.1', requestId: `req-${round}-${i}` });
      if (phase === 'read') await session.read('Patient', p);
      else await session.search('Patient', params);
    };
    const t0 = process.cpuUsage();
    const loop0 = eventLoopCpuMs();
    await Promise.all(Array.from({ length: 32 }, async () => { while (next < N) await one(next++); }));
    const u = process.cpuUsage(t0);
    const key = `${w} ${phase} ${mode}`;
    // Round 0 warms up: not counted.
    if (round > 0) results.set(key, [...(results.get(key) ?? []), (u.user + u.system) / N]);
    if (round > 0) loopResults.set(key, [...(loopResults.get(key) ?? []), ((eventLoopCpuMs() - loop0) * 1000) / N]);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const at = (w: string, phase: string, mode: string) => median(results.get(`${w} ${phase} ${mode}`)!);
const loopAt = (w: string, phase: string, mode: string) => median(loopResults.get(`${w} ${phase} ${mode}`)!);
process.stdout.write(`\n${flags.patients} patients, ${N} searches per run, 32 in flight, ${flags.rounds - 1} rounds counted; µs of CPU per search (medians)\n`);
process.stdout.write('| caller, search | no token | token, no AuditEvent | + AuditEvent built and indexed | + its store write (as it runs) | token / no token |\n|---|---:|---:|---:|---:|---:|\n');
for (const w of callers) {
  for (const phase of phases) {
    const off = at('off', phase, 'audited');
    const [none, built, audited] = [at(w, phase, 'no-audit'), at(w, phase, 'no-write'), at(w, phase, 'audited')];
    process.stdout.write(`| ${w}, ${phase === 'ins' ? 'INS' : phase === 'read' ? 'read' : 'name prefix'} | ${off.toFixed(0)} | ${none.toFixed(0)} | ${built.toFixed(0)} | ${audited.toFixed(0)} | ${(audited / off).toFixed(1)} |\n`);
  }
}
process.stdout.write('\nThe event loop alone (µs of its thread\'s CPU per search, medians)\n');
process.stdout.write('| caller, search | no token | token, no AuditEvent | + AuditEvent built and indexed | + its store write (as it runs) |\n|---|---:|---:|---:|---:|\n');
for (const w of callers) {
  for (const phase of phases) {
    const cells = [loopAt('off', phase, 'audited'), loopAt(w, phase, 'no-audit'), loopAt(w, phase, 'no-write'), loopAt(w, phase, 'audited')].map((v) => v.toFixed(0));
    process.stdout.write(`| ${w}, ${phase === 'ins' ? 'INS' : phase === 'read' ? 'read' : 'name prefix'} | ${cells.join(' | ')} |\n`);
  }
}
modes.audited();
await ctx.store.close();
rmSync(dir, { recursive: true, force: true });
