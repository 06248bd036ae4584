// A LiveStore in a dedicated worker (where OPFS segments are written through
// sync access handles), driven by tests/browser/persist.js; and, for messages
// with `text`, the writer of a store with full-text search of
// live-text-ops.js, driven by live-text-page.js through { text, id, op, args }
// answered with { id, result } or { id, error } (its reports: { log }).
import { LiveStore, VectorStore, removeSaved } from '/dist/index.js';
import { randomVectors } from '/tests/fixtures/random.js';
import { textOps } from '/tests/browser/live-text-ops.js';

let text;

self.onmessage = async ({ data }) => {
  if (data.text) {
    text ??= textOps({ LiveStore, VectorStore, removeSaved }, (log) => self.postMessage({ log }));
    try {
      self.postMessage({ id: data.id, result: await text[data.op](...data.args) });
    } catch (e) {
      self.postMessage({ id: data.id, error: `${e.code ?? e.name}: ${e.message}` });
    }
    return;
  }
  const { target, prefix, n, dim } = data;
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
