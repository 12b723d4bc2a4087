/**
 * The search index entries of an AuditEvent the server built (audit-event.ts),
 * computed from its known shape instead of by the generic extractor
 * (src/search/index-extractor.ts), which walks every parameter's path, types
 * every node, normalises each display and the whole `_content` text again for
 * each of the about 1,000 AuditEvents a second an audited read load writes:
 * 80 µs an AuditEvent, the largest part of an audited read's event loop after
 * the store's write (issue 17, measured with a loop over a coordinator's read
 * AuditEvents). Here each parameter reads its field directly, and the
 * normalised form of the strings every AuditEvent repeats (code systems,
 * displays, the server's name) is kept in a small bounded table.
 *
 * The entries are exactly the extractor's: each parameter follows the R4
 * definition's expression with the extractor's own normalisation rules, and
 * test/audit/audit-index.test.ts checks both give the same entries on AuditEvents
 * of every kind the server writes. Exactness does not rest on that test alone
 * at run time: the indexer answers only while the AuditEvent parameters in the
 * registry are exactly those it knows (code, type, expression); a custom
 * SearchParameter on AuditEvent, or an AuditEvent with a narrative, goes
 * through the extractor as any resource.
 *
 * `_content` (full-text.ts) is the normalised text of all of a resource's strings
 * joined by spaces; normalising each string on its own and joining the non-empty
 * results with one space gives the same text (the normalisation acts within
 * words: case, accents, punctuation runs and whitespace runs never span the
 * joining space, which it keeps as one), which is what lets repeated strings be
 * normalised once.
 */
import type { AuditEvent, Coding, Reference } from 'fhir/r4';
import { dateRange } from '../search/date-range.js';
import { fullTextEntries } from '../search/full-text.js';
import { referenceObjectEntries, type IndexExtractor } from '../search/index-extractor.js';
import { normaliseText } from '../search/normalise-text.js';
import type { SearchParameter, SearchParameterRegistry } from '../search/search-parameters.js';
import type { IndexEntries } from '../store/resource-store.js';

type Entry = Record<string, string>;
type Event = AuditEvent & Record<string, unknown>;
type Handler = (event: Event, parameter: SearchParameter) => Entry[];

/** Strings kept normalised at most (cleared when full: the repeated ones come back at once). */
const MEMO_SIZE = 4096;
/** Longer strings are normalised each time (the repeated ones are systems, codes and displays). */
const MEMO_LENGTH = 128;
/** Beyond this much text, `_content` is left to full-text.ts (which bounds what it indexes). */
const DIRECT_CONTENT_CHARS = 50_000;


export class AuditEventIndexer {
  private readonly memo = new Map<string, string>();
  /** Coding entries by system, code and display; reference entries by parameter and reference (each bounded by MEMO_SIZE). */
  private readonly codings = new Map<string | undefined, Map<string | undefined, Map<string | undefined, Entry>>>();
  private codingCount = 0;
  private readonly references = new Map<string, Map<string, Entry[]>>();
  private readonly entryKeys = new WeakMap<Entry, string>();
  private readonly baseUrl: string | undefined;
  /** The registry's AuditEvent parameters the handlers were checked against, and the handlers in their order. */
  private known: { parameters: SearchParameter[]; handlers: Handler[] | undefined } | undefined;

  constructor(
    private readonly registry: SearchParameterRegistry,
    private readonly extractor: IndexExtractor,
    baseUrl: string | undefined,
  ) {
    this.baseUrl = baseUrl?.replace(/\/$/, '');
  }

  /** The index entries of an AuditEvent as stored (id set, client meta only): those extractor.extract() gives. */
  entries(event: AuditEvent): IndexEntries {
    const handlers = this.handlers();
    if (!handlers || event.text !== undefined) return this.extractor.extract(event);
    const entries: IndexEntries = {};
    const parameters = this.known!.parameters;
    for (let i = 0; i < handlers.length; i++) {
      const values = dedupeEntries(handlers[i](event as Event, parameters[i]), this.entryKeys);
      if (values.length > 0) entries[parameters[i].code] = values;
    }
    if (this.registry.get('AuditEvent', '_content')) {
      const content = this.content(event);
      if (content.length > 0) entries._content = content;
    }
    return entries;
  }

  /** How many normalised texts, coding entries and reference entries are kept (each table bounded by MEMO_SIZE). */
  keptCounts(): { texts: number; codings: number; references: number } {
    let references = 0;
    for (const byText of this.references.values()) references += byText.size;
    return { texts: this.memo.size, codings: this.codingCount, references };
  }

  /** The handlers, in the registry's order, or undefined when its AuditEvent parameters are not exactly the known ones. */
  private handlers(): Handler[] | undefined {
    const parameters = this.registry.indexedFor('AuditEvent');
    const known = this.known;
    if (known && known.parameters.length === parameters.length && known.parameters.every((p, i) => p === parameters[i])) return known.handlers;
    const handlers: Handler[] = [];
    for (const parameter of parameters) {
      const handler = this.handlerFor(parameter);
      if (!handler) {
        this.known = { parameters, handlers: undefined };
        return undefined;
      }
      handlers.push(handler);
    }
    // `_text` is the narrative's (none in a built AuditEvent, which entries() checks).
    this.known = { parameters, handlers };
    // Entries kept for the parameters before (their targets may differ) are not these parameters' entries.
    this.codings.clear();
    this.codingCount = 0;
    this.references.clear();
    return handlers;
  }

  private handlerFor(parameter: SearchParameter): Handler | undefined {
    const agents = (event: Event) => event.agent ?? [];
    const entities = (event: Event) => event.entity ?? [];
    const handlers: Record<string, [type: string, expression: string, handler: Handler]> = {
      action: ['token', 'AuditEvent.action', (e) => codeEntries(e.action)],
      address: ['string', 'AuditEvent.agent.network.address', (e) => agents(e).flatMap((a) => this.stringEntries(a.network?.address))],
      'agent-name': ['string', 'AuditEvent.agent.name', (e) => agents(e).flatMap((a) => this.stringEntries(a.name))],
      'agent-role': ['token', 'AuditEvent.agent.role', (e) => agents(e).flatMap((a) => (a.role ?? []).flatMap((r) => [...(r.coding ?? []).map((c) => this.coding(c)), ...(typeof r.text === 'string' ? [{ t: this.normalise(r.text) }] : [])]))],
      agent: ['reference', 'AuditEvent.agent.who', (e, p) => agents(e).flatMap((a) => this.referenceEntries(a.who, p.targets, 'agent'))],
      altid: ['token', 'AuditEvent.agent.altId', (e) => agents(e).flatMap((a) => codeEntries(a.altId))],
      date: ['date', 'AuditEvent.recorded', (e) => {
        const range = e.recorded === undefined ? undefined : instantRange(e.recorded);
        return range ? [range as unknown as Entry] : [];
      }],
      'entity-name': ['string', 'AuditEvent.entity.name', (e) => entities(e).flatMap((n) => this.stringEntries(n.name))],
      'entity-role': ['token', 'AuditEvent.entity.role', (e) => entities(e).flatMap((n) => (n.role ? [this.coding(n.role)] : []))],
      'entity-type': ['token', 'AuditEvent.entity.type', (e) => entities(e).flatMap((n) => (n.type ? [this.coding(n.type)] : []))],
      entity: ['reference', 'AuditEvent.entity.what', (e, p) => entities(e).flatMap((n) => this.referenceEntries(n.what, p.targets, 'entity'))],
      outcome: ['token', 'AuditEvent.outcome', (e) => codeEntries(e.outcome)],
      patient: [
        'reference',
        'AuditEvent.agent.who.where(resolve() is Patient) | AuditEvent.entity.what.where(resolve() is Patient)',
        (e, p) => [...agents(e).flatMap((a) => this.referenceEntries(a.who, p.targets, 'patient')), ...entities(e).flatMap((n) => this.referenceEntries(n.what, p.targets, 'patient'))],
      ],
      policy: ['uri', 'AuditEvent.agent.policy', (e) => agents(e).flatMap((a) => (a.policy ?? []).filter((v) => typeof v === 'string').map((v) => ({ v })))],
      site: ['token', 'AuditEvent.source.site', (e) => codeEntries(e.source?.site)],
      source: ['reference', 'AuditEvent.source.observer', (e, p) => this.referenceEntries(e.source?.observer, p.targets)],
      subtype: ['token', 'AuditEvent.subtype', (e) => (e.subtype ?? []).map((c) => this.coding(c))],
      type: ['token', 'AuditEvent.type', (e) => (e.type ? [this.coding(e.type)] : [])],
      _profile: ['uri', 'Resource.meta.profile', (e) => (e.meta?.profile ?? []).filter((v) => typeof v === 'string').map((v) => ({ v }))],
      _security: ['token', 'Resource.meta.security', (e) => (e.meta?.security ?? []).map((c) => this.coding(c))],
      _source: ['uri', 'Resource.meta.source', (e) => (typeof e.meta?.source === 'string' ? [{ v: e.meta.source }] : [])],
      _tag: ['token', 'Resource.meta.tag', (e) => (e.meta?.tag ?? []).map((c) => this.coding(c))],
    };
    const known = Object.hasOwn(handlers, parameter.code) ? handlers[parameter.code] : undefined;
    return known && known[0] === parameter.type && known[1] === parameter.expression ? known[2] : undefined;
  }

  private normalise(text: string): string {
    if (text.length > MEMO_LENGTH) return normaliseText(text);
    let normalised = this.memo.get(text);
    if (normalised === undefined) {
      if (this.memo.size >= MEMO_SIZE) this.memo.clear();
      normalised = normaliseText(text);
      this.memo.set(text, normalised);
    }
    return normalised;
  }

  private stringEntries(value: unknown): Entry[] {
    return typeof value === 'string' ? [{ v: this.normalise(value), e: value }] : [];
  }

  /**
   * A coding's entry; the same (frozen) object for the same system, code and display while it is
   * kept. Looked up through a Map per field: the strings are the constants of audit-event.ts, whose
   * hashes V8 keeps, where a joined key would be built and hashed for every coding.
   */
  private coding(coding: Coding): Entry {
    const { system, code, display } = coding;
    const simple = (system === undefined || typeof system === 'string') && (code === undefined || typeof code === 'string') && (display === undefined || typeof display === 'string');
    if (!simple) return this.codingEntry(coding);
    let bySystem = this.codings.get(system);
    if (!bySystem) this.codings.set(system, (bySystem = new Map()));
    let byCode = bySystem.get(code);
    if (!byCode) bySystem.set(code, (byCode = new Map()));
    let entry = byCode.get(display);
    if (!entry) {
      if (++this.codingCount > MEMO_SIZE) {
        this.codings.clear();
        this.codingCount = 0;
        return this.codingEntry(coding);
      }
      entry = Object.freeze(this.codingEntry(coding));
      byCode.set(display, entry);
    }
    return entry;
  }

  private codingEntry(coding: Coding): Entry {
    const entry: Entry = {};
    if (typeof coding.system === 'string') entry.s = coding.system;
    if (typeof coding.code === 'string') entry.c = coding.code;
    if (typeof coding.display === 'string') entry.t = this.normalise(coding.display);
    return entry;
  }

  /**
   * The extractor's own entries of a Reference; those of a reference by `reference` alone (every
   * entity and patient of an AuditEvent) kept per parameter, as (frozen) objects shared across events.
   */
  private referenceEntries(reference: Reference | undefined, targets: string[] | undefined, parameter?: string): Entry[] {
    if (!reference || typeof reference !== 'object') return [];
    const text = reference.reference;
    const only = parameter !== undefined && typeof text === 'string' && text.length <= MEMO_LENGTH && reference.identifier === undefined;
    if (!only) return referenceObjectEntries(reference as Record<string, unknown>, targets, this.baseUrl);
    let byText = this.references.get(parameter);
    if (!byText) this.references.set(parameter, (byText = new Map()));
    let kept = byText.get(text);
    if (!kept) {
      if (byText.size >= MEMO_SIZE) byText.clear();
      kept = referenceObjectEntries({ reference: text }, targets, this.baseUrl).map((entry) => Object.freeze(entry));
      byText.set(text, kept);
    }
    return kept;
  }

  /** `_content` as full-text.ts computes it: every string in document order ('data' and resourceType aside), normalised, joined. */
  private content(event: AuditEvent): Array<{ x: string }> {
    const text: ContentText = { parts: [], length: 0 };
    this.collectText(event, '', text);
    // Long texts are bounded by full-text.ts (MAX_INDEXED_CHARS); an AuditEvent is a few hundred characters.
    if (text.length > DIRECT_CONTENT_CHARS) return fullTextEntries(event as unknown as Record<string, unknown>)._content ?? [];
    const x = text.parts.join(' ');
    return x ? [{ x }] : [];
  }

  /** Every string under `value` in document order, normalised (a method, not a closure made for each AuditEvent). */
  private collectText(value: unknown, key: string, text: ContentText): void {
    if (typeof value === 'string') {
      if (key === 'data' || key === 'resourceType') return;
      text.length += value.length + 1;
      const normalised = this.normalise(value);
      if (normalised.length > 0) text.parts.push(normalised);
    } else if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) this.collectText(value[i], key, text);
    } else if (value !== null && typeof value === 'object') {
      for (const k in value) this.collectText((value as Record<string, unknown>)[k], k, text);
    }
  }
}

interface ContentText {
  parts: string[];
  length: number;
}

/**
 * The extractor's dedupe (equal JSON texts, the first kept), without JSON.stringify for the flat
 * entries of strings an AuditEvent gives: a search naming twenty patients repeats each entity's
 * type and role twenty times, and stringifying every entry was a quarter of the indexer's time
 * (profile of scripts/bench-http.ts, name-prefix search). The same object is the same entry (the
 * kept codings and references); two flat entries of strings have equal JSON texts exactly when
 * they have the same keys in the same order with the same values, which the length-prefixed key
 * below encodes without ambiguity; anything else is keyed by its JSON text (which starts with
 * `{`, never with a digit). `keys` holds the keys of kept (frozen) entries.
 */
export function dedupeEntries(values: Entry[], keys?: WeakMap<Entry, string>): Entry[] {
  if (values.length < 2) return values;
  const seenEntries = new Set<Entry>();
  const seenKeys = new Set<string>();
  const kept: Entry[] = [];
  for (const value of values) {
    if (seenEntries.has(value)) continue;
    seenEntries.add(value);
    let key = keys?.get(value);
    if (key === undefined) {
      key = flatKey(value);
      if (keys && Object.isFrozen(value)) keys.set(value, key);
    }
    if (seenKeys.has(key)) continue;
    seenKeys.add(key);
    kept.push(value);
  }
  return kept;
}

function flatKey(entry: Entry): string {
  let key = '';
  for (const name of Object.keys(entry)) {
    const value: unknown = entry[name];
    if (typeof value !== 'string') return JSON.stringify(entry);
    key += `${name.length}:${name}${value.length}:${value}`;
  }
  return key;
}

/** The instants toISOString() writes (years 1000–9999, milliseconds, UTC): `recorded` as the trail builds it. */
const CANONICAL_INSTANT = /^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/;

/**
 * dateRange('instant', value), without its two date conversions for the instant the trail writes:
 * an instant to the millisecond is its own range (lo = hi = the instant as toISOString() writes it),
 * so a value that is exactly what toISOString() writes of it is both bounds. Anything else (another
 * precision, an offset, a date that is not one) goes through dateRange.
 */
function instantRange(value: unknown): ReturnType<typeof dateRange> {
  if (typeof value === 'string' && CANONICAL_INSTANT.test(value)) {
    const time = Date.parse(value);
    if (!Number.isNaN(time) && new Date(time).toISOString() === value) return { lo: value, hi: value };
  }
  return dateRange('instant', value);
}

function codeEntries(value: unknown): Entry[] {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? [{ c: String(value) }] : [];
}
