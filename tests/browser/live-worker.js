// A LiveStore in a dedicated worker (where OPFS segments are written through
// sync access handles), driven by tests/browser/persist.js.
import { LiveStore } from '/dist/index.js';
import { randomVectors } from '/tests/fixtures/random.js';

self.onmessage = async ({ data: { target, prefix, n, dim } }) => {
  try {
    const live = await LiveStore.open(target, { create: { dim, metric: 'l2', storage: 'float32' } });
    const vectors = randomVectors(n, dim, 77);
    await Promise.all(Array.from({ length: n }, (_, i) => live.add(`${prefix}${i}`, vectors.subarray(i * dim, (i + 1) * dim), { i })));
    const seq = live.seq;
    await live.close();
    self.postMessage({ seq });
  } catch (e) {
    self.postMessage({ error: `${e.code ?? e.name}: ${e.message}` });
  }
};
