// Memory of the npm package in Node: WebAssembly memory and store bytes for
// 0, 1, 10, 50, 1,000 and 100,000 vectors (128 dims, int8, cosine), JS heap
// growth per vector, and the gzip size of what a browser downloads.
//   node --expose-gc bench/memory.mjs
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { VectorStore } from '../dist/index.js';
import { randomVectors } from '../tests/fixtures/random.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const distJs = readdirSync(path.join(root, 'dist')).filter((f) => f.endsWith('.js') && !f.startsWith('worker'));
const jsBytes = distJs.reduce((sum, f) => sum + gz(path.join(root, 'dist', f)), 0);
console.log('gzip sizes (level 9):');
console.log(`  tabvec-simd.wasm ${gz(path.join(root, 'dist/wasm/tabvec-simd.wasm'))} B, tabvec.wasm ${gz(path.join(root, 'dist/wasm/tabvec.wasm'))} B`);
console.log(`  glue tabvec-simd.mjs ${gz(path.join(root, 'dist/wasm/tabvec-simd.mjs'))} B; wrapper JS (${distJs.length} files) ${jsBytes} B`);

const dim = 128;
const all = randomVectors(100000, dim, 1);
console.log('\nvectors  wasm memory   store reserved   store in use   reserved B/vector  (128 dims, int8)');
for (const n of [0, 1, 10, 50, 1000, 100000]) {
  // A fresh module per row would need a fresh process; instead report the
  // growth of the shared memory plus the store's own accounting.
  const store = await VectorStore.create({ dim, metric: 'cosine' });
  const before = store.stats().wasmMemoryBytes;
  if (n > 0) store.addMany(Array.from({ length: n }, (_, i) => String(i)), all.subarray(0, n * dim));
  const s = store.stats();
  const perVector = n ? (s.memory.total.reserved / n).toFixed(0) : '-';
  console.log(`${String(n).padStart(7)}  ${String(s.wasmMemoryBytes).padStart(11)}   ${String(s.memory.total.reserved).padStart(14)}   ${String(s.memory.total.used).padStart(12)}   ${String(perVector).padStart(17)}   (memory grew ${s.wasmMemoryBytes - before} B)`);
  store.dispose();
}

if (typeof globalThis.gc === 'function') {
  const n = 50000;
  const ids = Array.from({ length: n }, (_, i) => `id-${i}`);
  const meta = Array.from({ length: n }, (_, i) => ({ i }));
  const store = await VectorStore.create({ dim, metric: 'cosine' });
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  store.addMany(ids, all.subarray(0, n * dim), meta);
  globalThis.gc();
  console.log(`\nJS heap growth while storing ${n} vectors with ids and metadata: ${((process.memoryUsage().heapUsed - before) / n).toFixed(2)} B/vector`);
  store.dispose();
} else {
  console.log('\n(run with node --expose-gc to measure JS heap growth per vector)');
}
