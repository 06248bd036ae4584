// tabvec against the browser vector stores people use today, on real data,
// in Node and (with --browser) in Chromium. Prints figures; asserts nothing.
//
//   npm run bench                        full run: writes docs/benchmarks.md, docs/bench-*.svg, bench/results/*.jsonl
//   npm run bench -- --smoke             a tiny run of the whole harness (the test suite uses it)
//   npm run bench -- --datasets sap-minilm384 --contenders tabvec,hnswlib-wasm --queries 500 --browser
//
// Needs node --expose-gc --experimental-wasm-modules (scripts/bench.sh passes both).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { TABVEC_VARIANTS, hnswlibWasmAdapter, sweep, tabvecAdapter } from './adapters.mjs';
import { clientVectorSearchAdapter, edgevecAdapter, hnswlibNodeAdapter, voyAdapter } from './contenders-node.mjs';
import { DATASETS, loadDataset, root } from './datasets.mjs';
import { markdownSummary, recallQpsSvg } from './report.mjs';
import { runInBrowser } from './browser.mjs';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const smoke = flag('smoke');
const datasets = smoke ? ['smoke'] : option('datasets', DATASETS.join(',')).split(',');
const wanted = option('contenders', 'tabvec,tabvec-rerank-f16,tabvec-rerank-f32,tabvec-rerank-storage,hnswlib-wasm,hnswlib-node,edgevec,voy-search,client-vector-search').split(',');
// What the Chromium page runs (the others need Node).
const inBrowser = (name) => name in TABVEC_VARIANTS || name === 'hnswlib-wasm';
const queryCap = Number(option('queries', smoke ? 50 : 1000));
const browser = flag('browser') || smoke;
const outDir = path.resolve(root, option('out', smoke ? 'build/bench-smoke' : 'docs'));
const resultsDir = smoke ? outDir : path.join(root, 'bench/results');
if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc (scripts/bench.sh does)');

const version = (pkg) => {
  try {
    return JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')).version;
  } catch {
    return JSON.parse(readFileSync(path.join(root, 'bench/node_modules', pkg, 'package.json'), 'utf8')).version;
  }
};
const gzipOf = (files) => files.reduce((sum, f) => sum + gzipSync(readFileSync(f), { level: 9 }).length, 0);
const nm = (p) => path.join(root, 'bench/node_modules', p);
// What a browser downloads for each library (the wasm and its JS).
const tabvecFiles = () => ['dist/wasm/tabvec-simd.wasm', 'dist/wasm/tabvec-simd.mjs', 'dist/index.js', 'dist/store.js', 'dist/runtime.js', 'dist/errors.js', 'dist/persist.js'].map((f) => path.join(root, f));
const PACKAGE_FILES = {
  ...Object.fromEntries(Object.keys(TABVEC_VARIANTS).map((name) => [name, tabvecFiles])),
  'hnswlib-wasm': () => [nm('hnswlib-wasm/dist/hnswlib.js'), ...readdirSync(nm('hnswlib-wasm/dist')).filter((f) => /^hnswlib-.*\.js$/.test(f)).map((f) => nm(`hnswlib-wasm/dist/${f}`))],
  edgevec: () => [nm('edgevec/edgevec_bg.wasm'), nm('edgevec/edgevec.js')],
  'voy-search': () => [nm('voy-search/voy_search_bg.wasm'), nm('voy-search/voy_search_bg.js'), nm('voy-search/voy_search.js')],
  'client-vector-search': () => [nm('client-vector-search/dist/index.mjs')],
};

// Where the storage variant's live store goes in Node: a file in a scratch directory.
const nodeStorage = {
  dir: undefined,
  target() {
    this.dir ??= mkdtempSync(path.join(os.tmpdir(), 'tabvec-bench-'));
    return { file: path.join(this.dir, `store-${Date.now()}.tabvec`) };
  },
  bytes(target) {
    const base = path.basename(target.file);
    return readdirSync(this.dir).filter((f) => f === base || f.startsWith(`${base}.`))
      .reduce((sum, f) => sum + statSync(path.join(this.dir, f)).size, 0);
  },
  async remove(target) {
    const { removeSaved } = await import('../dist/index.js');
    await removeSaved(target);
  },
};

async function makeAdapters() {
  const made = [];
  const attempt = async (name, make) => {
    if (!wanted.includes(name)) return;
    try {
      made.push({ ...(await make()), version: name in TABVEC_VARIANTS ? JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version : version(name) });
    } catch (e) {
      made.push({ name, unavailable: `could not load: ${e.message}` });
    }
  };
  for (const name of Object.keys(TABVEC_VARIANTS)) await attempt(name, async () => tabvecAdapter(await import('../dist/index.js'), name, nodeStorage));
  await attempt('hnswlib-wasm', async () => {
    globalThis.window ??= globalThis;  // it is built for ENVIRONMENT=web only
    await import('fake-indexeddb/auto');  // and mounts IDBFS at load
    return { ...hnswlibWasmAdapter((await import('hnswlib-wasm/dist/hnswlib.js')).loadHnswlib), note: 'hnswlib-wasm: built for the web only; in Node it runs with globalThis.window defined and fake-indexeddb' };
  });
  await attempt('hnswlib-node', async () => ({ ...hnswlibNodeAdapter(), note: 'hnswlib-node: the native addon (the ceiling), not WebAssembly; queries and vectors pass as number arrays, its API' }));
  await attempt('edgevec', edgevecAdapter);
  await attempt('voy-search', voyAdapter);
  await attempt('client-vector-search', clientVectorSearchAdapter);
  return made;
}

async function measure(adapter, ds, write) {
  const base = {
    contender: adapter.name, version: adapter.version, dataset: ds.name, environment: 'node',
    n: ds.nb, dim: ds.dim, metric: ds.metric, queries: ds.nq, note: adapter.note,
  };
  if (adapter.unavailable) return write({ ...base, skipped: adapter.unavailable });
  const supported = adapter.supports(ds);
  if (supported !== true) return write({ ...base, skipped: supported });
  globalThis.gc();
  const heap0 = process.memoryUsage().heapUsed;
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  let state = await adapter.build(ds);
  const buildSeconds = (performance.now() - t0) / 1000;
  globalThis.gc();
  const mem = process.memoryUsage();
  const wasm = adapter.wasmMemory(state);
  const indexBytes = adapter.indexBytes?.(state) ?? null;
  const storedBytes = (await adapter.storedBytes?.(state)) ?? null;
  let serialized = null;
  let loadMs = null;
  let serializeNote = null;
  if (adapter.serialize) {
    try {
      const bytes = await adapter.serialize(state);
      serialized = bytes.byteLength;
      const tl = performance.now();
      const copy = await adapter.load(bytes, ds);
      loadMs = performance.now() - tl;
      adapter.free(copy);
    } catch (e) {
      // voy-search serializes to one JSON string, which V8 caps at 512 MiB.
      serializeNote = `${adapter.name}: serialization failed on ${ds.name}: ${String(e?.message ?? e).slice(0, 120)}`;
    }
  }
  const common = {
    ...base,
    note: [base.note, serializeNote].filter(Boolean).join('; ') || undefined,
    build_s: buildSeconds,
    build_vps: ds.nb / buildSeconds,
    wasm_memory_bytes: wasm,
    index_bytes: indexBytes,
    js_heap_bytes: mem.heapUsed - heap0,
    rss_bytes: mem.rss - rss0,
    // WebAssembly libraries: their whole module memory; the native addon: RSS growth.
    bytes_per_vector: (wasm ?? Math.max(0, mem.rss - rss0)) / ds.nb,
    serialized_bytes: serialized,
    stored_bytes: storedBytes,
    load_ms: loadMs,
    package_gzip_bytes: PACKAGE_FILES[adapter.name] ? gzipOf(PACKAGE_FILES[adapter.name]()) : null,
  };
  const breadths = adapter.rebuildFor && ds.nb > adapter.sweepLimit ? [64] : adapter.breadths;
  const swept = await sweep(adapter, state, ds, smoke ? breadths.slice(0, 2) : breadths);
  state = swept.state;
  for (const row of swept.rows) write({ ...common, ...row });
  await adapter.free(state);
}

mkdirSync(outDir, { recursive: true });
mkdirSync(resultsDir, { recursive: true });
const records = [];
const startedAt = new Date();
if (flag('report')) {
  // Regenerates the summary and plots from bench/results without measuring.
  for (const name of datasets) {
    const file = path.join(resultsDir, `${name}.jsonl`);
    try {
      records.push(...readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)));
    } catch {
      console.log(`no results in ${file}`);
    }
  }
  for (const name of datasets) {
    for (const env of ['node', 'chromium']) {
      if (records.some((r) => r.dataset === name && r.environment === env && !r.skipped)) {
        writeFileSync(path.join(outDir, `bench-${name}-${env}.svg`), recallQpsSvg(records, name, env));
      }
    }
  }
} else {
  await measureAll();
}

async function measureAll() {
  const adapters = await makeAdapters();
  for (const name of datasets) {
    const ds = loadDataset(name, { smoke, queries: queryCap });
    if (typeof ds === 'string') {
      console.log(`\n*** dataset ${name} skipped: ${ds} ***`);
      if (process.env.CI === 'true') throw new Error(`dataset ${name} missing under CI: ${ds}`);
      continue;
    }
    console.log(`\n== ${name}: ${ds.nb} x ${ds.dim} ${ds.metric}, ${ds.nq} queries`);
    const jsonl = [];
    const write = (record) => {
      records.push(record);
      jsonl.push(JSON.stringify(record));
      const s = record.skipped ? `skipped: ${record.skipped}`
        : `${Object.entries(record.setting ?? {}).map(([k, v]) => `${k}=${v}`).join(' ').padEnd(7)} recall@10 ${record.recall_at_10.toFixed(4)}  QPS ${record.qps.toFixed(0).padStart(7)}  p50 ${record.p50_us.toFixed(0)} µs  build ${record.build_vps.toFixed(0)} vec/s`;
      console.log(`  ${record.contender.padEnd(21)} ${s}`);
    };
    for (const adapter of adapters) {
      try {
        await measure(adapter, ds, write);
      } catch (e) {
        // A library that crashes on a dataset (voy-search's k-d tree panics on
        // Fashion-MNIST's many equal pixels) is reported, not fatal.
        write({ contender: adapter.name, version: adapter.version, dataset: ds.name, environment: 'node', n: ds.nb, dim: ds.dim, metric: ds.metric, queries: ds.nq, skipped: `failed: ${String(e?.message ?? e).split('\n')[0].slice(0, 200)}` });
      }
    }
    if (browser && wanted.some(inBrowser)) {
      for (const record of await runInBrowser(ds, wanted.filter(inBrowser))) {
        write({ ...record, version: adapters.find((a) => a.name === record.contender)?.version, package_gzip_bytes: PACKAGE_FILES[record.contender] ? gzipOf(PACKAGE_FILES[record.contender]()) : null });
      }
    }
    // A run of some contenders replaces their records and keeps the others'.
    const file = path.join(resultsDir, `${name}.jsonl`);
    const measured = new Set(records.filter((r) => r.dataset === name).map((r) => `${r.contender} ${r.environment}`));
    const kept = smoke || !existsSync(file) ? []
      : readFileSync(file, 'utf8').trim().split('\n').filter((line) => { const r = JSON.parse(line); return !measured.has(`${r.contender} ${r.environment}`); });
    writeFileSync(file, `${[...kept, ...jsonl].join('\n')}\n`);
    for (const env of ['node', 'chromium']) {
      if (records.some((r) => r.dataset === name && r.environment === env && !r.skipped)) {
        writeFileSync(path.join(outDir, `bench-${name}-${env}.svg`), recallQpsSvg(records, name, env));
      }
    }
  }
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const measuredWith = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
const summary = [
  '# Benchmarks',
  '',
  flag('report')
    ? `Assembled by \`npm run bench -- --report\` on ${startedAt.toISOString().slice(0, 10)} from the records in \`bench/results/\`, which runs of some contenders at a time keep up to date (each contender and dataset measured together in one run): ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, one thread, queries one at a time; QPS is the fastest of up to 5 passes over the queries (passes repeat until 0.5 s have gone), latency percentiles are over all passes.`
    : `Measured by \`${measuredWith}\` on ${startedAt.toISOString().slice(0, 10)}: ${os.cpus().length} x ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, one thread, queries one at a time; QPS is the fastest of up to 5 passes over the queries (passes repeat until 0.5 s have gone), latency percentiles are over all passes.`,
  'Records (one JSON object per contender x dataset x setting; fields in bench/README.md) are in `bench/results/`.',
  'QPS columns: the best queries/s among the breadth settings that reach the recall; "–" means no setting did.',
  'WASM MiB is the library\'s whole WebAssembly memory after the build. One process runs the datasets in the order below and WebAssembly memory never shrinks, so it is a high-water mark: in Node only the first large dataset (synthetic-100k-128) shows a library\'s memory for that dataset alone, while in Chromium every dataset runs in a fresh browser, so its figures are per dataset. Heap B/vector is the index\'s own exact accounting of its memory where the library has one (tabvec: reserved bytes of the store). Stored B/vector is what the store keeps in storage: for tabvec-rerank-storage its live store\'s files (checkpoint, journal and the rows of exact vectors; in Chromium on OPFS, measured in a dedicated worker, the only place its rows can be read), for the others what saving it writes (its serialized bytes).',
  'Timings are from a 2-core machine, with 200 queries on the synthetic sets. When QPS came from a single pass, figures moved by up to 30% between two full runs on a shared machine (hnswlib-node on Fashion-MNIST: 5,222 then 3,605 QPS at ef=16) and by up to 2x between neighbouring settings of one run; compare gaps larger than that with confidence, smaller ones as one run.',
  '',
  markdownSummary(records, { environment: 'node' }),
  records.some((r) => r.environment === 'chromium') ? `## In Chromium (headless, Debian chromium)\n\n${markdownSummary(records, { environment: 'chromium' })}` : '',
  '## Plots',
  '',
  ...[...new Set(records.filter((r) => !r.skipped).map((r) => `${r.dataset}-${r.environment}`))].map((k) => `![${k}](bench-${k}.svg)`),
  '',
].join('\n');
// bench/live.mjs keeps its own section of benchmarks.md: carried over as it is.
const previous = path.join(outDir, 'benchmarks.md');
const liveSection = !smoke && existsSync(previous) ? readFileSync(previous, 'utf8').match(/<!-- live-store -->[\s\S]*<!-- \/live-store -->/)?.[0] : undefined;
writeFileSync(path.join(outDir, smoke ? 'summary.md' : 'benchmarks.md'), liveSection ? `${summary}\n${liveSection}\n` : summary);
// (with --report the records came from bench/results; nothing was measured)
console.log(`\nwrote ${path.join(outDir, smoke ? 'summary.md' : 'benchmarks.md')}`);
