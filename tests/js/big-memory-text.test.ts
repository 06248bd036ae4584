// Past 2 GiB of WebAssembly memory, a store with text (issue 14): the text
// build is a module of its own, so it is pushed past 2^31 bytes here, and
// every write with text and every text search must then work as on a copy
// made below it: a pointer read as a signed 32-bit int would turn negative.
//
// Needs ~2.3 GiB of WebAssembly memory; run time printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorStore } from '../../dist/index.js';
import { uniformSource } from './data.js';

const GiB = 1024 ** 3;
const WASM = 'simd' as const;
const DIM = 8;

function vectors(n: number, dim: number, seed: number): Float32Array {
  const r = uniformSource(seed);
  const v = new Float32Array(n * dim);
  for (let i = 0; i < v.length; i++) v[i] = Math.round((r() * 2 - 1) * 64) / 8;
  return v;
}

const words = ['offline', 'cache', 'deploy', 'table', 'keyboard', 'shortcut', 'fiori', 'annotation'];
const textOf = (i: number) => `${words[i % 8]} ${words[(i * 3) % 8]} note${i} ${'filler '.repeat(i % 5)}`;

describe('a store with text past 2 GiB of module memory', () => {
  const started = performance.now();
  const plugs: number[] = [];
  let rt: Awaited<ReturnType<typeof import('../../dist/runtime.js')['loadRuntime']>>;
  let below: VectorStore<{ i: number }>;

  beforeAll(async () => {
    // A store with text made while the module is small: the reference.
    below = await VectorStore.create<{ i: number }>({ dim: DIM, metric: 'l2', text: true, wasm: WASM });
    // Push the text build's module past 2^31 bytes: raw allocations (test
    // only; tests/js/big-memory.test.ts does it with stores), then plug the
    // free blocks left below 2 GiB, so that what follows lands above.
    const { loadRuntime } = await import('../../dist/runtime.js');
    rt = await loadRuntime(WASM, true);
    while (below.stats().wasmMemoryBytes < 2.2 * GiB) {
      const p = rt.module._malloc(64 << 20);
      if (p === 0) throw new Error('malloc failed while filling the module');
      plugs.push(p);
    }
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
    console.log(`[big-memory-text] module at ${(below.stats().wasmMemoryBytes / GiB).toFixed(2)} GiB in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(() => {
    below?.dispose();
    for (const p of plugs) rt?.module._free(p);
  });

  it('writes with text, text and hybrid search, and snapshots work above 2^31 as below', async () => {
    const probe = rt.module._malloc(16);
    expect(probe >>> 0).toBeGreaterThanOrEqual(2 ** 31);
    rt.module._free(probe);
    const above = await VectorStore.create<{ i: number }>({ dim: DIM, metric: 'l2', text: true, wasm: WASM });
    const n = 300;
    const v = vectors(n, DIM, 5);
    const ids = Array.from({ length: n }, (_, i) => `doc-${i}-ü`);
    for (const store of [below, above]) {
      // Single writes with text, then a batch with texts, an upsert and a delete.
      for (let i = 0; i < 100; i++) store.add(ids[i]!, v.subarray(i * DIM, (i + 1) * DIM), { i }, { text: textOf(i) });
      store.addMany(ids.slice(100), v.subarray(100 * DIM), ids.slice(100).map((_, j) => ({ i: 100 + j })),
        { texts: ids.slice(100).map((_, j) => textOf(100 + j)) });
      store.upsert(ids[7]!, v.subarray(7 * DIM, 8 * DIM), { i: 7 }, { text: 'quokka island' });
      store.delete(ids[8]!);
    }
    expect(above.stats().texts).toBe(n - 1);
    const q = vectors(1, DIM, 9);
    for (const text of ['offline cache', 'keyboard shortcuts', 'quokka', 'note42 deploy']) {
      expect(above.searchText(text, { k: 20 })).toEqual(below.searchText(text, { k: 20 }));
      expect(above.searchText(text, { k: 5, where: { i: 42 } })).toEqual(below.searchText(text, { k: 5, where: { i: 42 } }));
      expect(above.search(q, { k: 10, text })).toEqual(below.search(q, { k: 10, text }));
    }
    const bytes = above.serialize();
    expect(bytes).toEqual(below.serialize());
    const copy = await VectorStore.deserialize<{ i: number }>(bytes, { wasm: WASM });
    expect(copy.searchText('quokka').map((h) => h.id)).toEqual([ids[7]]);
    copy.dispose();
    above.dispose();
  }, 120_000);
});
