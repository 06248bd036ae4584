// WorkerVectorStore's protocol over a real MessageChannel: the same host code
// the Web Worker runs, on the other end of the port.
import { describe, expect, it } from 'vitest';
import { TabvecError, WorkerVectorStore } from '../../dist/worker.js';
import { serveStores } from '../../dist/worker-host.js';
import { randomVectors } from './data.js';

function channel() {
  const { port1, port2 } = new MessageChannel();
  serveStores(port2 as unknown as Parameters<typeof serveStores>[0]);
  port2.start();
  return { worker: Object.assign(port1, { terminate: () => { port1.close(); port2.close(); } }) };
}

describe('WorkerVectorStore over a message port', () => {
  it('runs the store API behind promises', async () => {
    const store = await WorkerVectorStore.create<{ tag: string }>({ dim: 8, metric: 'l2' }, channel());
    await store.add('a', new Float32Array(8).fill(1), { tag: 'x' });
    const n = 2000;
    const vectors = randomVectors(n, 8, 1);
    const progress: string[] = [];
    await store.addMany(Array.from({ length: n }, (_, i) => `v${i}`), vectors, Array.from({ length: n }, (_, i) => ({ tag: i % 2 ? 'odd' : 'even' })), {
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
    const run = store.addMany(Array.from({ length: n }, (_, i) => `c${i}`), randomVectors(n, 32, 2), undefined, {
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
