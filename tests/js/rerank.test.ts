// The re-ranking tier through the package (issue 13): the rerank option and
// rerankFactor, exact answers and distances, its memory in stats(), and the
// tier kept through snapshots, worker mode and the live store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, VectorStore, type Metric, type Rerank } from '../../dist/index.js';
import { WorkerVectorStore } from '../../dist/worker.js';
import { clusteredVectors } from '../fixtures/random.js';
import { exactDistance, randomVectors } from './data.js';
import { expectCode, expectCodeAsync } from './expect-error.js';
import { channel } from './worker-channel.js';

const dir = mkdtempSync(join(tmpdir(), 'tabvec-rerank-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


function bruteForce(metric: Metric, vectors: Float32Array, dim: number, q: Float32Array, k: number) {
  const rows = vectors.length / dim;
  return Array.from({ length: rows }, (_, i) => ({ id: `v${i}`, distance: exactDistance(metric, q, vectors.subarray(i * dim, (i + 1) * dim)) }))
    .sort((a, b) => a.distance - b.distance)
    .slice(0, k);
}

async function build(rows: number, dim: number, metric: Metric, rerank: Rerank, seed = 1) {
  const vectors = clusteredVectors(rows, dim, 16, seed);
  const store = await VectorStore.create({ dim, metric, rerank });
  store.addMany(Array.from({ length: rows }, (_, i) => `v${i}`), vectors);
  return { store, vectors };
}

describe('the rerank option', () => {
  it('is checked, defaults to none, and reports its memory as a component of its own', async () => {
    const bad = await expectCodeAsync(VectorStore.create({ dim: 8, rerank: 'float64' as never }), 'INVALID_ARGUMENT');
    expect(bad.message).toContain('rerank must be one of none, float16, float32');
    const exactAlready = await expectCodeAsync(VectorStore.create({ dim: 8, storage: 'float32', rerank: 'float16' }), 'INVALID_ARGUMENT');
    expect(exactAlready.message).toContain('rerank needs int8 storage');

    const plain = await VectorStore.create({ dim: 8 });
    expect(plain.stats().rerank).toBe('none');
    plain.dispose();
    for (const [rerank, bytes] of [['none', 0], ['float16', 2], ['float32', 4]] as const) {
      const { store } = await build(1000, 8, 'l2', rerank);
      const stats = store.stats();
      expect(stats.rerank).toBe(rerank);
      expect(stats.memory.rerank.used).toBe(1000 * 8 * bytes);
      expect(stats.memory.rerank.reserved).toBeGreaterThanOrEqual(stats.memory.rerank.used);
      const parts = ['vectors', 'rerank', 'graph', 'ids', 'metadata', 'buffer', 'other'] as const;
      expect(parts.reduce((sum, p) => sum + stats.memory[p].reserved, 0)).toBe(stats.memory.total.reserved);
      store.dispose();
    }
  });

  it('refuses, under float16, components float16 cannot hold, and keeps the store as it was', async () => {
    const store = await VectorStore.create({ dim: 4, metric: 'l2', rerank: 'float16' });
    store.add('a', new Float32Array([1, 2, 3, 65504]));
    const err = expectCode(() => store.add('b', new Float32Array([1, 2, -1e5, 4])), 'INVALID_ARGUMENT');
    expect(err.message).toContain('component 2 is beyond the +-65504');
    expectCode(() => store.addMany(['c', 'd'], new Float32Array([1, 1, 1, 1, 1, 1, 1, 7e4])), 'INVALID_ARGUMENT');
    expect(store.size()).toBe(1);
    expect(Array.from(store.get('a')!.vector)).toEqual([1, 2, 3, 65504]);
    store.dispose();
  });
});

describe('answers with a tier', () => {
  it('a small store answers exactly, for every metric', async () => {
    for (const metric of ['l2', 'ip', 'cosine'] as const) {
      const { store, vectors } = await build(400, 32, metric, 'float32', 3);
      const queries = clusteredVectors(20, 32, 16, 3, 1);
      for (let q = 0; q < 20; q++) {
        const query = queries.subarray(q * 32, (q + 1) * 32);
        const hits = store.search(query, { k: 10 });
        const want = bruteForce(metric, vectors, 32, query, 10);
        expect(hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
        hits.forEach((h, i) => expect(h.distance).toBeCloseTo(want[i]!.distance, 4));
      }
      store.dispose();
    }
  });

  it('a large store returns exact distances; rerankFactor is checked and changes how many are re-scored', async () => {
    const { store, vectors } = await build(4000, 24, 'l2', 'float32', 5);
    const { store: codes } = await build(4000, 24, 'l2', 'none', 5);
    const queries = clusteredVectors(40, 24, 16, 5, 1);
    let foundCodes = 0, foundOnce = 0, foundTwice = 0;
    for (let q = 0; q < 40; q++) {
      const query = queries.subarray(q * 24, (q + 1) * 24);
      const want = new Set(bruteForce('l2', vectors, 24, query, 10).map((w) => w.id));
      const count = (hits: { id: string }[]) => hits.filter((h) => want.has(h.id)).length;
      for (const factor of [1, 2]) {
        const hits = store.search(query, { k: 10, rerankFactor: factor });
        for (const h of hits) {
          const i = Number(h.id.slice(1));
          expect(h.distance).toBeCloseTo(exactDistance('l2', query, vectors.subarray(i * 24, (i + 1) * 24)), 4);
        }
        if (factor === 1) foundOnce += count(hits);
        else foundTwice += count(hits);
      }
      foundCodes += count(codes.search(query, { k: 10, rerankFactor: 4 })); // accepted, and without a tier it changes nothing
    }
    expect(foundTwice).toBeGreaterThanOrEqual(foundOnce);
    expect(foundTwice).toBeGreaterThanOrEqual(foundCodes);
    expect(foundTwice / 400).toBeGreaterThanOrEqual(0.97);
    for (const rerankFactor of [0, 65, 1.5]) expectCode(() => store.search(queries.subarray(0, 24), { rerankFactor }), 'INVALID_ARGUMENT');
    store.dispose();
    codes.dispose();
  });
});

describe('the tier is kept', () => {
  it('through serialize and deserialize, with the same answers', async () => {
    const { store } = await build(1500, 16, 'cosine', 'float16', 7);
    const copy = await VectorStore.deserialize(store.serialize());
    expect(copy.stats().rerank).toBe('float16');
    expect(copy.stats().memory.rerank).toEqual(store.stats().memory.rerank);
    const queries = randomVectors(10, 16, 8);
    for (let q = 0; q < 10; q++) {
      const query = queries.subarray(q * 16, (q + 1) * 16);
      expect(copy.search(query, { k: 5 })).toEqual(store.search(query, { k: 5 }));
    }
    store.dispose();
    copy.dispose();
  });

  it('in worker mode', async () => {
    const store = await WorkerVectorStore.create({ dim: 8, metric: 'l2', rerank: 'float32' }, channel());
    const vectors = randomVectors(50, 8, 9);
    await store.addManyAsync(Array.from({ length: 50 }, (_, i) => `v${i}`), vectors);
    expect((await store.stats()).rerank).toBe('float32');
    const hits = await store.search(vectors.subarray(0, 8), { k: 3, rerankFactor: 3 });
    expect(hits[0]).toMatchObject({ id: 'v0', distance: 0 });
    await expectCodeAsync(store.search(vectors.subarray(0, 8), { rerankFactor: 0 }), 'INVALID_ARGUMENT');
    store.dispose();
  });

  it('by a live store on a file, which refuses to open with another tier', async () => {
    const target = { file: join(dir, 'notes.tabvec') };
    const live = await LiveStore.open(target, { create: { dim: 8, metric: 'cosine', rerank: 'float16' } });
    const vectors = randomVectors(30, 8, 10);
    for (let i = 0; i < 30; i++) void live.add(`v${i}`, vectors.subarray(i * 8, (i + 1) * 8));
    await live.flush();
    await live.close();
    const again = await LiveStore.open(target);
    expect(again.stats().rerank).toBe('float16');
    expect(again.stats().memory.rerank.used).toBe(30 * 8 * 2);
    expect(again.search(vectors.subarray(8, 16), { k: 1 })[0]!.id).toBe('v1');
    await again.close();
    const other = await expectCodeAsync(LiveStore.open(target, { create: { dim: 8, metric: 'cosine' } }), 'INVALID_ARGUMENT');
    expect(other.message).toContain('rerank float16');
  });
});
