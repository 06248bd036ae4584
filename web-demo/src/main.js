import { LiveStore, TabvecError, VectorStore, requestPersistentStorage } from 'tabvec';

// A live store: every note is journaled as it is added, and every open tab of
// the demo sees the others' notes. It has full-text search (BM25) beside the
// vectors; a store saved by the demo before it had text is rebuilt with text
// when it is opened (upgradeToText).
const SAVED = { indexedDB: 'tabvec-demo-live' };
const STORE_OPTIONS = { dim: 512, metric: 'cosine', text: true };
const K = 10;
const $ = (id) => document.getElementById(id);
const ui = {
  query: $('query'), source: $('source'), results: $('results'), resultsNote: $('results-note'),
  modeHint: $('mode-hint'), stats: $('stats'), status: $('status'), progress: $('progress'),
  note: $('note'), addNote: $('add-note'), noteStatus: $('note-status'),
  modes: [...document.querySelectorAll('input[name="mode"]')],
};
let store;
// False only if a saved store without text could not be rebuilt: it is then
// searched by vector alone, as before.
let canText = true;
let model = 'loading'; // 'ready' or 'failed'
let lastQuery;

const MODES = {
  hybrid: 'Meaning and words: vector and BM25 results fused (their scores weighted 0.3 and 0.7).',
  vector: 'Meaning only: nearest embeddings (cosine distance, smaller is closer).',
  text: 'Words only: BM25 over titles and texts. Needs no embedding model.',
};
const currentMode = () => ui.modes.find((m) => m.checked).value;

// --- embeddings in a worker -------------------------------------------------
const embedder = new Worker(new URL('./embed-worker.js', import.meta.url), { type: 'module' });
const waiting = new Map();
let nextId = 1;
const modelReady = new Promise((resolve, reject) => {
  embedder.addEventListener('message', ({ data }) => {
    if (data.ready) resolve();
    if (data.failed) reject(new Error(data.failed));
    const call = waiting.get(data.id);
    if (!call) return;
    waiting.delete(data.id);
    data.error ? call.reject(new Error(data.error)) : call.resolve(data.vectors);
  });
});
function embed(texts) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    embedder.postMessage({ id, texts });
  });
}

// --- the index ----------------------------------------------------------------
function setProgress(fraction, label) {
  ui.progress.hidden = fraction === null;
  if (fraction === null) return;
  ui.progress.querySelector('.bar').style.width = `${Math.round(fraction * 100)}%`;
  ui.progress.querySelector('.label').textContent = label;
}

function snippetOf(text) {
  return text.replace(/\*\*[A-Z ]+\*\*:\s*/g, '').replace(/\s+/g, ' ').slice(0, 240);
}

let corpus;
async function loadCorpus() {
  corpus ??= Promise.all([
    fetch(new URL('corpus/docs.jsonl', document.baseURI)).then((r) => r.text()),
    fetch(new URL('corpus/vectors-use512.f32', document.baseURI)).then((r) => r.arrayBuffer()),
  ]).then(([docsText, vectorBytes]) => {
    const docs = docsText.trim().split('\n').map((line) => JSON.parse(line));
    return {
      ids: docs.map((d) => d.id),
      vectors: new Float32Array(vectorBytes),
      metadata: docs.map((d) => ({ source: 'docs', title: d.title, snippet: snippetOf(d.text) })),
      // What full-text search indexes for a chunk: its title and its text.
      texts: docs.map((d) => `${d.title}\n${d.text}`),
    };
  });
  return corpus;
}

// The text full-text search indexes for a note. Notes keep their whole text
// in metadata; those written before the demo had text search kept only a
// title (their first line) and a snippet (their first 240 characters, which
// start with that line), so for them the snippet is all there is.
function noteText(metadata) {
  if (typeof metadata?.text === 'string') return metadata.text;
  const { title = '', snippet = '' } = metadata ?? {};
  const text = snippet.startsWith(title) ? snippet : `${title}\n${snippet}`;
  return text.trim() ? text : undefined;
}

const progressOf = (what) => ({ phase, done, total }) =>
  setProgress(done / total, `${what}: ${phase === 'copy' ? 'storing' : 'indexing'} ${done} / ${total}`);

async function addCorpus(live) {
  setProgress(0, 'downloading corpus');
  const { ids, vectors, metadata, texts } = await loadCorpus();
  try {
    await live.addMany(ids, vectors, metadata, { texts, onProgress: progressOf('corpus') });
  } catch (error) {
    // Another tab opened at the same moment and added the corpus first.
    if (!(error instanceof TabvecError && error.code === 'DUPLICATE_ID')) throw error;
  }
}

/** True if the store has full-text search (stores saved before the demo had it do not). */
function hasText(live) {
  try {
    live.searchText('tabvec', { k: 1 });
    return true;
  } catch (error) {
    if (error instanceof TabvecError && error.code === 'INVALID_ARGUMENT') return false; // "this store has no text"
    throw error;
  }
}

/**
 * Rebuilds a store saved without text as one with text: the corpus from its
 * files, and every other record (the user's notes) with its stored vector,
 * its metadata and the text noteText finds in it. The new store replaces the
 * old one in a single save, which is crash-safe: until it is complete the old
 * store is what opens, and the next visit tries again. `old` is closed.
 * Returns how many notes were carried over.
 */
async function upgradeToText(old) {
  const { ids, vectors, metadata, texts } = await loadCorpus();
  const corpusIds = new Set(ids);
  const expected = old.size() - ids.filter((id) => old.has(id)).length;
  // A search accepting only the non-corpus records with k = size() returns all of
  // them: when a filter leaves fewer than k hits, search scans the accepted exactly.
  const probe = new Float32Array(old.dim).fill(1);
  const found = old.size() === 0 ? [] : old.search(probe, { k: old.size(), filter: (_m, id) => !corpusIds.has(id) });
  if (found.length !== expected) {
    throw new Error(`found ${found.length} of the ${expected} notes in the saved index; left it as it is`);
  }
  const notes = found.map(({ id }) => ({ id, ...old.get(id) }));
  await old.close();
  setProgress(0, `adding text search: ${notes.length} notes kept`);
  const dim = STORE_OPTIONS.dim;
  const allVectors = new Float32Array((ids.length + notes.length) * dim);
  allVectors.set(vectors);
  notes.forEach((note, i) => allVectors.set(note.vector, (ids.length + i) * dim));
  const rebuilt = await VectorStore.create(STORE_OPTIONS);
  try {
    await rebuilt.addManyAsync(
      [...ids, ...notes.map((n) => n.id)],
      allVectors,
      [...metadata, ...notes.map((n) => n.metadata)],
      { texts: [...texts, ...notes.map((n) => noteText(n.metadata))], onProgress: progressOf('adding text search') },
    );
    await rebuilt.save(SAVED);
  } finally {
    rebuilt.dispose();
  }
  return notes.length;
}

// The saved store, created with text if nothing is saved yet. A store saved
// before the demo had text differs from STORE_OPTIONS, which LiveStore.open
// refuses as create options (INVALID_ARGUMENT): it is opened as it is then.
async function open() {
  try {
    return await LiveStore.open(SAVED, { create: STORE_OPTIONS });
  } catch (error) {
    if (error instanceof TabvecError && error.code === 'INVALID_ARGUMENT') return LiveStore.open(SAVED);
    throw error;
  }
}

async function openStore() {
  let live = await open();
  if (live.size() === 0 && hasText(live)) await addCorpus(live);
  if (hasText(live)) return live;
  ui.status.textContent = 'adding text search to your saved index…';
  let kept;
  let failure;
  try {
    kept = await upgradeToText(live);
  } catch (error) {
    failure = error;
    console.error(error);
  }
  // Closed by upgradeToText unless it stopped before that; closing again is harmless.
  await live.close().catch(() => undefined);
  live = await open();
  canText = hasText(live);
  if (!canText) {
    ui.noteStatus.textContent = `Could not add text search to your saved index (${failure?.message}); it is searched by vector only, and your notes are untouched.`;
  } else if (kept !== undefined) {
    ui.noteStatus.textContent = `Your saved index now has text search; ${kept} note${kept === 1 ? '' : 's'} kept.`;
    document.body.dataset.upgraded = String(kept);
  }
  return live;
}

// One tab at a time opens (and, if needed, rebuilds) the store, so two tabs
// opened together neither add the corpus twice nor rebuild it twice.
function exclusively(name, fn) {
  return navigator.locks ? navigator.locks.request(name, fn) : fn();
}

function formatBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function renderStats() {
  const s = store.stats();
  const per = (part) => (s.size ? (s.memory[part].reserved / s.size).toFixed(0) : '0');
  const rows = [
    ['vectors', s.size.toLocaleString()],
    ['texts', canText ? s.texts.toLocaleString() : 'none (vector only)'],
    ['storage', `${s.storage}, ${s.metric}, dim ${s.dim}`],
    ['SIMD', s.simd ? 'yes' : 'no'],
    ['B/vector: vectors', per('vectors')],
    ['B/vector: graph', per('graph')],
    ['B/vector: text', per('text')],
    ['B/vector: ids', per('ids')],
    ['B/vector: metadata', per('metadata')],
    ['B/vector: total', s.bytesPerVector.toFixed(0)],
    ['index reserved', formatBytes(s.memory.total.reserved)],
    ['WASM memory', formatBytes(s.wasmMemoryBytes)],
  ];
  if (lastQuery) {
    const embed = lastQuery.mode === 'text' ? 'no embedding' : `${lastQuery.embedMs.toFixed(0)} ms embed`;
    rows.push([`last query (${lastQuery.mode})`, `${embed} + ${lastQuery.searchMs.toFixed(2)} ms search`]);
  }
  ui.stats.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
}

function span(className, text, title) {
  const el = document.createElement('span');
  el.className = className;
  el.textContent = text;
  if (title) el.title = title;
  return el;
}

// Every mode's hits as hybrid ones: which half found each (rank, distance or
// BM25 score) and the score that mode ranks by.
function describe(hits, mode) {
  return hits.map((hit, i) => {
    if (mode === 'vector') {
      return { ...hit, vector: { rank: i + 1, distance: hit.distance }, shown: `distance ${hit.distance.toFixed(3)}`, about: 'cosine distance: smaller is closer' };
    }
    if (mode === 'text') {
      return { ...hit, text: { rank: i + 1, score: hit.score }, shown: `BM25 ${hit.score.toFixed(2)}`, about: 'BM25 score: larger is better' };
    }
    return { ...hit, shown: `fused ${hit.score.toFixed(3)}`, about: "fused score: 0.3 x the vector list's scaled similarity + 0.7 x the text list's scaled BM25" };
  });
}

function renderResults(hits, mode) {
  ui.results.replaceChildren(...describe(hits, mode).map((hit) => {
    const li = document.createElement('li');
    li.dataset.id = hit.id;
    const halves = document.createElement('span');
    halves.className = 'halves';
    if (hit.vector) halves.append(span('half vector', `vector #${hit.vector.rank}`, `found by vector search, rank ${hit.vector.rank}, cosine distance ${hit.vector.distance.toFixed(3)}`));
    if (hit.text) halves.append(span('half text', `text #${hit.text.rank}`, `found by text search, rank ${hit.text.rank}, BM25 ${hit.text.score.toFixed(2)}`));
    const snippet = document.createElement('div');
    snippet.className = 'snippet';
    snippet.textContent = hit.metadata?.snippet ?? snippetOf(hit.metadata?.text ?? '');
    li.append(
      span('score', hit.shown, hit.about),
      span('title', hit.metadata?.title ?? hit.id),
      span('badge', hit.metadata?.source === 'note' ? 'note' : 'docs'),
      halves,
      snippet,
    );
    return li;
  }));
}

function showNote(text) {
  ui.resultsNote.hidden = !text;
  ui.resultsNote.textContent = text;
}

// Results as you type: only the newest query's results are shown.
let querySeq = 0;
async function runQuery() {
  const text = ui.query.value.trim();
  const mode = currentMode();
  const seq = ++querySeq;
  if (!text) {
    renderResults([], mode);
    showNote('');
    return;
  }
  const t0 = performance.now();
  let vector;
  if (mode !== 'text') {
    if (model === 'loading') showNote('Waiting for the sentence encoder to load (Text search works already)…');
    try {
      vector = await embed([text]);
    } catch (error) {
      if (seq === querySeq) showNote(`Could not embed the query: ${error.message}`);
      return;
    }
  }
  const t1 = performance.now();
  if (seq !== querySeq) return;
  const source = ui.source.value;
  const where = source ? { source } : undefined;
  const hits = mode === 'text' ? store.searchText(text, { k: K, where })
    : mode === 'vector' ? store.search(vector, { k: K, where })
    // Weighted fusion leaning on the words: on this corpus USE-lite's vectors are the weaker half
    // (bench/relevance: MRR@10 vector 0.336, text 0.635, this fusion 0.661, RRF's 0.582).
    : store.search(vector, { k: K, where, text, fusion: 'weighted', textWeight: 0.7 });
  const t2 = performance.now();
  lastQuery = { mode, embedMs: t1 - t0, searchMs: t2 - t1 };
  renderResults(hits, mode);
  showNote(hits.length === 0 && mode === 'text' ? 'Nothing has these words (common words such as "how" or "the" are not searched).' : '');
  renderStats();
  document.body.dataset.lastMode = mode;
  document.body.dataset.lastQuery = text;
}

let debounce;
ui.query.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(runQuery, 120);
});
ui.source.addEventListener('change', runQuery);
for (const input of ui.modes) {
  input.addEventListener('change', () => {
    ui.modeHint.textContent = MODES[currentMode()];
    runQuery();
  });
}

// Which modes can run: text needs a store with text, vector an embedding model.
function updateModes() {
  for (const input of ui.modes) {
    input.disabled = (input.value !== 'vector' && !canText) || (input.value !== 'text' && model === 'failed');
  }
  const enabled = ui.modes.find((m) => !m.disabled);
  if (ui.modes.find((m) => m.checked).disabled && enabled) {
    enabled.checked = true;
    if (store) runQuery();
  }
  ui.modeHint.textContent = MODES[currentMode()];
}

ui.addNote.addEventListener('click', async () => {
  const text = ui.note.value.trim();
  if (!text) return;
  ui.addNote.disabled = true;
  try {
    const vector = await embed([text]);
    const id = `note-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    // The whole text is kept in the metadata too, so a later rebuild of the
    // store can index it again. Resolves once the note's journal record is
    // durable: no save() call.
    await store.add(id, vector, { source: 'note', title: text.split('\n')[0].slice(0, 80), text }, canText ? { text } : undefined);
    ui.note.value = '';
    ui.noteStatus.textContent = `Saved: journal record ${store.seq}, kept in IndexedDB.`;
    renderStats();
    runQuery();
  } catch (error) {
    ui.noteStatus.textContent = `Could not add the note: ${error.message}`;
  } finally {
    ui.addNote.disabled = false;
  }
});

async function main() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope: './' }).catch((e) => console.warn('no offline support', e));
  }
  requestPersistentStorage().catch(() => false);
  updateModes();
  ui.status.textContent = 'opening index…';
  store = await exclusively('tabvec-demo-open', openStore);
  // Notes added in another tab arrive here within milliseconds.
  store.onChange((event) => {
    if (event.local) return;
    ui.noteStatus.textContent = event.reloaded ? 'The index was replaced in another tab.' : 'A note arrived from another tab.';
    renderStats();
    runQuery();
  });
  setProgress(null);
  renderStats();
  updateModes();
  // Text search needs no embedding model: the search box works from here on.
  ui.query.disabled = false;
  ui.query.focus();
  document.body.dataset.store = 'open';
  ui.status.textContent = canText ? 'loading the sentence encoder… (Text search works already)' : 'loading the sentence encoder…';
  try {
    await modelReady;
  } catch (error) {
    model = 'failed';
    updateModes();
    throw new Error(`the sentence encoder did not load (${error.message}); ${canText ? 'Text search still works' : 'nothing can be searched'}`);
  }
  model = 'ready';
  ui.note.disabled = false;
  ui.addNote.disabled = false;
  ui.status.textContent = `ready: ${store.size()} vectors${canText ? `, ${store.stats().texts} texts` : ''}`;
  document.body.dataset.state = 'ready';
}

main().catch((error) => {
  ui.status.textContent = `failed: ${error.message}`;
  document.body.dataset.state = 'failed';
  console.error(error);
});
