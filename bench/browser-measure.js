// Measures one contender in the browser (a page, or a worker for the storage
// variant): build, memory, serialize/load where it has them, then the sweep.
import { sweep } from '/bench/adapters.mjs';

async function fetchArray(url, Type) {
  return new Type(await (await fetch(url)).arrayBuffer());
}

export async function loadData(meta) {
  return {
    ...meta,
    base: await fetchArray(`/build/bench-data/${meta.name}.base.bin`, Float32Array),
    queries: await fetchArray(`/build/bench-data/${meta.name}.queries.bin`, Float32Array),
    truth: { rows: meta.nq, dim: 10, data: await fetchArray(`/build/bench-data/${meta.name}.truth.bin`, Int32Array) },
  };
}

export async function measureContender(adapter, ds, meta, environment) {
  globalThis.gc?.();
  const heap0 = performance.memory?.usedJSHeapSize ?? null;
  const t0 = performance.now();
  const state = await adapter.build(ds);
  const buildSeconds = (performance.now() - t0) / 1000;
  globalThis.gc?.();
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
    contender: adapter.name, dataset: meta.name, environment, n: meta.nb, dim: meta.dim, metric: meta.metric, queries: meta.nq,
    build_s: buildSeconds, build_vps: meta.nb / buildSeconds, wasm_memory_bytes: wasm,
    index_bytes: adapter.indexBytes(state), js_heap_bytes: heap0 === null ? null : performance.memory.usedJSHeapSize - heap0,
    rss_bytes: null, bytes_per_vector: wasm / meta.nb, serialized_bytes: serialized,
    stored_bytes: (await adapter.storedBytes?.(state)) ?? null, load_ms: loadMs,
  };
  const { rows, state: last } = await sweep(adapter, state, ds, meta.smoke ? adapter.breadths.slice(0, 2) : adapter.breadths);
  await adapter.free(last);
  return rows.map((row) => ({ ...common, ...row }));
}
