// Times save() and open() of a 100,000 x 384 int8 store to OPFS and IndexedDB.
import { VectorStore, removeSaved } from '/dist/index.js';
import { clusteredVectors } from '/tests/fixtures/random.js';

window.measurePersistence = async (n, dim) => {
  const store = await VectorStore.create({ dim, metric: 'cosine' });
  const t0 = performance.now();
  await store.addManyAsync(Array.from({ length: n }, (_, i) => `doc-${i}`), clusteredVectors(n, dim, 1000, 3));
  const buildSeconds = (performance.now() - t0) / 1000;
  const results = { n, dim, buildSeconds, bytes: store.serialize().byteLength, stats: store.stats().bytesPerVector };
  for (const target of [{ opfs: 'bench' }, { indexedDB: 'bench' }]) {
    const kind = Object.keys(target)[0];
    await removeSaved(target);
    await store.save(target); // first save creates the file/records; time the steady state
    const ts = performance.now();
    const report = await store.save(target);
    const saveMs = performance.now() - ts;
    const to = performance.now();
    const opened = await VectorStore.open(target);
    const openMs = performance.now() - to;
    results[kind] = { saveMs, openMs, bytes: report.bytes, size: opened.size() };
    opened.dispose();
    await removeSaved(target);
  }
  store.dispose();
  return results;
};
document.getElementById('status').textContent = 'ready';
