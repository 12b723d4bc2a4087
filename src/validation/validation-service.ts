/**
 * The validation entry point used by writes and by $validate: base structure
 * (structure-validator.ts), then base R4 rules and every applicable profile
 * (profile-validator.ts). Which profiles apply:
 *  - those claimed in meta.profile that this server knows (unknown claims are
 *    reported as information, never rejected: a client may claim a profile of a
 *    guide the network did not load);
 *  - for the network's resource types, the network profile of that type
 *    (`https://relais-sante.fr/fhir/StructureDefinition/relais-<type>`) even
 *    without a claim, when enforcement is "network".
 */
import { readFileSync } from 'node:fs';
import type { StructureDefinition } from 'fhir/r4';
import type { ConformanceRegistry } from '../conformance/conformance-registry.js';
import type { FhirDefinitions } from '../fhir/definitions.js';
import type { Issue } from '../errors.js';
import { bySeverity } from '../fhir/operation-outcome.js';
import { bundleIssues } from './bundle-rules.js';
import { conformanceIssues } from './conformance-rules.js';
import { ProfileValidator, type BaseRules } from './profile-validator.js';
import type { StructureValidator } from './structure-validator.js';
import { TerminologyService, type BaseCodeSystems, type BaseValueSets } from './terminology.js';

export const NETWORK_BASE = 'https://relais-sante.fr/fhir';

/** off: structure only; claimed: + profiles in meta.profile; network: + the network profile of each network resource type. */
export type ValidationEnforcement = 'off' | 'claimed' | 'network';

/**
 * An extension without a definition the server holds: `network-error` (default) refuses it on
 * the resource types the network profiles (Patient, Encounter, CarePlan...: an integrator
 * sending one there has a mapping error the network must see) and reports it as information
 * elsewhere; `error` refuses it everywhere (the HL7 validator's behaviour); `information`
 * never refuses it.
 */
export type UnknownExtensionPolicy = 'network-error' | 'error' | 'information';

let cachedRules: (BaseRules & { valueSets: BaseValueSets }) | undefined;
function baseRules(): BaseRules & { valueSets: BaseValueSets } {
  cachedRules ??= JSON.parse(readFileSync(new URL('./definitions/r4-rules.json', import.meta.url), 'utf8'));
  return cachedRules!;
}

let cachedCodeSystems: BaseCodeSystems | undefined;
function baseCodeSystems(): BaseCodeSystems {
  cachedCodeSystems ??= JSON.parse(readFileSync(new URL('./definitions/r4-codesystems.json', import.meta.url), 'utf8'));
  return cachedCodeSystems!;
}

export class ValidationService {
  readonly terminology: TerminologyService;
  readonly profiles: ProfileValidator;
  private readonly networkProfileByType = new Map<string, string>();
  private supported?: Map<string, string[]>;
  /** Set by collect(): the rules beyond the structure only run on a structurally valid resource (validation is synchronous). */
  private lastStructureFailed = false;

  constructor(
    private readonly definitions: FhirDefinitions,
    private readonly structure: StructureValidator,
    readonly registry: ConformanceRegistry,
    readonly enforcement: ValidationEnforcement = 'network',
    options: { unknownExtensions?: UnknownExtensionPolicy } = {},
  ) {
    const rules = baseRules();
    this.terminology = new TerminologyService(registry, rules.valueSets, baseCodeSystems());
    const policy = options.unknownExtensions ?? 'network-error';
    this.profiles = new ProfileValidator(definitions, registry, this.terminology, rules, (resourceType) =>
      policy === 'error' || (policy === 'network-error' && this.networkProfileByType.has(resourceType)) ? 'error' : 'information',
    );
    for (const sd of registry.ofType<StructureDefinition>('StructureDefinition', (s) => s === 'network')) {
      if (sd.kind === 'resource' && sd.derivation === 'constraint' && sd.id === `relais-${sd.type.toLowerCase()}`) this.networkProfileByType.set(sd.type, sd.url);
    }
  }

  /** The default network profile of a resource type, if the network has one. */
  networkProfileFor(resourceType: string): string | undefined {
    return this.networkProfileByType.get(resourceType);
  }

  /** Every network profile by resource type (for the CapabilityStatement's supportedProfile). */
  supportedProfiles(): Map<string, string[]> {
    if (this.supported) return this.supported;
    const out = new Map<string, string[]>();
    this.supported = out;
    for (const sd of this.registry.ofType<StructureDefinition>('StructureDefinition')) {
      if (sd.kind !== 'resource' || sd.derivation !== 'constraint') continue;
      out.set(sd.type, [...(out.get(sd.type) ?? []), sd.url]);
    }
    return out;
  }

  /**
   * Full validation. `profiles` (from $validate's `profile` parameter) replaces
   * the automatic choice; base rules always apply.
   */
  validate(resource: unknown, options: { profiles?: string[]; enforcement?: ValidationEnforcement; structureChecked?: boolean } = {}): Issue[] {
    const issues = this.collect(resource, options);
    const enforcement = options.enforcement ?? this.enforcement;
    const json = resource as { resourceType?: unknown };
    if ((enforcement !== 'off' || options.profiles) && !this.lastStructureFailed && typeof json?.resourceType === 'string') {
      if (json.resourceType === 'Bundle') {
        const bundle = resource as { entry?: Array<{ resource?: Record<string, unknown> }> } & Record<string, unknown>;
        issues.push(...bundleIssues(bundle, (t) => this.definitions.isResourceType(t)));
        (Array.isArray(bundle.entry) ? bundle.entry : []).forEach((entry, i) => {
          if (entry?.resource && typeof entry.resource === 'object') {
            for (const issue of conformanceIssues(entry.resource)) issues.push({ ...issue, expression: issue.expression?.map((e) => `Bundle.entry[${i}].resource${e.slice(e.indexOf('.') < 0 ? e.length : e.indexOf('.'))}`) });
          }
        });
      }
      issues.push(...conformanceIssues(resource as Record<string, unknown>));
    }
    return bySeverity(issues);
  }

  private collect(resource: unknown, options: { profiles?: string[]; enforcement?: ValidationEnforcement; structureChecked?: boolean }): Issue[] {
    const structural = options.structureChecked ? [] : this.structure.validate(resource);
    this.lastStructureFailed = structural.some((i) => i.severity === 'error' || i.severity === 'fatal');
    if (this.lastStructureFailed) return structural;
    const json = resource as { resourceType: string; meta?: { profile?: unknown } } & Record<string, never>;
    const enforcement = options.enforcement ?? this.enforcement;
    const issues: Issue[] = [...structural];
    let profiles: string[] = [];
    if (options.profiles) profiles = options.profiles;
    else if (enforcement !== 'off') {
      const claimed = Array.isArray(json.meta?.profile) ? (json.meta!.profile as unknown[]).filter((p): p is string => typeof p === 'string') : [];
      for (const url of claimed) {
        if (this.profiles.profile(url)) profiles.push(url);
        else issues.push({ severity: 'information', code: 'not-supported', diagnostics: `Profile ${url} claimed in meta.profile is not known to this server and was not checked`, expression: [`${json.resourceType}.meta.profile`] });
      }
      const network = enforcement === 'network' ? this.networkProfileFor(json.resourceType) : undefined;
      if (network && !profiles.includes(network) && !profiles.some((p) => this.derivesFrom(p, network))) profiles.push(network);
    }
    if (profiles.length === 0) {
      if (enforcement !== 'off' || options.profiles) issues.push(...this.profiles.validateBase(json));
      return issues;
    }
    for (const url of profiles) issues.push(...this.profiles.validate(json, url));
    return dedupe(issues);
  }

  /** Whether a profile is (transitively) derived from another, so validating against it covers the other. */
  private derivesFrom(url: string, ancestor: string): boolean {
    let current = this.registry.get<StructureDefinition>(url);
    for (let depth = 0; current && depth < 10; depth++) {
      const base = current.baseDefinition?.split('|')[0];
      if (base === ancestor) return true;
      current = base ? this.registry.get<StructureDefinition>(base) : undefined;
    }
    return false;
  }
}

/** Base invariants are checked once per profile walk: keep one copy of identical issues. */
function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.diagnostics}|${(i.expression ?? []).join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
