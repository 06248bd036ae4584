// bench/live.mjs: add latency of a LiveStore running in a dedicated worker,
// where OPFS journal segments are written through sync access handles.
import { LiveStore } from '/dist/index.js';
import { clusteredVectors } from '/tests/fixtures/random.js';

self.onmessage = async ({ data: { target, n, dim } }) => {
  try {
    const live = await LiveStore.open(target);
    const vectors = clusteredVectors(n, dim, 10, 5);
    const latencies = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await live.add(`worker-${i}`, vectors.subarray(i * dim, (i + 1) * dim));
      latencies.push(performance.now() - t);
    }
    await live.close();
    self.postMessage({ latencies });
  } catch (e) {
    self.postMessage({ error: `${e.code ?? e.name}: ${e.message}` });
  }
};
