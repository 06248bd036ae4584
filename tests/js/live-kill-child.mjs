// The child of live-kill.test.ts: opens a LiveStore on a file and writes to
// it forever, until the parent kills it with SIGKILL. Every write is logged
// on stdout, one JSON line each, synchronously (a pipe write of less than
// PIPE_BUF bytes is atomic, so a line is either whole or absent):
//
//   {"t":"ready","seq":S,"size":N,"torn":bool}   opened (before any write)
//   {"t":"issue","n":i,"op":...}                  about to call the write (in call order)
//   {"t":"ack","n":i}                             its promise resolved: acknowledged
//   {"t":"refused","n":i,"code":C}                its promise rejected (nothing recorded)
//   {"t":"ckpt","gen":G}                          a checkpoint() resolved
//
// One writer, so the order writes are called in is the order the journal
// applies them in; the parent rebuilds the expected state from these lines.
//
// usage: node live-kill-child.mjs <store file> <seed> [strict|relaxed] [float32|rows|text]
// (rows: int8 codes with the exact vectors in a storage tier's rows file;
// text: float32 with full-text search, most adds, upserts and addMany entries
// with a text, logged as "tx" (add, upsert) or "txs" (addMany, null for none))
//
// Two more modes, for the hostile tests:
//   --hammer <file> <name> <ms>  opens and closes the store in a loop for ms
//       milliseconds, one write per hold; prints {"held":[[start,end],...],...}
//       with the wall-clock interval of every hold.
//   --save <file> <ms>  calls VectorStore.save() on the file in a loop.
import { writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { uniformSource } from '../fixtures/random.js';

export const DIM = 16;

/** The vector written for vector seed `vs` (exact in float32). */
export function vectorOf(vs) {
  const next = uniformSource(vs);
  return Float32Array.from({ length: DIM }, () => next() * 2 - 1);
}

const line = (obj) => {
  const text = `${JSON.stringify(obj)}\n`;
  writeSync(1, text);
};

// The words of the text tier's texts besides each text's own word: every text
// has one topic (the parent searches each topic for exactly the ids with it),
// and some filler.
export const TOPICS = ['apple', 'river', 'stone', 'cloud', 'maple'];
const FILLER = ['quiet', 'harbor', 'lantern', 'copper'];

/**
 * A text for the write with vector seed `vs` (`k`: its place in an addMany),
 * or undefined for none: its own word `t<vs>` (`t<vs>x<k>`) found in no other
 * text, a topic and some filler; now and then a text with no searchable word
 * (empty, or stop words only), which still counts as a document with text.
 */
function textOf(rand, vs, k) {
  const r = rand();
  if (r < 0.15) return undefined;
  if (r < 0.18) return '';
  if (r < 0.21) return 'the and of it';
  const own = k === undefined ? `t${vs}` : `t${vs}x${k}`;
  const words = [own, TOPICS[Math.floor(rand() * TOPICS.length)]];
  for (let i = Math.floor(rand() * 4); i > 0; i--) words.push(FILLER[Math.floor(rand() * FILLER.length)]);
  return words.join(' ');
}

function metadataOf(rand, n) {
  const r = rand();
  if (r < 0.2) return undefined;
  if (r < 0.3) return null;
  if (r < 0.4) return `s${n}-é✓𝄞`;
  if (r < 0.5) return Math.floor(rand() * 1e6) - 5e5;
  return { n, tag: ['a', 'b', 'c'][Math.floor(rand() * 3)], nested: { list: [n, n + 1, 'x'], flag: rand() < 0.5 } };
}

async function main() {
  const [file, seedText, durability = 'strict', tier = 'float32'] = process.argv.slice(2);
  const seed = Number(seedText);
  const { LiveStore } = await import('../../dist/index.js');
  let live;
  try {
    const create = tier === 'rows' ? { dim: DIM, metric: 'l2', rerank: 'storage' }
      : tier === 'text' ? { dim: DIM, metric: 'l2', storage: 'float32', text: true }
      : { dim: DIM, metric: 'l2', storage: 'float32' };
    live = await LiveStore.open({ file }, { create, durability });
  } catch (e) {
    line({ t: 'open-failed', code: e?.code, message: String(e?.message ?? e) });
    process.exit(3);
  }
  line({ t: 'ready', seq: live.seq, size: live.size(), torn: live.recovery.tornTail !== undefined });

  const rand = uniformSource(seed);
  const pick = (n) => Math.floor(rand() * n);
  let n = 0; // issue counter
  let unique = 0; // for ids that are new for sure
  const outstanding = new Set();
  const POOL = 150;
  const poolId = () => `k${pick(POOL)}`;

  const issue = (op, call) => {
    const i = n++;
    line({ t: 'issue', n: i, ...op });
    const p = call().then(
      () => line({ t: 'ack', n: i }),
      (e) => line({ t: 'refused', n: i, code: e?.code ?? String(e) }),
    );
    outstanding.add(p);
    p.finally(() => outstanding.delete(p));
  };

  const withText = tier === 'text';
  const add = (kind, id) => {
    const vs = seed * 1_000_003 + n;
    const meta = metadataOf(rand, n);
    const op = { op: kind, id, vs };
    if (meta !== undefined) op.m = meta;
    const text = withText ? textOf(rand, vs) : undefined;
    if (text === undefined) {
      issue(op, () => live[kind](id, vectorOf(vs), meta));
    } else {
      op.tx = text;
      issue(op, () => live[kind](id, vectorOf(vs), meta, { text }));
    }
  };

  for (;;) {
    const group = 1 + pick(6);
    for (let g = 0; g < group; g++) {
      const r = rand();
      if (r < 0.3) add('add', poolId());
      else if (r < 0.5) add('upsert', poolId());
      else if (r < 0.65) {
        const id = poolId();
        issue({ op: 'delete', id }, () => live.delete(id));
      } else if (r < 0.75) {
        const id = poolId();
        const meta = metadataOf(rand, n);
        const op = { op: 'setMetadata', id };
        if (meta !== undefined) op.m = meta;
        issue(op, () => live.setMetadata(id, meta));
      } else if (r < 0.85) {
        // A small batch: pool ids (refused as a whole if one exists) or new ids.
        const count = 1 + pick(5);
        const fresh = rand() < 0.5;
        const ids = Array.from({ length: count }, () => (fresh ? `u${seed}-${unique++}` : poolId()));
        if (rand() < 0.05) ids.push(ids[0]); // the same id twice: refused
        const vs = seed * 1_000_003 + n;
        const withMeta = rand() < 0.5;
        const metas = withMeta ? ids.map((_, k) => metadataOf(rand, n + k)) : undefined;
        const vectors = new Float32Array(ids.length * DIM);
        ids.forEach((_, k) => vectors.set(vectorOf(vs + k * 7919), k * DIM));
        const op = { op: 'addMany', ids, vs };
        if (metas) op.ms = metas.map((m) => (m === undefined ? { u: 1 } : { v: m }));
        // Texts for most batches (one per id, some undefined), none for the rest.
        const texts = withText && rand() < 0.8 ? ids.map((_, k) => textOf(rand, vs, k)) : undefined;
        if (texts) op.txs = texts.map((t) => t ?? null);
        issue(op, () => (texts ? live.addMany(ids, vectors, metas, { texts }) : live.addMany(ids, vectors, metas)));
      } else if (r < 0.9) {
        // Refused on purpose: a fresh id added twice in one commit, a delete
        // and a setMetadata of ids that never existed.
        const id = `u${seed}-${unique++}`;
        add('add', id);
        add('add', id);
        const missing = `missing-${seed}-${unique++}`;
        issue({ op: 'delete', id: missing }, () => live.delete(missing));
        issue({ op: 'setMetadata', id: missing, m: 1 }, () => live.setMetadata(missing, 1));
      } else if (r < 0.93) {
        issue({ op: 'consolidate' }, () => live.consolidate());
      } else {
        add('upsert', `u${seed}-${unique++}`);
      }
    }
    const after = rand();
    if (after < 0.03) {
      await live.checkpoint();
      const { generation } = JSON.parse((await import('node:fs')).readFileSync(file, 'utf8'));
      line({ t: 'ckpt', gen: generation });
    } else if (after < 0.4 || outstanding.size > 40) {
      await Promise.all([...outstanding]);
    } else if (after < 0.7) {
      // Let the commit in progress run; the next group queues behind it.
      await new Promise((resolve) => setImmediate(resolve));
    }
    // else: the next group joins the same commit
  }
}

async function hammer() {
  const [file, name, ms] = process.argv.slice(3);
  const { LiveStore } = await import('../../dist/index.js');
  const end = Date.now() + Number(ms);
  const held = [];
  let refused = 0;
  let acked = 0;
  while (Date.now() < end) {
    let live;
    try {
      live = await LiveStore.open({ file }, { create: { dim: DIM, metric: 'l2' } });
    } catch (e) {
      if (e?.code !== 'STORAGE_UNAVAILABLE') throw e;
      refused++;
      continue;
    }
    const start = performance.timeOrigin + performance.now();
    try {
      await live.add(`${name}-${acked}`, vectorOf(acked + 1));
      acked++;
    } catch (e) {
      line({ t: 'write-failed', code: e?.code, message: String(e?.message).slice(0, 300) });
    }
    held.push([start, performance.timeOrigin + performance.now()]);
    await live.close();
  }
  line({ t: 'hammer', name, held, refused, acked });
}

async function save() {
  const [file, ms] = process.argv.slice(3);
  const { VectorStore } = await import('../../dist/index.js');
  const store = await VectorStore.create({ dim: DIM, metric: 'l2' });
  store.add('saved', vectorOf(1));
  const end = Date.now() + Number(ms);
  let saved = 0;
  const refused = {};
  while (Date.now() < end) {
    try {
      await store.save({ file });
      saved++;
    } catch (e) {
      refused[e?.code] = (refused[e?.code] ?? 0) + 1;
    }
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  line({ t: 'saver', saved, refused });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2] === '--hammer' ? hammer : process.argv[2] === '--save' ? save : main;
  mode().catch((e) => {
    line({ t: 'crashed', message: String(e?.stack ?? e) });
    process.exit(2);
  });
}
