// Helpers the persistence and worker browser tests drive through page.evaluate.
import { VectorStore, removeSaved } from '/dist/index.js';
import { WorkerVectorStore } from '/dist/worker.js';
import { randomVectors } from '/tests/fixtures/random.js';

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
  async corruptOpfsFile(name) {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    const manifest = JSON.parse(await (await (await dir.getFileHandle(`${name}.manifest.json`)).getFile()).text());
    const handle = await dir.getFileHandle(`${name}.${manifest.generation}.tabvec`);
    const bytes = new Uint8Array(await (await handle.getFile()).arrayBuffer());
    bytes[bytes.length >> 1] ^= 0x10;
    const w = await handle.createWritable();
    await w.write(bytes);
    await w.close();
  },
  remove: (target) => removeSaved(target),
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
};
document.getElementById('status').textContent = 'ready';
