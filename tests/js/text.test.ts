// Full-text and hybrid search (issue 14) through the package: BM25 scores
// against a plain reference written here, deletes, upserts and consolidate
// against a store built from scratch, filters on both halves, bad input, and
// snapshots with text.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TabvecError, VectorStore } from '../../dist/index.js';
import { tokenize } from '../../dist/tokenize.js';
import { bm25Scores } from './bm25-reference.js';
import { expectCode, expectCodeAsync } from './expect-error.js';
import { randomVectors } from './data.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const corpus = readFileSync(path.join(root, 'web-demo/public/corpus/docs.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { id: string; title: string; text: string });
const queries = readFileSync(path.join(root, 'bench/relevance/demo-queries.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { query: string }).query);
const texts = corpus.map((d) => `${d.title}\n${d.text}`);
const ids = corpus.map((d) => d.id);
// The core's limit on a term's bytes (core/fulltext.h kMaxTermBytes), which the tokenizer applies.
const MAX_TERM_BYTES = 255;
const DIM = 8;

type Doc = { id: string; text: string };

const tokenized = new Map<string, string[]>();
function termsOf(text: string, language: 'english' | 'none'): string[] {
  const key = `${language}:${text}`;
  let terms = tokenized.get(key);
  if (!terms) tokenized.set(key, (terms = tokenize(text, language, MAX_TERM_BYTES)));
  return terms;
}

// The store's scores by bm25-reference.ts, over the documents given.
function referenceScores(docs: Doc[], query: string, language: 'english' | 'none', k1 = 1.2, b = 0.75): Map<string, number> {
  return bm25Scores(docs.map((d) => ({ id: d.id, terms: termsOf(d.text, language) })), termsOf(query, language), k1, b);
}

// The first offset where two byte arrays differ, -1 if none (toEqual's diff of large arrays takes minutes).
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function hitScores(hits: { id: string; score: number }[]): Map<string, number> {
  return new Map(hits.map((h) => [h.id, h.score]));
}

async function corpusStore(options: { language?: 'english' | 'none'; k1?: number; b?: number } = {}, wasm: 'simd' | 'baseline' = 'simd') {
  const store = await VectorStore.create<{ n: number }>({ dim: DIM, metric: 'l2', text: options, wasm });
  store.addMany(ids, randomVectors(ids.length, DIM, 7), ids.map((_, n) => ({ n })), { texts });
  return store;
}

describe('BM25 scores equal a plain reference on the demo corpus', () => {
  for (const language of ['english', 'none'] as const) {
    it(`language '${language}', every labelled query, every matching document`, async () => {
      const store = await corpusStore({ language });
      const docs = corpus.map((d, i) => ({ id: d.id, text: texts[i]! }));
      let compared = 0;
      for (const q of queries) {
        const expected = referenceScores(docs, q, language);
        const hits = store.searchText(q, { k: 4096 });
        expect(hitScores(hits)).toEqual(expected);
        // Best first, ties by insertion order.
        for (let i = 1; i < hits.length; i++) {
          const [a, b] = [hits[i - 1]!, hits[i]!];
          expect(a.score > b.score || (a.score === b.score && ids.indexOf(a.id) < ids.indexOf(b.id))).toBe(true);
        }
        // The top k is the head of the whole ranking.
        expect(store.searchText(q, { k: 10 })).toEqual(hits.slice(0, 10));
        compared += hits.length;
      }
      expect(compared).toBeGreaterThan(5000);
      store.dispose();
    });
  }

  it('with k1 and b set at creation, and kept by a snapshot', async () => {
    const store = await corpusStore({ k1: 2, b: 0.3 });
    const docs = corpus.map((d, i) => ({ id: d.id, text: texts[i]! }));
    const copy = await VectorStore.deserialize(store.serialize());
    for (const q of queries.slice(0, 20)) {
      const expected = referenceScores(docs, q, 'english', 2, 0.3);
      expect(hitScores(store.searchText(q, { k: 4096 }))).toEqual(expected);
      expect(copy.searchText(q, { k: 4096 })).toEqual(store.searchText(q, { k: 4096 }));
    }
  });

  it('the SIMD and baseline builds give the same answers', async () => {
    const simd = await corpusStore({}, 'simd');
    const baseline = await corpusStore({}, 'baseline');
    for (const q of queries) expect(baseline.searchText(q, { k: 50 })).toEqual(simd.searchText(q, { k: 50 }));
    expect(baseline.serialize()).toEqual(simd.serialize());
  });
});

describe('deletes, upserts and consolidate leave the text index as one built from scratch', () => {
  it('after a random mix of writes, consolidate() gives the scores a fresh store gives', async () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', text: true, maxBuffer: 64 });
    const live = new Map<string, string | undefined>();
    const vector = () => randomVectors(1, DIM, Math.floor(random() * 1e9));
    for (let step = 0; step < 3000; step++) {
      const doc = Math.floor(random() * corpus.length);
      const id = `doc-${doc % 400}`;
      const text = random() < 0.1 ? undefined : texts[doc]!;
      const r = random();
      if (r < 0.45) {
        if (live.has(id)) continue;
        store.add(id, vector(), undefined, text === undefined ? undefined : { text });
        live.set(id, text);
      } else if (r < 0.75) {
        store.upsert(id, vector(), undefined, text === undefined ? undefined : { text });
        live.set(id, text);
      } else if (live.has(id)) {
        store.delete(id);
        live.delete(id);
      }
      if (step % 700 === 699) store.consolidate();
    }
    store.consolidate();
    const fresh = await VectorStore.create({ dim: DIM, metric: 'l2', text: true });
    for (const [id, text] of live) fresh.add(id, vector(), undefined, text === undefined ? undefined : { text });
    expect(store.size()).toBe(live.size);
    expect(store.stats().texts).toBe([...live.values()].filter((t) => t !== undefined).length);
    expect(store.stats().texts).toBe(fresh.stats().texts);
    const docs = [...live].filter(([, t]) => t !== undefined).map(([id, text]) => ({ id, text: text! }));
    for (const q of queries) {
      const ours = hitScores(store.searchText(q, { k: 4096 }));
      expect(ours).toEqual(hitScores(fresh.searchText(q, { k: 4096 })));
      expect(ours).toEqual(referenceScores(docs, q, 'english'));
    }
  });

  it('a deleted document is never found, an upsert without text removes the text', async () => {
    const store = await VectorStore.create({ dim: 2, metric: 'l2', text: true });
    store.add('a', new Float32Array([1, 0]), undefined, { text: 'offline service worker cache' });
    store.add('b', new Float32Array([0, 1]), undefined, { text: 'keyboard shortcuts for tables' });
    expect(store.searchText('offline').map((h) => h.id)).toEqual(['a']);
    store.delete('a');
    expect(store.searchText('offline')).toEqual([]);
    store.upsert('b', new Float32Array([0, 1]));
    expect(store.searchText('keyboard')).toEqual([]);
    expect(store.stats().texts).toBe(0);
    store.upsert('b', new Float32Array([0, 1]), undefined, { text: 'keyboard' });
    expect(store.searchText('keyboard').map((h) => h.id)).toEqual(['b']);
    // A vector without text is found by vector search only.
    store.add('c', new Float32Array([1, 1]));
    expect(store.search(new Float32Array([1, 1]), { k: 1 })[0]!.id).toBe('c');
  });
});

describe('filters and where apply to both halves', () => {
  it('searchText and hybrid search return only what the filter keeps', async () => {
    const store = await corpusStore();
    const keep = (m: { n: number } | undefined) => m !== undefined && m.n % 3 === 0;
    const q = randomVectors(1, DIM, 99);
    for (const text of queries.slice(0, 15)) {
      const filtered = store.searchText(text, { k: 20, filter: keep });
      expect(filtered.every((h) => keep(h.metadata))).toBe(true);
      // Exactly the unfiltered ranking's kept documents.
      expect(filtered).toEqual(store.searchText(text, { k: 4096 }).filter((h) => keep(h.metadata)).slice(0, 20));
      const where = store.searchText(text, { k: 5, where: { n: 3 } });
      expect(where.every((h) => h.metadata?.n === 3)).toBe(true);
      const hybrid = store.search(q, { k: 20, text, filter: keep });
      expect(hybrid.length).toBeGreaterThan(0);
      expect(hybrid.every((h) => keep(h.metadata))).toBe(true);
      const hybridWhere = store.search(q, { k: 20, text, where: { n: 6 } });
      expect(hybridWhere.every((h) => h.metadata?.n === 6)).toBe(true);
    }
  });

  it("a filter's exception propagates and a filter may not call the store", async () => {
    const store = await corpusStore();
    expect(() => store.searchText('deploy', { filter: () => { throw new RangeError('mine'); } })).toThrow(RangeError);
    expectCode(() => store.searchText('deploy', { filter: () => store.size() > 0 }), 'REENTRANT_CALL');
    expect(store.searchText('deploy').length).toBe(10);
  });
});

describe('hybrid search', () => {
  it('fuses both lists with RRF and says which half found each hit', async () => {
    const store = await VectorStore.create({ dim: 2, metric: 'l2', text: true });
    store.add('near', new Float32Array([0, 0]), undefined, { text: 'unrelated words' });
    store.add('both', new Float32Array([0.1, 0]), undefined, { text: 'deploy the app' });
    store.add('text', new Float32Array([9, 9]), undefined, { text: 'deploy deploy deploy' });
    // Two candidates from each list: 'text' is too far for the vector half to find.
    const hits = store.search(new Float32Array([0, 0]), { k: 2, text: 'deploy', candidates: 2 });
    const byId = new Map(hits.map((h) => [h.id, h]));
    expect(byId.get('both')!.vector!.rank).toBe(2);
    expect(byId.get('both')!.text!.rank).toBe(2);
    expect(byId.get('near')!.text).toBeUndefined();
    expect(byId.get('near')!.vector).toEqual({ rank: 1, distance: 0 });
    // RRF: 1 / (60 + rank) from each list that found it.
    expect(byId.get('both')!.score).toBeCloseTo(2 / 62, 12);
    expect(byId.get('near')!.score).toBeCloseTo(1 / 61 + 0, 12);
    // 'near' and 'text' tie at 1 / 61: the vector half's rank breaks it.
    expect(hits.map((h) => h.id)).toEqual(['both', 'near']);
    const weighted = store.search(new Float32Array([0, 0]), { k: 3, text: 'deploy', fusion: 'weighted', textWeight: 1 });
    expect(weighted[0]!.id).toBe('text');
    const vectorOnly = store.search(new Float32Array([0, 0]), { k: 3, text: 'deploy', fusion: 'weighted', textWeight: 0 });
    expect(vectorOnly[0]!.id).toBe('near');
    // No text (a search box left empty): the vector half only, in hybrid's shape.
    const none = store.search(new Float32Array([0, 0]), { k: 3, text: undefined });
    expect(none.map((h) => h.id)).toEqual(['near', 'both', 'text']);
    expect(none.every((h) => h.text === undefined && h.vector !== undefined)).toBe(true);
    // A query of stop words alone: the vector half only.
    expect(store.search(new Float32Array([0, 0]), { k: 3, text: 'the of and' }).every((h) => h.text === undefined)).toBe(true);
  });

  it('reports for each hit its rank in the two lists it fused', async () => {
    // The relevance evaluation itself (bench/relevance/evaluate.mjs) needs the USE-lite
    // query embeddings; here only the plumbing is checked: hybrid is a fusion of
    // exactly the two lists it reports.
    const store = await corpusStore();
    const q = randomVectors(1, DIM, 5);
    for (const text of queries.slice(0, 10)) {
      const vectorIds = store.search(q, { k: 40 }).map((h) => h.id);
      const textIds = store.searchText(text, { k: 40 }).map((h) => h.id);
      for (const h of store.search(q, { k: 10, text })) {
        if (h.vector) expect(vectorIds[h.vector.rank - 1]).toBe(h.id);
        if (h.text) expect(textIds[h.text.rank - 1]).toBe(h.id);
        expect(h.vector ?? h.text).toBeDefined();
      }
    }
  });
});

describe('bad input gives typed errors and changes nothing', () => {
  it('texts, queries and options', async () => {
    const store = await corpusStore();
    const before = store.serialize();
    const v = randomVectors(1, DIM, 1);
    expectCode(() => store.add('x', v, undefined, { text: 5 as never }), 'INVALID_ARGUMENT');
    expectCode(() => store.add('x', v, undefined, { text: null as never }), 'INVALID_ARGUMENT');
    expectCode(() => store.add('x', v, undefined, { txt: 'a' } as never), 'INVALID_ARGUMENT');
    expectCode(() => store.add('x', v, undefined, 'text' as never), 'INVALID_ARGUMENT');
    expectCode(() => store.upsert(ids[0]!, v, undefined, { text: {} as never }), 'INVALID_ARGUMENT');
    // A bad text anywhere in a batch: nothing of the batch is added.
    expectCode(() => store.addMany(['x', 'y'], randomVectors(2, DIM, 2), undefined, { texts: ['fine', 7 as never] }), 'INVALID_ARGUMENT');
    expectCode(() => store.addMany(['x', 'y'], randomVectors(2, DIM, 2), undefined, { texts: ['one'] }), 'INVALID_ARGUMENT');
    expectCode(() => store.addMany(['x', 'y'], randomVectors(2, DIM, 2), undefined, { texts: 'xy' as never }), 'INVALID_ARGUMENT');
    // The vector is bad, the text fine: nothing changes either.
    expectCode(() => store.add('x', new Float32Array(DIM).fill(NaN), undefined, { text: 'fine' }), 'NON_FINITE_VALUE');
    expectCode(() => store.upsert(ids[1]!, new Float32Array(3), undefined, { text: 'fine' }), 'DIMENSION_MISMATCH');
    for (const query of ['', '   ', 5, null, undefined]) expectCode(() => store.searchText(query as never), 'INVALID_ARGUMENT');
    expectCode(() => store.searchText(Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ')), 'INVALID_ARGUMENT');
    expectCode(() => store.searchText('deploy', { k: 0 }), 'INVALID_ARGUMENT');
    expectCode(() => store.searchText('deploy', { k: 1.5 }), 'INVALID_ARGUMENT');
    expectCode(() => store.searchText('deploy', { k: 5000 }), 'INVALID_ARGUMENT');
    expectCode(() => store.searchText('deploy', { listSize: 5 } as never), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { text: 'deploy', fusion: 'max' as never }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { text: 'deploy', textWeight: 0.3 }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { text: 'deploy', fusion: 'weighted', textWeight: 2 }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { text: 'deploy', candidates: 2.5 }), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { text: 'deploy', efSearch: 5 } as never), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, { fusion: 'rrf' } as never), 'INVALID_ARGUMENT');
    for (const k of [0, -1, 1.5, '5', true, 5000]) expectCode(() => store.search(v, { text: 'deploy', k: k as never }), 'INVALID_ARGUMENT');
    expect(expectCode(() => store.search(v, { text: 'deploy', candidates: 5000 }), 'INVALID_ARGUMENT').message).toContain('candidates');
    expect(store.serialize()).toEqual(before);
    expect(store.searchText('the of and')).toEqual([]);
  });

  it('a document past the stated limit of words', async () => {
    const store = await VectorStore.create({ dim: 2, metric: 'l2', text: { language: 'none' } });
    store.add('a', new Float32Array([1, 0]), undefined, { text: 'small' });
    const before = store.serialize();
    // 2^20 words is the limit (core/fulltext.h kMaxDocumentTerms).
    const huge = 'w '.repeat((1 << 20) + 1);
    const error = expectCode(() => store.add('b', new Float32Array([0, 1]), undefined, { text: huge }), 'INVALID_ARGUMENT');
    expect(error.message).toContain('1048576');
    expect(store.serialize()).toEqual(before);
  });

  it('text in a store without full-text search, and bad text options', async () => {
    const plain = await VectorStore.create({ dim: 2 });
    expectCode(() => plain.add('a', new Float32Array([1, 0]), undefined, { text: 'words' }), 'INVALID_ARGUMENT');
    expectCode(() => plain.addMany(['a'], new Float32Array([1, 0]), undefined, { texts: ['words'] }), 'INVALID_ARGUMENT');
    expectCode(() => plain.searchText('words'), 'INVALID_ARGUMENT');
    expectCode(() => plain.search(new Float32Array([1, 0]), { text: 'words' }), 'INVALID_ARGUMENT');
    expect(plain.size()).toBe(0);
    expect(plain.stats().memory.text).toEqual({ used: 0, reserved: 0 });
    for (const text of [{ language: 'klingon' }, { k1: -1 }, { k1: 101 }, { b: 1.5 }, { b: 'x' }, { stem: true }, 'yes', 3]) {
      await expectCodeAsync(VectorStore.create({ dim: 2, text: text as never }), 'INVALID_ARGUMENT');
    }
    // false means no text, as leaving it out does.
    const none = await VectorStore.create({ dim: 2, text: false });
    expectCode(() => none.searchText('words'), 'INVALID_ARGUMENT');
  });

  it('the memory cap covers the text index: a refused write changes nothing', async () => {
    const store = await VectorStore.create({ dim: 2, metric: 'l2', text: true, maxMemoryBytes: 400_000 });
    let added = 0;
    let error: unknown;
    try {
      for (; added < corpus.length; added++) store.add(ids[added]!, new Float32Array([added, 1]), undefined, { text: texts[added]! });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TabvecError);
    expect((error as TabvecError).code).toBe('MEMORY_CAP_EXCEEDED');
    expect(added).toBeGreaterThan(10);
    expect(store.size()).toBe(added);
    expect(store.stats().texts).toBe(added);
    const stats = store.stats();
    expect(stats.memory.total.reserved).toBeLessThanOrEqual(400_000);
    expect(stats.memory.text.reserved).toBeGreaterThan(0);
    // Every acknowledged document is still found by its text.
    for (let i = 0; i < added; i += 7) {
      const words = tokenize(texts[i]!, 'none', MAX_TERM_BYTES).slice(0, 3).join(' ');
      expect(store.searchText(words, { k: 4096 }).some((h) => h.id === ids[i])).toBe(true);
    }
  });
});

describe('snapshots with text', () => {
  it('round-trip bit-exactly, are checked, and load with the text build', async () => {
    const store = await corpusStore();
    for (let i = 0; i < 100; i += 3) store.delete(ids[i]!);
    const bytes = store.serialize();
    expect(bytes[7]).toBe(0x54); // "TABVEC\0T": a store with text
    const copy = await VectorStore.deserialize(bytes);
    expect(copy.serialize()).toEqual(bytes);
    for (const q of queries.slice(0, 20)) expect(copy.searchText(q, { k: 20 })).toEqual(store.searchText(q, { k: 20 }));
    expect(copy.stats().texts).toBe(store.stats().texts);
    // Damage anywhere is refused with CORRUPT_SNAPSHOT.
    for (const at of [3, 20, 60, Math.floor(bytes.length / 2), bytes.length - 40, bytes.length - 2]) {
      const bad = bytes.slice();
      bad[at] ^= 0x10;
      await expectCodeAsync(VectorStore.deserialize(bad), 'CORRUPT_SNAPSHOT');
    }
    await expectCodeAsync(VectorStore.deserialize(bytes.slice(0, bytes.length - 1)), 'CORRUPT_SNAPSHOT');
    // A plain store's snapshot is untouched by all this.
    const plain = await VectorStore.create({ dim: 2 });
    plain.add('a', new Float32Array([1, 0]));
    expect(plain.serialize()[7]).toBe(0);
  });
});

describe('writes with text in time slices and in a LiveStore', () => {
  it('addManyAsync tokenizes in time slices, before anything is written', async () => {
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', text: true });
    const phases: string[] = [];
    let sizeWhileTokenizing = -1;
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    let ticksBeforeCopy = -1;
    await store.addManyAsync(ids, randomVectors(ids.length, DIM, 3), undefined, {
      texts,
      onProgress: (p) => {
        if (phases.at(-1) !== p.phase) phases.push(p.phase);
        if (p.phase === 'text') sizeWhileTokenizing = store.size();
        if (p.phase === 'copy' && ticksBeforeCopy < 0) ticksBeforeCopy = ticks;
      },
    });
    clearInterval(timer);
    expect(phases[0]).toBe('text');
    expect(phases).toContain('copy');
    expect(sizeWhileTokenizing).toBe(0);
    // Timers ran while the texts were tokenized: the page was not blocked.
    expect(ticksBeforeCopy).toBeGreaterThan(0);
    expect(store.stats().texts).toBe(ids.length);
  });

  it('a LiveStore journals texts and checkpoints them: a reopen finds the same', async () => {
    const { LiveStore } = await import('../../dist/index.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tabvec-text-')), 'store');
    const open = () => LiveStore.open({ file }, { create: { dim: DIM, metric: 'l2', text: true } });
    const live = await open();
    await live.addMany(ids.slice(0, 300), randomVectors(300, DIM, 4), undefined, { texts: texts.slice(0, 300) });
    await live.checkpoint();
    // After the checkpoint: in the journal only.
    await live.add(ids[300]!, randomVectors(1, DIM, 5), undefined, { text: 'zebra crossing offline' });
    await live.upsert(ids[0]!, randomVectors(1, DIM, 6), undefined, { text: 'quokka' });
    await live.upsert(ids[1]!, randomVectors(1, DIM, 7));
    await live.delete(ids[2]!);
    await expectCodeAsync(live.add('bad', randomVectors(1, DIM, 8), undefined, { text: 4 as never }), 'INVALID_ARGUMENT');
    const expected = queries.map((q) => live.searchText(q, { k: 20 }));
    await live.close();
    const again = await open();
    expect(again.searchText('zebra').map((h) => h.id)).toEqual([ids[300]]);
    expect(again.searchText('quokka').map((h) => h.id)).toEqual([ids[0]]);
    expect(again.has('bad')).toBe(false);
    expect(again.stats().texts).toBe(299);
    expect(queries.map((q) => again.searchText(q, { k: 20 }))).toEqual(expected);
    // A plain copy of the same file opens with text too.
    const copy = await VectorStore.open({ file });
    expect(copy.searchText('quokka').map((h) => h.id)).toEqual([ids[0]]);
    await again.close();
  });
});

describe("what a cold review found (issue 14's first round)", () => {
  it('a failed or aborted batch leaves the store byte for byte as it was, scores included', async () => {
    const store = await corpusStore();
    const scores = queries.slice(0, 10).map((q) => store.searchText(q, { k: 50 }));
    const before = store.serialize();
    const more = Array.from({ length: 600 }, (_, i) => `more-${i}`);
    const moreTexts = more.map((_, i) => `${texts[i]} brandnewword${i}`);
    // onProgress throws once the batch's vectors and texts are written (before linking).
    expect(() => store.addMany(more, randomVectors(more.length, DIM, 11), undefined, {
      texts: moreTexts, onProgress: (p) => { if (p.phase === 'copy') throw new RangeError('stop'); },
    })).toThrow(RangeError);
    expect(firstDifference(store.serialize(), before)).toBe(-1);
    expect(queries.slice(0, 10).map((q) => store.searchText(q, { k: 50 }))).toEqual(scores);
    // Aborted while linking: the graph has changed (its tombstones are consolidated), the texts' scores have not.
    const controller = new AbortController();
    await expectCodeAsync(store.addManyAsync(more, randomVectors(more.length, DIM, 12), undefined, {
      texts: moreTexts, signal: controller.signal, onProgress: (p) => { if (p.phase === 'index') controller.abort(); },
    }), 'ABORTED');
    expect(store.size()).toBe(ids.length);
    expect(queries.slice(0, 10).map((q) => store.searchText(q, { k: 50 }))).toEqual(scores);
    expect(store.searchText('brandnewword3')).toEqual([]);
  });

  it('a store with text filled to its cap loads again under the same cap', async () => {
    const cap = 4_000_000;
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', text: true, maxMemoryBytes: cap });
    let i = 0;
    try {
      for (;; i++) store.add(`d${i}`, randomVectors(1, DIM, i), undefined, { text: `${texts[i % texts.length]} unique${i}` });
    } catch (e) {
      expect((e as TabvecError).code).toBe('MEMORY_CAP_EXCEEDED');
    }
    expect(store.stats().memory.total.reserved).toBeGreaterThan(cap * 0.7);
    const copy = await VectorStore.deserialize(store.serialize(), { maxMemoryBytes: cap });
    expect(copy.stats().texts).toBe(i);
    expect(copy.searchText(`unique${i - 1}`).map((h) => h.id)).toEqual([`d${i - 1}`]);
  });

  it('a LiveStore journals a sparse texts array as one text per id', async () => {
    const { LiveStore } = await import('../../dist/index.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'tabvec-text-')), 'store');
    const live = await LiveStore.open({ file }, { create: { dim: 2, metric: 'l2', text: true } });
    const sparse: (string | undefined)[] = new Array(3);
    sparse[1] = 'hello world';
    await live.addMany(['a', 'b', 'c'], new Float32Array(6).fill(1), undefined, { texts: sparse });
    await live.close();
    const again = await LiveStore.open({ file });
    expect(again.size()).toBe(3);
    expect(again.searchText('hello').map((h) => h.id)).toEqual(['b']);
    expect(again.stats().texts).toBe(1);
    // create asking for other text settings than the store has is refused, naming both.
    await again.close();
    const mismatch = await expectCodeAsync(LiveStore.open({ file }, { create: { dim: 2, metric: 'l2', text: { language: 'none' } } }), 'INVALID_ARGUMENT');
    expect(mismatch.message).toContain('language english');
    expect(mismatch.message).toContain('language none');
    await expectCodeAsync(LiveStore.open({ file }, { create: { dim: 2, metric: 'l2' } }), 'INVALID_ARGUMENT');
    const same = await LiveStore.open({ file }, { create: { dim: 2, metric: 'l2', text: { language: 'english', k1: 1.2 } } });
    await same.close();
  });

  it('more bad input: typed errors, never a TypeError', async () => {
    const store = await corpusStore();
    const before = store.serialize();
    const v = randomVectors(1, DIM, 1);
    expectCode(() => store.search(v, 'abc' as never), 'INVALID_ARGUMENT');
    expectCode(() => store.search(v, 5 as never), 'INVALID_ARGUMENT');
    for (const texts of ['', 0, null, { length: 2 }]) {
      expectCode(() => store.addMany(['x', 'y'], randomVectors(2, DIM, 2), undefined, { texts: texts as never }), 'INVALID_ARGUMENT');
    }
    // A text past the stated length (2^24 UTF-16 units), refused before it is tokenized.
    const error = expectCode(() => store.add('x', v, undefined, { text: '\u2014'.repeat((1 << 24) + 1) }), 'INVALID_ARGUMENT');
    expect(error.message).toContain(String(1 << 24));
    expect(store.serialize()).toEqual(before);
    // Blank text in hybrid search: a search box left empty searches by vector alone.
    expect(store.search(v, { k: 5, text: '  ' }).every((h) => h.text === undefined)).toBe(true);
  });

  it('disposing a store while addManyAsync tokenizes rejects with DISPOSED', async () => {
    const store = await VectorStore.create({ dim: DIM, metric: 'l2', text: true });
    const p = store.addManyAsync(ids, randomVectors(ids.length, DIM, 3), undefined, {
      texts, onProgress: (progress) => { if (progress.phase === 'text') store.dispose(); },
    });
    await expectCodeAsync(p, 'DISPOSED');
  });

  it('a snapshot whose terms another tokenizer version made is UNSUPPORTED_VERSION', async () => {
    const { xxh64 } = await import('./snapshot-checksum.js');
    const store = await VectorStore.create({ dim: 2, metric: 'l2', text: true });
    store.add('a', new Float32Array([1, 0]), undefined, { text: 'words' });
    const bytes = store.serialize();
    // core/hybrid.h HybridHeader: the tokenizer's version is the u32 at byte 28.
    expect(new DataView(bytes.buffer).getUint32(28, true)).toBe(1);
    const view = new DataView(bytes.buffer);
    view.setUint32(28, 2, true);
    view.setUint32(bytes.length - 4, Number(xxh64(bytes, bytes.length - 4) & 0xffffffffn), true);
    const e = await expectCodeAsync(VectorStore.deserialize(bytes), 'UNSUPPORTED_VERSION');
    expect(e.message).toContain('tokenizer');
  });
});
