/**
 * The MongoDB index plan (src/store/mongo/index-plan.ts) serves what the search
 * compiler emits: for each typical query of the network (those of
 * scripts/bench-search.ts, and the commonest single-parameter forms), the
 * compiled filter — and every sub-query filter of chains, `_has` and `near` —
 * has a conjunct that bounds the leading field (after `type`) of a planned
 * index: an equality, `$in`, a range, or an anchored prefix regex on that field
 * inside the parameter's `$elemMatch`, or `id`/`lastUpdated` (type_id,
 * type_lastUpdated). That is MongoDB's condition for an index scan with tight
 * bounds instead of scanning the type.
 *
 * This is a static check because the test server (mongo-java-server) has no
 * query planner: `explain` is only meaningful on a real MongoDB (see docs/storage.md).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildContext } from '../../src/context.js';
import type { SubQueryStore } from '../../src/search/search-query.js';
import { resourceIndexes, SEARCH_INDEXES, staleSearchIndexes } from '../../src/store/mongo/index-plan.js';

type Filter = Record<string, unknown>;

const ctx = buildContext(loadConfig({ DATA_DIR: '/nonexistent', BASE_URL: 'http://relais.test/fhir', LOG_LEVEL: 'silent' }));
const compiler = ctx.engine.facts.compiler;

/** Whether a condition on one entry field gives MongoDB index bounds on it. */
function bounds(value: unknown): boolean {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return true;
  if (!value || typeof value !== 'object') return false;
  const ops = value as Filter;
  if (typeof ops.$regex === 'string') return ops.$regex.startsWith('^');
  return ['$eq', '$in', '$gt', '$gte', '$lt', '$lte'].some((op) => op in ops);
}

/** The planned index whose leading field the filter bounds, or undefined. */
function servingIndex(filter: Filter): string | undefined {
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$and') {
      for (const part of value as Filter[]) {
        const served = servingIndex(part);
        if (served) return served;
      }
    } else if (key === '$or') {
      const served = (value as Filter[]).map(servingIndex);
      if (served.length > 0 && served.every(Boolean)) return served.join(' | ');
    } else if (key === 'id' && bounds(value)) return 'type_id';
    else if (key === 'lastUpdated' && bounds(value)) return 'type_lastUpdated';
    else if (key.startsWith('idx.') && value && typeof value === 'object' && '$elemMatch' in value) {
      const code = key.slice(4);
      const leading = SEARCH_INDEXES[code]?.[0];
      const cond = (value as { $elemMatch: Filter }).$elemMatch;
      const conjuncts = [cond, ...((cond.$and as Filter[] | undefined) ?? [])];
      if (leading && conjuncts.some((c) => bounds(c[leading]))) return `idx_${code}`;
    }
  }
  return undefined;
}

/** Compiles a search, recording the sub-query filters (answered with one plausible value each). */
async function compile(type: string, query: string): Promise<Array<{ what: string; filter: Filter }>> {
  const filters: Array<{ what: string; filter: Filter }> = [];
  const store: SubQueryStore = {
    async distinct(q, path) {
      filters.push({ what: `distinct ${path} on ${q.resourceTypes.join(',')}`, filter: q.filter });
      return path === 'id' ? ['p1'] : ['Patient/p1'];
    },
    async search(q) {
      filters.push({ what: `search on ${q.resourceTypes.join(',')}`, filter: q.filter });
      return { versions: [] };
    },
  };
  const parsed = await compiler.parse([type], [...new URLSearchParams(query).entries()], true, store);
  filters.push({ what: `${type}?${query}`, filter: parsed.filter });
  return filters;
}

const NIR = 'urn:oid:1.2.250.1.213.1.4.8';
const UCUM = 'http://unitsofmeasure.org';
const TYPICAL: Array<[string, string]> = [
  // scripts/bench-search.ts
  ['Patient', `identifier=${NIR}|1850775123456`],
  ['Patient', 'family=dupo&_count=20'],
  ['Patient', 'family=marti&birthdate=ge1940&birthdate=lt1960'],
  ['Practitioner', 'identifier=https://rpps.esante.gouv.fr|10001234567'],
  ['Observation', 'patient=Patient/p1&code=http://loinc.org|29463-7&_sort=-date'],
  ['Observation', 'subject=Patient/p1&date=ge2024-01-01'],
  ['Encounter', 'patient=p1&status=in-progress'],
  ['CarePlan', 'patient=p1&status=active&_include=CarePlan:patient'],
  ['Observation', `patient.identifier=${NIR}|1850775123456&code=8480-6`],
  ['Patient', '_id=p1&_revinclude=Encounter:patient'],
  ['Location', 'near=45.76|4.83|20|km'],
  ['Patient', `_has:Observation:patient:value-quantity=ge39.5|${UCUM}|Cel&_summary=count`],
  ['Observation', `code=http://loinc.org|8480-6&value-quantity=gt175|${UCUM}|mm[Hg]&_count=50`],
  // single-parameter forms
  ['Patient', 'identifier=1850775123456'],
  ['Patient', `identifier=${NIR}|1850775123456,${NIR}|2850775123456`],
  ['Patient', 'name=hélène'],
  ['Patient', 'given=jean-pierre'],
  ['Patient', 'birthdate=1950-03'],
  ['Patient', 'birthdate=le1950'],
  ['Observation', 'code=8480-6'],
  ['Observation', 'date=lt2020'],
  ['Observation', 'value-quantity=5.4|http://unitsofmeasure.org|mg'],
  ['Encounter', 'subject=Patient/p1'],
  ['Encounter', 'subject:Patient=p1'],
  ['Encounter', 'patient=http://relais.test/fhir/Patient/p1'],
  ['Patient', '_lastUpdated=ge2024-01-01'],
  ['Patient', '_tag=http://example.org/tags|urgent'],
];

describe('MongoDB index plan serves the compiled searches', () => {
  for (const [type, query] of TYPICAL) {
    it(`${type}?${query}`, async () => {
      for (const { what, filter } of await compile(type, query)) {
        expect(servingIndex(filter), `${what}: ${JSON.stringify(filter)}`).toBeDefined();
      }
    });
  }

  // Documented limits (docs/storage.md): these bound no leading index field and scan the type's index keys or documents.
  for (const [type, query] of [
    ['Patient', 'gender=female'], // not in the plan: low selectivity
    ['Patient', 'birthdate=gt1950'], // gt/ge/sa bound only the end of the range
    ['Encounter', 'subject=p1'], // bare id on a reference with several target types
    ['Patient', 'family:contains=mart'], // unanchored
  ] as Array<[string, string]>) {
    it(`not served (documented): ${type}?${query}`, async () => {
      const [main] = (await compile(type, query)).slice(-1);
      expect(servingIndex(main.filter)).toBeUndefined();
    });
  }
});

describe('index plan upgrades', () => {
  it('drops search indexes an older plan left (other keys, or no longer planned), keeps the rest', () => {
    const current = resourceIndexes().map((i) => ({ name: i.name, key: i.key as Record<string, unknown> }));
    expect(staleSearchIndexes(current)).toEqual([]);
    const older = [
      ...current.filter((i) => i.name !== 'idx_identifier'),
      { name: 'idx_identifier', key: { type: 1, 'idx.identifier.s': 1, 'idx.identifier.c': 1 } },
      { name: 'idx_old-param', key: { type: 1, 'idx.old-param.v': 1 } },
      { name: '_id_', key: { _id: 1 } },
      { name: 'custom_by_operator', key: { 'resource.meta.source': 1 } },
    ];
    expect(staleSearchIndexes(older).sort()).toEqual(['idx_identifier', 'idx_old-param']);
  });
});
