// Persistence logic in Node against fake-indexeddb (a faithful IndexedDB
// implementation); OPFS is exercised in Chromium (tests/browser).
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { TabvecError, VectorStore, removeSaved } from '../../dist/index.js';
import { randomVectors } from './data.js';
import { putRecords } from './idb.js';

async function makeStore(n: number, seed: number) {
  const store = await VectorStore.create<{ n: number }>({ dim: 16, metric: 'l2' });
  store.addMany(Array.from({ length: n }, (_, i) => `p${i}`), randomVectors(n, 16, seed), Array.from({ length: n }, (_, i) => ({ n: i })));
  return store;
}

describe('IndexedDB persistence', () => {
  it('saves, opens and searches identically; generations advance', async () => {
    const store = await makeStore(1500, 1);
    const first = await store.save({ indexedDB: 'notes' });
    expect(first.generation).toBe(1);
    expect(first.bytes).toBe(store.serialize().byteLength);
    const second = await store.save({ indexedDB: 'notes' });
    expect(second.generation).toBe(2);
    const reopened = await VectorStore.open<{ n: number }>({ indexedDB: 'notes' });
    const q = randomVectors(1, 16, 99);
    expect(reopened.search(q, { k: 10 })).toEqual(store.search(q, { k: 10 }));
    expect(reopened.serialize()).toEqual(store.serialize());
    await removeSaved({ indexedDB: 'notes' });
    await expect(VectorStore.open({ indexedDB: 'notes' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a failed save (quota exceeded mid-write) leaves the previous version loadable', async () => {
    const store = await makeStore(500, 2);
    await store.save({ indexedDB: 'quota' });
    const saved = store.serialize();
    store.add('extra', randomVectors(1, 16, 3));
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (...args: Parameters<typeof put>) {
      if (this.name === 'snapshots') throw new DOMException('quota', 'QuotaExceededError');
      return put.apply(this, args);
    };
    try {
      await expect(store.save({ indexedDB: 'quota' })).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    const reopened = await VectorStore.open({ indexedDB: 'quota' });
    expect(reopened.serialize()).toEqual(saved);
    expect(reopened.has('extra')).toBe(false);
  });

  it('rejects corrupted stored bytes with a typed error', async () => {
    const store = await makeStore(300, 4);
    await store.save({ indexedDB: 'corrupt' });
    // Flip one byte of the stored snapshot behind the library's back.
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const r = indexedDB.open('tabvec');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('snapshots', 'readwrite');
      const s = tx.objectStore('snapshots');
      // Checkpoints are stored in pieces (storage.ts); this store fits in the first.
      const get = s.get('corrupt/1/0');
      get.onsuccess = () => {
        const bytes = get.result as Uint8Array;
        bytes[Math.floor(bytes.length / 2)]! ^= 1;
        s.put(bytes, 'corrupt/1/0');
      };
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
    db.close();
    await expect(VectorStore.open({ indexedDB: 'corrupt' })).rejects.toMatchObject({ code: 'CORRUPT_SNAPSHOT' });
  });

  it('validates targets and reports OPFS as unavailable in Node', async () => {
    const store = await makeStore(10, 5);
    await expect(store.save({ indexedDB: '../etc' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.save({} as { opfs: string })).rejects.toBeInstanceOf(TabvecError);
    await expect(store.save({ opfs: 'x' })).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });
});

describe('IndexedDB checkpoints in pieces', () => {
  it('a store larger than one piece round-trips; one stored as a single record (older saves) still opens', async () => {
    // Kept in the write buffer (no graph to build): only its size matters here.
    const big = await VectorStore.create({ dim: 512, metric: 'l2', storage: 'float32', maxBuffer: 65536 });
    big.addMany(Array.from({ length: 2200 }, (_, i) => `b${i}`), randomVectors(2200, 512, 8));
    const bytes = big.serialize();
    expect(bytes.byteLength).toBeGreaterThan(4 << 20); // two pieces at least
    const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;
    await big.save({ indexedDB: 'pieces' });
    const back = await VectorStore.open({ indexedDB: 'pieces' });
    expect(same(back.serialize(), bytes)).toBe(true);
    back.dispose();
    // As save() stored checkpoints before: the bytes in one record at <name>/<generation>.
    await putRecords([
      ['snapshots', 'single/7', bytes],
      ['manifests', 'single', { generation: 7, bytes: bytes.byteLength }],
    ]);
    const old = await VectorStore.open({ indexedDB: 'single' });
    expect(same(old.serialize(), bytes)).toBe(true);
    old.dispose();
    big.dispose();
  });
});
