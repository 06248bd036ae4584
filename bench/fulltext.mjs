// tabvec's full-text search (BM25, issue 14) against MiniSearch and Orama on the
// same corpora and queries, in Node and (with --browser) in headless Chromium:
// index build time, queries/s, latency and the bytes the index holds. Prints
// figures; asserts nothing. docs/fulltext-benchmark.md reports a run.
//
//   node --expose-gc bench/fulltext.mjs                              Node, all corpora, 2 rounds
//   node --expose-gc bench/fulltext.mjs --browser                    Node, then Chromium
//   node --expose-gc bench/fulltext.mjs --browser-only --corpus demo,debian20k
//   node --expose-gc bench/fulltext.mjs --browser --corpus debian20k --queries texts --text-queries 50   whole query texts (fulltext-corpora.mjs)
//   node bench/fulltext.mjs --report                                 the tables again, from bench/results/fulltext-*.json
//
// Options: --corpus demo,debian20k,debian100k; --repeat N rounds (default 2: each
// contender built and timed N times, in the same process or page); --contenders
// tabvec-english,tabvec-none,tabvec-vectors-only,minisearch,orama; --append keeps the
// rounds already in bench/results for the same corpus and query set (tables then range
// over all); --queries keywords|texts and --text-queries N (debian corpora).
//
// Memory: tabvec's index lives in WebAssembly memory, so its figure is its own
// accounting, stats().memory.text.reserved (total.reserved beside it); for
// MiniSearch and Orama it is the JS heap's growth over the build, garbage
// collected before and after (Node: global.gc and process.memoryUsage().heapUsed;
// Chromium: HeapProfiler.collectGarbage and Runtime.getHeapUsage's usedSize
// over the DevTools protocol). The corpus (ids, texts, { id, text } objects) is
// made before the first reading, so no index is charged for its strings.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CORPORA, loadCorpus, root } from './fulltext-corpora.mjs';
import { makeSession, meanOverlap, minisearchAdapter, oramaAdapter, prepareCorpus, tabvecAdapter, tabvecVectorsOnly, tokenizeMs, warmTabvec } from './fulltext-libs.mjs';

const args = process.argv.slice(2);
const flag = (name) => args.includes(`--${name}`);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ALL = ['tabvec-english', 'tabvec-none', 'tabvec-vectors-only', 'minisearch', 'orama'];
const corpora = option('corpus', CORPORA.join(',')).split(',');
const wanted = option('contenders', ALL.join(',')).split(',');
const rounds = Number(option('repeat', 2));
const querySet = option('queries', 'keywords');
const textQueries = Number(option('text-queries', 100));
const runtimes = flag('browser-only') ? ['chromium'] : flag('browser') ? ['node', 'chromium'] : ['node'];
const resultsDir = path.join(root, 'bench/results');
const version = (pkg) => JSON.parse(readFileSync(path.join(root, pkg === 'tabvec' ? 'package.json' : `bench/node_modules/${pkg}/package.json`), 'utf8')).version;
const VERSIONS = { tabvec: version('tabvec'), minisearch: version('minisearch'), orama: version('@orama/orama') };
// Which build of tabvec was measured: dist/ may be rebuilt while a run goes on
// (a rebuild mid-run on 2026-11-27 changed text.reserved 2.3x), so its files'
// hashes are taken at the start and checked after each runtime.
const DIST_FILES = ['dist/wasm/tabvec-text-simd.wasm', 'dist/wasm/tabvec-text.wasm', 'dist/wasm/tabvec-simd.wasm', 'dist/text.js', 'dist/tokenize.js', 'dist/store.js'];
const distBuild = () => Object.fromEntries(DIST_FILES.map((f) => {
  const file = path.join(root, f);
  return [f, existsSync(file) ? `${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)} ${statSync(file).mtime.toISOString()}` : 'missing'];
}));
const machine = () => `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

// ---- drivers: the same steps in Node and in a Chromium page ------------------------------

async function nodeDriver() {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
  const tabvec = await import('../dist/index.js');
  const { tokenize } = await import('../dist/tokenize.js');
  const { default: MiniSearch } = await import('minisearch');
  const orama = await import('@orama/orama');
  await warmTabvec(tabvec);
  let session;
  let corpus;
  return {
    runtime: 'node',
    version: process.version,
    async load(c) {
      corpus = prepareCorpus(c);
      const all = [tabvecAdapter(tabvec, 'english'), tabvecAdapter(tabvec, 'none'), tabvecVectorsOnly(tabvec), minisearchAdapter(MiniSearch), oramaAdapter(orama)];
      session = makeSession(all.filter((a) => wanted.includes(a.name)), corpus);
      return { names: session.names, configs: session.configs };
    },
    async heap() {
      // Once (1 of 4 rounds, debian100k) Orama's growth read 122 MiB short:
      // MiniSearch's index, measured just before, was still alive at the
      // baseline. A macrotask between the collections gives whatever held it
      // a turn to let go (not yet shown to be enough: compare the rounds).
      globalThis.gc();
      await new Promise((resolve) => setTimeout(resolve, 0));
      globalThis.gc();
      const m = process.memoryUsage();
      return { used: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    },
    build: (name) => session.build(name),
    query: (name) => session.query(name),
    free: (name) => session.free(name),
    tokenize: (language) => tokenizeMs(tokenize, corpus.texts, language),
    close() {},
  };
}

async function chromiumDriver() {
  const { chromium } = await import('playwright-core');
  const { CHROMIUM_ARGS, serveStatic } = await import('../scripts/serve.mjs');
  const { mkdtempSync, rmSync } = await import('node:fs');
  // Cross-origin isolation gives performance.now() 5 us resolution instead of 100 us.
  const server = await serveStatic(root, {
    allowed: ['dist', 'bench'],
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  });
  // A profile on disk, as bench/browser.mjs uses.
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tabvec-fulltext-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'],
  });
  const browserVersion = context.browser()?.version() ?? (await (async () => {
    const p = await context.newPage();
    const v = await p.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1]);
    await p.close();
    return v;
  })());
  let page;
  let cdp;
  let corpusBody;
  const errors = [];
  const evaluate = async (fn, arg) => {
    const r = await page.evaluate(fn, arg);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    return r;
  };
  return {
    runtime: 'chromium',
    version: `Chromium ${browserVersion}`,
    // A fresh page per corpus; the corpus is served from memory at /fulltext-data.json.
    async load(c) {
      await page?.close();
      page = await context.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      corpusBody = JSON.stringify({ ids: c.ids, texts: c.texts, queries: c.queries });
      await page.route('**/fulltext-data.json', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: corpusBody }));
      await page.goto(`${server.url}/bench/fulltext-page.html`);
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 60_000 });
      cdp = await context.newCDPSession(page);
      const loaded = await evaluate(([u, w]) => window.fulltext.load(u, w), ['/fulltext-data.json', wanted]);
      if (!loaded.isolated) console.log('  (page not cross-origin isolated: performance.now() is coarse)');
      return loaded;
    },
    async heap() {
      await cdp.send('HeapProfiler.collectGarbage');
      await cdp.send('HeapProfiler.collectGarbage');
      const { usedSize } = await cdp.send('Runtime.getHeapUsage');
      return { used: usedSize };
    },
    build: (name) => evaluate((n) => window.fulltext.build(n), name),
    query: (name) => evaluate((n) => window.fulltext.query(n), name),
    free: (name) => evaluate((n) => window.fulltext.free(n), name),
    tokenize: (language) => evaluate((l) => window.fulltext.tokenize(l), language),
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// ---- measuring -----------------------------------------------------------------------

const fmt = (x, digits = 0) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const mib = (b) => (b === null || b === undefined ? '–' : fmt(b / 2 ** 20, 2));

async function measureCorpus(driver, c) {
  const { names, configs } = await driver.load(c);
  const records = [];
  const firstResults = {};
  const tokenizer = {};
  for (const language of ['english', 'none']) tokenizer[language] = await driver.tokenize(language);
  for (let round = 1; round <= rounds; round++) {
    for (const name of names) {
      const before = await driver.heap();
      const built = await driver.build(name);
      const after = await driver.heap();
      const timing = configs[name].vectorsOnly ? null : await driver.query(name);
      await driver.free(name);
      const heapGrowth = after.used - before.used;
      const s = built.stats;
      const record = {
        runtime: driver.runtime, runtime_version: driver.version, corpus: c.name, query_set: c.querySet, docs: c.ids.length, queries: c.queries.length,
        contender: name, version: VERSIONS[name.startsWith('tabvec') ? 'tabvec' : name], round,
        build_ms: built.build_ms, docs_per_s: c.ids.length / (built.build_ms / 1000),
        js_heap_growth_bytes: heapGrowth,
        external_growth_bytes: after.external !== undefined ? after.external - before.external : undefined,
        // The index's bytes: tabvec's own accounting of its text index; the others' heap growth.
        index_bytes: name.startsWith('tabvec') ? (s.text_reserved ?? null) : heapGrowth,
        index_bytes_how: name.startsWith('tabvec') ? 'stats().memory.text.reserved' : 'JS heap growth after GC',
        tabvec: s ?? undefined,
        ...(timing ? { qps: timing.qps, p50_us: timing.p50_us, p99_us: timing.p99_us, passes: timing.passes, runs_of_set: timing.runs_of_set, mean_hits: timing.mean_hits } : {}),
      };
      if (timing && round === 1) firstResults[name] = timing.results;
      records.push(record);
      console.log(`  ${driver.runtime.padEnd(8)} ${c.name} r${round} ${name.padEnd(19)} build ${fmt(record.build_ms).padStart(6)} ms  index ${mib(record.index_bytes).padStart(7)} MiB  heap+ ${mib(heapGrowth).padStart(7)} MiB`
        + (timing ? `  QPS ${fmt(timing.qps).padStart(7)}  p50 ${fmt(timing.p50_us).padStart(6)} us  p99 ${fmt(timing.p99_us).padStart(7)} us  hits ${timing.mean_hits.toFixed(1)}` : '')
        + (s?.total_reserved ? `  (tabvec total ${mib(s.total_reserved)} MiB)` : ''));
    }
  }
  const overlap = {};
  if (firstResults.minisearch) {
    for (const name of Object.keys(firstResults)) if (name !== 'minisearch') overlap[name] = meanOverlap(firstResults[name], firstResults.minisearch);
  }
  if (firstResults['tabvec-english'] && firstResults['tabvec-none']) overlap['tabvec-english vs tabvec-none'] = meanOverlap(firstResults['tabvec-english'], firstResults['tabvec-none']);
  if (firstResults.orama && firstResults['tabvec-none']) overlap['orama vs tabvec-none'] = meanOverlap(firstResults.orama, firstResults['tabvec-none']);
  console.log(`  mean top-10 overlap with MiniSearch: ${Object.entries(overlap).map(([k, v]) => `${k} ${v.toFixed(3)}`).join(', ')}`);
  return { corpus: c.name, query_set: c.querySet, source: c.source, docs: c.ids.length, queries: c.queries.length, sample_queries: c.queries.slice(0, 5), configs, tokenizer, overlap, records };
}

// ---- reporting -----------------------------------------------------------------------

const range = (values, digits = 0) => {
  const v = values.filter((x) => x !== undefined && x !== null);
  if (v.length === 0) return '–';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return v.length === 1 || fmt(lo, digits) === fmt(hi, digits) ? fmt(lo, digits) : `${fmt(lo, digits)}–${fmt(hi, digits)}`;
};

/** One markdown table for one corpus and query set in one runtime. */
export function markdownTable(result) {
  const names = [...new Set(result.records.map((r) => r.contender))];
  const head = [
    `**${result.corpus}** (${result.docs.toLocaleString('en-US')} docs, ${result.queries.toLocaleString('en-US')} queries: ${result.query_set}), ${result.runtime}; ranges over ${new Set(result.records.map((r) => `${r.invocation ?? 1} ${r.round}`)).size} rounds (each contender built and timed once a round)`,
    '',
    '| contender | build ms | docs/s | index MiB | JS heap growth MiB | tabvec total MiB | QPS | p50 µs | p99 µs | hits/query | top-10 overlap with MiniSearch |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const rows = names.map((name) => {
    const rs = result.records.filter((r) => r.contender === name);
    const vectorsOnly = name === 'tabvec-vectors-only';
    return `| ${name} | ${range(rs.map((r) => r.build_ms))} | ${range(rs.map((r) => r.docs_per_s))} | ${vectorsOnly ? '–' : range(rs.map((r) => r.index_bytes / 2 ** 20), 2)} | ${range(rs.map((r) => r.js_heap_growth_bytes / 2 ** 20), 2)} | ${rs[0].tabvec ? range(rs.map((r) => r.tabvec.total_reserved / 2 ** 20), 2) : '–'} | ${range(rs.map((r) => r.qps))} | ${range(rs.map((r) => r.p50_us))} | ${range(rs.map((r) => r.p99_us))} | ${vectorsOnly ? '–' : fmt(rs[0].mean_hits, 1)} | ${name === 'minisearch' || vectorsOnly ? '–' : fmt(result.overlap[name], 3)} |`;
  });
  const tks = (result.invocations?.map((i) => i.tokenizer) ?? [result.tokenizer]).filter((t) => t?.english);
  const tail = tks.length ? ['', `tabvec's tokenizer alone over the corpus (once an invocation): ${range(tks.map((t) => t.english.ms))} ms for 'english' (${tks[0].english.terms.toLocaleString('en-US')} terms), ${range(tks.map((t) => t.none.ms))} ms for 'none' (${tks[0].none.terms.toLocaleString('en-US')}).`] : [];
  return [...head, ...rows, ...tail].join('\n');
}

let builtWith;

function writeResults(runtime, version, results) {
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `fulltext-${runtime}.json`);
  const previous = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { results: [] };
  const key = (r) => `${r.corpus} ${r.query_set}`;
  const measured = new Set(results.map(key));
  const command = `node --expose-gc bench/fulltext.mjs ${args.join(' ')}`.trim();
  const stamp = new Date().toISOString();
  // --append: this invocation's rounds join the ones already there (tables then
  // give ranges over all of them); otherwise they replace them.
  const merged = results.map((r) => {
    const old = flag('append') ? previous.results.find((p) => key(p) === key(r)) : undefined;
    const earlier = old ? old.invocations ?? [{ command: old.command, measured: old.measured, overlap: old.overlap, tokenizer: old.tokenizer }] : [];
    const invocation = earlier.length + 1;
    const records = r.records.map((rec) => ({ ...rec, invocation, measured: stamp }));
    return { ...r, runtime, invocations: [...earlier, { command, measured: stamp, tabvec_build: builtWith, overlap: r.overlap, tokenizer: r.tokenizer }], records: [...(old?.records ?? []), ...records] };
  });
  const out = {
    runtime, runtime_version: version, machine: machine(), versions: VERSIONS, written: stamp, tabvec_build: distBuild(),
    results: [...previous.results.filter((p) => !measured.has(key(p))), ...merged],
  };
  writeFileSync(file, `${JSON.stringify(out, null, 1)}\n`);
  console.log(`wrote ${path.relative(root, file)}`);
}

if (flag('report')) {
  for (const runtime of ['node', 'chromium']) {
    const file = path.join(resultsDir, `fulltext-${runtime}.json`);
    if (!existsSync(file)) continue;
    const data = JSON.parse(readFileSync(file, 'utf8'));
    console.log(`\n### ${runtime} (${data.runtime_version})\n`);
    for (const r of data.results) console.log(`${markdownTable({ ...r, runtime })}\n\nMeasured by ${(r.invocations ?? [{ command: r.command, measured: r.measured }]).map((i) => `\`${i.command}\` (${i.measured.slice(0, 16)}Z)`).join(', then ')}.\n`);
  }
} else {
  console.log(`full-text benchmark: ${machine()}; tabvec ${VERSIONS.tabvec}, minisearch ${VERSIONS.minisearch}, @orama/orama ${VERSIONS.orama}; ${rounds} round(s)`);
  builtWith = distBuild();
  const loaded = [];
  for (const name of corpora) {
    const c = loadCorpus(name, { querySet, textQueries });
    if (typeof c === 'string') {
      console.log(`\n*** corpus ${name} SKIPPED: ${c} ***\n`);
      continue;
    }
    loaded.push(c);
  }
  for (const runtime of runtimes) {
    const driver = runtime === 'node' ? await nodeDriver() : await chromiumDriver();
    const results = [];
    try {
      for (const c of loaded) {
        console.log(`\n== ${runtime}: ${c.name}, ${c.ids.length} docs, ${c.queries.length} queries (${c.querySet})`);
        results.push(await measureCorpus(driver, c));
      }
    } finally {
      await driver.close();
    }
    for (const r of results) console.log(`\n${markdownTable({ ...r, runtime })}`);
    const changed = Object.entries(distBuild()).filter(([f, h]) => builtWith[f] !== h).map(([f]) => f);
    if (changed.length) {
      console.log(`\n*** dist/ CHANGED during the ${runtime} run (${changed.join(', ')}): the tabvec figures may mix two builds (written, marked dist_changed_during_run) ***`);
      process.exitCode = 1;
    }
    writeResults(runtime, driver.version, results.map((r) => (changed.length ? { ...r, dist_changed_during_run: changed } : r)));
  }
}
