/**
 * What indexing one AuditEvent costs (issue 17): the audit trail's indexer
 * (src/audit/audit-index.ts) against the generic extractor it stands for
 * (src/search/index-extractor.ts), on the AuditEvents of audited searches
 * naming 1, 10 and 50 patients (a search names every patient of its page),
 * each request with its own request id, client address and time, as a server
 * writes them. Both run in this process, in alternating rounds; it prints the
 * µs per AuditEvent of each and their ratio. Both give the same entries
 * (checked here on every AuditEvent of the first round, and by
 * test/audit/audit-index.test.ts).
 *
 *   npx tsx scripts/bench-audit-index.ts [--events 20000] [--rounds 4]
 */
import type { AuditEvent } from 'fhir/r4';
import { buildAuditEvent } from '../src/audit/audit-event.js';
import { AuditEventIndexer } from '../src/audit/audit-index.js';
import { loadConfig } from '../src/config.js';
import { buildContext } from '../src/context.js';
import { withClientMeta } from '../src/engine/resource-checks.js';
import { parseScopes } from '../src/identity/smart-scopes.js';
import type { Principal } from '../src/identity/principal.js';
import { parseFlags } from './network-dataset.js';

const flags = parseFlags(process.argv.slice(2), { events: 20000, rounds: 4 });
const facts = buildContext(loadConfig({ DATA_DIR: '/nonexistent', LOG_LEVEL: 'silent', BASE_URL: 'http://127.0.0.1/fhir' })).engine.facts;
const coordinator: Principal = { kind: 'coordinator', subject: 'coordination-1', issuer: 'https://idp.example', role: 'coordinator', clientId: 'relais-coordination', scopes: parseScopes('openid fhirUser user/*.cruds') };

/** `count` AuditEvents of searches naming `patients` patients each, drawn from a network of 1,000. */
function searchEvents(patients: number, count: number): AuditEvent[] {
  return Array.from({ length: count }, (_, i) =>
    withClientMeta(
      buildAuditEvent(
        {
          principal: coordinator,
          interaction: 'search-type',
          resourceType: 'Patient',
          patients: Array.from({ length: patients }, (_, k) => `patient-${(i * 37 + k * 11) % 1000}`),
          outcome: 'success',
          query: `name=${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + ((i * 7) % 26))}${String.fromCharCode(97 + ((i * 13) % 26))}`,
          clientAddress: `10.0.${(i >> 8) & 255}.${i & 255}`,
          requestId: `request-${i}`,
          recorded: new Date(Date.UTC(2026, 11, 7) + i * 7),
        },
        'Relais',
      ),
      `0193a0b0-0000-7000-8000-${String(i).padStart(12, '0')}`,
    ),
  );
}

const cpuMicros = (run: () => void): number => {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return used.user + used.system;
};

process.stdout.write(`| patients named | extractor µs/AuditEvent | indexer µs/AuditEvent | ratio |\n|---:|---:|---:|---:|\n`);
for (const patients of [1, 10, 50]) {
  const events = searchEvents(patients, flags.events);
  // A fresh indexer per size: its kept strings and entries are those of this size's AuditEvents.
  const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
  const times = { extractor: [] as number[], indexer: [] as number[] };
  for (let round = 0; round < flags.rounds; round++) {
    if (round === 0) {
      for (const event of events) {
        if (JSON.stringify(indexer.entries(event)) !== JSON.stringify(facts.extractor.extract(event))) throw new Error('the indexer and the extractor disagree');
      }
    }
    const order = round % 2 === 0 ? (['extractor', 'indexer'] as const) : (['indexer', 'extractor'] as const);
    for (const which of order) {
      const micros = cpuMicros(() => {
        for (const event of events) (which === 'indexer' ? indexer.entries(event) : facts.extractor.extract(event));
      });
      // Round 0 warms both up (and checked them): not counted.
      if (round > 0) times[which].push(micros / events.length);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const [extracted, indexed] = [median(times.extractor), median(times.indexer)];
  process.stdout.write(`| ${patients} | ${extracted.toFixed(1)} | ${indexed.toFixed(1)} | ${(indexed / extracted).toFixed(2)} |\n`);
}
