/**
 * The token modifiers that need terminology (R4 search page, token):
 * - `:in` — the value is a URI (relative or absolute) that identifies a value
 *   set; matches resources with a coding in it;
 * - `:not-in` — the coding is not in the value set;
 * - `:below` / `:above` — `system|code` and the codes it subsumes / that
 *   subsume it (is-a), the code itself included.
 *
 * The codes come from the server's own terminology (src/validation/terminology.ts,
 * the expander behind ValueSet/$expand): ValueSets and CodeSystems of profiles/,
 * of the packages in FHIR_PACKAGES_DIR and the R4 ValueSets of base bindings.
 * A ValueSet is named by canonical URL (optionally `|version`), or by a
 * reference (`ValueSet/id` or this server's absolute URL) to a ValueSet
 * stored here, expanded with the same expander. A canonical the terminology
 * does not know is also looked up among stored ValueSets.
 *
 * The codes become an OR of `system|code` clauses over the parameter's
 * existing token entries (no new index), one `$in` list of codes per system. An entry without a system (a `code`
 * element such as Patient.gender, whose system is implicit, R4 search page,
 * token) is compared on its code alone, so a Coding that lacks its system
 * but carries a code of the set counts as in it. `:not-in` is the negation of `:in`
 * with the meaning `:not` has in this server: resources with no coding in the
 * set, those without the element included.
 *
 * What cannot be decided locally — an unknown ValueSet or CodeSystem, a
 * ValueSet including codes the server cannot list (an external code system, a
 * filter it cannot evaluate), more than MAX_TERMINOLOGY_CODES codes — is a 400
 * OperationOutcome saying so, whatever the handling preference: the value is
 * unresolvable here, it is not an unknown parameter, and an empty result would
 * be a wrong answer.
 */
import type { ValueSet } from 'fhir/r4';
import { errors } from '../errors.js';
import type { ResourceStore } from '../store/resource-store.js';
import type { Expansion, TerminologyService } from '../validation/terminology.js';
import type { Filter } from './parameter-clauses.js';
import { splitPipes, unescapeValue } from './search-values.js';

export const TERMINOLOGY_MODIFIERS = new Set(['in', 'not-in', 'below', 'above']);

/**
 * Most codes one `:in`/`:not-in`/`:below`/`:above` criterion may stand for (all
 * its comma-separated values together): each code is one indexed clause.
 */
export const MAX_TERMINOLOGY_CODES = 1000;

/** Expansions of stored ValueSets kept, keyed by id and version (a new version is a new key). */
const STORED_CACHE_SIZE = 64;

type Coding = { system: string; code: string };

export class TerminologyModifiers {
  private readonly stored = new Map<string, Expansion | undefined>();

  constructor(
    private readonly terminology: TerminologyService | undefined,
    private readonly baseUrl: string,
  ) {}

  /** The filter on `field` (idx.<code>) for one criterion with a terminology modifier. */
  async filter(field: string, modifier: string, values: string[], rawName: string, store: Pick<ResourceStore, 'search'>): Promise<Filter> {
    const terminology = this.terminology;
    if (!terminology) throw errors.searchTerminology(rawName, 'not-supported', `Modifier ':${modifier}' needs the terminology service, which this server was started without`);
    const codings = new Map<string, Coding>();
    const add = (system: string, code: string) => {
      codings.set(`${system}\u0000${code}`, { system, code });
      if (codings.size > MAX_TERMINOLOGY_CODES) {
        throw errors.searchTerminology(rawName, 'too-costly', `'${rawName}' stands for more than ${MAX_TERMINOLOGY_CODES} codes; this server searches at most that many at once`);
      }
    };
    for (const value of values) {
      if (modifier === 'in' || modifier === 'not-in') {
        const expansion = await this.expansion(terminology, value, rawName, store);
        for (const [system, codes] of expansion) {
          if (codes === null) {
            throw errors.searchTerminology(rawName, 'not-supported', `The value set '${unescapeValue(value)}' includes codes of '${system}' that this server cannot list (a code system it does not hold, or a filter it cannot evaluate locally)`);
          }
          for (const code of codes.keys()) add(system, code);
        }
      } else {
        const [system, code] = this.systemAndCode(value, rawName, modifier);
        const result = terminology.subsumption(system, code, modifier as 'below' | 'above');
        if (result.outcome === 'unknown-system') throw errors.searchTerminology(rawName, 'not-found', `The code system '${system}' is not one this server holds completely: its hierarchy is unknown here`);
        if (result.outcome === 'unknown-code') throw errors.searchTerminology(rawName, 'not-found', `'${code}' is not a code of '${system}'`);
        for (const c of result.codes) add(system, c);
      }
    }
    // One membership clause per system (`$in` on the code, served by the (c, s) index on MongoDB and by
    // Set lookups on the embedded store). An entry without a system is a `code` element, whose system is
    // implicit (its binding's): `s: { $in: [system, null] }` also matches an absent `s` (MongoDB semantics).
    const bySystem = new Map<string, string[]>();
    for (const { system, code } of codings.values()) {
      if (!bySystem.has(system)) bySystem.set(system, []);
      bySystem.get(system)!.push(code);
    }
    const clauses = [...bySystem].map(([system, codes]) => ({ [field]: { $elemMatch: { c: { $in: codes }, s: { $in: [system, null] } } } }));
    if (modifier === 'not-in') return clauses.length === 0 ? {} : { $nor: clauses };
    // An empty set matches nothing ($or needs at least one clause).
    if (clauses.length === 0) return { id: { $in: [] } };
    return clauses.length === 1 ? clauses[0] : { $or: clauses };
  }

  private systemAndCode(value: string, rawName: string, modifier: string): [string, string] {
    const parts = splitPipes(value).map(unescapeValue);
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw errors.invalidParameter(rawName, `:${modifier} takes system|code (the hierarchy belongs to a code system), not '${value}'`);
    }
    return [parts[0], parts[1]];
  }

  /** The ValueSet a `:in`/`:not-in` value names, expanded. */
  private async expansion(terminology: TerminologyService, value: string, rawName: string, store: Pick<ResourceStore, 'search'>): Promise<Expansion> {
    const text = unescapeValue(value);
    const parts = splitPipes(value).map(unescapeValue);
    if (parts.length > 2 || parts[0] === '') throw errors.invalidParameter(rawName, `'${text}' is not a ValueSet URL, url|version or ValueSet/id`);
    const url = parts[0];
    const version = parts[1] === '' ? undefined : parts[1]; // `url|` names no version
    const known = terminology.valueSetVersion(url);
    // A canonical the terminology knows wins, even under this server's base URL (it may be the network's own).
    const local = known === undefined ? this.storedReference(text, rawName) : undefined;
    if (local) return this.storedExpansion(terminology, local, text, rawName, store);
    if (known !== undefined) {
      if (version !== undefined && version !== known) {
        throw errors.searchTerminology(rawName, 'not-found', `Version '${version}' of the value set '${url}' is not known to this server (it holds ${known ? `version '${known}'` : 'a version without a version label'})`);
      }
      const expansion = terminology.expand(url);
      if (expansion) return expansion;
      throw errors.searchTerminology(rawName, 'not-supported', `The value set '${url}' cannot be expanded by this server`);
    }
    // A ValueSet a client stored here (the terminology knows profiles/ and packages only).
    const filter: Filter = { 'idx.url': { $elemMatch: { v: url } }, ...(version !== undefined ? { 'idx.version': { $elemMatch: { c: version } } } : {}) };
    const found = await store.search({ resourceTypes: ['ValueSet'], filter, offset: 0, count: 2, withTotal: false });
    if (found.versions.length > 1) throw errors.searchTerminology(rawName, 'not-supported', `Several ValueSets stored here have the url '${url}'; name one with url|version or ValueSet/id`);
    const stored = found.versions[0];
    if (!stored?.resource) throw errors.searchTerminology(rawName, 'not-found', `The value set '${text}' is not known to this server`);
    return this.cachedExpansion(terminology, stored.id, stored.versionId, stored.resource as ValueSet, text, rawName);
  }

  /** `ValueSet/id` or `<this server>/ValueSet/id` → the id; other text is a canonical URL. */
  private storedReference(text: string, rawName: string): string | undefined {
    const own = `${this.baseUrl}/`;
    const relative = this.baseUrl && text.startsWith(own) ? text.slice(own.length) : text;
    if (!relative.startsWith('ValueSet/')) return undefined;
    const match = /^ValueSet\/([A-Za-z0-9\-.]{1,64})$/.exec(relative);
    if (!match) throw errors.invalidParameter(rawName, `'${text}' is not a ValueSet/id reference (a version-specific reference is not supported: use url|version)`);
    return match[1];
  }

  private async storedExpansion(terminology: TerminologyService, id: string, text: string, rawName: string, store: Pick<ResourceStore, 'search'>): Promise<Expansion> {
    const found = await store.search({ resourceTypes: ['ValueSet'], filter: { id }, offset: 0, count: 1, withTotal: false });
    const stored = found.versions[0];
    if (!stored?.resource) throw errors.searchTerminology(rawName, 'not-found', `The value set '${text}' is not stored on this server`);
    return this.cachedExpansion(terminology, id, stored.versionId, stored.resource as ValueSet, text, rawName);
  }

  private cachedExpansion(terminology: TerminologyService, id: string, versionId: number, vs: ValueSet, text: string, rawName: string): Expansion {
    const key = `${id}\u0000${versionId}`;
    let expansion = this.stored.get(key);
    if (!this.stored.has(key)) {
      expansion = terminology.expandResource(vs);
      if (this.stored.size >= STORED_CACHE_SIZE) this.stored.delete(this.stored.keys().next().value!);
      this.stored.set(key, expansion);
    }
    if (!expansion) throw errors.searchTerminology(rawName, 'not-supported', `The value set '${text}' has neither a compose nor an expansion this server can use`);
    return expansion;
  }
}
