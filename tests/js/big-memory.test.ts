// Past 2 GiB of WebAssembly memory in Node. Stores share one module per
// flavor, so once other stores have pushed it past 2^31 bytes, a new store's
// vectors, ids, metadata and result records live at addresses >= 2^31, where
// a pointer read as a signed 32-bit int turns negative. Every operation on
// such a store must give the same results as on a copy, and a store created
// before the growth must still serialize to its original bytes.
//
// Needs ~2.3 GiB of WebAssembly memory (plus the JS heap) and takes a while:
// generous timeout, run time printed.
import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TabvecError, VectorStore, type SearchHit } from '../../dist/index.js';
import { uniformSource } from './data.js';

const GiB = 1024 ** 3;
const WASM = 'simd' as const;

function vectors(n: number, dim: number, seed: number): Float32Array {
  const r = uniformSource(seed);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++) v[i] = Math.round((r() * 2 - 1) * 64) / 8;
  return v;
}
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

type Meta = { n: number; label: string } | undefined;
interface Rec {
  vector: Float32Array;
  metadata: Meta;
}

// Brute-force nearest neighbours by squared L2 (ties are vanishingly unlikely with these vectors).
function bruteForce(model: Map<string, Rec>, q: Float32Array, k: number, accept?: (id: string, m: Meta) => boolean): string[] {
  const scored: [string, number][] = [];
  for (const [id, rec] of model) {
    if (accept && !accept(id, rec.metadata)) continue;
    let d = 0;
    for (let i = 0; i < q.length; i++) d += (q[i]! - rec.vector[i]!) ** 2;
    scored.push([id, d]);
  }
  scored.sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
  return scored.slice(0, k).map(([id]) => id);
}

function checkStore(store: VectorStore<Meta>, model: Map<string, Rec>, what: string): void {
  expect(store.size(), `${what}: size`).toBe(model.size);
  for (const [id, rec] of model) {
    expect(store.has(id), `${what}: has(${id})`).toBe(true);
    const got = store.get(id);
    expect(got, `${what}: get(${id})`).toBeDefined();
    expect(Array.from(got!.vector), `${what}: get(${id}).vector`).toEqual(Array.from(rec.vector));
    expect(got!.metadata, `${what}: get(${id}).metadata`).toEqual(rec.metadata);
  }
  expect(store.has('never-added'), `${what}: has(unknown)`).toBe(false);
  expect(store.get('never-added'), `${what}: get(unknown)`).toBeUndefined();
}

// listSize 512 covers every vector of these small stores, so even a graph search is exhaustive.
const L = 512;

function searches(store: VectorStore<Meta>, dim: number): SearchHit<Meta>[][] {
  const out: SearchHit<Meta>[][] = [];
  for (let s = 0; s < 4; s++) {
    const q = vectors(1, dim, 9000 + s);
    out.push(store.search(q, { k: 7, listSize: L }));
    out.push(store.search(q, { k: 5, listSize: L, where: { label: 'even' } }));
    out.push(store.search(q, { k: 5, listSize: L, filter: (m, id) => m !== undefined && m.n % 3 === 0 && id.length > 0 }));
  }
  return out;
}

function checkSearches(store: VectorStore<Meta>, model: Map<string, Rec>, dim: number, what: string): void {
  for (let s = 0; s < 4; s++) {
    const q = vectors(1, dim, 9000 + s);
    const hits = store.search(q, { k: 7, listSize: L });
    expect(hits.map((h) => h.id), `${what}: search #${s}`).toEqual(bruteForce(model, q, 7));
    for (const h of hits) expect(h.metadata, `${what}: hit metadata of ${h.id}`).toEqual(model.get(h.id)!.metadata);
    const even = store.search(q, { k: 5, listSize: L, where: { label: 'even' } });
    expect(even.map((h) => h.id), `${what}: search #${s} where label=even`).toEqual(bruteForce(model, q, 5, (_, m) => m?.label === 'even'));
    const third = store.search(q, { k: 5, listSize: L, filter: (m) => m !== undefined && m.n % 3 === 0 });
    expect(third.map((h) => h.id), `${what}: search #${s} with filter`).toEqual(bruteForce(model, q, 5, (_, m) => m !== undefined && m.n % 3 === 0));
  }
}

describe('past 2 GiB of module memory', () => {
  const dim = 24;
  const started = performance.now();
  const timings: string[] = [];
  const lap = (what: string) => timings.push(`${what} ${((performance.now() - started) / 1000).toFixed(1)}s`);
  let first: VectorStore<Meta>;
  const firstModel = new Map<string, Rec>();
  let firstBytes: Uint8Array;
  let firstSearches: SearchHit<Meta>[][];
  const fillers: VectorStore[] = [];
  const plugs: number[] = [];
  let rt: Awaited<ReturnType<typeof import('../../dist/runtime.js')['loadRuntime']>>;
  const others: VectorStore<Meta>[] = [];

  beforeAll(async () => {
    // 1. A store made while the module is small.
    first = await VectorStore.create<Meta>({ dim, metric: 'l2', storage: 'float32', maxBuffer: 65536, wasm: WASM });
    const fv = vectors(300, dim, 1);
    const fids = Array.from({ length: 300 }, (_, i) => `first-${i}-ü`);
    const fmeta: Meta[] = fids.map((_, i) => ({ n: i, label: i % 2 ? 'odd' : 'even' }));
    first.addMany(fids, fv, fmeta);
    fids.forEach((id, i) => firstModel.set(id, { vector: fv.slice(i * dim, (i + 1) * dim), metadata: fmeta[i] }));
    firstBytes = first.serialize();
    firstSearches = searches(first, dim);

    // 2. Push the shared module past 2^31 bytes with 64 KiB vectors (dim 16384,
    //    float32, maxBuffer 65536 so nothing links), in batches of 16.
    const bigDim = 16384;
    const batch = vectors(16, bigDim, 2);
    let filled = 0;
    while (first.stats().wasmMemoryBytes < 2.2 * GiB) {
      if (filled % 16384 === 0) {
        fillers.push(await VectorStore.create({ dim: bigDim, metric: 'l2', storage: 'float32', maxBuffer: 65536, wasm: WASM }));
      }
      for (let j = 0; j < 16; j++) batch[j * bigDim] = filled + j;
      fillers[fillers.length - 1]!.addMany(Array.from({ length: 16 }, (_, j) => `fill-${filled + j}`), batch);
      filled += 16;
    }
    lap(`filled ${filled} x 64 KiB, wasm ${(first.stats().wasmMemoryBytes / GiB).toFixed(2)} GiB`);

    // The fill leaves ~1 MiB of free blocks below 2 GiB (the freed copy
    // scratch). Plug them (internal runtime, test only) so that everything the
    // tests allocate lands above 2^31; freed again at the end.
    const { loadRuntime } = await import('../../dist/runtime.js');
    rt = await loadRuntime(WASM);
    for (const size of [1 << 20, 1 << 16, 1 << 12, 256, 16]) {
      for (;;) {
        const p = rt.module._malloc(size);
        if (p === 0) throw new Error('malloc failed while plugging free blocks below 2 GiB');
        if (p >>> 0 >= 2 ** 31) {
          rt.module._free(p);
          break;
        }
        plugs.push(p);
      }
    }
  }, 600_000);

  afterAll(() => {
    for (const s of [first, ...others, ...fillers]) s?.dispose();
    for (const p of plugs) rt?.module._free(p);
    console.log(`[big-memory] ${timings.join(', ')}`);
  });

  it('the module is past 2 GiB and fresh allocations land above 2^31', () => {
    expect(first.stats().wasmMemoryBytes).toBeGreaterThan(2 ** 31);
    const probe = rt.module._malloc(16);
    expect(probe >>> 0, 'a fresh allocation lies above 2 GiB').toBeGreaterThanOrEqual(2 ** 31);
    rt.module._free(probe);
  });

  it('a store made below 2 GiB still serializes to its original bytes and searches the same', () => {
    expect(sameBytes(first.serialize(), firstBytes), 'the first store still serializes to its original bytes').toBe(true);
    checkStore(first, firstModel, 'first store');
    expect(searches(first, dim)).toEqual(firstSearches);
    lap('first store checked');
  });

  it('add, upsert, setMetadata, delete, get, has and search on a store above 2 GiB (single writes)', async () => {
    const high = await VectorStore.create<Meta>({ dim, metric: 'l2', storage: 'float32', maxBuffer: 65536, wasm: WASM });
    others.push(high);
    const model = new Map<string, Rec>();
    const hv = vectors(120, dim, 3);
    for (let i = 0; i < 120; i++) {
      const id = i % 7 === 0 ? `hoch-${i}-日本-😀` : `high-${i}`;
      const m: Meta = i % 5 === 4 ? undefined : { n: i, label: i % 2 ? 'odd' : 'even' };
      high.add(id, hv.subarray(i * dim, (i + 1) * dim), m);
      model.set(id, { vector: hv.slice(i * dim, (i + 1) * dim), metadata: m });
    }
    const ids = [...model.keys()];
    for (let i = 0; i < ids.length; i += 9) {
      high.delete(ids[i]!);
      model.delete(ids[i]!);
    }
    for (let i = 1; i < ids.length; i += 11) {
      if (!model.has(ids[i]!)) continue;
      const v = vectors(1, dim, 5000 + i);
      const m: Meta = { n: 1000 + i, label: 'even' };
      high.upsert(ids[i]!, v, m);
      model.set(ids[i]!, { vector: v, metadata: m });
    }
    for (let i = 2; i < ids.length; i += 13) {
      if (!model.has(ids[i]!)) continue;
      const m: Meta = { n: 3 * i, label: 'odd' };
      high.setMetadata(ids[i]!, m);
      model.set(ids[i]!, { ...model.get(ids[i]!)!, metadata: m });
    }
    expect(() => high.delete('never-added')).toThrow(TabvecError);
    checkStore(high, model, 'store above 2 GiB');
    checkSearches(high, model, dim, 'store above 2 GiB');
    high.consolidate();
    checkStore(high, model, 'store above 2 GiB after consolidate');
    lap('single writes above 2 GiB');
  });

  it('addMany and search on a store above 2 GiB; serialize -> deserialize and save -> open give identical results', async () => {
    const high = await VectorStore.create<Meta>({ dim, metric: 'l2', storage: 'float32', maxBuffer: 65536, wasm: WASM });
    others.push(high);
    const model = new Map<string, Rec>();
    const hv = vectors(400, dim, 4);
    const hids = Array.from({ length: 400 }, (_, i) => (i % 7 === 0 ? `hoch-${i}-日本-😀` : `high-${i}`));
    const hmeta: Meta[] = hids.map((_, i) => (i % 5 === 4 ? undefined : { n: i, label: i % 2 ? 'odd' : 'even' }));
    high.addMany(hids.slice(0, 300), hv.subarray(0, 300 * dim), hmeta.slice(0, 300));
    await high.addManyAsync(hids.slice(300), hv.subarray(300 * dim), hmeta.slice(300));
    hids.forEach((id, i) => model.set(id, { vector: hv.slice(i * dim, (i + 1) * dim), metadata: hmeta[i] }));
    checkStore(high, model, 'addMany store above 2 GiB');
    checkSearches(high, model, dim, 'addMany store above 2 GiB');
    const queries = vectors(3, dim, 77);
    const batchHits = high.searchBatch(queries, { k: 4, listSize: L });
    for (let q = 0; q < 3; q++) {
      expect(batchHits[q]!.map((h) => h.id), `searchBatch query ${q}`).toEqual(bruteForce(model, queries.subarray(q * dim, (q + 1) * dim), 4));
    }
    const stats = high.stats();
    expect(stats.size).toBe(400);
    expect(stats.memory.total.used).toBeGreaterThan(0);

    const bytes = high.serialize();
    const copy = await VectorStore.deserialize<Meta>(bytes, { wasm: WASM });
    others.push(copy);
    expect(sameBytes(copy.serialize(), bytes), 'deserialize(serialize()).serialize() equals the bytes').toBe(true);
    checkStore(copy, model, 'deserialized copy');
    expect(searches(copy, dim)).toEqual(searches(high, dim));

    const report = await high.save({ indexedDB: 'above-2gib' });
    expect(report.bytes).toBe(bytes.byteLength);
    const opened = await VectorStore.open<Meta>({ indexedDB: 'above-2gib' }, { wasm: WASM });
    others.push(opened);
    expect(sameBytes(opened.serialize(), bytes), 'the opened store serializes to the saved bytes').toBe(true);
    checkStore(opened, model, 'store opened from IndexedDB');
    expect(searches(opened, dim)).toEqual(searches(high, dim));
    lap('addMany, round trip, save/open above 2 GiB');
  });

  it('a snapshot from below 2 GiB loaded above it: same bytes, same results, saves and opens', async () => {
    const loaded = await VectorStore.deserialize<Meta>(firstBytes, { wasm: WASM });
    others.push(loaded);
    expect(sameBytes(loaded.serialize(), firstBytes), 'serialize() of the loaded copy equals the snapshot').toBe(true);
    checkStore(loaded, firstModel, 'snapshot loaded above 2 GiB');
    expect(searches(loaded, dim)).toEqual(firstSearches);
    await loaded.save({ indexedDB: 'loaded-above-2gib' });
    const opened = await VectorStore.open<Meta>({ indexedDB: 'loaded-above-2gib' }, { wasm: WASM });
    others.push(opened);
    expect(sameBytes(opened.serialize(), firstBytes), 'save -> open above 2 GiB keeps the bytes').toBe(true);
    expect(searches(opened, dim)).toEqual(firstSearches);
    lap('snapshot loaded above 2 GiB');
  });

  it('an int8 cosine store (graph) above 2 GiB finds its vectors and round-trips', async () => {
    const int8 = await VectorStore.create<Meta>({ dim: 64, metric: 'cosine', wasm: WASM });
    others.push(int8);
    const iv = vectors(500, 64, 5);
    int8.addMany(Array.from({ length: 500 }, (_, i) => `q${i}`), iv, Array.from({ length: 500 }, (_, i) => ({ n: i, label: 'x' })));
    let found = 0;
    for (let i = 0; i < 500; i += 25) if (int8.search(iv.subarray(i * 64, (i + 1) * 64), { k: 1 })[0]?.id === `q${i}`) found++;
    expect(found, 'self-queries that return the vector itself (of 20)').toBeGreaterThanOrEqual(18);
    expect(int8.get('q77')?.metadata).toEqual({ n: 77, label: 'x' });
    expect(int8.has('q499')).toBe(true);
    const copy = await VectorStore.deserialize<Meta>(int8.serialize(), { wasm: WASM });
    others.push(copy);
    expect(copy.search(iv.subarray(5 * 64, 6 * 64), { k: 10 })).toEqual(int8.search(iv.subarray(5 * 64, 6 * 64), { k: 10 }));
    lap('int8 above 2 GiB');
  });
});
