// The streaming loader under hostile use (found by a review: each failed before its fix).
import 'fake-indexeddb/auto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync, unlinkSync, renameSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, TabvecError, VectorStore } from '../../dist/index.js';
import { randomVectors } from './data.js';
import { expectCodeAsync } from './expect-error.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const dir = mkdtempSync(path.join(tmpdir(), 'tabvec-review-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const newFile = () => ({ file: path.join(dir, `s${++count}.tabvec`) });

type Source = { bytes: number; pieces(): AsyncIterable<Uint8Array> | Iterable<Uint8Array> };
const load = (src: Source, opts = {}) => (VectorStore as unknown as { load(s: Source, o?: object): Promise<VectorStore> }).load(src, opts);

// Pieces of the given sizes (cycled), each a fresh copy.
function piecesOf(bytes: Uint8Array, sizes: number[]): Source {
  return {
    bytes: bytes.byteLength,
    *pieces() {
      for (let at = 0, i = 0; at < bytes.byteLength; i++) {
        const n = sizes[i % sizes.length]!;
        yield bytes.slice(at, at + n);
        at += n;
      }
    },
  };
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function openFdsOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

async function metaHeavyStore(items: number, textBytes: number) {
  const store = await VectorStore.create({ dim: 4, wasm: 'simd' });
  const text = 'y'.repeat(textBytes);
  const v = randomVectors(items, 4, 3);
  for (let i = 0; i < items; i++) store.add(`m${i}`, v.subarray(i * 4, i * 4 + 4), { i, text });
  return store;
}

describe('streaming load', () => {
  it('every cut of small snapshots (empty, staged only, metadata only, graph) loads identically', async () => {
    const stores: VectorStore[] = [];
    stores.push(await VectorStore.create({ dim: 3 })); // zero vectors
    const staged = await VectorStore.create({ dim: 3 });
    staged.add('a', randomVectors(1, 3, 1), { x: 1 });
    staged.add('b', randomVectors(1, 3, 2));
    stores.push(staged);
    const meta = await VectorStore.create({ dim: 3, storage: 'float32', metric: 'l2' });
    meta.add('only', randomVectors(1, 3, 1), { deep: [1, { a: 'é' }] });
    stores.push(meta);
    const graph = await VectorStore.create({ dim: 5, maxDegree: 4, maxBuffer: 8 });
    const ids = Array.from({ length: 40 }, (_, i) => `g${i}`);
    graph.addMany(ids, randomVectors(40, 5, 4), ids.map((_, i) => (i % 3 ? undefined : { i })));
    for (let i = 0; i < 40; i += 7) graph.delete(ids[i]!);
    stores.push(graph);
    const emptied = await VectorStore.create({ dim: 3 });
    emptied.add('x', randomVectors(1, 3, 9));
    emptied.delete('x');
    stores.push(emptied);
    for (const s of stores) {
      const bytes = s.serialize();
      for (const sizes of [[1], [2, 0, 3], [7], [113], [4096]]) {
        const copy = await load(piecesOf(bytes, sizes));
        expect(same(copy.serialize(), bytes)).toBe(true);
        copy.dispose();
      }
      // every single split point
      for (let cut = 0; cut <= bytes.length; cut++) {
        const copy = await load({ bytes: bytes.length, pieces: () => [bytes.slice(0, cut), bytes.slice(cut)] });
        expect(same(copy.serialize(), bytes)).toBe(true);
        copy.dispose();
      }
      s.dispose();
    }
  });

  it('format 1 fixtures load through deserialize, pieces, VectorStore.open and LiveStore.open', async () => {
    for (const name of ['l2-int8-staged', 'l2-int8-graph', 'cosine-float32', 'ip-int8']) {
      const v1 = new Uint8Array(readFileSync(path.join(root, `tests/core/fixtures/snapshot-v1-${name}.tabvec`)));
      const whole = await VectorStore.deserialize(v1);
      const expected = whole.serialize();
      whole.dispose();
      for (const sizes of [[1], [3], [17, 1]]) {
        const c = await load(piecesOf(v1, sizes));
        expect(same(c.serialize(), expected)).toBe(true);
        c.dispose();
      }
      const target = newFile();
      // a save, then its checkpoint swapped for the format 1 bytes
      const s = await VectorStore.create({ dim: 2 });
      await s.save(target);
      s.dispose();
      const manifest = JSON.parse(readFileSync(target.file, 'utf8'));
      writeFileSync(`${target.file}.${manifest.generation}.checkpoint`, v1);
      writeFileSync(target.file, JSON.stringify({ ...manifest, bytes: v1.byteLength }));
      const opened = await VectorStore.open(target);
      expect(same(opened.serialize(), expected)).toBe(true);
      opened.dispose();
      const live = await LiveStore.open(target);
      expect(live.size()).toBeGreaterThan(0);
      await live.close();
    }
  });

  it('a 16 MiB metadata item split across every read piece and window opens from a file', async () => {
    const store = await VectorStore.create({ dim: 4 });
    const big = { t: 'z'.repeat((16 << 20) - 10) };
    expect(JSON.stringify(big).length).toBeLessThanOrEqual(16 << 20);
    store.add('big', randomVectors(1, 4, 1), big);
    store.add('small', randomVectors(1, 4, 2), { s: 1 });
    store.add('big2', randomVectors(1, 4, 3), big);
    const bytes = store.serialize();
    store.dispose();
    const target = newFile();
    const s = await VectorStore.deserialize(bytes);
    await s.save(target);
    s.dispose();
    const opened = await VectorStore.open(target);
    expect((opened.get('big')!.metadata as typeof big).t === big.t).toBe(true);
    expect((opened.get('big2')!.metadata as typeof big).t === big.t).toBe(true);
    expect(same(opened.serialize(), bytes)).toBe(true);
    opened.dispose();
    const odd = await load(piecesOf(bytes, [999_999, 3]));
    expect(same(odd.serialize(), bytes)).toBe(true);
    odd.dispose();
  });

  it('over-long and short sources are CORRUPT_SNAPSHOT', async () => {
    const s = await VectorStore.create({ dim: 3 });
    s.add('a', randomVectors(1, 3, 1));
    const bytes = s.serialize();
    s.dispose();
    await expectCodeAsync(load({ bytes: bytes.length, pieces: () => [bytes, new Uint8Array(1)] }), 'CORRUPT_SNAPSHOT');
    await expectCodeAsync(load({ bytes: bytes.length, pieces: () => [bytes.subarray(0, bytes.length - 1)] }), 'CORRUPT_SNAPSHOT');
    await expectCodeAsync(load({ bytes: bytes.length - 1, pieces: () => [bytes] }), 'CORRUPT_SNAPSHOT');
    // file longer / shorter than the manifest says
    for (const change of [(b: Uint8Array) => Buffer.concat([b, Buffer.from([0])]), (b: Uint8Array) => b.subarray(0, b.length - 1)]) {
      const target = newFile();
      const st = await VectorStore.deserialize(bytes);
      await st.save(target);
      st.dispose();
      const m = JSON.parse(readFileSync(target.file, 'utf8'));
      const cp = `${target.file}.${m.generation}.checkpoint`;
      writeFileSync(cp, change(readFileSync(cp)));
      await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
    }
  });

  it('opening a corrupt multi-piece checkpoint does not leave its file open', async () => {
    const store = await metaHeavyStore(12, 1 << 20); // ~12 MB: two 8 MiB read pieces
    const target = newFile();
    await store.save(target);
    store.dispose();
    const m = JSON.parse(readFileSync(target.file, 'utf8'));
    const cp = `${target.file}.${m.generation}.checkpoint`;
    const bad = readFileSync(cp);
    bad[0] ^= 0xff; // the magic: fails on the first piece
    writeFileSync(cp, bad);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    let heldRightAfter = 0;
    for (let i = 0; i < 20; i++) {
      await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
      heldRightAfter = Math.max(heldRightAfter, openFdsOn(cp));
    }
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    process.off('warning', onWarning);
    expect(heldRightAfter, 'the checkpoint is still open after open() rejected').toBe(0);
    expect(warnings.filter((w) => w.includes('garbage collection'))).toEqual([]);
  });
});
