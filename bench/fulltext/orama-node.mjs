// Why Orama answers several times slower in Node 20 than in Chromium (bench/fulltext.mjs):
// a CPU profile of its queries on debian100k in Node (where its time goes, and how much
// is garbage collection), then the operation its prefix expansion repeats
// (radix.js findAllWords: `if (!docs.includes(docID)) docs.push(docID)`, once per
// posting of every word a query token is a prefix of) timed alone in Node and Chromium.
//
//   node --cpu-prof --cpu-prof-dir=build/orama-prof bench/fulltext/orama-node.mjs
import * as orama from '@orama/orama';
import { PerformanceObserver } from 'node:perf_hooks';
import { chromium } from 'playwright-core';
import { loadCorpus } from '../fulltext-corpora.mjs';

function includesBench() {
  const a = Array.from({ length: 40000 }, (_, i) => i * 3);  // one word's posting list, ~40% of 100k docs
  let hits = 0;
  const t0 = performance.now();
  for (let r = 0; r < 4000; r++) if (a.includes(r * 7 + 1)) hits++;
  return { ms: performance.now() - t0, hits };
}

const c = loadCorpus('debian100k');
if (typeof c === 'string') {
  console.log(`*** debian100k SKIPPED: ${c} ***`);
} else {
  const db = orama.create({ schema: { text: 'string' } });
  await orama.insertMultiple(db, c.ids.map((id, i) => ({ id, text: c.texts[i] })));
  let gcMs = 0;
  let on = false;
  new PerformanceObserver((list) => { if (on) for (const e of list.getEntries()) gcMs += e.duration; }).observe({ entryTypes: ['gc'] });
  const queries = c.queries.slice(0, 100);
  on = true;
  const t0 = performance.now();
  for (const q of queries) await orama.search(db, { term: q, limit: 10 });
  const ms = performance.now() - t0;
  await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`Orama, Node ${process.version}, debian100k, first 100 keyword queries: ${(queries.length / ms * 1000).toFixed(1)} QPS; garbage collection ${(100 * gcMs / ms).toFixed(0)}% of the time`);
}
includesBench();
console.log(`Array.prototype.includes, 4,000 misses on 40,000 integers: Node ${process.version} ${includesBench().ms.toFixed(1)} ms`);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
const page = await browser.newPage();
await page.evaluate(`(${includesBench.toString()})()`);
console.log(`  the same in Chromium ${browser.version()}: ${(await page.evaluate(`(${includesBench.toString()})()`)).ms.toFixed(1)} ms`);
await browser.close();
