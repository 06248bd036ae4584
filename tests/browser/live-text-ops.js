// The writes of the browser kill test of a store with full-text search
// (tests/browser/live.test.ts), shared by the writer (a page or a dedicated
// worker, through live-text-page.js and live-worker.js) and the test in Node.
//
// Write i of round r is a fixed function of (r, i), so the test knows every
// write the writer called, in order, without being told: it hears only which
// were acknowledged (the reports the kill lets through), and rebuilds what the
// store must hold from the journal's length after the kill (one record per
// write that succeeds, none for one refused). Every text has a word of its own
// (t<round><kind><i>..., in no other text), so searching that word finds
// exactly the id that holds the text now, or nothing once it is replaced,
// deleted or was never written.
import { randomVectors } from '../fixtures/random.js';

export const DIM = 32;
export const TOPICS = ['apple', 'river', 'stone', 'cloud', 'maple'];
const POOL = 40; // ids p0..p39, written in every round: upserts replace their texts across checkpoints

function mix(a, b) {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** The vector of vector seed `vs` (exact in float32). */
export const vectorOf = (vs) => randomVectors(1, DIM, vs);
/** A vector's fingerprint, computed alike on both sides (the same float64 arithmetic). */
export const fingerprint = (v) => v.reduce((sum, x, k) => sum + x * (k + 1), 0);

/**
 * Write i of round `round`: { i, op, id | ids, vs, meta | metas, text | texts }.
 * `vs` is its vector seed (an addMany's k-th vector: vs + k); metadata is
 * { n } (n = vs) so a stored entry tells which write made it.
 */
export function opOf(round, i) {
  const h = mix(round, i);
  const r = h % 100;
  const vs = round * 1_000_000 + i * 4;
  const P = `r${round}`;
  const topic = TOPICS[(h >>> 8) % TOPICS.length];
  const pool = `p${(h >>> 12) % POOL}`;
  const meta = { n: vs };
  if (r < 34) return { i, op: 'add', id: `${P}n${i}`, vs, meta, text: `t${P}n${i} ${topic} lantern` };
  if (r < 50) return { i, op: 'upsert', id: pool, vs, meta, text: `t${P}u${i} ${topic}` };
  if (r < 58) return { i, op: 'upsert', id: pool, vs, meta }; // drops the id's text
  if (r < 66) return { i, op: 'delete', id: pool };
  if (r < 74) {
    const ids = [0, 1, 2].map((k) => `${P}m${i}x${k}`);
    return { i, op: 'addMany', ids, vs, metas: ids.map((_, k) => ({ n: vs + k })), texts: [`t${P}m${i}x0 ${topic}`, undefined, `t${P}m${i}x2 ${topic} copper`] };
  }
  if (r < 80) return { i, op: 'setMetadata', id: pool, meta: { edited: vs } }; // keeps the text (refused: UNKNOWN_ID if absent)
  if (r < 83) return { i, op: 'consolidate' };
  if (r < 88) return { i, op: 'add', id: pool, vs, meta, text: `t${P}a${i} ${topic}` }; // DUPLICATE_ID if present
  return { i, op: 'delete', id: `${P}n${Math.max(0, i - 1 - ((h >>> 16) % 30))}` }; // UNKNOWN_ID unless that write was an add
}

/** The own words of a write's texts. */
export const wordsOf = (op) => (op.texts ?? [op.text]).filter((t) => t !== undefined).map((t) => t.split(' ')[0]);
/** The ids a write touches. */
export const idsOf = (op) => op.ids ?? (op.id ? [op.id] : []);

/**
 * Applies write `op` to `model` (id -> { vs, meta, text }) as the store
 * does; false if the store refuses it (then nothing changes).
 */
export function applyOp(model, op) {
  switch (op.op) {
    case 'add':
      if (model.has(op.id)) return false;
      model.set(op.id, { vs: op.vs, meta: op.meta, text: op.text });
      return true;
    case 'upsert':
      model.set(op.id, { vs: op.vs, meta: op.meta, text: op.text });
      return true;
    case 'delete':
      return model.delete(op.id);
    case 'setMetadata': {
      const e = model.get(op.id);
      if (!e) return false;
      model.set(op.id, { ...e, meta: op.meta });
      return true;
    }
    case 'addMany':
      if (op.ids.some((id) => model.has(id))) return false;
      op.ids.forEach((id, k) => model.set(id, { vs: op.vs + k, meta: op.metas[k], text: op.texts[k] }));
      return true;
    case 'consolidate':
      return true;
  }
  throw new Error(`unknown write ${op.op}`);
}

function call(live, op) {
  switch (op.op) {
    case 'add':
    case 'upsert':
      return op.text === undefined ? live[op.op](op.id, vectorOf(op.vs), op.meta) : live[op.op](op.id, vectorOf(op.vs), op.meta, { text: op.text });
    case 'delete':
      return live.delete(op.id);
    case 'setMetadata':
      return live.setMetadata(op.id, op.meta);
    case 'addMany': {
      const vectors = new Float32Array(op.ids.length * DIM);
      op.ids.forEach((_, k) => vectors.set(vectorOf(op.vs + k), k * DIM));
      return live.addMany(op.ids, vectors, op.metas, { texts: op.texts });
    }
    case 'consolidate':
      return live.consolidate();
  }
  throw new Error(`unknown write ${op.op}`);
}

// What a store holds for the test to compare: every id's metadata and
// vector's fingerprint (null if absent), what each word finds, and each topic's ids.
function contents(store, ids, words) {
  return {
    size: store.size(),
    texts: store.stats().texts,
    entries: ids.map((id) => {
      const g = store.get(id);
      return g ? [g.metadata ?? null, fingerprint(g.vector)] : null;
    }),
    words: words.map((w) => store.searchText(w, { k: 3 }).map((h) => [h.id, h.metadata ?? null])),
    topics: TOPICS.map((t) => store.searchText(t, { k: 4096 }).map((h) => h.id).sort()),
  };
}

/**
 * The writer's operations, by name, on one LiveStore; `log` reports to the
 * test. The package's exports come from the caller (the page or the worker).
 */
export function textOps({ LiveStore, VectorStore, removeSaved }, log) {
  let live;
  return {
    async open(target) {
      try {
        live = await LiveStore.open(target, { create: { dim: DIM, metric: 'l2', storage: 'float32', text: true } });
        return { size: live.size(), seq: live.seq, recovery: live.recovery };
      } catch (e) {
        return { error: { name: e.name, code: e.code, message: e.message } };
      }
    },
    // The live store's contents, and a VectorStore.open copy's.
    async check(target, ids, words) {
      const copy = await VectorStore.open(target);
      try {
        return { seq: live.seq, live: contents(live, ids, words), copy: contents(copy, ids, words) };
      } finally {
        copy.dispose();
      }
    },
    // Calls the round's writes for ever, in batches of 1 to 5 called in one
    // task (one commit), each awaited before the next; reports `ack i`,
    // `refused i CODE` in order, and `checkpoint` every 20 batches.
    writeForever(round) {
      (async () => {
        for (let i = 0, batch = 0; ; batch++) {
          const calls = [];
          for (let c = 0; c <= batch % 5; c++, i++) {
            const op = opOf(round, i);
            calls.push(call(live, op).then(() => `ack ${op.i}`, (e) => `refused ${op.i} ${e.code ?? e.name}`));
          }
          for (const line of await Promise.all(calls)) log(line);
          if (batch % 20 === 19) {
            await live.checkpoint();
            log('checkpoint');
          }
        }
      })().catch((e) => log(`writer stopped: ${e.code ?? e.name}: ${e.message}`));
      return true;
    },
    async remove(target) {
      await live?.close().catch(() => undefined);
      live = undefined;
      await removeSaved(target);
      return true;
    },
  };
}
