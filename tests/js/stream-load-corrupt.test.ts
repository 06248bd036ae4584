// Review: every single-byte damage of a snapshot must be CORRUPT_SNAPSHOT,
// also when the store is opened with a memory cap (as apps do).
import { describe, expect, it } from 'vitest';
import { TabvecError, VectorStore } from '../../dist/index.js';
import { randomVectors } from './data.js';
import { reseal } from './snapshot-checksum.js';

async function smallest(bytes: Uint8Array): Promise<number> {
  let lo = 1, hi = 1 << 30;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const ok = await VectorStore.deserialize(bytes, { maxMemoryBytes: mid }).then((s) => (s.dispose(), true), () => false);
    if (ok) hi = mid; else lo = mid + 1;
  }
  return lo;
}

// The snapshot of n vectors with metadata on every other one, every
// deleteEvery-th deleted, and with `late` one more added after (a write-buffer entry).
async function snapshotOf(o: { n: number; dim: number; maxDegree: number; maxBuffer: number; deleteEvery: number; late?: boolean }) {
  const store = await VectorStore.create({ dim: o.dim, maxDegree: o.maxDegree, maxBuffer: o.maxBuffer });
  const ids = Array.from({ length: o.n }, (_, i) => `k${i}`);
  store.addMany(ids, randomVectors(o.n, o.dim, 10), ids.map((_, i) => (i % 2 ? { n: i } : undefined)));
  for (let i = 0; i < o.n; i += o.deleteEvery) store.delete(ids[i]!);
  if (o.late) store.add('late', randomVectors(1, o.dim, 3), { late: true });
  const bytes = store.serialize();
  store.dispose();
  return bytes;
}

describe('flipped bytes under a memory cap', () => {
  it('any flipped bit is CORRUPT_SNAPSHOT with maxMemoryBytes set', async () => {
    const good = await snapshotOf({ n: 300, dim: 8, maxDegree: 8, maxBuffer: 16, deleteEvery: 9 });
    const cap = (await smallest(good)) * 2;
    const wrong: string[] = [];
    // the header only (112 bytes): that is where sizes and options live
    for (let at = 0; at < 112; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = good.slice();
        bad[at]! ^= 1 << bit;
        const e = await VectorStore.deserialize(bad, { maxMemoryBytes: cap }).then((s) => (s.dispose(), undefined), (x: unknown) => x);
        const code = e instanceof TabvecError ? e.code : String(e);
        if (code !== 'CORRUPT_SNAPSHOT') wrong.push(`byte ${at} bit ${bit}: ${code}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

type Source = { bytes: number; pieces(): Iterable<Uint8Array> };
const load = (src: Source, opts = {}) => (VectorStore as unknown as { load(s: Source, o?: object): Promise<VectorStore> }).load(src, opts);
function inPieces(bytes: Uint8Array, n: number): Source {
  return { bytes: bytes.length, *pieces() { for (let at = 0; at < bytes.length; at += n) yield bytes.slice(at, at + n); } };
}

describe('flipped bits fed in pieces', () => {
  it('every bit of a small snapshot, fed 5 bytes at a time, is CORRUPT_SNAPSHOT, with and without a memory cap', async () => {
    const good = await snapshotOf({ n: 24, dim: 3, maxDegree: 4, maxBuffer: 4, deleteEvery: 5, late: true });
    const cap = (await smallest(good)) * 2;
    const wrong: string[] = [];
    for (let at = 0; at < good.length; at++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = good.slice();
        bad[at]! ^= 1 << bit;
        for (const opts of [{}, { maxMemoryBytes: cap }]) {
          const e = await load(inPieces(bad, 5), opts).then((s) => (s.dispose(), undefined), (x: unknown) => x);
          const code = e instanceof TabvecError ? e.code : String(e);
          if (code !== 'CORRUPT_SNAPSHOT') wrong.push(`byte ${at} bit ${bit} ${JSON.stringify(opts)}: ${code}`);
        }
      }
    }
    console.log(`${good.length} bytes; not CORRUPT_SNAPSHOT: ${wrong.length}\n${wrong.join('\n')}`);
    expect(wrong).toEqual([]);
  });

  it('versions this build does not read are UNSUPPORTED_VERSION when the checksum is good, in any pieces', async () => {
    const store = await VectorStore.create({ dim: 3 });
    store.add('a', randomVectors(1, 3, 1));
    const good = store.serialize();
    store.dispose();
    for (const version of [0, 6, 0xffffffff]) {
      const b = good.slice();
      const dv = new DataView(b.buffer);
      dv.setUint32(8, version, true);
      reseal(b);
      for (const n of [1, 7, b.length]) {
        const e = await load(inPieces(b, n)).then(() => undefined, (x: TabvecError) => x);
        expect(e?.code, `version ${version} pieces ${n}`).toBe('UNSUPPORTED_VERSION');
      }
    }
  });
});
