// The storage re-ranking tier through the package (issue 13): rerank
// 'storage' keeps exact vectors as rows in a file beside a LiveStore's
// journal and 4 bytes a vector in memory. Exact answers, rows kept across
// reopening and checkpoints, damage reported, and refused where reads cannot
// be synchronous. (Copies numbering rows alike: tests/core/rows_test.cpp.)
import 'fake-indexeddb/auto';
import { closeSync, mkdtempSync, openSync, readdirSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, type Metric, VectorStore, removeSaved } from '../../dist/index.js';
import { ROWS_COMPACT_MIN_BYTES } from '../../dist/live.js';
import { clusteredVectors } from '../fixtures/random.js';
import { exactDistance } from './data.js';
import { expectCode, expectCodeAsync } from './expect-error.js';

const dir = mkdtempSync(join(tmpdir(), 'tabvec-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = (): { file: string } => ({ file: join(dir, `store-${++files}.tabvec`) });
// A store's rows files: `<file>.<lineage>.rows`, one per lineage (compaction starts a new one).
const rowsFiles = (target: { file: string }): string[] =>
  readdirSync(dir).filter((f) => f.startsWith(`${target.file.slice(dir.length + 1)}.`) && f.endsWith('.rows')).map((f) => join(dir, f));
const rowsFile = (target: { file: string }): string => {
  const found = rowsFiles(target);
  expect(found).toHaveLength(1);
  return found[0]!;
};


function bruteForce(metric: Metric, vectors: Map<string, Float32Array>, q: Float32Array, k: number): { id: string; distance: number }[] {
  return [...vectors].map(([id, v]) => ({ id, distance: exactDistance(metric, q, v) }))
    .sort((a, b) => a.distance - b.distance).slice(0, k);
}

const DIM = 24;

describe("rerank 'storage'", () => {
  for (const metric of ['l2', 'ip', 'cosine'] as const) {
    it(`answers exactly under ${metric}, small and large, with 4 bytes a vector in memory`, async () => {
      const target = newFile();
      const store = await LiveStore.open(target, { create: { dim: DIM, metric, rerank: 'storage' } });
      const data = clusteredVectors(1500, DIM, 12, 7);
      const queries = clusteredVectors(20, DIM, 12, 7, 1);
      const kept = new Map<string, Float32Array>();
      for (let i = 0; i < 300; i++) {
        const v = data.subarray(i * DIM, (i + 1) * DIM);
        kept.set(`v${i}`, v);
        await store.add(`v${i}`, v);
      }
      const check = (exact: boolean) => {
        let found = 0;
        for (let q = 0; q < 20; q++) {
          const query = queries.subarray(q * DIM, (q + 1) * DIM);
          const hits = store.search(query, { k: 10 });
          const want = bruteForce(metric, kept, query, 10);
          for (let i = 0; i < hits.length; i++) {
            const d = exactDistance(metric, query, kept.get(hits[i]!.id)!);
            expect(hits[i]!.distance).toBeCloseTo(d, 4);
            if (exact) expect(hits[i]!.id).toBe(want[i]!.id);
            found += want.some((w) => w.id === hits[i]!.id) ? 1 : 0;
          }
        }
        return found / 200;
      };
      check(true); // 300 vectors: scanned exactly
      const ids = [];
      for (let i = 300; i < 1500; i++) {
        ids.push(`v${i}`);
        kept.set(`v${i}`, data.subarray(i * DIM, (i + 1) * DIM));
      }
      await store.addMany(ids, data.subarray(300 * DIM));
      expect(check(false)).toBeGreaterThanOrEqual(0.98);
      const stats = store.stats();
      expect(stats.rerank).toBe('storage');
      expect(stats.memory.rerank.used).toBe(1500 * 4);
      // The rows: dim float32 and an 8-byte tag each.
      expect(statSync(rowsFile(target)).size).toBe(1500 * (DIM * 4 + 8));
      // get() returns the exact vector (unit length under cosine) from its row.
      const got = store.get('v700')!.vector;
      const want = kept.get('v700')!;
      const scale = metric === 'cosine' ? 1 / Math.hypot(...want) : 1;
      for (let i = 0; i < DIM; i++) expect(got[i]).toBeCloseTo(want[i]! * scale, 6);
      await store.close();
      await removeSaved(target);
      expect(rowsFiles(target)).toEqual([]);
    });
  }

  it("reads a small store's rows through a bounded buffer, not all of them into memory at once", async () => {
    // 500 vectors of 2,048 dimensions: an exact scan re-ranks all of them, 4 MB of
    // rows. The heap (which never shrinks) must not grow by that for a search.
    const dim = 2048;
    const store = await LiveStore.open(newFile(), { create: { dim, metric: 'l2', rerank: 'storage' } });
    const data = clusteredVectors(500, dim, 8, 11);
    const kept = new Map<string, Float32Array>();
    const ids = Array.from({ length: 500 }, (_, i) => `v${i}`);
    ids.forEach((id, i) => kept.set(id, data.subarray(i * dim, (i + 1) * dim)));
    // In small batches, so that the heap has no megabytes left free by the writes.
    for (let i = 0; i < 500; i += 10) await store.addMany(ids.slice(i, i + 10), data.subarray(i * dim, (i + 10) * dim));
    const before = store.stats().wasmMemoryBytes;
    for (let q = 0; q < 5; q++) {
      const v = clusteredVectors(1, dim, 8, 11, 2 + q);
      const hits = store.search(v, { k: 10 });
      expect(hits.map((h) => h.id)).toEqual(bruteForce('l2', kept, v, 10).map((w) => w.id));
    }
    expect(store.stats().wasmMemoryBytes - before).toBeLessThan(1 << 20);
    await store.close();
  });

  it('is kept in step through upserts, deletes, consolidation, checkpoints and reopening', async () => {
    const target = newFile();
    let store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', rerank: 'storage' } });
    const data = clusteredVectors(900, DIM, 8, 3);
    const kept = new Map<string, Float32Array>();
    for (let i = 0; i < 600; i++) {
      const v = data.subarray(i * DIM, (i + 1) * DIM);
      kept.set(`v${i}`, v);
      await store.add(`v${i}`, v);
    }
    await store.checkpoint();
    await store.close();
    // Reopened from the checkpoint: the rows it numbers next follow the stored ones.
    store = await LiveStore.open(target);
    for (let i = 0; i < 600; i += 3) {
      await store.delete(`v${i}`);
      kept.delete(`v${i}`);
    }
    for (let i = 1; i < 600; i += 5) {
      const v = data.subarray((600 + Math.floor(i / 5)) * DIM, (601 + Math.floor(i / 5)) * DIM);
      await store.upsert(`v${i}`, v);
      kept.set(`v${i}`, v);
    }
    await store.consolidate();
    const q = data.subarray(5 * DIM, 6 * DIM);
    const want = bruteForce('l2', kept, q, 10).map((h) => h.id);
    expect(store.search(q, { k: 10, rerankFactor: 4 }).map((h) => h.id)).toEqual(want);
    await store.close();
    // Reopened from the checkpoint and the journal after it.
    const again = await LiveStore.open(target);
    expect(again.size()).toBe(kept.size);
    expect(again.search(q, { k: 10, rerankFactor: 4 }).map((h) => h.id)).toEqual(want);
    for (const [id, v] of kept) expect(Array.from(again.get(id)!.vector)).toEqual(Array.from(v));
    await again.close();
  });

  it('survives churn: 5 rounds of 30% deleted, consolidated and added again, compacted at checkpoints', async () => {
    const n = 4000;
    const DIM = 48;
    const data = clusteredVectors(n * 2, DIM, 20, 21);
    const queries = clusteredVectors(50, DIM, 20, 21, 1);
    const recall = (store: LiveStore, kept: Map<string, Float32Array>) => {
      let found = 0;
      for (let q = 0; q < 50; q++) {
        const query = queries.subarray(q * DIM, (q + 1) * DIM);
        const want = new Set(bruteForce('l2', kept, query, 10).map((h) => h.id));
        found += store.search(query, { k: 10 }).filter((h) => want.has(h.id)).length;
      }
      return found / 500;
    };
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', rerank: 'storage' } });
    const kept = new Map<string, Float32Array>();
    const ids = Array.from({ length: n }, (_, i) => `v${i}`);
    await store.addMany(ids, data.subarray(0, n * DIM));
    ids.forEach((id, i) => kept.set(id, data.subarray(i * DIM, (i + 1) * DIM)));
    await store.checkpoint();
    const rowBytes = DIM * 4 + 8;
    let next = n;
    let compactions = 0;
    let lastSize = statSync(rowsFile(target)).size;
    for (let round = 1; round <= 5; round++) {
      const gone = [...kept.keys()].filter((_, i) => i % 10 < 3);
      for (const id of gone) {
        await store.delete(id);
        kept.delete(id);
      }
      await store.consolidate();
      const fresh = gone.map(() => `v${next++}`);
      const vectors = new Float32Array(fresh.length * DIM);
      fresh.forEach((id, i) => {
        // Vectors drawn from the same clusters, not seen before.
        const v = data.subarray(((next - fresh.length + i) % (2 * n)) * DIM, ((next - fresh.length + i) % (2 * n) + 1) * DIM);
        vectors.set(v, i * DIM);
        kept.set(id, vectors.subarray(i * DIM, (i + 1) * DIM));
      });
      await store.addMany(fresh, vectors);
      await store.checkpoint();
      // Compacted: one rows file, holding at most half again what is in use (or the minimum that compacts).
      const size = statSync(rowsFile(target)).size;
      expect(size, `round ${round}`).toBeLessThanOrEqual(n * rowBytes + Math.max(0.5 * n * rowBytes, ROWS_COMPACT_MIN_BYTES));
      compactions += size < lastSize ? 1 : 0;
      lastSize = size;
      expect(store.stats().memory.rerank.used).toBe(n * 4);
    }
    expect(compactions).toBeGreaterThanOrEqual(2);
    const churned = recall(store, kept);
    await store.close();
    const built = await LiveStore.open(newFile(), { create: { dim: DIM, metric: 'l2', rerank: 'storage' } });
    await built.addMany([...kept.keys()], Float32Array.from([...kept.values()].flatMap((v) => Array.from(v))));
    const baseline = recall(built, kept);
    await built.close();
    expect(churned).toBeGreaterThanOrEqual(baseline - 0.01);
    // Reopened after compactions: every vector is read from the compacted rows.
    const again = await LiveStore.open(target);
    expect(again.size()).toBe(n);
    for (const [id, v] of [...kept].slice(0, 200)) expect(Array.from(again.get(id)!.vector)).toEqual(Array.from(v));
    expect(recall(again, kept)).toBe(churned);
    await again.close();
  });

  it('reports a damaged or missing rows file as CORRUPT_SNAPSHOT, and loses nothing else', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', rerank: 'storage' } });
    const data = clusteredVectors(100, DIM, 4, 9);
    for (let i = 0; i < 100; i++) await store.add(`v${i}`, data.subarray(i * DIM, (i + 1) * DIM));
    await store.close();
    // One byte of v0's row flipped (rows are numbered in order of writing).
    const fd = openSync(rowsFile(target), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 3);
    byte[0] = byte[0]! ^ 0x40;
    writeSync(fd, byte, 0, 1, 3);
    closeSync(fd);
    const damaged = await LiveStore.open(target);
    const q = data.subarray(0, DIM);
    expectCode(() => damaged.search(q, { k: 5 }), 'CORRUPT_SNAPSHOT');
    expectCode(() => damaged.get('v0'), 'CORRUPT_SNAPSHOT');
    expect(damaged.get('v1')!.vector).toEqual(data.subarray(DIM, 2 * DIM));
    expect(damaged.size()).toBe(100);
    await damaged.close();
    rmSync(rowsFile(target));
    const missing = await LiveStore.open(target);
    expectCode(() => missing.search(q, { k: 5 }), 'CORRUPT_SNAPSHOT');
    await missing.close();
  });

  it('is refused where its rows cannot be read synchronously, and on a store without storage', async () => {
    const idb = { indexedDB: `rows-${++files}` };
    await expectCodeAsync(LiveStore.open(idb, { create: { dim: 4, rerank: 'storage' } }), 'STORAGE_UNAVAILABLE');
    // Refused before anything was created.
    await expectCodeAsync(LiveStore.open(idb), 'NOT_FOUND');
    const plain = await VectorStore.create({ dim: 4, rerank: 'storage' });
    expectCode(() => plain.add('a', new Float32Array([1, 2, 3, 4])), 'STORAGE_UNAVAILABLE');
    expect(plain.size()).toBe(0);
    expect(plain.search(new Float32Array([1, 2, 3, 4]))).toEqual([]);
    plain.dispose();
  });
});
