/**
 * The audit trail indexes the AuditEvents it writes from their known shape
 * (src/audit/audit-index.ts) instead of through the generic extractor: every
 * search an auditor runs must find exactly what it found before, so the
 * entries must be the extractor's, byte for byte (same parameters, values,
 * order), for every kind of AuditEvent the server writes — and the extractor's
 * again as soon as the AuditEvent parameters are not the known ones.
 */
import type { AuditEvent } from 'fhir/r4';
import { describe, expect, it } from 'vitest';
import { buildAuditEvent, type AuditRecord } from '../../src/audit/audit-event.js';
import { AuditEventIndexer, dedupeEntries } from '../../src/audit/audit-index.js';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import { withClientMeta } from '../../src/engine/resource-checks.js';
import type { Principal } from '../../src/identity/principal.js';
import { dedupe } from '../../src/search/index-extractor.js';
import { normaliseText } from '../../src/search/normalise-text.js';
import { AUDIT_RECORDS } from '../store/audit-layout-scenario.js';

const BASE_URL = 'http://relais.test/fhir';
const scopes = { entries: [] } as unknown as Principal['scopes'];
const platform: Principal = { kind: 'platform', subject: 'plateforme-ars', issuer: 'https://idp.test', role: 'platform', clientId: 'plateforme-ars', scopes };
const doctor: Principal = { kind: 'practitioner', subject: 'dr-1', issuer: 'https://idp.test', role: 'doctor', rpps: '10000000002', scopes };

/** Beyond the fixed trail: addresses of each kind, several patients, absolute references, names with accents and punctuation. */
const MORE_RECORDS: AuditRecord[] = [
  { principal: platform, interaction: 'search-system', patients: ['p1', 'p2', 'p3', 'p1'], outcome: 'success', query: '_type=Patient,Observation&_since=2026-01-01', clientAddress: '2001:db8::1', requestId: 'r-1' },
  { principal: doctor, interaction: 'history-instance', resourceType: 'Patient', id: 'p9', patients: ['p9'], outcome: 'denied', outcomeDetail: "Refus : pas d'accord de l'équipe — « soins »", clientAddress: 'poste-12.chu-lyon.fr', requestId: 'r-2' },
  { principal: doctor, interaction: 'vread', resourceType: 'Observation', id: 'o1', versionId: '3', patients: ['p1'], outcome: 'success', breakTheGlass: { reason: 'Détresse respiratoire, patient inconscient' }, grantedBy: 'Task/t-1', onBehalfOf: [{ identifier: { system: 'urn:oid:1.2.250.1.71.4.2.1', value: '810000000001' }, display: 'Dr Éloïse Œuvray' }, { reference: 'Patient/p1' }, { reference: `${BASE_URL}/Practitioner/dr-2` }, { reference: 'https://autre.example/fhir/Practitioner/dr-3' }] },
  { server: { reason: 'export worker' }, interaction: 'operation', operation: 'export', patients: [], outcome: 'failed', outcomeDetail: 'disk full', onBehalfOf: [{ reference: 'Organization/org-1' }] },
  // A request id of punctuation only (X-Request-Id allows it): a string whose normalised text is empty.
  { principal: platform, interaction: 'capabilities', patients: [], outcome: 'success', requestId: '-._', clientAddress: '::1' },
  { principal: doctor, interaction: 'transaction', patients: Array.from({ length: 40 }, (_, i) => `p-${i}`), outcome: 'success', requestId: 'r-3', clientAddress: '10.1.2.3' },
];

function context() {
  return buildContext(loadConfig({ DATA_DIR: '/nonexistent', LOG_LEVEL: 'silent', BASE_URL }));
}

function stored(record: AuditRecord, id: string): AuditEvent {
  return withClientMeta(buildAuditEvent(record, 'Relais'), id);
}

describe('AuditEvent index entries from the audit trail', () => {
  it('are the extractor’s, byte for byte, for every kind of AuditEvent the server writes', () => {
    const facts = context().engine.facts;
    const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
    const records = [...AUDIT_RECORDS.map(([, record]) => record), ...MORE_RECORDS];
    for (const [i, record] of records.entries()) {
      const event = stored(record, `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`);
      const expected = facts.extractor.extract(event);
      // Twice: the second time from the table of strings already normalised.
      expect(JSON.stringify(indexer.entries(event))).toBe(JSON.stringify(expected));
      expect(JSON.stringify(indexer.entries(event))).toBe(JSON.stringify(expected));
    }
    // The comparison covers what an auditor searches (otherwise equal entries would prove little).
    const btg = facts.extractor.extract(stored(MORE_RECORDS[2], 'x'));
    expect(Object.keys(btg)).toEqual(expect.arrayContaining(['agent', 'patient', 'entity', '_security', '_content', 'subtype', 'date', 'agent-role']));
    expect(btg.patient).toEqual(expect.arrayContaining([{ r: 'Patient/p1', t: 'Patient', i: 'p1' }]));
  });

  it('come from the extractor once a SearchParameter on AuditEvent is added', () => {
    const facts = context().engine.facts;
    const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
    const event = stored(MORE_RECORDS[1], 'y');
    expect(indexer.entries(event)).toEqual(facts.extractor.extract(event));
    facts.searchParameters.add(
      { resourceType: 'SearchParameter', url: 'https://relais.test/SearchParameter/audit-outcome-desc', name: 'outcome-desc', status: 'active', description: 'outcomeDesc', code: 'outcome-desc', base: ['AuditEvent'], type: 'string', expression: 'AuditEvent.outcomeDesc' } as never,
      facts.definitions.resourceTypes,
    );
    facts.extractor.reset();
    const entries = indexer.entries(event);
    expect(entries['outcome-desc']).toEqual([{ v: normaliseText(MORE_RECORDS[1].outcomeDetail!), e: MORE_RECORDS[1].outcomeDetail }]);
    expect(JSON.stringify(entries)).toBe(JSON.stringify(facts.extractor.extract(event)));
  });

  it('give the date entry of any recorded instant as the extractor does', () => {
    // The instant the trail writes (toISOString) is its own range; every other form goes through the
    // extractor's date rules: another precision, an offset, a year below 1000, a day the month lacks.
    const facts = context().engine.facts;
    const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
    const recorded = ['2026-12-07T17:12:03.150Z', '1999-12-31T23:59:59.999Z', '2024-02-29T00:00:00.000Z', '0950-06-01T12:00:00.000Z', '0050-01-01T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-12-07T24:00:00.000Z', '2026-12-07T17:12:03Z', '2026-12-07T17:12:03.1Z', '2026-12-07T17:12:03.1234Z', '2026-12-07T17:12:03.150+02:00', '2026-12-07', '+002026-12-07T17:12:03.150Z', 'not a date'];
    for (const value of recorded) {
      const event = { ...stored(MORE_RECORDS[0], 'd'), recorded: value };
      expect([value, indexer.entries(event).date]).toEqual([value, facts.extractor.extract(event).date]);
    }
  });

  it('dedupe entries as the extractor does (equal JSON texts), whatever their keys and values', () => {
    // The indexer's dedupe keys flat entries by their keys and values, length-prefixed: a key that only
    // joined them would take {a: 'b'} for {ab: ''}, or {s: 'x', c: 'y'} for {s: 'xc', '': 'y'}.
    const texts = ['', 'a', 'b', 'ab', 'a:b', '1:a', 'x', 'xc', 'c', 'y', 's', '2:ab', 'é'];
    const names = ['', 'a', 'ab', 'b', 's', 'c', 'sc', 't', '1'];
    let seed = 5;
    const random = (n: number) => Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
    const randomEntry = () => {
      const entry: Record<string, string> = {};
      for (let k = random(4); k > 0; k--) entry[names[random(names.length)]] = texts[random(texts.length)];
      return entry;
    };
    expect(dedupeEntries([{ a: 'b' }, { ab: '' }])).toHaveLength(2);
    expect(dedupeEntries([{ s: 'x', c: 'y' }, { s: 'xc', '': 'y' }])).toHaveLength(2);
    for (let n = 0; n < 2000; n++) {
      const values = Array.from({ length: 2 + random(6) }, randomEntry);
      // Some twice, as the same object (kept entries) and as equal copies.
      if (random(2)) values.push(values[0], { ...values[1] });
      expect(JSON.stringify(dedupeEntries(values, new WeakMap()))).toBe(JSON.stringify(dedupe(values)));
    }
    // Entries that are not flat strings (a date's range) are keyed by their JSON text.
    expect(dedupeEntries([{ lo: 1, hi: 2 } as never, { lo: 1, hi: 2 } as never, { lo: '1', hi: '2' }])).toHaveLength(2);
  });

  it('keep coding and reference entries for the parameters as they are, and a bounded number of them', () => {
    const facts = context().engine.facts;
    const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
    const record: AuditRecord = { principal: doctor, interaction: 'read', resourceType: 'Observation', id: 'o1', patients: ['p1'], outcome: 'success' };
    const event = stored(record, 'z');
    expect(indexer.entries(event).entity).toEqual([{ r: 'Patient/p1', t: 'Patient', i: 'p1' }, { r: 'Observation/o1', t: 'Observation', i: 'o1' }]);
    // The same code, type and expression, other targets (only Patient): the entries kept for the former
    // parameter are not this one's.
    const entity = facts.searchParameters.get('AuditEvent', 'entity')!;
    facts.searchParameters.add(
      { resourceType: 'SearchParameter', url: 'https://relais.test/SearchParameter/audit-entity-patients', name: 'entity', status: 'active', description: 'entity, patients only', code: 'entity', base: ['AuditEvent'], type: 'reference', expression: entity.expression, target: ['Patient'] } as never,
      facts.definitions.resourceTypes,
    );
    facts.extractor.reset();
    const expected = facts.extractor.extract(event);
    expect(expected.entity).toEqual([{ r: 'Patient/p1', t: 'Patient', i: 'p1' }]);
    expect(JSON.stringify(indexer.entries(event))).toBe(JSON.stringify(expected));

    // Every patient another reference: what is kept stays under its bound, and the entries stay exact.
    const other = context().engine.facts;
    const fresh = new AuditEventIndexer(other.searchParameters, other.extractor, other.baseUrl);
    for (let i = 0; i < 10_000; i++) {
      const many = stored({ ...record, patients: [`p-${i}`], requestId: `r-${i}` }, `id-${i}`);
      const entries = fresh.entries(many);
      if (i % 2500 === 0) expect(JSON.stringify(entries)).toBe(JSON.stringify(other.extractor.extract(many)));
    }
    const kept = fresh.keptCounts();
    expect(kept.references).toBeGreaterThan(0);
    expect(kept.references).toBeLessThanOrEqual(3 * 4096);
    expect(kept.codings).toBeLessThanOrEqual(4096);
    expect(kept.texts).toBeLessThanOrEqual(4096);
  });

  it('give entries no later index can change through another AuditEvent', () => {
    const facts = context().engine.facts;
    const indexer = new AuditEventIndexer(facts.searchParameters, facts.extractor, facts.baseUrl);
    const first = indexer.entries(stored(MORE_RECORDS[5], 'a'));
    const second = indexer.entries(stored(MORE_RECORDS[5], 'b'));
    // Kept entries are shared between AuditEvents; they cannot be changed in place.
    expect(() => {
      (first['entity-type'][0] as Record<string, string>).c = 'changed';
    }).toThrow(TypeError);
    expect(second['entity-type']).toEqual(facts.extractor.extract(stored(MORE_RECORDS[5], 'b'))['entity-type']);
  });

  it('normalise the text of _content string by string as full-text.ts does on the joined text', () => {
    // The property the indexer's _content rests on: normalising each string and joining the non-empty
    // results with a space is normalising the strings joined by a space.
    const alphabet = ['a', 'Z', 'é', 'È', 'œ', 'Æ', 'ß', 'İ', 'Σ', 'σ', 'ΑΣ', '1', ' ', '  ', '\t', '\u00a0', '-', "'", '’', '.', ',', '/', '(', ']', '"', '_', 'e\u0301', '\u0301', 'ﬁ', 'x'];
    let seed = 17;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 3000; n++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 5) }, () => Array.from({ length: Math.floor(random() * 6) }, () => alphabet[Math.floor(random() * alphabet.length)]).join(''));
      expect(parts.map(normaliseText).filter(Boolean).join(' ')).toBe(normaliseText(parts.join(' ')));
    }
  });
});
