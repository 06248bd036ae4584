// Helpers the persistence and worker browser tests drive through page.evaluate.
import { LiveStore, VectorStore, removeSaved } from '/dist/index.js';
import { WorkerVectorStore } from '/dist/worker.js';
import { randomVectors } from '/tests/fixtures/random.js';
import { encodeSegment } from '/dist/journal.js';
import { releaseKept } from '/dist/opfs-io.js';

// tabvec keeps sync access handles to a store's journal and superblock open
// between writes (opfs-io.ts), which blocks other writers and removal: a
// test that changes those files itself asks for them closed, as remove() does.
async function withReleased(files, change) {
  for (let waited = 0; ; waited += 20) {
    releaseKept(files.map((file) => `tabvec/${file}`));
    try {
      return await change();
    } catch (e) {
      if (e?.name !== 'NoModificationAllowedError' || waited >= 3000) throw e;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const DIM = 32;

function searchAll(store) {
  const queries = randomVectors(5, DIM, 777);
  return Array.from({ length: 5 }, (_, q) => store.search(queries.subarray(q * DIM, q * DIM + DIM), { k: 10 }));
}

async function build(n, seed) {
  const store = await VectorStore.create({ dim: DIM, metric: 'l2' });
  store.addMany(Array.from({ length: n }, (_, i) => `v${seed}-${i}`), randomVectors(n, DIM, seed), Array.from({ length: n }, (_, i) => ({ i })));
  return store;
}

window.tabvec = {
  async saveSmall(target, n, seed) {
    const store = await build(n, seed);
    const report = await store.save(target);
    const result = { report, results: searchAll(store), size: store.size() };
    store.dispose();
    return result;
  },
  async trySaveSmall(target, n, seed) {
    try {
      return await this.saveSmall(target, n, seed);
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  },
  async openAndSearch(target) {
    try {
      const store = await VectorStore.open(target);
      const result = { results: searchAll(store), size: store.size() };
      store.dispose();
      return result;
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  },
  // Starts saving a large store and does not wait for it. The bytes are in the
  // metadata (each record carries `padBytes` of JSON), so the store is cheap to
  // build and link but big to write.
  async startLargeSave(target, n, padBytes) {
    const store = await VectorStore.create({ dim: DIM, metric: 'l2' });
    const pad = 'x'.repeat(padBytes);
    store.addMany(Array.from({ length: n }, (_, i) => `big-${i}`), randomVectors(n, DIM, 5),
      Array.from({ length: n }, (_, i) => ({ i, pad })));
    window.largeSaveDone = false;
    store.save(target).then(() => { window.largeSaveDone = true; });
    return store.serialize().byteLength;
  },
  // Flips a bit in the middle of the stored checkpoint (the one non-empty slot: a save empties the other).
  async corruptOpfsFile(name) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    let corrupted = 0;
    for (const slot of [0, 1]) {
      const handle = await dir.getFileHandle(`${name}.checkpoint-${slot}`);
      const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
      if (bytes.length === 0) continue;
      bytes[bytes.length >> 1] ^= 0x10;
      const w = await handle.createWritable();
      await w.write(bytes);
      await w.close();
      corrupted++;
    }
    if (corrupted !== 1) throw new Error(`expected one stored checkpoint, found ${corrupted}`);
  },
  remove: (target) => removeSaved(target),
  // Saves a store of three vectors whose metadata makes its checkpoint ~33 MB
  // (several read pieces), damages the first vector (a NaN, which loading
  // refuses as soon as it reads it, with pieces after it still unread), opens
  // it, then puts the byte back through a writable stream (refused while any
  // sync access handle to the file is open) and opens it again. Then the same
  // from a dedicated worker (open-worker.js), which reads through a handle of
  // its own.
  async openStoppedEarly(name) {
    const target = { opfs: name };
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', storage: 'float32' });
    const first = Float32Array.from({ length: DIM }, (_, i) => 1000 + i + 0.25);
    const pad = 'x'.repeat(11_000_000);
    store.addMany(['a', 'b', 'c'], Float32Array.from([...first, ...randomVectors(2, DIM, 9)]), [{ pad }, { pad }, { pad }]);
    await store.save(target);
    store.dispose();
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    let handle;
    for (const slot of [0, 1]) {
      const h = await dir.getFileHandle(`${name}.checkpoint-${slot}`);
      if ((await h.getFile()).size > 0) handle = h;
    }
    const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
    const pattern = new Uint8Array(first.buffer, 0, 16);
    const at = bytes.findIndex((_, i) => pattern.every((b, j) => bytes[i + j] === b));
    if (at < 0) throw new Error('the first vector is not in the checkpoint');
    const rewrite = async (value) => {
      const w = await handle.createWritable({ keepExistingData: true });
      await w.write({ type: 'write', position: at, data: new Float32Array([value]) });
      await w.close();
    };
    await rewrite(NaN);
    const result = { checkpointBytes: bytes.length, damagedAt: at };
    try {
      (await VectorStore.open(target)).dispose();
      result.firstOpen = 'opened';
    } catch (e) {
      result.firstOpen = e.code ?? e.name;
    }
    try {
      await rewrite(first[0]);
      result.restored = true;
    } catch (e) {
      result.restored = e.name;
    }
    const again = await this.openAndSearch(target);
    result.reopened = again.error ?? again.size;
    const inWorker = () => new Promise((resolve) => {
      const worker = new Worker('/tests/browser/open-worker.js', { type: 'module' });
      worker.onmessage = ({ data }) => {
        worker.terminate();
        resolve(data);
      };
      worker.postMessage({ target, file: handle.name });
    });
    await rewrite(NaN);
    result.workerDamaged = await inWorker();
    await rewrite(first[0]);
    result.workerRestored = await inWorker();
    const live = await LiveStore.open(target);
    result.liveMetadata = live.get('c')?.metadata?.pad?.length;
    await live.close();
    await removeSaved(target);
    return result;
  },
  // Saves `times` versions, alternating between two stores of different sizes.
  async saveRepeatedly(target, times) {
    const stores = [await build(1500, 21), await build(2500, 22)];
    const generations = [];
    for (let i = 0; i < times; i++) generations.push((await stores[i % 2].save(target)).generation);
    for (const s of stores) s.dispose();
    return generations;
  },
  // Opens `times` times; every failure is returned with its code and message.
  async openRepeatedly(target, times) {
    const sizes = [];
    const failures = [];
    for (let i = 0; i < times; i++) {
      try {
        const store = await VectorStore.open(target);
        sizes.push(store.size());
        store.dispose();
      } catch (e) {
        failures.push({ name: e.name, code: e.code, message: e.message });
      }
    }
    return { sizes, failures };
  },
  // The error (name, code) VectorStore.create / WorkerVectorStore.create reject with, or null.
  async createError(options, workerUrl) {
    try {
      const init = workerUrl ? { worker: new Worker(workerUrl, { type: 'module' }) } : undefined;
      const store = init || workerUrl === '' ? await WorkerVectorStore.create(options, init) : await VectorStore.create(options);
      await store.dispose();
      return null;
    } catch (e) {
      return { name: e.name, code: e.code, message: e.message };
    }
  },
  // Adds n x 128 vectors in worker mode while a 16 ms timer runs on this thread.
  async workerTimerGap(n) {
    const vectors = randomVectors(n, 128, 11);
    const ids = Array.from({ length: n }, (_, i) => `w${i}`);
    const store = await WorkerVectorStore.create({ dim: 128, metric: 'l2', maxDegree: 16, buildListSize: 32 });
    const ticks = [];
    const timer = setInterval(() => ticks.push(performance.now()), 16);
    const started = performance.now();
    let progressEvents = 0;
    await store.addManyAsync(ids, vectors, undefined, { transfer: true, onProgress: () => progressEvents++ });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(timer);
    let maxGap = 0;
    for (let i = 1; i < ticks.length; i++) maxGap = Math.max(maxGap, ticks[i] - ticks[i - 1]);
    const size = await store.size();
    const hit = (await store.search(randomVectors(1, 128, 11), { k: 1 }))[0];
    await store.dispose();
    return { maxGap, ticks: ticks.length, seconds, size, progressEvents, firstHit: hit.id };
  },

  // --- the live store (tests/browser/live.test.ts) ---
  async liveOpen(target, options = {}) {
    try {
      window.live = await LiveStore.open(target, options);
      return { size: window.live.size(), seq: window.live.seq, recovery: window.live.recovery };
    } catch (e) {
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  },
  // n adds of `${prefix}${i}` interleaved with deletes and metadata edits of
  // ids this or another tab may have written (refusals are expected); returns
  // how many of each were acknowledged, after a flush.
  async liveInterleave(prefix, other, n, seed) {
    const live = window.live;
    const vectors = randomVectors(n, DIM, seed);
    let rng = seed;
    const random = () => ((rng = (rng * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const writes = [];
    const counts = { add: 0, delete: 0, setMetadata: 0, refused: 0 };
    const count = (kind) => (p) => p.then(() => counts[kind]++, () => counts.refused++);
    for (let i = 0; i < n; i++) {
      writes.push(count('add')(live.add(`${prefix}${i}`, vectors.subarray(i * DIM, (i + 1) * DIM), { by: prefix, i })));
      const r = random();
      const target = `${r < 0.5 ? prefix : other}${Math.floor(random() * (i + 1))}`;
      if (r < 0.1 || (r >= 0.5 && r < 0.6)) writes.push(count('delete')(live.delete(target)));
      else if (r < 0.2 || (r >= 0.6 && r < 0.7)) writes.push(count('setMetadata')(live.setMetadata(target, { by: prefix, edited: i })));
      // Now and then let the event loop run, so commits of both tabs interleave.
      if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await Promise.all(writes);
    await live.flush();
    return { counts, seq: live.seq };
  },
  async liveWaitSeq(seq, timeoutMs = 5000) {
    const start = performance.now();
    while (window.live.seq < seq && performance.now() - start < timeoutMs) await new Promise((resolve) => setTimeout(resolve, 5));
    return window.live.seq;
  },
  // Everything the store holds for ids with the given prefixes (up to n each), and exact search results.
  liveContents(prefixes, n) {
    const live = window.live;
    const records = [];
    for (const prefix of prefixes) {
      for (let i = 0; i < n; i++) {
        const r = live.get(`${prefix}${i}`);
        if (r) records.push([`${prefix}${i}`, Array.from(r.vector), r.metadata]);
      }
    }
    const queries = randomVectors(5, DIM, 4242);
    const results = Array.from({ length: 5 }, (_, q) => live.search(queries.subarray(q * DIM, (q + 1) * DIM), { k: 10, listSize: 4096 }).map((h) => h.id));
    return { size: live.size(), seq: live.seq, records, results };
  },
  // Adds ids `${prefix}${i}` one after another for ever, logging each
  // acknowledged one to the console (the test collects them as the page dies).
  liveWriteForever(prefix, batch = 4) {
    const live = window.live;
    const vectors = randomVectors(256, DIM, 31);
    let i = 0;
    (async () => {
      for (;;) {
        const ids = Array.from({ length: batch }, () => `${prefix}${i++}`);
        await Promise.all(ids.map((id, k) => live.add(id, vectors.subarray((k % 256) * DIM, (k % 256 + 1) * DIM), { id })
          .then(() => console.log(`ack ${id}`))));
      }
    })().catch((e) => console.log(`writer stopped: ${e.code ?? e.name}: ${e.message}`));
  },
  // LiveStores with rerank 'storage' in dedicated workers (rows-worker.js), by name.
  rowsWorker(name) {
    window.rowsWorkers ??= {};
    const worker = new Worker('/tests/browser/rows-worker.js', { type: 'module' });
    const waiting = new Map();
    let next = 0;
    worker.onmessage = ({ data }) => {
      if (data.ack) console.log(`ack ${data.ack}`);
      else if (data.deleted) console.log(`del ${data.deleted}`);
      else if (data.stopped) console.log(`writer stopped: ${data.stopped}`);
      else waiting.get(data.id)?.(data);
    };
    window.rowsWorkers[name] = (op, args) => new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      worker.postMessage({ id, op, args });
    });
  },
  rowsCall(name, op, ...args) {
    return window.rowsWorkers[name](op, args);
  },
  // rerank 'storage' on the page itself, where OPFS cannot be read synchronously.
  async rowsOnPage(target) {
    try {
      await LiveStore.open(target, { create: { dim: 4, rerank: 'storage' } });
      return 'opened';
    } catch (e) {
      return e.code;
    }
  },
  liveHas(ids) {
    return ids.filter((id) => !window.live.has(id));
  },
  // Time from a write resolving here to another tab's onChange, measured there (performance.timeOrigin-based clock).
  liveNow() {
    return performance.timeOrigin + performance.now();
  },
  liveWatch(id) {
    window.seenAt = new Promise((resolve) => {
      const off = window.live.onChange(() => {
        if (window.live.has(id)) {
          off();
          resolve(performance.timeOrigin + performance.now());
        }
      });
    });
    return true;
  },
  liveSeenAt() {
    return window.seenAt;
  },
  async liveAdd(id, seed) {
    await window.live.add(id, randomVectors(1, DIM, seed));
    return performance.timeOrigin + performance.now();
  },
  // Damages the journal of a live store as a crash or bit rot would:
  // 'truncate' cuts 7 bytes off the last record, 'flip' flips a bit inside
  // the third-from-last commit (on OPFS, one journal file: the third-from-last record).
  async liveDamage(target, how) {
    const name = target.opfs ?? target.indexedDB;
    if (target.opfs) {
      const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
      const journal = await dir.getFileHandle(`${name}.wal`).catch(() => undefined);
      if (journal) {
        const bytes = new Uint8Array(await (await journal.getFile()).arrayBuffer());
        const view = new DataView(bytes.buffer);
        const ends = [];
        for (let at = 0; at + 16 <= bytes.length; at += 16 + view.getUint32(at, true)) ends.push(at + 16 + view.getUint32(at, true));
        const damaged = how === 'truncate' ? bytes.subarray(0, bytes.length - 7) : bytes;
        if (how === 'flip') damaged[ends[ends.length - 3] - 3] ^= 0x40;
        await withReleased([`${name}.wal`], async () => {
          const w = await journal.createWritable();
          await w.write(damaged);
          await w.close();
        });
        return { records: ends.length };
      }
      const segments = [];
      for await (const entry of dir.keys()) {
        const m = entry.startsWith(`${name}.`) && entry.endsWith('.journal') ? Number(entry.slice(name.length + 1, -8)) : NaN;
        if (Number.isInteger(m)) segments.push(m);
      }
      segments.sort((a, b) => a - b);
      const pick = how === 'flip' ? segments[segments.length - 3] : segments[segments.length - 1];
      const handle = await dir.getFileHandle(`${name}.${pick}.journal`);
      const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
      const damaged = how === 'truncate' ? bytes.subarray(0, bytes.length - 7) : bytes;
      if (how === 'flip') damaged[damaged.length - 3] ^= 0x40;
      const w = await handle.createWritable();
      await w.write(damaged);
      await w.close();
      return { segments: segments.length, picked: pick };
    }
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('tabvec');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const tx = db.transaction('journal', 'readwrite');
    const store = tx.objectStore('journal');
    const keys = await new Promise((resolve) => { const r = store.getAllKeys(IDBKeyRange.bound([name, 0], [name, Number.MAX_SAFE_INTEGER])); r.onsuccess = () => resolve(r.result); });
    const key = how === 'flip' ? keys[keys.length - 3] : keys[keys.length - 1];
    const bytes = await new Promise((resolve) => { const r = store.get(key); r.onsuccess = () => resolve(new Uint8Array(r.result)); });
    const damaged = how === 'truncate' ? bytes.slice(0, bytes.length - 7) : bytes.slice();
    if (how === 'flip') damaged[damaged.length - 3] ^= 0x40;
    store.put(damaged, key);
    await new Promise((resolve) => { tx.oncomplete = resolve; });
    db.close();
    return { segments: keys.length, picked: key[1] };
  },
  // Adds n vectors from a LiveStore in a dedicated worker; resolves with the worker's last seq.
  liveInWorker(target, prefix, n) {
    return new Promise((resolve, reject) => {
      const worker = new Worker('/tests/browser/live-worker.js', { type: 'module' });
      worker.onmessage = ({ data }) => {
        worker.terminate();
        data.error ? reject(new Error(data.error)) : resolve(data.seq);
      };
      worker.postMessage({ target, prefix, n, dim: DIM });
    });
  },
  // What OPFS holds for a store: the manifest and the journal segments with their sizes.
  async liveListing(name) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec', { create: true });
    const files = [];
    for await (const entry of dir.keys()) if (entry.startsWith(`${name}.`)) files.push(`${entry}:${(await (await dir.getFileHandle(entry)).getFile()).size}`);
    return files.sort();
  },
  // Writes a store as tabvec 0.1 laid it out in OPFS: a manifest file, a
  // checkpoint file per generation and a journal file per commit. The
  // checkpoint (generation 3) holds l0..l2; the journal adds l3 and deletes l0.
  async writeLegacyOpfsStore(name) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec', { create: true });
    const write = async (file, data) => {
      const w = await (await dir.getFileHandle(file, { create: true })).createWritable();
      await w.write(data);
      await w.close();
    };
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', storage: 'float32' });
    store.addMany(['l0', 'l1', 'l2'], randomVectors(3, DIM, 30));
    const checkpoint = store.serialize();
    store.dispose();
    await write(`${name}.3.tabvec`, checkpoint);
    await write(`${name}.3.journal`, encodeSegment(3, [
      { op: 'add', id: 'l3', vector: randomVectors(1, DIM, 31), metadata: '{"late":true}' },
      { op: 'delete', id: 'l0' },
    ]));
    await write(`${name}.manifest.json`, JSON.stringify({ generation: 3, bytes: checkpoint.byteLength, seq: 2 }));
  },
  // Removes one OPFS file of a store (as a crash that undid its creation would), or writes one.
  async opfsRemove(file) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    await withReleased([file], () => dir.removeEntry(file));
  },
  // Starts tests/browser/hold-worker.js on an OPFS file of tabvec's.
  holdOpen(file) {
    window.holder = new Worker('/tests/browser/hold-worker.js');
    return new Promise((resolve, reject) => {
      window.holder.onmessage = ({ data }) => resolve(data);
      window.holder.onerror = (e) => reject(new Error(e.message));
      window.holder.postMessage(file);
    });
  },
  letGo() {
    return new Promise((resolve) => { window.holder.onmessage = ({ data }) => resolve(data); window.holder.postMessage('let go'); });
  },
  // One removal attempt: the error's name, or 'removed'.
  async opfsRemoveOnce(file) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    return dir.removeEntry(file).then(() => 'removed', (e) => e.name);
  },
  async opfsWrite(file, length) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec', { create: true });
    await withReleased([file], async () => {
      const w = await (await dir.getFileHandle(file, { create: true })).createWritable();
      await w.write(new Uint8Array(length).fill(7));
      await w.close();
    });
  },
  async opfsText(file) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    return (await (await dir.getFileHandle(file)).getFile()).text();
  },
  // Flips a payload bit of record `index` (0-based) of an OPFS store's journal file, as bit rot would.
  async opfsDamageRecord(name, index) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    const handle = await dir.getFileHandle(`${name}.wal`);
    const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
    const view = new DataView(bytes.buffer);
    let at = 0;
    for (let i = 0; i < index; i++) at += 16 + view.getUint32(at, true);
    bytes[at + 20] ^= 0x40;
    await withReleased([`${name}.wal`], async () => {
      const w = await handle.createWritable();
      await w.write(bytes);
      await w.close();
    });
  },
  liveIds() {
    return ['l0', 'l1', 'l2', 'l3', 'l4'].filter((id) => window.live.has(id));
  },
  async liveClose() {
    await window.live?.close();
    window.live = undefined;
    return true;
  },
};
document.getElementById('status').textContent = 'ready';
