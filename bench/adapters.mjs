// One adapter per contender, the same shape for all, using each library's
// documented API and recommended parameters (HNSW: M=16, efConstruction=200).
// tabvec and hnswlib-wasm use no Node API here, so the browser page runs them too.
//
//   supports(ds)          true, or a string saying why the library cannot run it
//   build(ds)             -> state (timed by the caller)
//   breadths              the search-breadth sweep (name + values); [null] if none
//   search(state, q, k, b) -> array of base row numbers, closest first
//   wasmMemory(state)     bytes of the library's WebAssembly memory, or null
//   serialize / load      optional
//   storedBytes(state)    optional: bytes it keeps in storage (a live store's files)
//   free(state)

export const HNSW = { M: 16, efConstruction: 200 };
const SWEEP = [10, 16, 24, 32, 48, 64, 100, 160, 256];

// tabvec's variants, each a contender of its own: the default (int8 codes),
// full float32 vectors, int8 codes with each in-memory re-ranking tier, and
// int8 codes with the exact vectors in storage (a LiveStore: a file in Node,
// OPFS from a worker in Chromium).
export const TABVEC_VARIANTS = {
  tabvec: {},
  'tabvec-f32': { storage: 'float32' },
  'tabvec-rerank-f16': { rerank: 'float16' },
  'tabvec-rerank-f32': { rerank: 'float32' },
  'tabvec-rerank-storage': { rerank: 'storage' },
};


/**
 * `storage` (the storage variant only): where its live store goes:
 * { target(): a fresh StorageTarget, bytes(target): its files' bytes, remove(target) }.
 */
export function tabvecAdapter(tabvec, name = 'tabvec', storage = undefined) {
  const options = TABVEC_VARIANTS[name];
  if (!options) throw new Error(`no tabvec variant ${name}; the variants are ${Object.keys(TABVEC_VARIANTS).join(', ')}`);
  if (options.rerank === 'storage') return liveAdapter(tabvec, name, options, storage);
  return {
    name,
    breadth: 'L',
    breadths: SWEEP,
    supports: () => true,
    async build(ds) {
      const store = await tabvec.VectorStore.create({ dim: ds.dim, metric: ds.metric, ...options });
      store.addMany(Array.from({ length: ds.nb }, (_, i) => String(i)), ds.base);
      store.flush();
      return store;
    },
    search: (store, q, k, L) => store.search(q, { k, listSize: L }).map((h) => Number(h.id)),
    wasmMemory: (store) => store.stats().wasmMemoryBytes,
    indexBytes: (store) => store.stats().memory.total.reserved,
    serialize: (store) => store.serialize(),
    load: (bytes) => tabvec.VectorStore.deserialize(bytes),
    free: (store) => store.dispose(),
  };
}

function liveAdapter(tabvec, name, options, storage) {
  return {
    name,
    breadth: 'L',
    breadths: SWEEP,
    supports: () => storage ? true : 'needs storage read synchronously (Node, or a worker in Chromium)',
    async build(ds) {
      const target = storage.target();
      const live = await tabvec.LiveStore.open(target, { create: { dim: ds.dim, metric: ds.metric, ...options }, durability: 'relaxed' });
      // One addMany, one journal record (up to 1 GiB): the same bulk build as the in-memory variants.
      await live.addMany(Array.from({ length: ds.nb }, (_, i) => String(i)), ds.base);
      await live.checkpoint();
      return { live, target };
    },
    search: (state, q, k, L) => state.live.search(q, { k, listSize: L }).map((h) => Number(h.id)),
    wasmMemory: (state) => state.live.stats().wasmMemoryBytes,
    indexBytes: (state) => state.live.stats().memory.total.reserved,
    storedBytes: (state) => storage.bytes(state.target),
    free: (state) => state.live.close().then(() => storage.remove(state.target)),
  };
}

export function hnswlibWasmAdapter(loadHnswlib) {
  let lib;
  return {
    name: 'hnswlib-wasm',
    breadth: 'ef',
    breadths: SWEEP,
    supports: () => true,
    async build(ds) {
      lib ??= await loadHnswlib();
      const index = new lib.HierarchicalNSW(ds.metric === 'l2' ? 'l2' : 'cosine', ds.dim, '');
      index.initIndex(ds.nb, HNSW.M, HNSW.efConstruction, 100);
      // addPoints takes an array of vectors; batches bound the JS-side copies.
      const batch = 2000;
      for (let start = 0; start < ds.nb; start += batch) {
        const end = Math.min(ds.nb, start + batch);
        const vectors = [];
        const labels = [];
        for (let i = start; i < end; i++) {
          vectors.push(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim));
          labels.push(i);
        }
        index.addPoints(vectors, labels, false);
      }
      return index;
    },
    search(index, q, k, ef) {
      index.setEfSearch(ef);
      return Array.from(index.searchKnn(q, k, undefined).neighbors);
    },
    wasmMemory: () => lib.HEAPU8.buffer.byteLength,
    indexBytes: () => null,
    free: (index) => index.delete?.(),
  };
}

function recallOf(found, truth, q) {
  const want = new Set(truth.data.subarray(q * truth.dim, q * truth.dim + 10));
  let hits = 0;
  for (let i = 0; i < Math.min(10, found.length); i++) if (want.has(found[i])) hits++;
  return hits / 10;
}

// Passes over the query set per setting: at least one, more until this much
// time has gone (at most MAX_PASSES). QPS is the fastest pass's: a pass of 200
// queries takes 20-40 ms at the QPS these sets reach, and one collection pause
// or scheduler hiccup in it moved single-pass figures by up to 2x.
const MIN_SWEEP_SECONDS = 0.5;
const MAX_PASSES = 5;

/**
 * Runs every query per breadth setting (after a short warm-up), one at a time,
 * in passes over the set (see MIN_SWEEP_SECONDS), and returns one row per
 * setting: recall of the first pass, QPS of the fastest, latency percentiles
 * over all. Shared by the Node and browser runs.
 */
export async function sweep(adapter, state, ds, breadths) {
  const rows = [];
  for (const breadth of breadths) {
    if (adapter.rebuildFor) state = adapter.rebuildFor(state, breadth);
    const query = (q) => ds.queries.subarray(q * ds.dim, (q + 1) * ds.dim);
    for (let q = 0; q < Math.min(20, ds.nq); q++) await adapter.search(state, query(q), 10, breadth);
    const latencies = [];
    let total = 0;
    let fastest = Infinity;
    const sweepStarted = performance.now();
    for (let pass = 0; pass < MAX_PASSES && (pass === 0 || performance.now() - sweepStarted < MIN_SWEEP_SECONDS * 1000); pass++) {
      const started = performance.now();
      for (let q = 0; q < ds.nq; q++) {
        const tq = performance.now();
        const found = await adapter.search(state, query(q), 10, breadth);
        latencies.push((performance.now() - tq) * 1000);
        if (pass === 0) total += recallOf(found, ds.truth, q);
      }
      fastest = Math.min(fastest, (performance.now() - started) / 1000);
    }
    latencies.sort((a, b) => a - b);
    rows.push({
      setting: adapter.breadth ? { [adapter.breadth]: breadth } : {},
      recall_at_10: total / ds.nq,
      qps: ds.nq / fastest,
      p50_us: latencies[Math.floor(latencies.length / 2)],
      p99_us: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
    });
  }
  return { rows, state };
}
