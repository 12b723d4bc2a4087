import { readdirSync, readFileSync } from 'node:fs';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { StructureValidator } from '../src/validation/structure-validator.js';
const defs = loadDefinitions();
const v = new StructureValidator(defs);
const dir = 'node_modules/hl7.fhir.r4.examples';
let bad = 0, total = 0; const t = Date.now(); const msgs = new Map<string, number>();
for (const f of readdirSync(dir)) {
  if (!f.endsWith('.json') || f === 'package.json' || f.startsWith('.')) continue;
  const r = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'));
  if (!r.resourceType) continue;
  total++;
  const issues = v.validate(r);
  if (issues.length) { bad++; if (bad < 15) console.log(f, JSON.stringify(issues.slice(0, 2))); for (const i of issues) msgs.set(i.diagnostics.slice(0,50), (msgs.get(i.diagnostics.slice(0,50))??0)+1); }
}
console.log(total, bad, Date.now() - t, 'ms');
console.log([...msgs].sort((a,b)=>b[1]-a[1]).slice(0,15));
