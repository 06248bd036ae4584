// The Chromium half of bench/live.mjs.
import { LiveStore, VectorStore, removeSaved } from '/dist/index.js';
import { clusteredVectors } from '/tests/fixtures/random.js';

const DIM = 384;
const now = () => performance.timeOrigin + performance.now();

// Stores the cached snapshot at the target, then times LiveStore.open five
// times and one checkpoint, with the longest gap of a 1 ms timer during it.
window.openAndCheckpoint = async (target, url) => {
  await removeSaved(target);
  const bytes = new Uint8Array(await (await fetch(url)).arrayBuffer());
  const seed = await VectorStore.deserialize(bytes);
  await seed.save(target);
  seed.dispose();
  const openMs = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    const live = await LiveStore.open(target);
    openMs.push(performance.now() - t);
    await live.close();
  }
  const live = await LiveStore.open(target);
  await live.add('one more', clusteredVectors(1, DIM, 10, 1));
  let last = performance.now();
  let stallMs = 0;
  const timer = setInterval(() => { const t = performance.now(); stallMs = Math.max(stallMs, t - last); last = t; }, 1);
  const t = performance.now();
  await live.checkpoint();
  const checkpointMs = performance.now() - t;
  clearInterval(timer);
  stallMs = Math.max(stallMs, performance.now() - last);
  await live.close();
  return { openMs, checkpointMs, stallMs };
};

window.addLatency = async (target, n) => {
  const live = await LiveStore.open(target);
  const vectors = clusteredVectors(n, DIM, 10, 2);
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await live.add(`lat-${i}`, vectors.subarray(i * DIM, (i + 1) * DIM));
    latencies.push(performance.now() - t);
  }
  window.live = live;
  return latencies;
};

window.addLatencyInWorker = (target, n) => new Promise((resolve, reject) => {
  const worker = new Worker('/bench/live-worker.js', { type: 'module' });
  worker.onmessage = ({ data }) => {
    worker.terminate();
    data.error ? reject(new Error(data.error)) : resolve(data.latencies);
  };
  worker.postMessage({ target, n, dim: DIM });
});

window.openLive = async (target) => {
  window.live = await LiveStore.open(target);
  return true;
};
window.watch = (id) => {
  window.seenAt = new Promise((resolve) => {
    const off = window.live.onChange(() => {
      if (window.live.has(id)) {
        off();
        resolve(now());
      }
    });
  });
  return true;
};
window.addOne = async (id) => {
  await window.live.add(id, clusteredVectors(1, DIM, 10, id.length));
  return now();
};
window.closeLive = async () => {
  await window.live?.close();
  window.live = undefined;
  return true;
};
document.getElementById('status').textContent = 'ready';
