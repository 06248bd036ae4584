// Full-text and hybrid search (issue 14) in worker mode: a WorkerVectorStore
// served from a real worker_threads thread answers exactly as a VectorStore in
// the page given the same calls (ids, scores, ranks, metadata, snapshot
// bytes), refuses the same bad input with the same typed errors, and its
// snapshots load in the page with their texts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { TabvecError, VectorStore } from '../../dist/index.js';
import { WorkerVectorStore } from '../../dist/worker.js';
import { randomVectors, root } from './data.js';

const corpus = readFileSync(path.join(root, 'web-demo/public/corpus/docs.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { id: string; title: string; text: string });
const queries = readFileSync(path.join(root, 'bench/relevance/demo-queries.jsonl'), 'utf8')
  .split('\n').filter((l) => l.trim()).map((l) => (JSON.parse(l) as { query: string }).query);
const ids = corpus.map((d) => d.id);
// Every tenth document has no text: found by vector search only.
const texts = corpus.map((d, i) => (i % 10 === 9 ? undefined : `${d.title}\n${d.text}`));
const DIM = 8;
const vectors = randomVectors(ids.length, DIM, 7);
type Meta = { n: number; group: number };
const metadata: Meta[] = ids.map((_, n) => ({ n, group: n % 4 }));
const vectorOf = (i: number) => vectors.slice(i * DIM, (i + 1) * DIM);

// The host runs in its own thread, as in a browser's Web Worker: everything
// crosses by structured clone.
const hostUrl = pathToFileURL(path.join(root, 'dist/worker-host.js')).href;
const threads: Worker[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.terminate()));
});

function thread() {
  const t = new Worker(`const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(hostUrl)}).then((host) => host.serveStores(parentPort));`, { eval: true });
  threads.push(t);
  // A Node Worker is an EventEmitter; WorkerVectorStore listens as to a Web Worker.
  const worker = {
    postMessage: (message: unknown, transfer?: Transferable[]) => t.postMessage(message, transfer as never),
    addEventListener: (type: 'message' | 'messageerror' | 'error', listener: (event: MessageEvent) => void) => {
      t.on(type, (value: unknown) => listener((type === 'error' ? { message: (value as Error).message } : { data: value }) as MessageEvent));
    },
    terminate: () => void t.terminate(),
  };
  return { worker };
}

/** The same calls on a store in the page and on one in a worker thread. */
async function pair(options: Parameters<typeof VectorStore.create>[0] = { dim: DIM, metric: 'l2', text: true }) {
  const page = await VectorStore.create<Meta>(options);
  const worker = await WorkerVectorStore.create<Meta>(options, thread());
  return { page, worker };
}

// The first 600 documents in one batch, the rest one by one, some without text.
async function fill(store: VectorStore<Meta> | WorkerVectorStore<Meta>) {
  const n = 600;
  await store.addManyAsync(ids.slice(0, n), vectors.slice(0, n * DIM), metadata.slice(0, n), { texts: texts.slice(0, n) });
  for (let i = n; i < ids.length; i++) {
    const text = texts[i];
    await store.add(ids[i]!, vectorOf(i), metadata[i], text === undefined ? undefined : { text });
  }
}

async function filledPair() {
  const { page, worker } = await pair();
  await fill(page);
  await fill(worker);
  return { page, worker };
}

// Where two snapshots first differ (-1: equal). toEqual on two large byte
// arrays that differ spends minutes printing their diff.
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

// The code of the TabvecError a call throws or rejects with (its class name otherwise).
async function outcome(call: () => unknown): Promise<string> {
  try {
    await call();
    return 'no error';
  } catch (e) {
    return e instanceof TabvecError ? e.code : `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

describe('a worker store with text answers as the page does', () => {
  it('add, upsert and addManyAsync with texts: searchText, stats and snapshot equal the page', async () => {
    const { page, worker } = await filledPair();
    // Upserts: a new text, and no text (which removes the old one).
    for (const store of [page, worker]) {
      await store.upsert(ids[3]!, vectorOf(3), metadata[3], { text: 'zeppelin quokka' });
      await store.upsert(ids[4]!, vectorOf(4), metadata[4]);
    }
    expect(await worker.searchText('quokka')).toEqual([{ id: ids[3], score: expect.any(Number), metadata: metadata[3] }]);
    const fourth = texts[4]!.split(/\s+/).slice(0, 6).join(' ');
    expect((await worker.searchText(fourth, { k: 4096 })).some((h) => h.id === ids[4])).toBe(false);
    let hits = 0;
    for (const q of queries) {
      const inPage = page.searchText(q, { k: 4096 });
      expect(await worker.searchText(q, { k: 4096 })).toEqual(inPage);
      expect(await worker.searchText(q)).toEqual(page.searchText(q));
      hits += inPage.length;
    }
    expect(hits).toBeGreaterThan(5000);
    const [ps, ws] = [page.stats(), await worker.stats()];
    expect(ws.texts).toBe(ids.length - Math.floor(ids.length / 10) - 1);
    expect({ size: ws.size, texts: ws.texts, memory: ws.memory }).toEqual({ size: ps.size, texts: ps.texts, memory: ps.memory });
    expect(ws.memory.text.used).toBeGreaterThan(0);
    expect(firstDifference(await worker.serialize(), page.serialize())).toBe(-1);
    page.dispose();
    await worker.dispose();
  });

  it('hybrid search equals the page, with every fusion option', async () => {
    const { page, worker } = await filledPair();
    const q = randomVectors(1, DIM, 99);
    const settings = [
      {},
      { k: 20, candidates: 80 },
      { k: 10, fusion: 'weighted' as const },
      { k: 10, fusion: 'weighted' as const, textWeight: 0.8, listSize: 100 },
    ];
    let both = 0;
    let textOnly = 0;
    let fusionMatters = 0;
    for (const text of queries) {
      const answers = [];
      for (const options of settings) {
        const inPage = page.search(q, { ...options, text });
        expect(await worker.search(q, { ...options, text })).toEqual(inPage);
        answers.push(inPage.map((h) => h.id).join());
        both += inPage.filter((h) => h.vector && h.text).length;
        textOnly += inPage.filter((h) => !h.vector && h.text).length;
      }
      if (new Set(answers).size > 1) fusionMatters++;
    }
    // Both halves contributed, and the options changed the answers.
    expect(both).toBeGreaterThan(0);
    expect(textOnly).toBeGreaterThan(100);
    expect(fusionMatters).toBeGreaterThan(queries.length / 2);
    // Without text it is the vector search it was.
    expect(await worker.search(q, { k: 7 })).toEqual(page.search(q, { k: 7 }));
    page.dispose();
    await worker.dispose();
  });

  it('where applies to searchText and to both halves of hybrid search; filter functions are refused', async () => {
    const { page, worker } = await filledPair();
    const q = randomVectors(1, DIM, 5);
    let narrowed = 0;
    const halves = { vector: 0, text: 0 };
    for (const text of queries) {
      const where = { group: 2 };
      const found = await worker.searchText(text, { k: 20, where });
      expect(found).toEqual(page.searchText(text, { k: 20, where }));
      expect(found.every((h) => h.metadata?.group === 2)).toBe(true);
      // Exactly the unfiltered ranking's documents of that group.
      const all = await worker.searchText(text, { k: 4096 });
      expect(found).toEqual(all.filter((h) => h.metadata?.group === 2).slice(0, 20));
      if (all.slice(0, 20).some((h) => h.metadata?.group !== 2)) narrowed++;
      const hybrid = await worker.search(q, { k: 15, text, where });
      expect(hybrid).toEqual(page.search(q, { k: 15, text, where }));
      for (const h of hybrid) {
        expect(h.metadata?.group).toBe(2);
        if (h.vector) halves.vector++;
        if (h.text) halves.text++;
      }
    }
    expect(narrowed).toBeGreaterThan(queries.length / 2);
    expect(halves.vector).toBeGreaterThan(0);
    expect(halves.text).toBeGreaterThan(0);
    for (const call of [
      () => worker.searchText('deploy', { filter: () => true } as never),
      () => worker.search(q, { text: 'deploy', filter: () => true } as never),
    ]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TabvecError);
      expect((error as TabvecError).code).toBe('INVALID_ARGUMENT');
      // Not just "unknown option": the caller is told what to use instead.
      expect((error as TabvecError).message).toContain('use `where`');
    }
    page.dispose();
    await worker.dispose();
  });

  it('serialize() from the worker deserializes in the page with the same answers, and back', async () => {
    const { page, worker } = await filledPair();
    await worker.delete(ids[0]!);
    page.delete(ids[0]!);
    const bytes = await worker.serialize();
    expect(bytes[7]).toBe(0x54); // "TABVEC\0T": a snapshot with text
    const copy = await VectorStore.deserialize<Meta>(bytes);
    expect(copy.stats().texts).toBe((await worker.stats()).texts);
    const back = await WorkerVectorStore.deserialize<Meta>(page.serialize(), {}, thread());
    const q = randomVectors(1, DIM, 3);
    for (const text of queries) {
      const expected = await worker.searchText(text, { k: 50 });
      expect(copy.searchText(text, { k: 50 })).toEqual(expected);
      expect(await back.searchText(text, { k: 50 })).toEqual(expected);
      expect(await back.search(q, { k: 10, text })).toEqual(copy.search(q, { k: 10, text }));
    }
    expect(await worker.searchText('deploy', { k: 4096 })).not.toContainEqual(expect.objectContaining({ id: ids[0] }));
    copy.dispose();
    page.dispose();
    await back.dispose();
    await worker.dispose();
  });
});

describe('bad input in worker mode: the page\'s typed errors, and nothing changes', () => {
  type Store = VectorStore<Meta> | WorkerVectorStore<Meta>;
  const v = vectorOf(0);
  const two = vectors.slice(0, 2 * DIM);
  const q = randomVectors(1, DIM, 1);
  // [what, call, the code the page throws]
  const cases: [string, (s: Store) => unknown, string][] = [
    ['add with a number as text', (s) => s.add('x', v, undefined, { text: 5 as never }), 'INVALID_ARGUMENT'],
    ['add with null as text', (s) => s.add('x', v, undefined, { text: null as never }), 'INVALID_ARGUMENT'],
    ['add with an unknown option', (s) => s.add('x', v, undefined, { txt: 'a' } as never), 'INVALID_ARGUMENT'],
    ['add with a string as options', (s) => s.add('x', v, undefined, 'text' as never), 'INVALID_ARGUMENT'],
    ['add of an existing id with text', (s) => s.add(ids[0]!, v, undefined, { text: 'quokka' }), 'DUPLICATE_ID'],
    ['add of a bad vector with text', (s) => s.add('x', new Float32Array(DIM).fill(NaN), undefined, { text: 'quokka' }), 'NON_FINITE_VALUE'],
    ['upsert with an object as text', (s) => s.upsert(ids[1]!, v, undefined, { text: {} as never }), 'INVALID_ARGUMENT'],
    ['upsert of a short vector with text', (s) => s.upsert(ids[1]!, new Float32Array(3), undefined, { text: 'quokka' }), 'DIMENSION_MISMATCH'],
    ['a batch with a bad text', (s) => s.addManyAsync(['x', 'y'], two, undefined, { texts: ['quokka', 7 as never] }), 'INVALID_ARGUMENT'],
    ['a batch with too few texts', (s) => s.addManyAsync(['x', 'y'], two, undefined, { texts: ['quokka'] }), 'INVALID_ARGUMENT'],
    ['a batch with a string as texts', (s) => s.addManyAsync(['x', 'y'], two, undefined, { texts: 'xy' as never }), 'INVALID_ARGUMENT'],
    ['a batch with an unknown option', (s) => s.addManyAsync(['x', 'y'], two, undefined, { textz: ['a', 'b'] } as never), 'INVALID_ARGUMENT'],
    ...(['', '   ', 5, null, undefined] as const).map((query): [string, (s: Store) => unknown, string] =>
      [`searchText(${JSON.stringify(query)})`, (s) => s.searchText(query as never), 'INVALID_ARGUMENT']),
    ['searchText with too many words', (s) => s.searchText(Array.from({ length: 300 }, (_, i) => `w${i}`).join(' ')), 'INVALID_ARGUMENT'],
    ...([0, 1.5, 5000] as const).map((k): [string, (s: Store) => unknown, string] =>
      [`searchText k ${k}`, (s) => s.searchText('deploy', { k }), 'INVALID_ARGUMENT']),
    ['searchText with an unknown option', (s) => s.searchText('deploy', { listSize: 5 } as never), 'INVALID_ARGUMENT'],
    ['searchText with null options', (s) => s.searchText('deploy', null as never), 'INVALID_ARGUMENT'],
    ['searchText with a bad where', (s) => s.searchText('deploy', { where: 3 as never }), 'INVALID_ARGUMENT'],
    ['hybrid with an unknown fusion', (s) => s.search(q, { text: 'deploy', fusion: 'max' as never }), 'INVALID_ARGUMENT'],
    ['hybrid with textWeight but rrf', (s) => s.search(q, { text: 'deploy', textWeight: 0.3 }), 'INVALID_ARGUMENT'],
    ['hybrid with textWeight 2', (s) => s.search(q, { text: 'deploy', fusion: 'weighted', textWeight: 2 }), 'INVALID_ARGUMENT'],
    ['hybrid with candidates 2.5', (s) => s.search(q, { text: 'deploy', candidates: 2.5 }), 'INVALID_ARGUMENT'],
    ['hybrid with an unknown option', (s) => s.search(q, { text: 'deploy', efSearch: 5 } as never), 'INVALID_ARGUMENT'],
    ['fusion without text', (s) => s.search(q, { fusion: 'rrf' } as never), 'INVALID_ARGUMENT'],
    ['hybrid with an array as query', (s) => s.search(q, { text: ['deploy'] as never }), 'INVALID_ARGUMENT'],
    ['hybrid with a number as query', (s) => s.search(q, { text: 5 as never }), 'INVALID_ARGUMENT'],
    ['hybrid with a short vector', (s) => s.search(new Float32Array(3), { text: 'deploy' }), 'DIMENSION_MISMATCH'],
    ['searchBatch with text', (s) => s.searchBatch(q, { text: 'deploy' } as never), 'INVALID_ARGUMENT'],
  ];

  it('texts, queries and options', async () => {
    const { page, worker } = await filledPair();
    const before = page.serialize();
    expect(firstDifference(await worker.serialize(), before)).toBe(-1);
    for (const [what, call, code] of cases) {
      expect([what, await outcome(() => call(page)), await outcome(() => call(worker))]).toEqual([what, code, code]);
    }
    // The error keeps its class across the thread, and says which option is unknown.
    for (const [call, name] of [
      [() => worker.searchText('deploy', { kk: 5 } as never), 'kk'],
      [() => worker.search(q, { text: 'deploy', efSearch: 5 } as never), 'efSearch'],
      [() => worker.add('x', v, undefined, { txt: 'a' } as never), 'txt'],
      [() => worker.addManyAsync(['x'], v, undefined, { textz: ['a'] } as never), 'textz'],
    ] as const) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TabvecError);
      expect((error as TabvecError).code).toBe('INVALID_ARGUMENT');
      expect((error as TabvecError).message).toContain(`'${name}'`);
    }
    expect(firstDifference(page.serialize(), before)).toBe(-1);
    expect(firstDifference(await worker.serialize(), before)).toBe(-1);
    expect(await worker.searchText('quokka')).toEqual([]);
    page.dispose();
    await worker.dispose();
  });

  it('text on a store without full-text search, and bad text options', async () => {
    for (const text of [undefined, false]) {
      const { page, worker } = await pair({ dim: DIM, metric: 'l2', ...(text === undefined ? {} : { text }) });
      const refused: [string, (s: Store) => unknown][] = [
        ['add with text', (s) => s.add('a', v, undefined, { text: 'words' })],
        ['upsert with text', (s) => s.upsert('a', v, undefined, { text: 'words' })],
        ['a batch with texts', (s) => s.addManyAsync(['a'], v, undefined, { texts: ['words'] })],
        ['searchText', (s) => s.searchText('words')],
        ['hybrid search', (s) => s.search(q, { text: 'words' })],
      ];
      for (const [what, call] of refused) {
        expect([what, await outcome(() => call(page)), await outcome(() => call(worker))]).toEqual([what, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
      }
      // A batch without texts is fine there, as in the page.
      await worker.addManyAsync(['b'], v, undefined, { texts: undefined });
      const stats = await worker.stats();
      expect([stats.size, stats.texts, stats.memory.text]).toEqual([1, 0, { used: 0, reserved: 0 }]);
      page.dispose();
      await worker.dispose();
    }
    const { worker } = thread();
    for (const text of [{ language: 'klingon' }, { k1: -1 }, { b: 1.5 }, { stem: true }, 'yes']) {
      const inPage = await outcome(() => VectorStore.create({ dim: 2, text: text as never }));
      expect([text, inPage, await outcome(() => WorkerVectorStore.create({ dim: 2, text: text as never }, { worker }))])
        .toEqual([text, 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
    }
  });
});
