// Test data: real datasets from ../shared/data (skipped loudly when absent,
// except under CI=true where absence fails) and seeded synthetic vectors.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedData = process.env.TABVEC_SHARED_DATA ?? path.resolve(root, '../shared/data');
export const fmnistDir = process.env.TABVEC_FMNIST_DIR ?? path.join(root, '.cache/data/fashion-mnist');

/** True if every file exists; otherwise warns loudly, or throws under CI=true. */
export function haveData(...files: string[]): boolean {
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  if (process.env.CI === 'true') throw new Error(`required data missing under CI: ${missing.join(', ')}`);
  console.warn(`\n*** SKIPPED: missing data ${missing.join(', ')} (provide ../shared/data and run npm run setup) ***\n`);
  return false;
}

export interface Vectors {
  rows: number;
  dim: number;
  data: Float32Array;
}

export function readFvecs(file: string): Vectors {
  const buf = readFileSync(file);
  const dim = buf.readInt32LE(0);
  const rows = buf.length / (4 + 4 * dim);
  const data = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    const at = r * (4 + 4 * dim) + 4;
    data.set(new Float32Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + 4 * dim)), r * dim);
  }
  return { rows, dim, data };
}

export function readIvecs(file: string): { rows: number; dim: number; data: Int32Array } {
  const buf = readFileSync(file);
  const dim = buf.readInt32LE(0);
  const rows = buf.length / (4 + 4 * dim);
  const data = new Int32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < dim; j++) data[r * dim + j] = buf.readInt32LE(r * (4 + 4 * dim) + 4 + 4 * j);
  }
  return { rows, dim, data };
}

export function readIdxImages(file: string, maxRows = Infinity): Vectors {
  const buf = readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x803) throw new Error(`${file} is not an IDX3 file`);
  const rows = Math.min(buf.readUInt32BE(4), maxRows);
  const dim = buf.readUInt32BE(8) * buf.readUInt32BE(12);
  const data = new Float32Array(rows * dim);
  for (let i = 0; i < rows * dim; i++) data[i] = buf[16 + i]!;
  return { rows, dim, data };
}

export { randomVectors, uniformSource } from '../fixtures/random.js';

export function recallAt10(found: string[][], truth: { dim: number; data: Int32Array }): number {
  let total = 0;
  found.forEach((ids, q) => {
    const set = new Set(ids);
    let hits = 0;
    for (let j = 0; j < 10; j++) if (set.has(String(truth.data[q * truth.dim + j]))) hits++;
    total += hits / 10;
  });
  return total / found.length;
}

/** A store's distance between a query and a vector, in double, from the vectors as they were added. */
export function exactDistance(metric: 'l2' | 'ip' | 'cosine', q: Float32Array, v: Float32Array): number {
  let dot = 0, qq = 0, vv = 0, l2 = 0;
  for (let i = 0; i < q.length; i++) {
    dot += q[i]! * v[i]!;
    qq += q[i]! * q[i]!;
    vv += v[i]! * v[i]!;
    l2 += (q[i]! - v[i]!) ** 2;
  }
  return metric === 'l2' ? l2 : metric === 'ip' ? -dot : 1 - dot / Math.sqrt(qq * vv);
}
