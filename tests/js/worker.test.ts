// WorkerVectorStore's protocol over a real MessageChannel: the same host code
// the Web Worker runs, on the other end of the port.
import { describe, expect, it } from 'vitest';
import { VectorStore } from '../../dist/index.js';
import { TabvecError, WorkerVectorStore } from '../../dist/worker.js';
import { channel } from './worker-channel.js';
import { randomVectors } from './data.js';

describe('WorkerVectorStore over a message port', () => {
  it('runs the store API behind promises', async () => {
    const store = await WorkerVectorStore.create<{ tag: string }>({ dim: 8, metric: 'l2' }, channel());
    await store.add('a', new Float32Array(8).fill(1), { tag: 'x' });
    const n = 2000;
    const vectors = randomVectors(n, 8, 1);
    const progress: string[] = [];
    await store.addManyAsync(Array.from({ length: n }, (_, i) => `v${i}`), vectors, Array.from({ length: n }, (_, i) => ({ tag: i % 2 ? 'odd' : 'even' })), {
      onProgress: (p) => progress.push(p.phase),
      transfer: true,
    });
    expect(vectors.length).toBe(0); // the buffer moved to the worker
    expect(progress).toContain('index');
    expect(await store.size()).toBe(n + 1);
    const q = randomVectors(1, 8, 1);
    const hits = await store.search(q, { k: 5, where: { tag: 'even' } });
    expect(hits[0]!.id).toBe('v0');
    for (const h of hits) expect(h.metadata!.tag).toBe('even');
    expect((await store.get('a'))!.vector).toBeInstanceOf(Float32Array);
    await expect(store.add('a', new Float32Array(8))).rejects.toMatchObject({ code: 'DUPLICATE_ID' });
    await expect(store.search(q, { filter: () => true } as never)).rejects.toBeInstanceOf(TabvecError);
    const bytes = await store.serialize();
    const copy = await WorkerVectorStore.deserialize(bytes, {}, channel());
    expect(await copy.size()).toBe(n + 1);
    await store.dispose();
    await store.dispose();
    await expect(store.size()).rejects.toMatchObject({ code: 'DISPOSED' });
    await copy.dispose();
  });

  it('cancels addMany with an AbortSignal and adds nothing', async () => {
    const store = await WorkerVectorStore.create({ dim: 32 }, channel());
    const n = 20000;
    const controller = new AbortController();
    let indexed = 0;
    const run = store.addManyAsync(Array.from({ length: n }, (_, i) => `c${i}`), randomVectors(n, 32, 2), undefined, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.phase === 'index' && ++indexed === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'ABORTED' });
    expect(await store.size()).toBe(0);
    expect((await store.stats()).tombstones).toBe(0);
    await store.dispose();
  });
});

describe('WorkerVectorStore and VectorStore agree', () => {
  const members = (proto: object) => Object.getOwnPropertyNames(proto).filter((name) => name !== 'constructor').sort();
  const kinds = (proto: object) => Object.fromEntries(members(proto).map((name) => {
    const d = Object.getOwnPropertyDescriptor(proto, name)!;
    return [name, d.get ? 'getter' : typeof d.value];
  }));

  it('has the same members, of the same kind (getters for what never changes, methods for the rest)', () => {
    const page = kinds(VectorStore.prototype);
    const worker = kinds(WorkerVectorStore.prototype);
    // The page has one thing the worker cannot: a synchronous bulk add.
    const { addMany, ...pageAsync } = page;
    expect(addMany).toBe('function');
    expect(worker).toEqual(pageAsync);
    expect(page.size).toBe('function');
    expect(page.searchText).toBe('function');
    expect(page.dim).toBe('getter');
    expect(Object.keys(VectorStore).sort()).toEqual(Object.keys(WorkerVectorStore).sort());
    for (const name of ['create', 'open', 'deserialize'] as const) {
      expect(typeof VectorStore[name]).toBe('function');
      expect(typeof WorkerVectorStore[name]).toBe('function');
    }
  });

  it('treats bad ids the same way in has(), delete() and get(), on both sides', async () => {
    const page = await VectorStore.create({ dim: 2, metric: 'l2' });
    const worker = await WorkerVectorStore.create({ dim: 2, metric: 'l2' }, channel());
    for (const bad of ['', 42, null, undefined, '\uD800', 'x'.repeat(65536)]) {
      for (const op of ['has', 'delete', 'get'] as const) {
        const inPage = (() => { try { page[op](bad as never); return 'no error'; } catch (e) { return (e as TabvecError).code; } })();
        const inWorker = await worker[op](bad as never).then(() => 'no error', (e: TabvecError) => e.code);
        expect([op, String(bad).slice(0, 8), inPage, inWorker]).toEqual([op, String(bad).slice(0, 8), 'INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
      }
    }
    expect([page.dim, page.metric, worker.dim, worker.metric]).toEqual([2, 'l2', 2, 'l2']);
    page.dispose();
    await worker.dispose();
  });
});
