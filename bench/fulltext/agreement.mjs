// Why tabvec-none and MiniSearch agree on 0.76-0.78 of their top 10 (bench/fulltext.mjs),
// not more: the agreement with MiniSearch set to tabvec's BM25 parameters, then also
// to words cut as tabvec cuts them (at every character that is not a letter, mark or
// number; MiniSearch's default cuts at spaces and punctuation only, so symbols such as
// ` + = | stay in its words), then without its multiplying each score by the
// number of query terms matched, and how often MiniSearch's 10th and 11th scores tie (a
// tie is broken differently by each).
//
//   node bench/fulltext/agreement.mjs
import { VectorStore } from '../../dist/index.js';
import MiniSearch from 'minisearch';
import { loadCorpus } from '../fulltext-corpora.mjs';
import { meanOverlap } from '../fulltext-libs.mjs';

const LUCENE = { k: 1.2, b: 0.75, d: 0 };  // tabvec's BM25: k1 1.2, b 0.75, no BM25+ term
for (const name of ['demo', 'debian20k']) {
  const c = loadCorpus(name);
  if (typeof c === 'string') {
    console.log(`*** ${name} SKIPPED: ${c} ***`);
    continue;
  }
  const store = await VectorStore.create({ dim: 1, metric: 'l2', text: { language: 'none' } });
  store.addMany(c.ids, new Float32Array(c.ids.length).fill(1), undefined, { texts: c.texts });
  const tabvec = c.queries.map((q) => store.searchText(q, { k: 10 }).map((h) => h.id));
  const ms = new MiniSearch({ fields: ['text'] });
  ms.addAll(c.ids.map((id, i) => ({ id, text: c.texts[i] })));
  const defaults = c.queries.map((q) => ms.search(q).slice(0, 10).map((h) => h.id));
  let ties = 0;
  let over10 = 0;
  const lucene = c.queries.map((q) => {
    const r = ms.search(q, { bm25: LUCENE });
    if (r.length > 10) {
      over10++;
      if (Math.abs(r[9].score - r[10].score) <= 1e-9 * Math.abs(r[9].score)) ties++;
    }
    return r.slice(0, 10).map((h) => h.id);
  });
  const cut = new MiniSearch({ fields: ['text'], tokenize: (t) => t.normalize('NFKC').split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean) });
  cut.addAll(c.ids.map((id, i) => ({ id, text: c.texts[i] })));
  const same = c.queries.map((q) => cut.search(q, { bm25: LUCENE }).slice(0, 10).map((h) => h.id));
  // MiniSearch multiplies a document's score by how many query terms it matched
  // (index.js: score * quality); undone here. Its document length stays its count
  // of distinct words (tabvec's is its count of words), which no option changes.
  const uncoordinated = c.queries.map((q) => cut.search(q, { bm25: LUCENE }).map((h) => ({ id: h.id, score: h.score / (h.queryTerms.length || 1) }))
    .sort((x, y) => y.score - x.score).slice(0, 10).map((h) => h.id));
  const symbols = new Set(c.texts.flatMap((t) => MiniSearch.getDefault('tokenize')(t)).filter((w) => /\p{S}/u.test(w))).size;
  console.log(`${name}: tabvec-none vs MiniSearch, mean top-10 overlap: defaults ${meanOverlap(tabvec, defaults).toFixed(3)}; with bm25 ${JSON.stringify(LUCENE)} ${meanOverlap(tabvec, lucene).toFixed(3)}; and words cut as tabvec cuts them ${meanOverlap(tabvec, same).toFixed(3)}; and scores not multiplied by matched terms ${meanOverlap(tabvec, uncoordinated).toFixed(3)}. MiniSearch's default words with a symbol in them: ${symbols} distinct; its 10th and 11th scores (bm25 as tabvec's) tie in ${ties} of ${over10} queries with more than 10 hits`);
  store.dispose();
}
