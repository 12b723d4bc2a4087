/**
 * Derives from HL7's R4 package (devDependency hl7.fhir.r4.examples) the base
 * rules the runtime validator needs beyond the element tree of
 * src/fhir/definitions: every FHIRPath invariant (dom-*, per-1, ref-1, ...) by
 * element path, every `required` binding by element path, and the codes of the
 * ValueSets those bindings name (expanded here, from the package's own
 * CodeSystems, so the server never loads the 190 MB package).
 *
 * ele-1 and ext-1 are left out on purpose: the validator checks them natively
 * (an empty element; an extension with both a value and sub-extensions) because
 * evaluating them through FHIRPath at every node would cost more than the rest
 * of the validation together.
 *
 * Usage: npx tsx scripts/build-r4-rules.ts
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const packageDir = dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
const outFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'validation', 'definitions', 'r4-rules.json');

interface Constraint { key: string; severity: 'error' | 'warning'; human: string; expression?: string }
const NATIVE = new Set(['ele-1', 'ext-1']);
/** Invariants fhirpath.js cannot evaluate in R4 (htmlChecks is a validator-only function); txt-1/txt-2 are checked natively by src/validation/narrative.ts. */
const UNSUPPORTED = new Set(['txt-1', 'txt-2']);

/**
 * fhirpath.js builds `matches()` regexes in JavaScript's unicode mode, where an escape before a
 * character that needs none (`\@`, `\:`, `\'`) and a lone `]` are syntax errors; eld-16, eld-19
 * and eld-20 have them, so they could never be evaluated. The same patterns, without those.
 */
function unicodeSafe(expression: string): string {
  if (!expression.includes('matches(')) return expression;
  return expression
    .replace(/\\\\([@:])/g, '$1')
    .replace(/\\\\\\'/g, "\\'")
    .replace(/\(\\\\\[x\]\)/g, '(\\\\[x\\\\])');
}

const constraints: Record<string, Constraint[]> = {};
const bindings: Record<string, string> = {};
const files = readdirSync(packageDir).filter((f) => f.endsWith('.json'));

for (const file of files.filter((f) => f.startsWith('StructureDefinition-'))) {
  const sd = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
  if (sd.derivation !== 'specialization' || !sd.snapshot || sd.kind === 'logical') continue;
  for (const element of sd.snapshot.element) {
    const own = (element.constraint ?? []).filter((c: Constraint & { source?: string }) => !NATIVE.has(c.key) && !UNSUPPORTED.has(c.key) && c.expression);
    // A resource's children repeat the datatype's own invariants only through ele-1; datatype invariants are keyed by the datatype.
    if (own.length > 0) constraints[element.path] = own.map((c: Constraint) => ({ key: c.key, severity: c.severity, human: c.human, expression: unicodeSafe(c.expression!) }));
    const binding = element.binding;
    if (binding?.strength === 'required' && binding.valueSet) bindings[element.path] = binding.valueSet.split('|')[0];
  }
}

// Expand the ValueSets named by required bindings, where the package has everything needed.
const codeSystems = new Map<string, string[]>();
const valueSetsByUrl = new Map<string, any>();
function collectCodes(concepts: any[] | undefined, into: string[]): void {
  for (const c of concepts ?? []) {
    into.push(c.code);
    collectCodes(c.concept, into);
  }
}
for (const file of files) {
  if (file.startsWith('CodeSystem-')) {
    const cs = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
    if (cs.content === 'complete') {
      const codes: string[] = [];
      collectCodes(cs.concept, codes);
      codeSystems.set(cs.url, codes);
    }
  } else if (file.startsWith('ValueSet-')) {
    const vs = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
    valueSetsByUrl.set(vs.url, vs);
  }
}
const valueSets: Record<string, Record<string, string[]>> = {};
for (const url of new Set(Object.values(bindings))) {
  const vs = valueSetsByUrl.get(url);
  if (!vs?.compose || vs.compose.exclude) continue;
  const expansion: Record<string, string[]> = {};
  let complete = true;
  for (const include of vs.compose.include) {
    if (include.filter || include.valueSet || !include.system) { complete = false; break; }
    const codes = include.concept ? include.concept.map((c: { code: string }) => c.code) : codeSystems.get(include.system);
    if (!codes) { complete = false; break; }
    expansion[include.system] = [...(expansion[include.system] ?? []), ...codes];
  }
  if (complete) valueSets[url] = expansion;
}

// The R4 core extensions (patient-birthPlace, workflow-episodeOfCare...): where each may be used,
// the types its value may take, and for complex ones their sub-extensions, so that the validator
// checks them like the reference does without loading their full snapshots.
interface CoreExtension { context: Array<{ type: string; expression: string }>; types: string[]; children?: Record<string, { min: number; max: string; types: string[] }> }
const extensions: Record<string, CoreExtension> = {};
const valueTypes = (elements: Array<{ id?: string; path: string; max?: string; type?: Array<{ code: string }> }>, valueId: string) => {
  const value = elements.find((e) => (e.id ?? e.path) === valueId);
  return value && value.max !== '0' ? (value.type ?? []).map((t) => t.code) : [];
};
for (const file of files.filter((f) => f.startsWith('StructureDefinition-'))) {
  const sd = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
  if (sd.type !== 'Extension' || sd.derivation !== 'constraint' || !sd.snapshot || !String(sd.url).startsWith('http://hl7.org/fhir/StructureDefinition/')) continue;
  const elements = sd.snapshot.element;
  const entry: CoreExtension = { context: (sd.context ?? []).map((c: { type: string; expression: string }) => ({ type: c.type, expression: c.expression })), types: valueTypes(elements, 'Extension.value[x]') };
  for (const slice of elements.filter((e: { id?: string; sliceName?: string }) => /^Extension\.extension:[^.]+$/.test(e.id ?? '') && e.sliceName)) {
    const url = elements.find((e: { id?: string }) => e.id === `${slice.id}.url`)?.fixedUri ?? slice.sliceName;
    entry.children ??= {};
    entry.children[url] = { min: slice.min ?? 0, max: slice.max ?? '*', types: valueTypes(elements, `${slice.id}.value[x]`) };
  }
  extensions[sd.url] = entry;
}

writeFileSync(outFile, JSON.stringify({ fhirVersion: '4.0.1', constraints, bindings, valueSets, extensions }) + '\n');

// The codes and displays of every complete CodeSystem of R4 (FHIR's own and the terminology.hl7.org
// ones the package carries): a Coding of one of these systems must name one of its codes.
const codeSystemsOut: Record<string, { caseSensitive: boolean; codes: Record<string, string> }> = {};
const collectDisplays = (concepts: any[] | undefined, into: Record<string, string>): void => {
  for (const c of concepts ?? []) {
    into[c.code] = c.display ?? '';
    collectDisplays(c.concept, into);
  }
};
for (const file of files.filter((f) => f.startsWith('CodeSystem-')).sort()) {
  const cs = JSON.parse(readFileSync(join(packageDir, file), 'utf8'));
  if (cs.content !== 'complete' || !cs.concept?.length) continue;
  const codes: Record<string, string> = {};
  collectDisplays(cs.concept, codes);
  codeSystemsOut[cs.url] = { caseSensitive: cs.caseSensitive !== false, codes };
}
writeFileSync(join(dirname(outFile), 'r4-codesystems.json'), JSON.stringify(codeSystemsOut) + '\n');
console.log(`${Object.keys(codeSystemsOut).length} complete CodeSystems; ${Object.keys(constraints).length} paths with invariants, ${Object.keys(bindings).length} required bindings, ${Object.keys(valueSets).length} ValueSets expanded, ${Object.keys(extensions).length} core extensions → ${outFile}`);
