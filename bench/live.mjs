// The live store's costs (issue 12): add + durable-commit latency, addMany with
// and without the journal, journal bytes per write, checkpoint time and the
// longest main-thread stall while one is written, open time at 10,000 and
// 100,000 x 384 int8, and how long a write takes to reach another tab. Node on
// a file, Chromium (persistent profile, as a user's browser) on OPFS and
// IndexedDB. Prints figures and writes them into docs/benchmarks.md between
// the live-store markers; asserts nothing.
//
//   node bench/live.mjs [--sizes 10000,100000] [--no-browser | --browser-only]
// (docs/benchmarks.md is rewritten only by a run of both.)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { LiveStore, VectorStore } from '../dist/index.js';
import { CHROMIUM_ARGS, serveStatic } from '../scripts/serve.mjs';
import { clusteredVectors } from '../tests/fixtures/random.js';
import { root } from './datasets.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : fallback; };
const sizes = option('sizes', '10000,100000').split(',').map(Number);
const browser = !args.includes('--no-browser');
const node = !args.includes('--browser-only');
const DIM = 384;
const cacheDir = path.join(root, '.cache/bench');
mkdirSync(cacheDir, { recursive: true });

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };
const median = (xs) => pct(xs, 0.5);
const ms = (x) => `${x < 10 ? x.toFixed(2) : x.toFixed(0)} ms`;

// A store of n x 384 int8 cosine vectors with short ids and metadata, built once and cached as snapshot bytes.
async function storeBytes(n) {
  const file = path.join(cacheDir, `live-${n}x${DIM}.tabvec`);
  if (existsSync(file)) return file;
  console.log(`building ${n} x ${DIM} (cached in ${path.relative(root, file)})…`);
  const store = await VectorStore.create({ dim: DIM, metric: 'cosine' });
  store.addMany(Array.from({ length: n }, (_, i) => `doc-${i}`), clusteredVectors(n, DIM, 1000, 3), Array.from({ length: n }, (_, i) => ({ i, title: `note ${i}` })));
  writeFileSync(file, store.serialize());
  store.dispose();
  return file;
}

// Event-loop gaps while fn runs: the longest time the thread could not run a 1 ms timer.
async function longestGap(fn) {
  let last = performance.now();
  let gap = 0;
  const timer = setInterval(() => { const now = performance.now(); gap = Math.max(gap, now - last); last = now; }, 1);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(gap, performance.now() - last);
}

const rows = [];
const row = (env, what, figure) => { rows.push([env, what, figure]); console.log(`${env.padEnd(22)} ${what.padEnd(58)} ${figure}`); };

// --- Node, file backend ---------------------------------------------------------
const files = Object.fromEntries(await Promise.all(sizes.map(async (n) => [n, await storeBytes(n)])));
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tabvec-bench-live-'));
if (node) try {
  const small = sizes[0];
  for (const durability of ['strict', 'relaxed']) {
    const target = { file: path.join(tmp, `latency-${durability}.tabvec`) };
    await (await VectorStore.deserialize(readFileSync(files[small]))).save(target);
    const live = await LiveStore.open(target, { durability });
    const extra = clusteredVectors(300, DIM, 1000, 9);
    const latencies = [];
    for (let i = 0; i < 300; i++) {
      const t = performance.now();
      await live.add(`new-${i}`, extra.subarray(i * DIM, (i + 1) * DIM), { i });
      latencies.push(performance.now() - t);
    }
    // Each awaited add is a commit of its own, one segment file; checkpoints
    // drop the earlier ones, so the average is over the segments left.
    const segments = readdirSync(tmp).filter((f) => f.startsWith(`latency-${durability}.tabvec.`) && f.endsWith('.journal'));
    const journal = segments.reduce((sum, f) => sum + statSync(path.join(tmp, f)).size, 0);
    row('node, file', `add, durable (${durability}): p50 / p99`, `${ms(median(latencies))} / ${ms(pct(latencies, 0.99))}`);
    if (durability === 'strict') row('node, file', 'journal bytes per add (384 floats + id + metadata)', `${(journal / segments.length).toFixed(0)} B (over the ${segments.length} segments a checkpoint left)`);
    await live.close();
  }

  {
    const n = 5000;
    const vectors = clusteredVectors(n, DIM, 1000, 11);
    const ids = Array.from({ length: n }, (_, i) => `bulk-${i}`);
    const plain = await VectorStore.deserialize(readFileSync(files[small]));
    let t = performance.now();
    plain.addMany(ids, vectors);
    const plainMs = performance.now() - t;
    plain.dispose();
    const target = { file: path.join(tmp, 'bulk.tabvec') };
    await (await VectorStore.deserialize(readFileSync(files[small]))).save(target);
    const live = await LiveStore.open(target);
    t = performance.now();
    await live.addMany(ids, vectors);
    const liveMs = performance.now() - t;
    row('node, file', `addMany ${n} x ${DIM} onto ${small}: VectorStore / LiveStore`, `${(n / plainMs * 1000).toFixed(0)} / ${(n / liveMs * 1000).toFixed(0)} vectors/s`);
    await live.close();
  }

  for (const n of sizes) {
    const target = { file: path.join(tmp, `open-${n}.tabvec`) };
    await (await VectorStore.deserialize(readFileSync(files[n]))).save(target);
    const times = [];
    for (let r = 0; r < 5; r++) {
      const t = performance.now();
      const live = await LiveStore.open(target);
      times.push(performance.now() - t);
      await live.close();
    }
    row('node, file', `open ${n} x ${DIM} (checkpoint, no journal), median of 5`, ms(median(times)));
    // Then 2,000 single adds, each awaited (a user adding notes): the
    // checkpoint policy decides how much journal an open replays.
    const live = await LiveStore.open(target);
    const adds = 2000;
    const extra = clusteredVectors(adds, DIM, 1000, 13);
    for (let i = 0; i < adds; i++) await live.add(`j-${i}`, extra.subarray(i * DIM, (i + 1) * DIM));
    await live.close();
    const withJournal = [];
    let replayed = 0;
    for (let r = 0; r < 3; r++) {
      const t = performance.now();
      const again = await LiveStore.open(target);
      withJournal.push(performance.now() - t);
      replayed = again.recovery.replayed;
      await again.close();
    }
    row('node, file', `open ${n} x ${DIM} after ${adds} more single adds (journal left: ${replayed} records), median of 3`, ms(median(withJournal)));
    const writer = await LiveStore.open(target);
    let checkpointMs = 0;
    const gap = await longestGap(async () => {
      const t = performance.now();
      await writer.checkpoint();
      checkpointMs = performance.now() - t;
    });
    row('node, file', `checkpoint ${n} x ${DIM}: time, longest event-loop stall`, `${ms(checkpointMs)}, ${ms(gap)}`);
    await writer.close();
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
} else {
  rmSync(tmp, { recursive: true, force: true });
}

// --- Chromium: OPFS and IndexedDB ------------------------------------------------
if (browser) {
  const server = await serveStatic(root, { allowed: ['dist', 'bench', 'tests/fixtures', '.cache/bench'] });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tabvec-bench-profile-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  try {
    const open = async () => {
      const page = await context.newPage();
      await page.goto(`${server.url}/bench/live-page.html`);
      await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
      return page;
    };
    const [a, b] = [await open(), await open()];
    for (const kind of ['opfs', 'indexedDB']) {
      const target = { [kind]: 'bench-live' };
      const env = `chromium, ${kind === 'opfs' ? 'OPFS' : 'IndexedDB'}`;
      for (const n of sizes) {
        const r = await a.evaluate(([t, url]) => window.openAndCheckpoint(t, url), [target, `/.cache/bench/live-${n}x${DIM}.tabvec`]);
        row(env, `open ${n} x ${DIM} (read + load), median of 5`, ms(median(r.openMs)));
        row(env, `checkpoint ${n} x ${DIM}: time, longest main-thread stall`, `${ms(r.checkpointMs)}, ${ms(r.stallMs)}`);
      }
      const latency = await a.evaluate((t) => window.addLatency(t, 200), target);
      row(env, 'add, durable (strict): p50 / p99', `${ms(median(latency))} / ${ms(pct(latency, 0.99))}`);
      await a.evaluate(() => window.closeLive());
      const inWorker = await a.evaluate((t) => window.addLatencyInWorker(t, 200), target);
      row(env, 'add, durable (strict), store in a worker: p50 / p99', `${ms(median(inWorker))} / ${ms(pct(inWorker, 0.99))}`);
      await a.evaluate((t) => window.openLive(t), target);
      await b.evaluate((t) => window.openLive(t), target);
      const delays = [];
      for (let i = 0; i < 20; i++) {
        await b.evaluate((id) => window.watch(id), `ping-${kind}-${i}`);
        const written = await a.evaluate((id) => window.addOne(id), `ping-${kind}-${i}`);
        delays.push((await b.evaluate(() => window.seenAt)) - written);
      }
      row(env, 'a write reaching another open tab: p50 / max', `${ms(median(delays))} / ${ms(Math.max(...delays))}`);
      await a.evaluate(() => window.closeLive());
      await b.evaluate(() => window.closeLive());
    }
  } finally {
    await context.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

// --- docs/benchmarks.md ------------------------------------------------------------
const section = [
  '<!-- live-store -->',
  '## The live store (LiveStore)',
  '',
  `Measured by \`node bench/live.mjs\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.version}; Chromium in a persistent profile. Stores of n x ${DIM} int8 cosine vectors with short ids and metadata.`,
  '',
  '| where | what | figure |',
  '| --- | --- | --- |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  '<!-- /live-store -->',
].join('\n');
const docs = path.join(root, 'docs/benchmarks.md');
if (!node || !browser) {
  console.log('\n(a partial run: docs/benchmarks.md left as it is)');
  process.exit(0);
}
const current = existsSync(docs) ? readFileSync(docs, 'utf8') : '# Benchmarks\n';
const marked = /<!-- live-store -->[\s\S]*<!-- \/live-store -->/;
writeFileSync(docs, marked.test(current) ? current.replace(marked, section) : `${current.trimEnd()}\n\n${section}\n`);
console.log(`\nwrote the live-store section of ${path.relative(root, docs)}`);
