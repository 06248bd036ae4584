// The browser half of the benchmark: the same adapters and sweep as Node.
import * as tabvec from 'tabvec';
import { loadHnswlib } from 'hnswlib-wasm';
import { TABVEC_VARIANTS, hnswlibWasmAdapter, sweep, tabvecAdapter } from '/bench/adapters.mjs';

async function fetchArray(url, Type) {
  return new Type(await (await fetch(url)).arrayBuffer());
}

window.runBenchmark = async (meta, contenders) => {
  const ds = {
    ...meta,
    base: await fetchArray(`/build/bench-data/${meta.name}.base.bin`, Float32Array),
    queries: await fetchArray(`/build/bench-data/${meta.name}.queries.bin`, Float32Array),
    truth: { rows: meta.nq, dim: 10, data: await fetchArray(`/build/bench-data/${meta.name}.truth.bin`, Int32Array) },
  };
  const adapters = { 'hnswlib-wasm': hnswlibWasmAdapter(loadHnswlib) };
  for (const name of Object.keys(TABVEC_VARIANTS)) adapters[name] = tabvecAdapter(tabvec, name);
  const records = [];
  for (const name of contenders) {
    const adapter = adapters[name];
    window.gc?.();
    const heap0 = performance.memory?.usedJSHeapSize ?? null;
    const t0 = performance.now();
    const state = await adapter.build(ds);
    const buildSeconds = (performance.now() - t0) / 1000;
    window.gc?.();
    const wasm = adapter.wasmMemory(state);
    let serialized = null;
    let loadMs = null;
    if (adapter.serialize) {
      const bytes = await adapter.serialize(state);
      serialized = bytes.byteLength;
      const tl = performance.now();
      adapter.free(await adapter.load(bytes));
      loadMs = performance.now() - tl;
    }
    const common = {
      contender: name, dataset: meta.name, environment: 'chromium', n: meta.nb, dim: meta.dim, metric: meta.metric, queries: meta.nq,
      build_s: buildSeconds, build_vps: meta.nb / buildSeconds, wasm_memory_bytes: wasm,
      index_bytes: adapter.indexBytes(state), js_heap_bytes: heap0 === null ? null : performance.memory.usedJSHeapSize - heap0,
      rss_bytes: null, bytes_per_vector: wasm / meta.nb, serialized_bytes: serialized, load_ms: loadMs,
    };
    const { rows, state: last } = await sweep(adapter, state, ds, meta.smoke ? adapter.breadths.slice(0, 2) : adapter.breadths);
    for (const row of rows) records.push({ ...common, ...row });
    adapter.free(last);
  }
  return records;
};
document.getElementById('status').textContent = 'ready';
