// What a storage tier (rerank 'storage') costs a LiveStore in Node, against none:
// add latency under strict durability (a second file to sync per commit) and
// search latency (a read per candidate row). Prints figures; asserts nothing.
//   node bench/rows-latency.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LiveStore } from '../dist/index.js';
const dir = mkdtempSync(join(tmpdir(), 'addlat-'));
const dim = 384;
for (const rerank of ['none', 'storage', 'none', 'storage']) {
  const live = await LiveStore.open({ file: join(dir, `${rerank}-${Math.random()}.tabvec`) }, { create: { dim, metric: 'cosine', rerank } });
  const v = new Float32Array(dim).map(() => Math.random() - 0.5);
  const seed = [];
  for (let i = 0; i < 2000; i++) seed.push(`s${i}`);
  await live.addMany(seed, Float32Array.from({ length: 2000 * dim }, () => Math.random() - 0.5));
  const t = [];
  for (let i = 0; i < 200; i++) { v[i % dim] += 0.01; const s = performance.now(); await live.add(`a${i}`, v); t.push(performance.now() - s); }
  t.sort((a, b) => a - b);
  const q = [];
  for (let i = 0; i < 300; i++) { const s = performance.now(); live.search(v, { k: 10 }); q.push(performance.now() - s); }
  q.sort((a, b) => a - b);
  console.log(`${rerank.padEnd(8)} add strict p50 ${t[100].toFixed(2)} ms p90 ${t[180].toFixed(2)}; search p50 ${(q[150] * 1000).toFixed(0)} us`);
  await live.close();
}
rmSync(dir, { recursive: true, force: true });
