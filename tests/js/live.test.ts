// The live store in Node: files (with a process lock) and, for several
// writers at once, IndexedDB (fake-indexeddb) with two LiveStores in one
// process standing in for two tabs: the same code a browser runs, with the
// in-process lock instead of Web Locks and BroadcastChannel between them.
import 'fake-indexeddb/auto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveStore, type StorageTarget, VectorStore, removeSaved } from '../../dist/index.js';
import { randomVectors } from './data.js';
import { expectCodeAsync } from './expect-error.js';
import { encodeSegment, lastRecordNumber } from '../../dist/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'tabvec-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;
const newFile = (): { file: string } => ({ file: join(dir, `store-${++fileCount}.tabvec`) });

const DIM = 8;
const vec = (seed: number) => randomVectors(1, DIM, seed);

// Everything a store holds, in a form two stores can be compared by.
function contents(store: { size(): number; get(id: string): { vector: Float32Array; metadata: unknown } | undefined }, ids: string[]) {
  return { size: store.size(), records: ids.map((id) => { const r = store.get(id); return r && { id, vector: Array.from(r.vector), metadata: r.metadata }; }) };
}

function journalFiles(target: { file: string }): string[] {
  const base = target.file.split('/').pop()!;
  return readdirSync(dir).filter((f) => f.startsWith(`${base}.`) && f.endsWith('.journal')).sort((a, b) => Number(a.split('.').at(-2)) - Number(b.split('.').at(-2)));
}

describe('LiveStore on a file', () => {
  it('journals every write; reopening replays them exactly', async () => {
    const target = newFile();
    const store = await LiveStore.open<{ n: number }>(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    const ids = Array.from({ length: 60 }, (_, i) => `n${i}`);
    for (let i = 0; i < 40; i++) void store.add(ids[i]!, vec(i), { n: i });
    await store.addMany(ids.slice(40), randomVectors(20, DIM, 100), ids.slice(40).map((_, i) => ({ n: 40 + i })));
    await store.upsert('n3', vec(999), { n: -3 });
    await store.delete('n4');
    await store.setMetadata('n5', undefined);
    await store.consolidate();
    await store.flush();
    const before = contents(store, ids);
    const q = vec(7);
    const hits = store.search(q, { k: 10 });
    expect(store.size()).toBe(59);
    await store.close();

    const again = await LiveStore.open<{ n: number }>(target);
    expect(again.recovery.replayed).toBeGreaterThan(0);
    expect(again.recovery.tornTail).toBeUndefined();
    expect(contents(again, ids)).toEqual(before);
    expect(again.search(q, { k: 10 })).toEqual(hits);
    // VectorStore.open reads the same checkpoint + journal, as a detached copy.
    const copy = await VectorStore.open(target);
    expect(contents(copy, ids)).toEqual(before);
    copy.dispose();
    await again.close();
  });

  it('a write refused on the current state rejects with its error and records nothing', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    await store.add('a', vec(1));
    const seq = store.seq;
    await expectCodeAsync(store.add('a', vec(2)), 'DUPLICATE_ID');
    await expectCodeAsync(store.add('b', new Float32Array(3)), 'DIMENSION_MISMATCH');
    await expectCodeAsync(store.delete('nope'), 'UNKNOWN_ID');
    await expectCodeAsync(store.add('c', new Float32Array(DIM).fill(NaN)), 'NON_FINITE_VALUE');
    await expectCodeAsync(store.add('d', vec(3), { f: () => 1, toJSON: undefined, big: 1n } as never), 'NOT_SERIALIZABLE');
    expect(store.seq).toBe(seq);
    expect(store.size()).toBe(1);
    // The writes after a refused one in the same commit still commit.
    const results = await Promise.allSettled([store.add('e', vec(4)), store.add('e', vec(5)), store.add('f', vec(6))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(store.seq).toBe(seq + 2);
    await store.close();
    await expectCodeAsync(store.add('g', vec(7)), 'DISPOSED');
  });

  it('the caller may reuse its arrays at once: the write keeps what it was given', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    const v = vec(1);
    const expected = Array.from(v);
    const meta = { tag: 'first' };
    const done = store.add('a', v, meta);
    v.fill(0);
    meta.tag = 'changed';
    await done;
    expect(Array.from(store.get('a')!.vector)).toEqual(expected);
    expect(store.get('a')!.metadata).toEqual({ tag: 'first' });
    await store.close();
  });

  it('refuses options it does not know, a missing store without create, and a create that does not match', async () => {
    const target = newFile();
    await expectCodeAsync(LiveStore.open(target, { create: { dim: 4 }, durable: true } as never), 'INVALID_ARGUMENT');
    await expectCodeAsync(LiveStore.open(target), 'NOT_FOUND');
    await expectCodeAsync(LiveStore.open(target, { create: { dim: 4 }, durability: 'sometimes' as never }), 'INVALID_ARGUMENT');
    const store = await LiveStore.open(target, { create: { dim: 4 } });
    await store.close();
    await expectCodeAsync(LiveStore.open(target, { create: { dim: 5 } }), 'INVALID_ARGUMENT');
    await expectCodeAsync(LiveStore.open({ file: '' }), 'INVALID_ARGUMENT');
    await expectCodeAsync(LiveStore.open({ disk: 'x' } as never), 'INVALID_ARGUMENT');
  });

  it('one process writes a store at a time; a lock left by a dead process is taken over', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: 4 } });
    const second = await expectCodeAsync(LiveStore.open(target), 'STORAGE_UNAVAILABLE');
    expect(second.message).toContain('already open');
    await store.close();
    // A pid that does not exist (killed): its lock is stale.
    writeFileSync(`${target.file}.lock`, '2147483646');
    const reopened = await LiveStore.open(target);
    await reopened.close();
  });

  it('a torn tail is cut off and reported, never a failure; the next write follows the last intact record', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    for (let i = 0; i < 5; i++) await store.add(`t${i}`, vec(i));
    await store.close();
    const files = journalFiles(target);
    const last = join(dir, files.at(-1)!);
    const bytes = readFileSync(last);
    writeFileSync(last, bytes.subarray(0, bytes.length - 7)); // the process died mid-append
    const again = await LiveStore.open(target);
    expect(again.recovery.tornTail).toMatchObject({ offset: 0 });
    expect(again.size()).toBe(4);
    await again.add('after', vec(50));
    await again.close();
    const third = await LiveStore.open(target);
    expect(third.recovery.tornTail).toBeUndefined();
    expect([third.size(), third.has('t3'), third.has('t4'), third.has('after')]).toEqual([5, true, false, true]);
    await third.close();
  });

  it('damage before the tail is CORRUPT_SNAPSHOT naming where; recovery: prefix opens the intact records', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    for (let i = 0; i < 6; i++) await store.add(`d${i}`, vec(i));
    await store.close();
    const files = journalFiles(target);
    const third = join(dir, files[2]!);
    const bytes = readFileSync(third);
    bytes[bytes.length - 3] ^= 0x40; // bit rot inside the third record
    writeFileSync(third, bytes);
    const e = await expectCodeAsync(LiveStore.open(target), 'CORRUPT_SNAPSHOT');
    expect(e.message).toMatch(/journal segment 3 .* at byte 0: a record fails its CRC-32/);
    await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
    const prefix = await LiveStore.open(target, { recovery: 'prefix' });
    expect(prefix.recovery.dropped).toMatchObject({ segment: 3, offset: 0 });
    expect([prefix.size(), prefix.has('d1'), prefix.has('d2')]).toEqual([2, true, false]);
    await prefix.add('new', vec(60));
    await prefix.close();
    const after = await LiveStore.open(target);
    expect([after.size(), after.has('new'), after.has('d3')]).toEqual([3, true, false]);
    await after.close();
  });

  it('checkpoints when the journal has grown, drops the journal it covers, and opens the same', async () => {
    const target = newFile();
    const store = await LiveStore.open(target, { create: { dim: 256, metric: 'l2' }, durability: 'relaxed' });
    // ~1 KiB per record: past the 1 MiB floor after ~1,000 adds.
    const n = 1500;
    const vectors = randomVectors(n, 256, 5);
    for (let i = 0; i < n; i++) void store.add(`c${i}`, vectors.subarray(i * 256, i * 256 + 256));
    await store.flush();
    const manifest = JSON.parse(readFileSync(target.file, 'utf8')) as { generation: number; seq: number };
    expect(manifest.generation).toBeGreaterThan(1);
    expect(manifest.seq).toBeGreaterThan(0);
    for (const f of journalFiles(target)) expect(Number(f.split('.').at(-2))).toBeGreaterThan(manifest.seq);
    const q = randomVectors(1, 256, 9);
    const hits = store.search(q, { k: 10 });
    await store.checkpoint();
    expect(journalFiles(target)).toEqual([]);
    await store.close();
    const again = await LiveStore.open(target);
    expect(again.recovery.replayed).toBe(0);
    expect(again.size()).toBe(n);
    expect(again.search(q, { k: 10 })).toEqual(hits);
    await again.close();
  });
});

describe('a manifest lost while its checkpoint and journal remain', () => {
  // What a browser crash did to Chromium's storage metadata (the manifest's
  // creation undone, the data left): never read as "nothing stored", which
  // open({ create }) would fill with a new empty store over the data.
  it.each([
    ['a file', () => newFile(), (t: StorageTarget) => rmSync((t as { file: string }).file)],
    ['IndexedDB', () => ({ indexedDB: `lost-manifest-${++fileCount}` }), (t: StorageTarget) => deleteIndexedDbManifest((t as { indexedDB: string }).indexedDB)],
  ] as const)('on %s: open, open({ create }) and VectorStore.open refuse with CORRUPT_SNAPSHOT; remove() clears it for a new store', async (_, make, loseManifest) => {
    const target = make();
    const store = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    for (let i = 0; i < 5; i++) await store.add(`m${i}`, vec(i));
    await store.close();
    await loseManifest(target);
    const refused = await expectCodeAsync(LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } }), 'CORRUPT_SNAPSHOT');
    expect(refused.message).toMatch(/no manifest/);
    await expectCodeAsync(LiveStore.open(target), 'CORRUPT_SNAPSHOT');
    await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
    await removeSaved(target);
    await expectCodeAsync(VectorStore.open(target), 'NOT_FOUND');
    const fresh = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    expect(fresh.size()).toBe(0);
    await fresh.close();
  });
});

describe('a store whose creation was cut off between its checkpoint and its manifest', () => {
  it('open({ create }) names the lone checkpoint in a new manifest and opens it (no journal: nothing after it)', async () => {
    const target = newFile();
    const saved = await VectorStore.create({ dim: DIM, metric: 'l2', storage: 'float32' });
    saved.addMany(['a', 'b'], randomVectors(2, DIM, 3));
    await saved.save(target);
    saved.dispose();
    rmSync(target.file); // the manifest; the checkpoint stays
    await expectCodeAsync(VectorStore.open(target), 'CORRUPT_SNAPSHOT');
    const live = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    expect([live.size(), live.has('a'), live.has('b')]).toEqual([2, true, true]);
    await live.add('c', vec(1));
    await live.close();
    const again = await LiveStore.open(target);
    expect(again.size()).toBe(3);
    await again.close();
  });
});

// save() numbers its checkpoint past the journal's last record, found by
// walking headers: a damaged record must neither hide the ones after it nor
// lend its (maybe torn, any) number.
describe('the last record number of a journal', () => {
  const journal = () => encodeSegment(1, [1, 2, 3].map((i) => ({ op: 'delete' as const, id: `id-${i}` })));
  const secondRecord = (bytes: Uint8Array) => 16 + new DataView(bytes.buffer).getUint32(0, true);
  it('counts intact records past a damaged payload', () => {
    const bytes = journal();
    expect(lastRecordNumber(bytes)).toBe(3);
    bytes[secondRecord(bytes) + 17] ^= 0x40;
    expect(lastRecordNumber(bytes)).toBe(3);
  });
  it('ignores the number of a record that fails its checksum', () => {
    const bytes = journal();
    const torn = secondRecord(bytes);
    new DataView(bytes.buffer).setFloat64(torn + 8, 2 ** 50, true);
    expect(lastRecordNumber(bytes)).toBe(3);
    expect(lastRecordNumber(bytes.subarray(0, torn + 16 + new DataView(bytes.buffer).getUint32(torn, true)))).toBe(1);
  });
});

function deleteIndexedDbManifest(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open('tabvec');
    r.onerror = () => reject(r.error);
    r.onsuccess = () => {
      const tx = r.result.transaction('manifests', 'readwrite');
      tx.objectStore('manifests').delete(name);
      tx.oncomplete = () => { r.result.close(); resolve(); };
      tx.onerror = () => reject(tx.error);
    };
  });
}

describe('LiveStore shared by two writers (IndexedDB, two stores standing in for two tabs)', () => {
  const target: StorageTarget = { indexedDB: 'shared-live' };

  it('interleaved writes from both apply in one order: both end identical, and so does a fresh open', async () => {
    await removeSaved(target);
    const a = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    const b = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32' } });
    const writes: Promise<unknown>[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push(`a${i}`, `b${i}`);
      writes.push(a.add(`a${i}`, vec(i), { by: 'a' }), b.add(`b${i}`, vec(10_000 + i), { by: 'b' }));
      if (i % 7 === 6) writes.push(a.delete(`b${i - 3}`).catch(() => 'not yet'), b.setMetadata(`a${i - 2}`, { by: 'b', edited: i }).catch(() => 'not yet'));
      if (i % 10 === 0) await Promise.resolve();
    }
    // Both add the same id: exactly one wins, the other gets DUPLICATE_ID.
    const race = await Promise.allSettled([a.add('same', vec(1)), b.add('same', vec(2))]);
    expect(race.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    await Promise.all(writes);
    await a.flush();
    await b.flush();
    // b learns of a's last commit by message; wait until both are at the same record.
    for (let i = 0; i < 200 && a.seq !== b.seq; i++) await new Promise((r) => setTimeout(r, 10));
    expect(a.seq).toBe(b.seq);
    ids.push('same');
    const fromA = contents(a, ids);
    expect(contents(b, ids)).toEqual(fromA);
    const q = vec(77);
    const exact = { k: 10, listSize: 1000 };
    expect(b.search(q, exact)).toEqual(a.search(q, exact));
    const fresh = await VectorStore.open(target);
    expect(contents(fresh, ids)).toEqual(fromA);
    fresh.dispose();
    await a.close();
    await b.close();
  });

  it('the other store sees a write within a fraction of a second, through onChange', async () => {
    await removeSaved(target);
    const a = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    const b = await LiveStore.open(target);
    const seen = new Promise<number>((resolve) => {
      const start = performance.now();
      b.onChange((event) => { if (!event.local && b.has('hello')) resolve(performance.now() - start); });
    });
    await a.add('hello', vec(1));
    const delay = await seen;
    expect(delay).toBeLessThan(1000);
    await a.close();
    await b.close();
  });

  it('removed and made again under the same name while a store has it open: the open store reloads the new one, writes on it, loses nothing of it', async () => {
    const t: StorageTarget = { indexedDB: 'lineage-live' };
    const create = { dim: DIM, metric: 'l2', storage: 'float32' } as const;
    // remove() then save() (a reset and import): the numbers start again below where the open store is.
    const a = await LiveStore.open(t, { create });
    for (let i = 0; i < 3; i++) await a.add(`old${i}`, vec(i));
    await removeSaved(t);
    const imported = await VectorStore.create(create);
    imported.addMany(['imported0', 'imported1'], randomVectors(2, DIM, 8));
    await imported.save(t);
    imported.dispose();
    await a.add('after-save', vec(9));
    expect([a.has('old0'), a.has('imported0'), a.has('after-save')]).toEqual([false, true, true]);
    await a.checkpoint();
    const fresh = await VectorStore.open(t);
    expect([fresh.size(), fresh.has('old0'), fresh.has('imported0'), fresh.has('after-save')]).toEqual([3, false, true, true]);
    fresh.dispose();
    // remove() then open({ create }) in another tab, which writes at once: the old one hears of it.
    await removeSaved(t);
    const y = await LiveStore.open(t, { create });
    for (let i = 0; i < 5; i++) await y.add(`new${i}`, vec(20 + i));
    for (let i = 0; i < 200 && a.seq !== y.seq; i++) await new Promise((r) => setTimeout(r, 10));
    expect(['imported0', 'new0', 'new4'].map((id) => a.has(id))).toEqual([false, true, true]);
    await a.add('from-a', vec(30));
    await y.flush();
    for (let i = 0; i < 200 && a.seq !== y.seq; i++) await new Promise((r) => setTimeout(r, 10));
    expect(y.has('from-a')).toBe(true);
    await a.close();
    await y.close();
    const last = await LiveStore.open(t);
    expect([last.size(), last.has('new0'), last.has('from-a'), last.has('imported0')]).toEqual([6, true, true, false]);
    await last.close();
  });

  it('save() over a live store replaces it; the live store reloads and writes after it', async () => {
    await removeSaved(target);
    const live = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    await live.add('old', vec(1));
    const other = await VectorStore.create({ dim: DIM, metric: 'l2' });
    other.add('replacement', vec(2));
    await other.save(target);
    await live.add('later', vec(3)); // catches up first: reloads the saved store
    expect([live.has('old'), live.has('replacement'), live.has('later')]).toEqual([false, true, true]);
    const fresh = await VectorStore.open(target);
    expect([fresh.has('old'), fresh.has('replacement'), fresh.has('later')]).toEqual([false, true, true]);
    fresh.dispose();
    other.dispose();
    await live.close();
  });

  it('a failed journal write rejects the writes and flush, and the store goes back to what storage holds', async () => {
    await removeSaved(target);
    const live = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2' } });
    await live.add('kept', vec(1));
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (...args: Parameters<typeof put>) {
      if (this.name === 'journal') throw new DOMException('quota', 'QuotaExceededError');
      return put.apply(this, args);
    };
    try {
      const write = live.add('lost', vec(2));
      const flushed = live.flush();
      await expectCodeAsync(write, 'QUOTA_EXCEEDED');
      await expectCodeAsync(flushed, 'QUOTA_EXCEEDED');
      expect([live.has('kept'), live.has('lost')]).toEqual([true, false]);
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    await live.add('works again', vec(3));
    await live.close();
    const fresh = await VectorStore.open(target);
    expect([fresh.has('kept'), fresh.has('lost'), fresh.has('works again')]).toEqual([true, false, true]);
    fresh.dispose();
  });
});

describe('serializeSliced (checkpoints)', () => {
  it('gives the same bytes as serialize(), yielding to the event loop on the way', async () => {
    const store = await VectorStore.create({ dim: 64, metric: 'l2' });
    store.addMany(Array.from({ length: 20000 }, (_, i) => `s${i}`), randomVectors(20000, 64, 3), Array.from({ length: 20000 }, (_, i) => ({ i })));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const { serializeSliced } = await import('../../dist/live.js');
    const sliced = await serializeSliced(store, 1);
    clearInterval(timer);
    expect(sliced).toEqual(store.serialize());
    expect(ticks).toBeGreaterThan(0);
    store.dispose();
  });
});
