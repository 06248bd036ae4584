// Snapshot format 5 through the package: round trips for every metric and
// storage in both builds, format 1, 2 and 3 snapshots saved by earlier builds, and
// corruption anywhere in the bytes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VectorStore, type Metric, type Storage, type WasmFlavor } from '../../dist/index.js';
import { loadRuntime } from '../../dist/runtime.js';
import { crc32 } from '../../dist/journal.js';
import { expectCodeAsync } from './expect-error.js';
import { randomVectors } from './data.js';
import { snapshotChecksum, xxh64 } from './snapshot-checksum.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VERSION_AT = 8;

type Meta = { n: number; t?: string };

function searchAll(store: VectorStore<Meta>, queries: Float32Array, dim: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < queries.length / dim; i++) {
    const hits = store.search(queries.subarray(i * dim, (i + 1) * dim), { k: 10 });
    out.push(hits.map((h) => `${h.id}:${h.distance}:${JSON.stringify(h.metadata)}`).join(' '));
  }
  return out;
}

const flavors: WasmFlavor[] = ['simd', 'baseline'];
const shapes: [Metric, Storage][] = [
  ['l2', 'int8'], ['l2', 'float32'], ['ip', 'int8'], ['ip', 'float32'], ['cosine', 'int8'], ['cosine', 'float32'],
];

describe.each(flavors)('snapshots (%s build)', (wasm) => {
  it.each(shapes)('%s / %s: serialize -> deserialize -> serialize is bit-exact and searches the same', async (metric, storage) => {
    const dim = 24;
    const n = 1500;
    const store = await VectorStore.create<Meta>({ dim, metric, storage, maxBuffer: 64, wasm });
    const ids = Array.from({ length: n }, (_, i) => (i % 7 === 0 ? `ид-${i}` : `id-${i}`));
    store.addMany(ids, randomVectors(n, dim, 5), ids.map((_, i) => (i % 3 === 0 ? { n: i, t: 'é' } : undefined)));
    for (let i = 0; i < n; i += 11) store.delete(ids[i]!);
    store.consolidate();
    for (let i = 5; i < n; i += 13) if (i % 11 !== 0) store.delete(ids[i]!); // tombstones
    store.add('late', randomVectors(1, dim, 6)); // a write-buffer entry
    const bytes = store.serialize();
    expect(bytes[VERSION_AT]).toBe(5);
    const copy = await VectorStore.deserialize<Meta>(bytes, { wasm });
    expect(copy.serialize()).toEqual(bytes);
    expect(copy.size()).toBe(store.size());
    const queries = randomVectors(12, dim, 7);
    expect(searchAll(copy, queries, dim)).toEqual(searchAll(store, queries, dim));
    store.dispose();
    copy.dispose();
  });

  it('a store bigger than the 1 MiB serialize window comes out whole', async () => {
    const dim = 256;
    // All in the write buffer (nothing to link), so it builds in moments.
    const store = await VectorStore.create<Meta>({ dim, storage: 'float32', maxBuffer: 4096, wasm });
    store.addMany(Array.from({ length: 2200 }, (_, i) => `v${i}`), randomVectors(2200, dim, 8));
    const bytes = store.serialize();
    expect(bytes.length).toBeGreaterThan(2 << 20);
    expect(snapshotChecksum(bytes)).toBe(new DataView(bytes.buffer, bytes.byteOffset).getUint32(bytes.length - 4, true));
    const copy = await VectorStore.deserialize<Meta>(bytes, { wasm });
    expect(copy.serialize()).toEqual(bytes);
    store.dispose();
    copy.dispose();
  });

  // tests/core/fixtures: written by the format 1, 2 and 3 writers (see snapshot_fixtures.h for the recipe).
  it.each([1, 2, 3, 4].flatMap((version) => ['l2-int8-staged', 'l2-int8-graph', 'cosine-float32', 'ip-int8'].map((name) => ({ version, name }))))(
    'format $version snapshot $name still opens, holds what was saved and searches as its current-format copy',
    async ({ version, name }) => {
      const v1 = new Uint8Array(readFileSync(path.join(root, `tests/core/fixtures/snapshot-v${version}-${name}.tabvec`)));
      expect(v1[VERSION_AT]).toBe(version);
      const old = await VectorStore.deserialize<Meta>(v1, { wasm });
      const n = name === 'l2-int8-staged' ? 5 : name === 'l2-int8-graph' ? 150 : name === 'cosine-float32' ? 120 : 90;
      let live = 0;
      for (let i = 0; i < n; i++) {
        const id = (i % 5 === 0 ? 'ид-' : 'id-') + i;
        const removed = i % 7 === 1 || i % 11 === 2;
        expect(old.has(id), id).toBe(!removed);
        if (removed) continue;
        live++;
        expect(old.get(id)!.metadata).toEqual(i % 3 === 0 ? { n: i, t: 'é' } : undefined);
      }
      expect(old.size()).toBe(live);
      const v2 = old.serialize();
      expect(v2[VERSION_AT]).toBe(5);
      const now = await VectorStore.deserialize<Meta>(v2, { wasm });
      expect(now.serialize()).toEqual(v2);
      const dim = old.dim;
      const queries = randomVectors(10, dim, 9);
      expect(searchAll(now, queries, dim)).toEqual(searchAll(old, queries, dim));
      old.dispose();
      now.dispose();
    },
  );

  it('any flipped byte and any truncation is CORRUPT_SNAPSHOT', async () => {
    const dim = 4;
    const store = await VectorStore.create<Meta>({ dim, maxDegree: 4, maxBuffer: 16, wasm });
    const ids = Array.from({ length: 60 }, (_, i) => `k${i}`);
    store.addMany(ids, randomVectors(60, dim, 10), ids.map((_, i) => (i % 2 ? { n: i } : undefined)));
    for (let i = 0; i < 60; i += 9) store.delete(ids[i]!);
    const good = store.serialize();
    store.dispose();
    for (let at = 0; at < good.length; at++) {
      const bad = good.slice();
      bad[at]! ^= 0x04;
      await expectCodeAsync(VectorStore.deserialize(bad, { wasm }), 'CORRUPT_SNAPSHOT');
    }
    for (const len of [0, 11, 111, good.length >> 1, good.length - 5, good.length - 1]) {
      await expectCodeAsync(VectorStore.deserialize(good.subarray(0, len), { wasm }), 'CORRUPT_SNAPSHOT');
    }
    const copy = await VectorStore.deserialize(good, { wasm });
    expect(copy.serialize()).toEqual(good);
    copy.dispose();
  });
});

it("the core's snapshot checksum, fed a piece at a time, is the low half of XXH64", async () => {
  const rt = await loadRuntime('baseline');
  const bytes = new Uint8Array(20_001);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  const window = 4096;
  const ptr = rt.malloc(window);
  const state = rt.malloc(rt.module.SNAPSHOT_CHECKSUM_STATE_BYTES);
  // As serialize() streams a snapshot through its heap window.
  const core = (end: number, piece: number) => {
    rt.u8.fill(0, state, state + rt.module.SNAPSHOT_CHECKSUM_STATE_BYTES);
    let sum = rt.module.snapshotChecksum(state, ptr, 0);
    for (let at = 0; at < end; at += piece) {
      const len = Math.min(piece, end - at);
      rt.u8.set(bytes.subarray(at, at + len), ptr);
      sum = rt.module.snapshotChecksum(state, ptr, len);
    }
    return sum >>> 0;
  };
  try {
    for (const end of [0, 1, 3, 4, 8, 31, 32, 33, 4095, 4097, bytes.length]) {
      for (const piece of [1, 7, 32, window]) {
        if (end / piece > 5000) continue;
        expect(core(end, piece), `end ${end}, pieces of ${piece}`).toBe(Number(xxh64(bytes, end) & 0xffffffffn));
      }
    }
  } finally {
    rt.module._free(ptr);
    rt.module._free(state);
  }
  // Published values, so the reference is XXH64 and not merely agreeing with the core.
  const text = (s: string) => new TextEncoder().encode(s);
  expect(xxh64(text(''))).toBe(0xef46db3751d8e999n);
  expect(xxh64(text('a'))).toBe(0xd24ec4f1a98c6e5bn);
  expect(xxh64(text('abc'))).toBe(0x44bc2cf5ad770999n);
  // The journal's CRC-32.
  expect(crc32(text('123456789'))).toBe(0xcbf43926);
});
