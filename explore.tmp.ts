import { loadBindings, checkRequiredBindings } from './src/fhir/bindings.js';
import { buildDemoBundle } from './scripts/seed/demo-bundle.js';
loadBindings();
const b = buildDemoBundle();
const res = b.entry!.map(e=>e.resource!);
const all = res.flatMap(r=>checkRequiredBindings(r));
console.log('demo issues', all);
for (const type of ['Patient','DocumentReference','Consent','Binary','Organization']) {
  const r = res.find(x=>x.resourceType===type)!;
  const N=20000; const t0=performance.now(); for (let i=0;i<N;i++) checkRequiredBindings(r); 
  console.log(type, JSON.stringify(r).length, 'bytes', ((performance.now()-t0)/N*1000).toFixed(2), 'µs');
}
const t0=performance.now(); for (let i=0;i<200;i++) for (const r of res) checkRequiredBindings(r); console.log('bundle', res.length, ((performance.now()-t0)/200).toFixed(3),'ms');
