import { LiveStore, TabvecError, requestPersistentStorage } from 'tabvec';

// A live store: every note is journaled as it is added, and every open tab of
// the demo sees the others' notes.
const SAVED = { indexedDB: 'tabvec-demo-live' };
const $ = (id) => document.getElementById(id);
const ui = {
  query: $('query'), source: $('source'), results: $('results'), stats: $('stats'), status: $('status'),
  progress: $('progress'), note: $('note'), addNote: $('add-note'), noteStatus: $('note-status'),
};
let store;
let lastQuery = { embedMs: 0, searchMs: 0 };

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

async function addCorpus(live) {
  setProgress(0, 'downloading corpus');
  const [docsText, vectorBytes] = await Promise.all([
    fetch(new URL('corpus/docs.jsonl', document.baseURI)).then((r) => r.text()),
    fetch(new URL('corpus/vectors-use512.f32', document.baseURI)).then((r) => r.arrayBuffer()),
  ]);
  const docs = docsText.trim().split('\n').map((line) => JSON.parse(line));
  const vectors = new Float32Array(vectorBytes);
  try {
    await live.addMany(
      docs.map((d) => d.id),
      vectors,
      docs.map((d) => ({ source: 'docs', title: d.title, snippet: snippetOf(d.text) })),
      { onProgress: ({ phase, done, total }) => setProgress(done / total, `${phase === 'copy' ? 'storing' : 'indexing'} ${done} / ${total}`) },
    );
  } catch (error) {
    // Another tab opened at the same moment and added the corpus first.
    if (!(error instanceof TabvecError && error.code === 'DUPLICATE_ID')) throw error;
  }
}

async function openStore() {
  const live = await LiveStore.open(SAVED, { create: { dim: 512, metric: 'cosine' } });
  if (live.size() === 0) await addCorpus(live);
  return live;
}

function formatBytes(n) {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function renderStats() {
  const s = store.stats();
  const per = (part) => (s.size ? (s.memory[part].reserved / s.size).toFixed(0) : '0');
  const rows = [
    ['vectors', s.size.toLocaleString()],
    ['storage', `${s.storage}, ${s.metric}, dim ${s.dim}`],
    ['SIMD', s.simd ? 'yes' : 'no'],
    ['B/vector: vectors', per('vectors')],
    ['B/vector: graph', per('graph')],
    ['B/vector: ids', per('ids')],
    ['B/vector: metadata', per('metadata')],
    ['B/vector: total', s.bytesPerVector.toFixed(0)],
    ['index reserved', formatBytes(s.memory.total.reserved)],
    ['WASM memory', formatBytes(s.wasmMemoryBytes)],
    ['last query', `${lastQuery.embedMs.toFixed(0)} ms embed + ${lastQuery.searchMs.toFixed(2)} ms search`],
  ];
  ui.stats.replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
}

function renderResults(hits) {
  ui.results.replaceChildren(...hits.map((hit) => {
    const li = document.createElement('li');
    li.dataset.id = hit.id;
    const score = document.createElement('span');
    score.className = 'score';
    score.textContent = `${(100 * (1 - hit.distance)).toFixed(1)}%`;
    const title = document.createElement('span');
    title.className = 'title';
    title.textContent = hit.metadata?.title ?? hit.id;
    const badge = document.createElement('span');
    badge.className = 'badge';
    badge.textContent = hit.metadata?.source === 'note' ? 'note' : 'docs';
    const snippet = document.createElement('div');
    snippet.className = 'snippet';
    snippet.textContent = hit.metadata?.snippet ?? '';
    li.append(score, title, badge, snippet);
    return li;
  }));
}

// Results as you type: only the newest query's results are shown.
let querySeq = 0;
async function runQuery() {
  const text = ui.query.value.trim();
  const seq = ++querySeq;
  if (!text) {
    renderResults([]);
    return;
  }
  const t0 = performance.now();
  const [vector] = [await embed([text])];
  const t1 = performance.now();
  if (seq !== querySeq) return;
  const source = ui.source.value;
  const hits = store.search(vector, { k: 10, where: source ? { source } : undefined });
  const t2 = performance.now();
  lastQuery = { embedMs: t1 - t0, searchMs: t2 - t1 };
  renderResults(hits);
  renderStats();
  document.body.dataset.lastQuery = text;
}

let debounce;
ui.query.addEventListener('input', () => {
  clearTimeout(debounce);
  debounce = setTimeout(runQuery, 120);
});
ui.source.addEventListener('change', runQuery);

ui.addNote.addEventListener('click', async () => {
  const text = ui.note.value.trim();
  if (!text) return;
  ui.addNote.disabled = true;
  try {
    const vector = await embed([text]);
    const id = `note-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    // Resolves once the note's journal record is durable: no save() call.
    await store.add(id, vector, { source: 'note', title: text.split('\n')[0].slice(0, 80), snippet: text.slice(0, 240) });
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
  ui.status.textContent = 'opening index…';
  store = await openStore();
  // Notes added in another tab arrive here within milliseconds.
  store.onChange((event) => {
    if (event.local) return;
    ui.noteStatus.textContent = event.reloaded ? 'The index was replaced in another tab.' : 'A note arrived from another tab.';
    renderStats();
    runQuery();
  });
  setProgress(null);
  renderStats();
  ui.status.textContent = 'loading the sentence encoder…';
  await modelReady;
  ui.query.disabled = false;
  ui.note.disabled = false;
  ui.addNote.disabled = false;
  ui.query.focus();
  ui.status.textContent = `ready: ${store.size()} vectors`;
  document.body.dataset.state = 'ready';
}

main().catch((error) => {
  ui.status.textContent = `failed: ${error.message}`;
  document.body.dataset.state = 'failed';
  console.error(error);
});
