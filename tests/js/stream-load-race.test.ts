// Review: a checkpoint replaced or removed while open() reads it (Node files),
// simulating a writer in another process by patching node:fs/promises.
import 'fake-indexeddb/auto';
import fsCjs from 'node:fs';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, VectorStore } from '../../dist/index.js';
import { randomVectors } from './data.js';
import { expectCodeAsync } from './expect-error.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tabvec-review-race-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
const newFile = () => ({ file: path.join(dir, `r${++count}.tabvec`) });

const originalOpen = fsCjs.promises.open;
function patchOpen(onOpen: (file: string) => void) {
  fsCjs.promises.open = (async (file: string, ...rest: unknown[]) => {
    onOpen(String(file));
    return (originalOpen as (...a: unknown[]) => unknown)(file, ...rest);
  }) as typeof originalOpen;
  syncBuiltinESMExports();
}
function unpatch() {
  fsCjs.promises.open = originalOpen;
  syncBuiltinESMExports();
}

async function saved(n: number, seed: number) {
  const target = newFile();
  const s = await VectorStore.create({ dim: 4 });
  s.addMany(Array.from({ length: n }, (_, i) => `v${i}`), randomVectors(n, 4, seed));
  await s.save(target);
  s.dispose();
  return target;
}

describe('checkpoint replaced while being read', () => {
  it('another process compacts between stat() and open(): open() retries and gets the new one', async () => {
    const target = await saved(20, 1);
    const m = JSON.parse(readFileSync(target.file, 'utf8'));
    const other = await VectorStore.create({ dim: 4 });
    other.addMany(['x', 'y', 'z'], randomVectors(3, 4, 2));
    const next = other.serialize();
    other.dispose();
    let fired = false;
    patchOpen((file) => {
      if (fired || !file.endsWith(`.${m.generation}.checkpoint`)) return;
      fired = true;
      // what the other process does: new checkpoint, manifest, old one removed
      writeFileSync(`${target.file}.${m.generation + 1}.checkpoint`, next);
      writeFileSync(target.file, JSON.stringify({ generation: m.generation + 1, bytes: next.byteLength, seq: m.seq }));
      unlinkSync(`${target.file}.${m.generation}.checkpoint`);
    });
    try {
      const s = await VectorStore.open(target);
      expect(fired).toBe(true);
      expect(s.size()).toBe(3);
      s.dispose();
    } finally {
      unpatch();
    }
  });

  it('removed between stat() and open() with the manifest unchanged: CORRUPT_SNAPSHOT', async () => {
    const target = await saved(20, 3);
    const m = JSON.parse(readFileSync(target.file, 'utf8'));
    patchOpen((file) => {
      if (file.endsWith(`.${m.generation}.checkpoint`)) try { unlinkSync(file); } catch { /* once */ }
    });
    try {
      await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
    } finally {
      unpatch();
    }
  });
});

describe('IndexedDB: a piece missing after a damaged piece', () => {
  it('is CORRUPT_SNAPSHOT and leaves no unhandled rejection', async () => {
    const big = await VectorStore.create({ dim: 512, metric: 'l2', storage: 'float32', maxBuffer: 65536 });
    big.addMany(Array.from({ length: 2200 }, (_, i) => `b${i}`), randomVectors(2200, 512, 8));
    await big.save({ indexedDB: 'dmg' });
    big.dispose();
    const rejections: unknown[] = [];
    const onRejection = (e: unknown) => rejections.push(e);
    process.on('unhandledRejection', onRejection);
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('tabvec');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const manifest = await new Promise<{ generation: number }>((resolve) => {
      const r = db.transaction('manifests').objectStore('manifests').get('dmg');
      r.onsuccess = () => resolve(r.result);
    });
    const key = `dmg/${manifest.generation}`;
    const first = await new Promise<Uint8Array>((resolve) => {
      const r = db.transaction('snapshots').objectStore('snapshots').get(`${key}/0`);
      r.onsuccess = () => resolve(r.result);
    });
    const bad = first.slice();
    bad[0]! ^= 0xff;
    await new Promise<void>((resolve) => {
      const tx = db.transaction('snapshots', 'readwrite');
      tx.objectStore('snapshots').put(bad, `${key}/0`);
      tx.objectStore('snapshots').delete(`${key}/1`);
      tx.oncomplete = () => resolve();
    });
    db.close();
    try {
      await expectCodeAsync(VectorStore.open({ indexedDB: 'dmg' }), 'CORRUPT_SNAPSHOT');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      process.off('unhandledRejection', onRejection);
    }
    expect(rejections.map(String)).toEqual([]);
  });
});

describe('LiveStore', () => {
  it('a live store on a file whose checkpoint was damaged: CORRUPT_SNAPSHOT', async () => {
    const target = newFile();
    const live = await LiveStore.open(target, { create: { dim: 4 } });
    await live.add('a', randomVectors(1, 4, 1));
    await live.checkpoint?.();
    await live.close();
    const m = JSON.parse(readFileSync(target.file, 'utf8'));
    const cp = `${target.file}.${m.generation}.checkpoint`;
    const b = readFileSync(cp);
    b[b.length - 1]! ^= 1;
    writeFileSync(cp, b);
    await expectCodeAsync(LiveStore.open(target), 'CORRUPT_SNAPSHOT');
  });
});
