// The Chromium half of bench/fulltext.mjs: the same adapters and timing as in
// Node; the driver calls window.fulltext step by step and reads the heap between.
import * as tabvec from 'tabvec';
import MiniSearch from 'minisearch';
import * as orama from '@orama/orama';
import { tokenize } from '/dist/tokenize.js';
import { makeSession, minisearchAdapter, oramaAdapter, prepareCorpus, tabvecAdapter, tabvecVectorsOnly, tokenizeMs, warmTabvec } from '/bench/fulltext-libs.mjs';

let session;
let corpus;
window.fulltext = {
  /** Fetches the corpus the driver serves and makes the contenders; returns their names and configs. */
  async load(url, wanted) {
    corpus = prepareCorpus(await (await fetch(url)).json());
    await warmTabvec(tabvec);
    const all = [tabvecAdapter(tabvec, 'english'), tabvecAdapter(tabvec, 'none'), tabvecVectorsOnly(tabvec), minisearchAdapter(MiniSearch), oramaAdapter(orama)];
    session = makeSession(all.filter((a) => wanted.includes(a.name)), corpus);
    return { names: session.names, configs: session.configs, isolated: globalThis.crossOriginIsolated };
  },
  build: (name) => session.build(name),
  query: (name) => session.query(name),
  free: (name) => session.free(name),
  tokenize: (language) => tokenizeMs(tokenize, corpus.texts, language),
};
document.getElementById('status').textContent = 'ready';
