// A LiveStore with rerank 'storage' in a dedicated worker (the only place a
// page's OPFS rows can be read synchronously), driven by tests/browser/rows.test.ts
// through messages { id, op, args } answered with { id, result } or { id, error }.
// Every vector is derived from its id, so any context can check what it reads.
import { LiveStore } from '/dist/index.js';
import { randomVectors } from '/tests/fixtures/random.js';

const DIM = 128;
let live;

function seedOf(id) {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0;
  return h;
}
const vectorOf = (id) => randomVectors(1, DIM, seedOf(id));

function l2(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

const ops = {
  async open(target, create) {
    live = await LiveStore.open(target, create ? { create: { dim: DIM, metric: 'l2', rerank: 'storage' } } : {});
    return { size: live.size() };
  },
  async add(prefix, from, count) {
    for (let i = from; i < from + count; i++) await live.add(`${prefix}${i}`, vectorOf(`${prefix}${i}`));
    return live.size();
  },
  async remove(prefix, from, count, step) {
    for (let i = from; i < from + count; i += step) await live.delete(`${prefix}${i}`);
    return live.size();
  },
  async checkpoint() {
    await live.checkpoint();
  },
  async flush() {
    await live.flush();
  },
  // What is stored against what should be: each id's vector exact, absent ids
  // absent, and searches that agree with brute force over the present ids.
  check(present, absent) {
    const wrong = [];
    for (const id of present) {
      const got = live.get(id);
      const want = vectorOf(id);
      if (!got || got.vector.some((x, i) => x !== want[i])) wrong.push(id);
    }
    for (const id of absent) if (live.has(id)) wrong.push(`present: ${id}`);
    let found = 0;
    const queries = present.filter((_, i) => i % Math.max(1, Math.floor(present.length / 20)) === 0).slice(0, 20);
    for (const id of queries) {
      const q = vectorOf(id).map((x, i) => x + ((i % 7) - 3) * 0.01);
      const want = present.map((p) => [l2(q, vectorOf(p)), p]).sort((a, b) => a[0] - b[0]).slice(0, 10).map((e) => e[1]);
      const hits = live.search(q, { k: 10, rerankFactor: 4 });
      found += hits.filter((h) => want.includes(h.id)).length;
      for (const h of hits) if (Math.abs(h.distance - l2(q, vectorOf(h.id))) > 1e-3) wrong.push(`distance: ${h.id}`);
    }
    return { wrong, recall: found / (10 * queries.length), size: live.size(), rerank: live.stats().rerank, rowsBytes: live.stats().memory.rerank.used };
  },
  // Writes until the browser is killed, strictly durable, in cycles: 200 adds
  // (one addMany), 120 of the oldest deleted, a checkpoint (which compacts the
  // rows once enough are unused: every few cycles). Reports what was acknowledged.
  writeForever(prefix) {
    let i = 0;
    let oldest = 0;
    (async () => {
      for (;;) {
        const batch = Array.from({ length: 200 }, () => `${prefix}${i++}`);
        const vectors = new Float32Array(200 * DIM);
        batch.forEach((id, k) => vectors.set(vectorOf(id), k * DIM));
        await live.addMany(batch, vectors);
        for (const id of batch) self.postMessage({ ack: id });
        for (let k = 0; k < 120; k++, oldest++) {
          await live.delete(`${prefix}${oldest}`);
          self.postMessage({ deleted: `${prefix}${oldest}` });
        }
        await live.checkpoint();
      }
    })().catch((e) => self.postMessage({ stopped: `${e.code ?? e.name}: ${e.message}` }));
  },
  async close() {
    await live?.close();
    live = undefined;
  },
};

self.onmessage = async ({ data: { id, op, args } }) => {
  try {
    self.postMessage({ id, result: await ops[op](...args) });
  } catch (e) {
    self.postMessage({ id, error: { code: e.code ?? e.name, message: e.message } });
  }
};
