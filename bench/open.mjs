// How long opening and saving a store take in Node: serialize(), deserialize()
// from bytes already in memory, and open from a file (fs.readFile +
// VectorStore.open({ file }), with fs.readFile alone for scale), each the median of 5, for 10,000 and 100,000 x 384 int8
// cosine stores with short string ids and small JSON metadata. Prints
// figures, asserts nothing.
//   node bench/open.mjs              (both sizes)
//   node bench/open.mjs 10000        (one size)
//   TABVEC_DIST=/path/to/dist node bench/open.mjs   (another build)
// Building the 100,000 store takes about 90 s, so each store's snapshot is
// cached under .cache/bench/ (delete it to rebuild). A cached snapshot may be
// of an older format: it is loaded, then serialized again by this build, and
// that is what is timed.
import { mkdirSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = process.env.TABVEC_DIST ? path.resolve(process.env.TABVEC_DIST) : path.join(root, 'dist');
const { VectorStore } = await import(pathToFileURL(path.join(dist, 'index.js')).href);
const cacheDir = path.join(root, '.cache', 'bench');
const dim = 384;
const runs = 5;

function vectors(n) {
  const v = new Float32Array(n * dim);
  let s = 1;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
  }
  return v;
}

async function cachedSnapshot(n) {
  const file = path.join(cacheDir, `open-${n}x${dim}-int8-cosine.tabvec`);
  if (existsSync(file)) return readFileSync(file);
  console.log(`building the ${n}-vector store (cached in ${path.relative(root, file)}) ...`);
  const t = performance.now();
  const store = await VectorStore.create({ dim, metric: 'cosine', storage: 'int8' });
  const ids = Array.from({ length: n }, (_, i) => `doc-${i}`);
  const meta = Array.from({ length: n }, (_, i) => ({ i, title: `note ${i}` }));
  store.addMany(ids, vectors(n), meta);
  console.log(`  built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  const bytes = store.serialize();
  store.dispose();
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(file, bytes);
  return bytes;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// Wall-clock ms of each run of fn, and the process's CPU ms (user + system),
// which moves less when other work shares the machine; then(result) runs
// untimed after each.
async function timed(fn, then = () => {}) {
  const times = [];
  const cpu = [];
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    const result = await fn();
    times.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
    then(result);
  }
  return { times, cpu };
}

const fmt = ({ times, cpu }) =>
  `${median(times).toFixed(1).padStart(8)} ms wall, ${median(cpu).toFixed(1).padStart(7)} ms cpu  (wall runs ${times.map((t) => t.toFixed(0)).join(', ')})`;

const sizes = process.argv[2] ? [Number(process.argv[2])] : [10000, 100000];
console.log(`dist: ${path.relative(root, dist) || dist}; node ${process.version}; median of ${runs}`);
for (const n of sizes) {
  const cached = await cachedSnapshot(n);
  const store = await VectorStore.deserialize(cached);
  let bytes;
  const ser = await timed(() => {
    bytes = store.serialize();
  });
  const file = path.join(cacheDir, `open-${n}-current.tabvec`);
  writeFileSync(file, bytes);
  const probe = vectors(1).map((x) => x + 0.01);
  const expected = store.search(probe, { k: 5 }).map((h) => h.id).join(',');
  store.dispose();
  let same = true;
  const des = await timed(
    () => VectorStore.deserialize(bytes),
    (s) => {
      same &&= s.search(probe, { k: 5 }).map((h) => h.id).join(',') === expected;
      s.dispose();
    },
  );
  const read = await timed(() => readFile(file));
  // What an app does: open a saved store (manifest, checkpoint streamed in pieces into the store).
  const target = { file: path.join(cacheDir, `open-${n}-saved`) };
  const saved = await VectorStore.deserialize(bytes);
  await saved.save(target);
  saved.dispose();
  const open = await timed(
    () => VectorStore.open(target),
    (s) => s.dispose(),
  );
  console.log(`\n${n} x ${dim} int8 cosine, snapshot ${(bytes.length / 1e6).toFixed(1)} MB (format ${bytes[8]}):`);
  console.log(`  serialize              ${fmt(ser)}`);
  console.log(`  deserialize from bytes ${fmt(des)}`);
  console.log(`  VectorStore.open(file) ${fmt(open)}`);
  console.log(`  (fs.readFile alone     ${fmt(read)})`);
  console.log(`  search after load      ${same ? 'same top-5 as the source store' : 'DIFFERENT top-5 from the source store'}`);
}
