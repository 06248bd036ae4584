import { describe, expect, it } from 'vitest';
import { TabvecError, VectorStore, simdSupported, type WasmFlavor } from '../../dist/index.js';
import { expectCode, expectCodeAsync } from './expect-error.js';
import { randomVectors } from './data.js';



const flavors: WasmFlavor[] = ['simd', 'baseline'];

describe.each(flavors)('VectorStore (%s build)', (wasm) => {
  it('loads the requested build', async () => {
    const store = await VectorStore.create({ dim: 4, wasm });
    expect(store.stats().simd).toBe(wasm === 'simd');
    store.dispose();
  });

  it('adds, finds, gets, updates and deletes vectors with metadata', async () => {
    const store = await VectorStore.create<{ title: string }>({ dim: 3, metric: 'cosine', wasm });
    store.add('doc-1', new Float32Array([1, 0, 0]), { title: 'Intro' });
    store.add('doc-2', new Float32Array([0, 1, 0]), { title: 'Setup' });
    store.add('döc-3 ✓', new Float32Array([0.7, 0.7, 0]));
    expect(store.size()).toBe(3);
    expect(store.has('doc-1')).toBe(true);
    expect(store.has('nope')).toBe(false);

    const hits = store.search(new Float32Array([1, 0.1, 0]), { k: 2 });
    expect(hits.map((h) => h.id)).toEqual(['doc-1', 'döc-3 ✓']);
    expect(hits[0]!.metadata).toEqual({ title: 'Intro' });
    expect(hits[0]!.distance).toBeCloseTo(1 - 1 / Math.sqrt(1.01), 2);
    expect(hits[1]!.metadata).toBeUndefined();

    const got = store.get('doc-2')!;
    expect(got.metadata).toEqual({ title: 'Setup' });
    expect(Array.from(got.vector)).toEqual([0, 1, 0]);
    expect(store.get('missing')).toBeUndefined();

    store.upsert('doc-2', new Float32Array([0, 0, 1]), { title: 'Moved' });
    expect(store.search(new Float32Array([0, 0, 1]), { k: 1 })[0]).toMatchObject({ id: 'doc-2', metadata: { title: 'Moved' } });
    store.setMetadata('doc-2', undefined);
    expect(store.get('doc-2')!.metadata).toBeUndefined();

    store.delete('doc-1');
    expect(store.has('doc-1')).toBe(false);
    expect(store.size()).toBe(2);
    expect(store.search(new Float32Array([1, 0, 0]), { k: 3 }).map((h) => h.id)).not.toContain('doc-1');
    store.dispose();
  });

  it('rejects every bad input with a typed error and changes nothing', async () => {
    const store = await VectorStore.create({ dim: 8, metric: 'cosine', wasm });
    const base = randomVectors(600, 8, 1);
    store.addMany(Array.from({ length: 600 }, (_, i) => `v${i}`), base, Array.from({ length: 600 }, (_, i) => ({ i })));
    const before = store.serialize();
    const ok = base.slice(0, 8);

    expectCode(() => store.add('x', new Float32Array(7)), 'DIMENSION_MISMATCH');
    expectCode(() => store.add('x', [1, 2, 3, 4, 5, 6, 7, 8] as unknown as Float32Array), 'INVALID_ARGUMENT');
    const nan = ok.slice();
    nan[2] = NaN;
    expect(expectCode(() => store.add('x', nan), 'NON_FINITE_VALUE').message).toContain('component 2 is NaN');
    nan[2] = Infinity;
    expectCode(() => store.add('x', nan), 'NON_FINITE_VALUE');
    const huge = ok.slice();
    huge[0] = 3e19; // finite, but its squared distances would overflow float32
    expect(expectCode(() => store.add('x', huge), 'NON_FINITE_VALUE').message).toContain('too long');
    expectCode(() => store.add('x', new Float32Array(8)), 'ZERO_VECTOR');
    expectCode(() => store.add('v3', ok), 'DUPLICATE_ID');
    expectCode(() => store.add('', ok), 'INVALID_ARGUMENT');
    expectCode(() => store.add(42 as unknown as string, ok), 'INVALID_ARGUMENT');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expectCode(() => store.add('x', ok, cyclic), 'NOT_SERIALIZABLE');
    expectCode(() => store.add('x', ok, (() => 1) as unknown as object), 'NOT_SERIALIZABLE');
    expectCode(() => store.add('x', ok, { n: 10n } as unknown as object), 'NOT_SERIALIZABLE');
    expectCode(() => store.delete('missing'), 'UNKNOWN_ID');
    expectCode(() => store.setMetadata('missing', {}), 'UNKNOWN_ID');
    expectCode(() => store.search(new Float32Array(9)), 'DIMENSION_MISMATCH');
    expectCode(() => store.search(ok, { k: 0 }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(ok, { k: 1.5 }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(new Float32Array(8)), 'ZERO_VECTOR');
    // Batches are all or nothing, including duplicates and bad values late in the batch.
    const batch = randomVectors(3000, 8, 2);
    const ids = Array.from({ length: 3000 }, (_, i) => `b${i}`);
    expectCode(() => store.addMany([...ids.slice(0, 2999), 'b5'], batch), 'DUPLICATE_ID');
    expectCode(() => store.addMany([...ids.slice(0, 2999), 'v1'], batch), 'DUPLICATE_ID');
    const late = batch.slice();
    late[2999 * 8 + 3] = NaN;
    expectCode(() => store.addMany(ids, late), 'NON_FINITE_VALUE');
    expectCode(() => store.addMany(ids, batch.subarray(8)), 'DIMENSION_MISMATCH');
    expectCode(() => store.addMany(ids, batch, [{}]), 'INVALID_ARGUMENT');
    expect(store.size()).toBe(600);
    expect(store.serialize()).toEqual(before);
    store.dispose();
  });

  it('rejects bad options naming the parameter', async () => {
    await expectCodeAsync(VectorStore.create({ dim: 0, wasm }), 'INVALID_ARGUMENT');
    await expect(VectorStore.create({ dim: 4, maxDegree: 1, wasm })).rejects.toThrow(/maxDegree/);
    await expect(VectorStore.create({ dim: 4, metric: 'hamming' as 'l2', wasm })).rejects.toThrow(/metric/);
    await expect(VectorStore.create({ dim: 4, alpha: NaN, wasm })).rejects.toThrow(/alpha/);
  });

  it('enforces the memory cap without losing what is stored', async () => {
    const store = await VectorStore.create({ dim: 64, maxMemoryBytes: 256 * 1024, wasm });
    const vectors = randomVectors(5000, 64, 3);
    let added = 0;
    let error: unknown;
    for (; added < 5000; added++) {
      try {
        store.add(`m${added}`, vectors.subarray(added * 64, added * 64 + 64));
      } catch (e) {
        error = e;
        break;
      }
    }
    expect(error).toBeInstanceOf(TabvecError);
    expect((error as TabvecError).code).toBe('MEMORY_CAP_EXCEEDED');
    expect(added).toBeGreaterThan(300);
    expect(store.size()).toBe(added);
    expect(store.stats().memory.total.reserved).toBeLessThanOrEqual(256 * 1024);
    expect(store.search(vectors.subarray(64, 128), { k: 1 })[0]!.id).toBe('m1');
    // A batch that would cross the cap adds nothing.
    const before = store.serialize();
    expectCode(() => store.addMany(['p', 'q'], vectors.subarray(0, 128)), 'MEMORY_CAP_EXCEEDED');
    expect(store.serialize()).toEqual(before);
    store.dispose();
  });

  it('round-trips snapshots bit-exactly and rejects corrupt bytes', async () => {
    const store = await VectorStore.create({ dim: 16, metric: 'l2', wasm });
    const v = randomVectors(1000, 16, 4);
    store.addMany(Array.from({ length: 1000 }, (_, i) => `s${i}`), v, Array.from({ length: 1000 }, (_, i) => (i % 2 ? { odd: true } : undefined)));
    store.delete('s10');
    const bytes = store.serialize();
    const copy = await VectorStore.deserialize(bytes, { wasm });
    expect(copy.serialize()).toEqual(bytes);
    expect(copy.size()).toBe(999);
    const q = v.subarray(160, 176);
    expect(copy.search(q, { k: 10 })).toEqual(store.search(q, { k: 10 }));
    expect(copy.get('s11')!.metadata).toEqual({ odd: true });

    for (const at of [0, 9, 100, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at]! ^= 0x40;
      await expect(VectorStore.deserialize(bad, { wasm })).rejects.toMatchObject({ name: 'TabvecError' });
    }
    await expectCodeAsync(VectorStore.deserialize(bytes.subarray(0, bytes.length - 1), { wasm }), 'CORRUPT_SNAPSHOT');
    await expectCodeAsync(VectorStore.deserialize(new TextEncoder().encode('not a snapshot'), { wasm }), 'CORRUPT_SNAPSHOT');
    await expectCodeAsync(VectorStore.deserialize(bytes, { wasm, maxMemoryBytes: 4096 }), 'MEMORY_CAP_EXCEEDED');
    store.dispose();
    copy.dispose();
  });

  it('applies filters during search and still returns k hits', async () => {
    const store = await VectorStore.create<{ group: number }>({ dim: 16, metric: 'l2', wasm });
    const n = 4000;
    const v = randomVectors(n, 16, 5);
    store.addMany(Array.from({ length: n }, (_, i) => `f${i}`), v, Array.from({ length: n }, (_, i) => ({ group: i % 50 })));
    const hits = store.search(v.subarray(0, 16), { k: 10, filter: (m) => m?.group === 7 });
    expect(hits).toHaveLength(10);
    for (const h of hits) expect(h.metadata!.group).toBe(7);
    const byId = store.search(v.subarray(0, 16), { k: 5, filter: (_m, id) => id.endsWith('3') });
    for (const h of byId) expect(h.id.endsWith('3')).toBe(true);
    expect(() => store.search(v.subarray(0, 16), { filter: () => { throw new Error('boom'); } })).toThrow('boom');
    // The store is still usable after a throwing filter.
    expect(store.search(v.subarray(0, 16), { k: 1 })[0]!.id).toBe('f0');
    store.dispose();
  });

  it('reports progress for addMany and searches in batches', async () => {
    const store = await VectorStore.create({ dim: 32, wasm });
    const n = 5000;
    const v = randomVectors(n, 32, 6);
    const phases: string[] = [];
    let last = 0;
    store.addMany(Array.from({ length: n }, (_, i) => `p${i}`), v, undefined, {
      onProgress: ({ phase, done, total }) => {
        phases.push(phase);
        expect(done).toBeLessThanOrEqual(total);
        if (phase === 'index') {
          expect(done).toBeGreaterThanOrEqual(last);
          last = done;
        }
      },
    });
    expect(phases).toContain('copy');
    expect(phases.filter((p) => p === 'index').length).toBeGreaterThan(5);
    const results = store.searchBatch(v.subarray(0, 32 * 3), { k: 1 });
    expect(results.map((r) => r[0]!.id)).toEqual(['p0', 'p1', 'p2']);
    store.dispose();
  });

  it('guards use after dispose and supports Symbol.dispose', async () => {
    const store = await VectorStore.create({ dim: 2, wasm });
    store.add('a', new Float32Array([1, 2]));
    store[Symbol.dispose]();
    store.dispose();
    expectCode(() => store.size(), 'DISPOSED');
    expectCode(() => store.search(new Float32Array([1, 2])), 'DISPOSED');
    expectCode(() => store.add('b', new Float32Array([1, 2])), 'DISPOSED');
    expectCode(() => store.serialize(), 'DISPOSED');
  });

  it('shares one module between stores: an extra empty store costs kilobytes', async () => {
    const first = await VectorStore.create({ dim: 384, wasm });
    const memoryBefore = first.stats().wasmMemoryBytes;
    const others = await Promise.all(Array.from({ length: 20 }, () => VectorStore.create({ dim: 384, wasm })));
    const growth = first.stats().wasmMemoryBytes - memoryBefore;
    expect(growth).toBeLessThanOrEqual(64 * 1024);
    for (const s of others) expect(s.stats().memory.total.reserved).toBeLessThan(16 * 1024);
    for (const s of [first, ...others]) s.dispose();
  });

  it('keeps no per-vector objects on the JS heap', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(gc, 'run with --expose-gc').toBeTypeOf('function');
    const store = await VectorStore.create({ dim: 32, wasm });
    const n = 20000;
    const v = randomVectors(n, 32, 7);
    const ids = Array.from({ length: n }, (_, i) => `heap-${i}`);
    const metadata = Array.from({ length: n }, (_, i) => ({ i }));
    gc!();
    const before = process.memoryUsage().heapUsed;
    store.addMany(ids, v, metadata);
    gc!();
    const growth = process.memoryUsage().heapUsed - before;
    // ids, metadata and vectors passed in are the caller's; the store adds nothing per vector.
    expect(growth / n).toBeLessThan(16);
    store.dispose();
  });
});

describe('builds agree', () => {
  it('SIMD and baseline int8 stores hold identical bytes and results', async () => {
    const v = randomVectors(3000, 24, 8);
    const ids = Array.from({ length: 3000 }, (_, i) => `x${i}`);
    const a = await VectorStore.create({ dim: 24, metric: 'l2', wasm: 'simd' });
    const b = await VectorStore.create({ dim: 24, metric: 'l2', wasm: 'baseline' });
    a.addMany(ids, v);
    b.addMany(ids, v);
    expect(a.serialize()).toEqual(b.serialize());
    const q = randomVectors(1, 24, 9);
    expect(a.search(q, { k: 10 })).toEqual(b.search(q, { k: 10 }));
    a.dispose();
    b.dispose();
  });

  it('detects SIMD support in this engine', () => {
    expect(simdSupported()).toBe(true);
  });
});
