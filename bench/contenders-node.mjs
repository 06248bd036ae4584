// Contenders that only run under Node in this harness (native addon, wasm
// modules imported as ES modules, plain JS).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { HNSW } from './adapters.mjs';

const require = createRequire(import.meta.url);
const SWEEP = [10, 16, 24, 32, 48, 64, 100, 160, 256];

export function hnswlibNodeAdapter() {
  const { HierarchicalNSW } = require('hnswlib-node');
  return {
    name: 'hnswlib-node',
    breadth: 'ef',
    breadths: SWEEP,
    supports: () => true,
    build(ds) {
      const index = new HierarchicalNSW(ds.metric === 'l2' ? 'l2' : 'cosine', ds.dim);
      index.initIndex(ds.nb, HNSW.M, HNSW.efConstruction, 100);
      for (let i = 0; i < ds.nb; i++) index.addPoint(Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)), i);
      return index;
    },
    search(index, q, k, ef) {
      index.setEf(ef);
      return index.searchKnn(Array.from(q), k).neighbors;
    },
    wasmMemory: () => null,
    indexBytes: () => null,
    serialize(index) {
      const file = path.join(os.tmpdir(), `hnswlib-node-${process.pid}.bin`);
      index.writeIndexSync(file);
      const bytes = readFileSync(file);
      rmSync(file);
      return bytes;
    },
    load(bytes, ds) {
      const file = path.join(os.tmpdir(), `hnswlib-node-${process.pid}.bin`);
      writeFileSync(file, bytes);
      const index = new HierarchicalNSW(ds.metric === 'l2' ? 'l2' : 'cosine', ds.dim);
      index.readIndexSync(file);
      rmSync(file);
      return index;
    },
    free: () => undefined,
  };
}

export async function edgevecAdapter() {
  const ev = await import('edgevec/edgevec.js');
  const exports = ev.initSync({ module: readFileSync(require.resolve('edgevec/edgevec_bg.wasm')) });
  const build = (ds, ef) => {
    const config = new ev.EdgeVecConfig(ds.dim);
    // edgevec 0.9.0's 'cosine' and 'dot' return the least similar vectors first
    // (checked on a toy set); the cosine datasets here are unit vectors, which
    // rank identically under 'l2'.
    config.metric = 'l2';
    config.m = HNSW.M;
    config.ef_construction = HNSW.efConstruction;
    config.ef_search = ef;
    const db = new ev.EdgeVec(config);
    for (let i = 0; i < ds.nb; i++) db.insert(ds.base.slice(i * ds.dim, (i + 1) * ds.dim));
    return { db, ef, ds };
  };
  return {
    name: 'edgevec',
    breadth: 'ef',
    // ef_search is fixed when an EdgeVec is constructed: the sweep rebuilds it,
    // which this harness only affords on small datasets.
    breadths: [16, 32, 64, 128],
    sweepLimit: 5000,
    note: `edgevec: SIMD backend it reports: ${ev.getSimdBackend()}; ef_search swept (by rebuilding) only up to 5,000 vectors, else 64; metric 'l2' on unit vectors for cosine sets, as its cosine ranking is inverted`,
    supports: () => true,
    build: (ds) => build(ds, 64),
    rebuildFor: (state, ef) => (state.ef === ef ? state : (state.db.free(), build(state.ds, ef))),
    search: (state, q, k) => state.db.search(q, k).map((r) => r.id - 1),  // ids start at 1
    wasmMemory: () => exports.memory.buffer.byteLength,
    indexBytes: (state) => state.db.memoryUsage?.() ?? null,
    free: (state) => state.db.free(),
  };
}

export async function voyAdapter() {
  const voy = await import('voy-search/voy_search.js');
  const wasm = await import('voy-search/voy_search_bg.wasm');
  // A Rust panic leaves voy's single module instance unusable for the rest of the process.
  let broken = null;
  return {
    name: 'voy-search',
    breadth: null,
    breadths: [null],
    note: 'voy-search: exact k-d tree (no breadth setting); Euclidean only, so cosine sets (unit vectors) rank identically; input as JS objects of number arrays',
    supports: () => (broken ? `not run: voy's module is unusable after it panicked on ${broken}` : true),
    build(ds) {
      const embeddings = [];
      for (let i = 0; i < ds.nb; i++) {
        embeddings.push({ id: String(i), title: '', url: '', embeddings: Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)) });
      }
      try {
        return new voy.Voy({ embeddings });
      } catch (e) {
        broken = ds.name;
        throw e;
      }
    },
    search: (index, q, k) => index.search(q, k).neighbors.map((n) => Number(n.id)),
    wasmMemory: () => wasm.memory.buffer.byteLength,
    indexBytes: () => null,
    serialize: (index) => new TextEncoder().encode(index.serialize()),
    load: (bytes) => voy.Voy.deserialize(new TextDecoder().decode(bytes)),
    free: (index) => index.free?.(),
  };
}

export async function clientVectorSearchAdapter() {
  const { EmbeddingIndex } = await import('client-vector-search');
  return {
    name: 'client-vector-search',
    breadth: null,
    breadths: [null],
    note: 'client-vector-search: plain JS brute force over cosine similarity',
    supports: (ds) => (ds.metric === 'cosine' ? true : 'cosine similarity only; this dataset is L2'),
    build(ds) {
      const objects = [];
      for (let i = 0; i < ds.nb; i++) objects.push({ id: i, embedding: Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)) });
      return new EmbeddingIndex(objects);
    },
    async search(index, q, k) {
      return (await index.search(Array.from(q), { topK: k })).map((r) => r.object.id);
    },
    wasmMemory: () => null,
    indexBytes: () => null,
    free: () => undefined,
  };
}
