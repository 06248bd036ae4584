// Review: WebAssembly memory while opening from a file. Each test runs a
// fresh copy of the package (its own module), as small-memory.test.ts does.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type * as Tabvec from '../../dist/index.js';
import { randomVectors, root } from './data.js';

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});
// A directory removed after the tests.
function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}
async function fresh(): Promise<typeof Tabvec> {
  const dir = tempDir('tabvec-review-mem-');
  cpSync(path.join(root, 'dist'), dir, { recursive: true });
  return (await import(/* @vite-ignore */ pathToFileURL(path.join(dir, 'index.js')).href)) as typeof Tabvec;
}
const MB = 1e6;

// ~45 MB: 45 small vectors with 1 MB of metadata each (vectors take minutes to link).
async function writeBigStore(tv: typeof Tabvec, file: string) {
  const s = await tv.VectorStore.create({ dim: 8, wasm: 'simd' });
  const v = randomVectors(45, 8, 1);
  const text = 'q'.repeat(1_000_000);
  for (let i = 0; i < 45; i++) s.add(`vector-${i}`, v.subarray(i * 8, (i + 1) * 8), { i, text });
  await s.save({ file });
  s.dispose();
  const m = JSON.parse(readFileSync(file, 'utf8'));
  return { checkpoint: `${file}.${m.generation}.checkpoint`, bytes: m.bytes as number };
}

describe('memory when opening from a file', () => {
  it('opening a ~45 MB store keeps about the store, not the store plus its snapshot', async () => {
    const dir = tempDir('tabvec-review-f-');
    const file = path.join(dir, 'big.tabvec');
    const { bytes } = await writeBigStore(await fresh(), file);
    const tv = await fresh();
    const store = await tv.VectorStore.open({ file }, { wasm: 'simd' });
    const st = store.stats();
    console.log(`checkpoint ${(bytes / MB).toFixed(1)} MB, reserved ${(st.memory.total.reserved / MB).toFixed(1)} MB, wasm memory ${(st.wasmMemoryBytes / MB).toFixed(1)} MB`);
    expect(st.wasmMemoryBytes).toBeLessThan(st.memory.total.reserved * 1.25 + 8 * MB);
    store.dispose();
  });

  it('opening a damaged ~45 MB checkpoint 20 times does not keep growing memory', async () => {
    const dir = tempDir('tabvec-review-f-');
    const file = path.join(dir, 'big.tabvec');
    const { checkpoint } = await writeBigStore(await fresh(), file);
    const tv = await fresh();
    const good = readFileSync(checkpoint);
    const bad = Buffer.from(good);
    bad[bad.length - 100]! ^= 0x01; // a metadata letter near the end ('q' -> 'p'): found by the checksum at finish()
    writeFileSync(checkpoint, bad);
    const sizes: number[] = [];
    for (let i = 0; i < 20; i++) {
      await expect(tv.VectorStore.open({ file }, { wasm: 'simd' })).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT' });
      const probe = await tv.VectorStore.create({ dim: 2, wasm: 'simd' });
      sizes.push(probe.stats().wasmMemoryBytes);
      probe.dispose();
    }
    console.log(`wasm memory after each failed open (MB): ${sizes.map((s) => (s / MB).toFixed(0)).join(' ')}`);
    expect(sizes.at(-1)! - sizes[0]!).toBeLessThan(8 * MB);
    // and the good bytes still open in that module
    writeFileSync(checkpoint, good);
    const ok = await tv.VectorStore.open({ file }, { wasm: 'simd' });
    expect(ok.size()).toBe(45);
    ok.dispose();
  });
});

// Not asserted: a flipped bit in maxDegree still makes the loader reserve
// graph records before the checksum refuses the snapshot (bounded, see
// core/snapshot.cpp), and that memory stays with the module.

describe('small-memory build (32 MiB)', () => {
  it('a flipped bit in maxDegree of a ~2 MB snapshot is OUT_OF_MEMORY, not CORRUPT_SNAPSHOT', async () => {
    const dir = tempDir('tabvec-review-small-');
    cpSync(path.join(root, 'dist'), dir, { recursive: true });
    cpSync(path.join(root, 'build/wasm/wasm-out/tabvec-small.mjs'), path.join(dir, 'wasm/tabvec-simd.mjs'));
    cpSync(path.join(root, 'build/wasm/wasm-out/tabvec-small.wasm'), path.join(dir, 'wasm/tabvec-simd.wasm'));
    const tv = (await import(/* @vite-ignore */ pathToFileURL(path.join(dir, 'index.js')).href)) as typeof Tabvec;
    const n = 70_000;
    const s = await tv.VectorStore.create({ dim: 4, maxDegree: 4, wasm: 'simd' });
    s.addMany(Array.from({ length: n }, (_, i) => `v${i}`), randomVectors(n, 4, 5));
    const good = s.serialize();
    s.dispose();
    const bad = good.slice();
    bad[24]! ^= 0x80; // maxDegree 4 -> 132
    const e = await tv.VectorStore.deserialize(bad, { wasm: 'simd' }).then(() => undefined, (x: { code?: string }) => x);
    console.log(`snapshot ${(good.length / MB).toFixed(1)} MB, error ${e?.code}`);
    expect(e?.code).toBe('CORRUPT_SNAPSHOT');
  });
});
