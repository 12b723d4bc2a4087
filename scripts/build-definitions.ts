/**
 * Derives the compact FHIR R4 artefacts the server loads at start-up from HL7's
 * own package `hl7.fhir.r4.examples@4.0.1` (CC0): the element tree of every base
 * type (from the StructureDefinition snapshots) and every base SearchParameter.
 *
 * The full package is ~190 MB; the server needs ~2 MB of it. Running this at
 * build time keeps the runtime free of the package and start-up fast. The output
 * is committed (src/fhir/definitions/*.json) and a unit test checks it is what
 * this script produces, so it can never drift from the official definitions.
 *
 * Usage: npm run build:definitions
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ElementDefinition, TypeDefinition } from '../src/fhir/definitions.js';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'fhir', 'definitions');

const FHIR_TYPE_EXT = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';
const REGEX_EXT = 'http://hl7.org/fhir/StructureDefinition/regex';

interface ElementTypeJson {
  code: string;
  extension?: Array<{ url: string; valueUrl?: string; valueString?: string }>;
  targetProfile?: string[];
}
interface ElementJson {
  path: string;
  min?: number;
  max?: string;
  type?: ElementTypeJson[];
  contentReference?: string;
  isSummary?: boolean;
  isModifier?: boolean;
}

/** The artefacts' shapes are the ones the server reads them as (src/fhir/definitions.ts). */
type CompactElement = ElementDefinition;
type CompactType = TypeDefinition;

function systemTypeToFhir(t: ElementTypeJson): string {
  if (!t.code.startsWith('http://hl7.org/fhirpath/System.')) return t.code;
  const fhirType = t.extension?.find((e) => e.url === FHIR_TYPE_EXT)?.valueUrl;
  return fhirType ?? 'string';
}

function jsonTypeOf(name: string): 'string' | 'number' | 'boolean' {
  if (name === 'boolean') return 'boolean';
  if (['integer', 'unsignedInt', 'positiveInt', 'decimal'].includes(name)) return 'number';
  return 'string';
}

/** The examples of the SearchParameter resource page (http://hl7.org/fhir/R4/searchparameter-examples.html). */
export function isExampleSearchParameter(sp: { id?: string }): boolean {
  return /^example(-|$)/.test(sp.id ?? '');
}

export function buildDefinitions(): { types: Record<string, CompactType>; resourceTypes: string[]; searchParameters: unknown[] } {
  const files = readdirSync(packageDir);
  const types: Record<string, CompactType> = {};
  for (const file of files.filter((f) => f.startsWith('StructureDefinition-')).sort()) {
    const sd = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
    if (sd.derivation !== 'specialization' && sd.type !== 'Element' && sd.type !== 'Resource') continue;
    if (sd.kind === 'logical') continue;
    const entry: CompactType = { kind: sd.kind };
    if (sd.abstract) entry.abstract = true;
    if (sd.baseDefinition) entry.base = String(sd.baseDefinition).split('/').pop();
    if (sd.kind === 'primitive-type') {
      entry.json = jsonTypeOf(sd.type);
      const valueElement: ElementJson | undefined = sd.snapshot.element.find((e: ElementJson) => e.path === `${sd.type}.value`);
      const regex = valueElement?.type?.[0]?.extension?.find((e) => e.url === REGEX_EXT)?.valueString;
      if (regex) entry.regex = regex;
    } else {
      const elements: Record<string, CompactElement> = {};
      for (const el of sd.snapshot.element as ElementJson[]) {
        if (!el.path.includes('.')) continue;
        const compact: CompactElement = { min: el.min ?? 0, max: el.max ?? '*' };
        if (el.contentReference) {
          compact.ref = el.contentReference.replace(/^#/, '');
        } else if (el.type) {
          compact.types = [...new Set(el.type.map(systemTypeToFhir))];
          const targets = el.type.flatMap((t) => t.targetProfile ?? []).map((p) => p.split('/').pop()!);
          if (targets.length > 0 && !targets.includes('Resource')) compact.targets = [...new Set(targets)];
        }
        if (el.isSummary) compact.summary = true;
        if (el.isModifier) compact.modifier = true;
        elements[el.path] = compact;
      }
      entry.elements = elements;
    }
    types[sd.type] = entry;
  }
  const resourceTypes = Object.entries(types)
    .filter(([, t]) => t.kind === 'resource' && !t.abstract)
    .map(([name]) => name)
    .sort();

  const searchParameters = files
    .filter((f) => f.startsWith('SearchParameter-'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(packageDir, f), 'utf8')))
    .filter((sp) => Array.isArray(sp.base) && sp.base.length > 0 && sp.code)
    // The package also holds the SearchParameter resource's own *examples* (ids example,
    // example-reference, example-extension): they are not definitions of the specification and
    // would shadow real ones (example-reference redefines Condition `subject` with Organization
    // as its only target, so Condition?subject=Patient/x found nothing).
    .filter((sp) => !isExampleSearchParameter(sp))
    .map((sp) => ({
      url: sp.url,
      code: sp.code,
      base: sp.base,
      type: sp.type,
      expression: sp.expression,
      target: sp.target,
      component: sp.component?.map((c: { definition: string; expression: string }) => ({ definition: c.definition, expression: c.expression })),
      multipleOr: sp.multipleOr,
      multipleAnd: sp.multipleAnd,
      modifier: sp.modifier,
      comparator: sp.comparator,
    }));
  return { types, resourceTypes, searchParameters };
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const { types, resourceTypes, searchParameters } = buildDefinitions();
  writeFileSync(join(outDir, 'r4-types.json'), JSON.stringify({ fhirVersion: '4.0.1', resourceTypes, types }) + '\n');
  writeFileSync(join(outDir, 'r4-search-parameters.json'), JSON.stringify(searchParameters) + '\n');
  console.log(`wrote ${Object.keys(types).length} types (${resourceTypes.length} resources), ${searchParameters.length} search parameters`);
}
