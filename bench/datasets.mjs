// Benchmark datasets: real ones from ../shared/data and Debian's Fashion-MNIST,
// a real text-embedding set generated into .cache/bench by bench/text-dataset.mjs,
// seeded synthetic ones with exact ground truth computed once and cached.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusteredVectors } from '../tests/fixtures/random.js';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.TABVEC_SHARED_DATA ?? path.resolve(root, '../shared/data');
const fmnist = process.env.TABVEC_FMNIST_DIR ?? path.join(root, '.cache/data/fashion-mnist');
const cache = path.join(root, '.cache/bench');

function readVecs(file, Type) {
  const buf = readFileSync(file);
  const dim = buf.readInt32LE(0);
  const rows = buf.length / (4 + 4 * dim);
  const out = new Type(rows * dim);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) {
      const at = r * (4 + 4 * dim) + 4 + 4 * j;
      out[r * dim + j] = Type === Float32Array ? view.getFloat32(at, true) : view.getInt32(at, true);
    }
  }
  return { rows, dim, data: out };
}

function readIdx(file, maxRows = Infinity) {
  const buf = readFileSync(file);
  const rows = Math.min(buf.readUInt32BE(4), maxRows);
  const dim = buf.readUInt32BE(8) * buf.readUInt32BE(12);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows * dim; i++) data[i] = buf[16 + i];
  return { rows, dim, data };
}

function exactKnn(base, queries, dim, k, metric) {
  const nb = base.length / dim;
  const nq = queries.length / dim;
  const truth = new Int32Array(nq * k);
  for (let q = 0; q < nq; q++) {
    const topD = new Float64Array(k).fill(Infinity);
    const topI = new Int32Array(k).fill(-1);
    for (let i = 0; i < nb; i++) {
      let d = 0;
      for (let j = 0; j < dim; j++) {
        const a = queries[q * dim + j];
        const b = base[i * dim + j];
        d += metric === 'l2' ? (a - b) * (a - b) : -a * b;
      }
      if (d >= topD[k - 1]) continue;
      let at = k - 1;
      while (at > 0 && topD[at - 1] > d) {
        topD[at] = topD[at - 1];
        topI[at] = topI[at - 1];
        at--;
      }
      topD[at] = d;
      topI[at] = i;
    }
    truth.set(topI, q * k);
  }
  return { rows: nq, dim: k, data: truth };
}

function synthetic(name, rows, dim, metric, nq) {
  const file = path.join(cache, `${name}-${rows}-${nq}.gt.bin`);
  const base = clusteredVectors(rows, dim, 1000, 2024, 0, metric === 'cosine');
  const queries = clusteredVectors(nq, dim, 1000, 2024, 7, metric === 'cosine');
  let truth;
  if (existsSync(file)) {
    const bytes = readFileSync(file);  // may be a view into a larger pooled buffer
    truth = { rows: nq, dim: 10, data: new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
  } else {
    truth = exactKnn(base, queries, dim, 10, metric);
    mkdirSync(cache, { recursive: true });
    writeFileSync(file, Buffer.from(truth.data.buffer));
  }
  return { name, metric, dim, base, queries, truth, nb: rows, nq };
}

/**
 * Returns the dataset or a string saying why it is unavailable.
 * `queries` caps the number of queries (a fixed prefix of the query set).
 */
export function loadDataset(name, { smoke = false, queries = 1000 } = {}) {
  if (name === 'smoke') return synthetic('smoke', 2000, 32, 'l2', 50);
  if (name === 'fashion-mnist-60k') {
    const gt = path.join(shared, 'fashion-mnist/fmnist_test10k_gt100_l2.ivecs');
    const train = path.join(fmnist, 'train-images-idx3-ubyte');
    if (!existsSync(gt) || !existsSync(train)) return `missing ${gt} or ${train}`;
    const base = readIdx(train);
    const q = readIdx(path.join(fmnist, 't10k-images-idx3-ubyte'), queries);
    const full = readVecs(gt, Int32Array);
    const truth = new Int32Array(q.rows * 10);
    for (let i = 0; i < q.rows; i++) truth.set(full.data.subarray(i * full.dim, i * full.dim + 10), i * 10);
    return { name, metric: 'l2', dim: 784, base: base.data, queries: q.data, truth: { rows: q.rows, dim: 10, data: truth }, nb: base.rows, nq: q.rows };
  }
  if (name === 'sap-minilm384') {
    const dir = path.join(shared, 'sap-minilm384');
    if (!existsSync(path.join(dir, 'sap_base700.fvecs'))) return `missing ${dir}`;
    const base = readVecs(path.join(dir, 'sap_base700.fvecs'), Float32Array);
    const q = readVecs(path.join(dir, 'sap_query78.fvecs'), Float32Array);
    const full = readVecs(path.join(dir, 'sap_query78_gt100_cos.ivecs'), Int32Array);
    const truth = new Int32Array(q.rows * 10);
    for (let i = 0; i < q.rows; i++) truth.set(full.data.subarray(i * full.dim, i * full.dim + 10), i * 10);
    return { name, metric: 'cosine', dim: 384, base: base.data, queries: q.data, truth: { rows: q.rows, dim: 10, data: truth }, nb: base.rows, nq: q.rows };
  }
  if (name === 'debian-use512-100k') {
    // Debian package descriptions embedded with USE lite: not committed, generated once.
    const dir = path.join(cache, name);
    const files = ['base.f32', 'queries.f32', 'gt100.i32'].map((f) => path.join(dir, f));
    if (!files.every((f) => existsSync(f))) return `missing ${dir}: generate it with \`node bench/text-dataset.mjs\` (about an hour on one core; resumable)`;
    const read = (f, Type) => {
      const bytes = readFileSync(f);
      return new Type(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    };
    const dim = 512;
    const base = read(files[0], Float32Array);
    const allQueries = read(files[1], Float32Array);
    const full = read(files[2], Int32Array);
    const nq = Math.min(queries, allQueries.length / dim);
    const truth = new Int32Array(nq * 10);
    for (let i = 0; i < nq; i++) truth.set(full.subarray(i * 100, i * 100 + 10), i * 10);
    return { name, metric: 'cosine', dim, base, queries: allQueries.slice(0, nq * dim), truth: { rows: nq, dim: 10, data: truth }, nb: base.length / dim, nq };
  }
  if (name === 'synthetic-100k-128') return synthetic(name, 100000, 128, 'l2', 200);
  if (name === 'synthetic-100k-384') return synthetic(name, 100000, 384, 'cosine', 200);
  throw new Error(`unknown dataset ${name}`);
}

// Fashion-MNIST last: voy-search panics on it, which disables voy for the rest of the run.
export const DATASETS = ['sap-minilm384', 'synthetic-100k-128', 'synthetic-100k-384', 'fashion-mnist-60k'];
