// Which queries cost tabvec most (bench/fulltext.mjs's p99): each keyword query's
// median latency over 15 runs, split by whether it has an English stop word, with
// the stop words' document frequencies and the slowest queries.
//
//   node bench/fulltext/query-costs.mjs [debian100k|debian20k|demo]
import { VectorStore } from '../../dist/index.js';
import { tokenize } from '../../dist/tokenize.js';
import { loadCorpus } from '../fulltext-corpora.mjs';

const c = loadCorpus(process.argv[2] ?? 'debian100k');
if (typeof c === 'string') {
  console.log(`*** SKIPPED: ${c} ***`);
  process.exit(0);
}
const isStop = (w) => tokenize(w, 'english', 255).length === 0;
const words = c.queries.map((q) => q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []);
const withStop = words.map((ws) => ws.some(isStop));
console.log(`${c.name}: ${c.queries.length} queries, ${withStop.filter(Boolean).length} with an English stop word, ${words.filter((ws) => ws.every(isStop)).length} with only stop words`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const us = (x) => `${x.toFixed(0)} us`;
const df = new Map();
for (const language of ['none', 'english']) {
  const store = await VectorStore.create({ dim: 1, metric: 'l2', text: { language } });
  store.addMany(c.ids, new Float32Array(c.ids.length).fill(1), undefined, { texts: c.texts });
  // Postings merged into blocks, as addMany left them in the build bench/fulltext.mjs
  // measured (a later build left a large addMany in the delta until a cleanup).
  store.consolidate();
  if (language === 'none') {
    // Document frequency of each stop word that the queries use, from the 'none' index.
    const tally = new Map();
    for (const ws of words) for (const w of ws) if (isStop(w)) tally.set(w, (tally.get(w) ?? 0) + 1);
    for (const w of new Set(words.flat())) df.set(w, 0);
    for (const t of c.texts) for (const w of new Set(tokenize(t, 'none', 255))) if (df.has(w)) df.set(w, df.get(w) + 1 / c.ids.length);
    console.log(`stop words in the queries (times used, share of documents holding it): ${[...tally].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([w, n]) => `${w} ${n}x ${df.get(w).toFixed(2)}`).join(', ')}`);
  }
  for (const q of c.queries) store.searchText(q, { k: 10 });
  const per = c.queries.map((q) => {
    const t = [];
    for (let r = 0; r < 15; r++) {
      const t0 = performance.now();
      store.searchText(q, { k: 10 });
      t.push((performance.now() - t0) * 1000);
    }
    return median(t);
  });
  const a = per.filter((_, i) => withStop[i]);
  const b = per.filter((_, i) => !withStop[i]);
  console.log(`tabvec-${language}: per query (median of 15): all mean ${us(mean(per))}, median ${us(median(per))}; with a stop word mean ${us(mean(a))}, median ${us(median(a))}; without mean ${us(mean(b))}, median ${us(median(b))}`);
  const share = (q) => (q.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).map((w) => `${w} ${(df.get(w) ?? 0).toFixed(2)}`).join(', ');
  console.log(`  slowest (share of documents holding each word): ${per.map((t, i) => [t, c.queries[i]]).sort((x, y) => y[0] - x[0]).slice(0, 5).map(([t, q]) => `"${q}" ${us(t)} (${share(q)})`).join('; ')}`);
  console.log(`  queries with no hit: ${c.queries.filter((q) => store.searchText(q, { k: 10 }).length === 0).length}`);
  store.dispose();
}
