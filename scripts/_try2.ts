import { readFileSync } from 'node:fs';
import { loadDefinitions } from '../src/fhir/definitions.js';
import { SearchParameterRegistry } from '../src/search/search-parameters.js';
import { IndexExtractor } from '../src/search/index-extractor.js';
const d = loadDefinitions();
const reg = new SearchParameterRegistry(d.searchParameters, d.resourceTypes);
const x = new IndexExtractor(reg);
for (const f of ['Patient-example.json','Observation-example.json','Encounter-example.json','CarePlan-example.json']) {
  const r = JSON.parse(readFileSync('node_modules/hl7.fhir.r4.examples/'+f,'utf8'));
  let t=Date.now(); const e = x.extract(r); const t1=Date.now()-t; t=Date.now(); for(let i=0;i<200;i++) x.extract(r); console.log(f, t1, (Date.now()-t)/200, 'ms'); console.log(JSON.stringify(e).slice(0,900));
}
