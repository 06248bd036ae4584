// The browser half of the benchmark: the same adapters and sweep as Node.
// The storage variant runs in a worker (bench/browser-worker.js).
import * as tabvec from 'tabvec';
import { loadHnswlib } from 'hnswlib-wasm';
import { TABVEC_VARIANTS, hnswlibWasmAdapter, tabvecAdapter } from '/bench/adapters.mjs';
import { loadData, measureContender } from '/bench/browser-measure.js';

function inWorker(meta, name) {
  return new Promise((resolve, reject) => {
    const worker = new Worker('/bench/browser-worker.js', { type: 'module' });
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(new Error(`${name} in a worker: ${data.error}`));
      else resolve(data.records);
    };
    worker.onerror = (e) => reject(new Error(`${name} in a worker: ${e.message}`));
    worker.postMessage({ meta, name });
  });
}

window.runBenchmark = async (meta, contenders) => {
  const ds = await loadData(meta);
  const adapters = { 'hnswlib-wasm': hnswlibWasmAdapter(loadHnswlib) };
  for (const name of Object.keys(TABVEC_VARIANTS)) adapters[name] = tabvecAdapter(tabvec, name);
  const records = [];
  for (const name of contenders) {
    if (TABVEC_VARIANTS[name]?.rerank === 'storage') records.push(...await inWorker(meta, name));
    else records.push(...await measureContender(adapters[name], ds, meta, 'chromium'));
  }
  return records;
};
document.getElementById('status').textContent = 'ready';
