// Options objects accept only the names they document, and the write buffer
// follows the core's own rule, also after a store is loaded from bytes.
import { describe, expect, it } from 'vitest';
import { VectorStore } from '../../dist/index.js';
import { WorkerVectorStore } from '../../dist/worker.js';
import { channel } from './worker-channel.js';
import { randomVectors } from './data.js';
import { expectCode, expectCodeAsync } from './expect-error.js';

describe('unknown option names are refused, naming the key', () => {
  it('in every options object of VectorStore', async () => {
    const typo = await expectCodeAsync(VectorStore.create({ dim: 4, quantizer: 'pq' } as never), 'INVALID_ARGUMENT');
    expect(typo.message).toContain("'quantizer'");
    expect(typo.message).toContain('searchListSize');
    const store = await VectorStore.create({ dim: 4, metric: 'l2' });
    store.addMany(['a', 'b'], randomVectors(2, 4, 1));
    const q = randomVectors(1, 4, 2);
    // Another library's name for the list size: it must not silently run with the default.
    expect(expectCode(() => store.search(q, { k: 1, L: 80 } as never), 'INVALID_ARGUMENT').message).toContain("'L'");
    expectCode(() => store.searchBatch(q, { efSearch: 10 } as never), 'INVALID_ARGUMENT');
    expectCode(() => store.addMany(['c'], randomVectors(1, 4, 3), undefined, { progress: () => {} } as never), 'INVALID_ARGUMENT');
    await expectCodeAsync(store.addManyAsync(['c'], randomVectors(1, 4, 3), undefined, { abort: true } as never), 'INVALID_ARGUMENT');
    const bytes = store.serialize();
    await expectCodeAsync(VectorStore.deserialize(bytes, { maxMemory: 1 } as never), 'INVALID_ARGUMENT');
    expect(store.size()).toBe(2); // the refused calls changed nothing
    expect(store.search(q, { k: 1, listSize: 8 })).toHaveLength(1);
    store.dispose();
  });

  it('in worker mode, before anything crosses to the worker', async () => {
    await expectCodeAsync(WorkerVectorStore.create({ dim: 4, quantizer: 'pq' } as never, channel()), 'INVALID_ARGUMENT');
    const store = await WorkerVectorStore.create({ dim: 4, metric: 'l2' }, channel());
    await store.addManyAsync(['a'], randomVectors(1, 4, 1));
    await expectCodeAsync(store.search(randomVectors(1, 4, 2), { ef: 10 } as never), 'INVALID_ARGUMENT');
    await expectCodeAsync(store.addManyAsync(['b'], randomVectors(1, 4, 2), undefined, { transferList: [] } as never), 'INVALID_ARGUMENT');
    expect(await store.size()).toBe(1);
    store.dispose();
  });
});

describe('the write buffer follows the core rule', () => {
  // Both used to compare pending() (which counts a bulk build's second pass)
  // with maxBuffer, and deserialize() assumed maxBuffer 256 whatever the store had.
  it('addMany leaves no more buffered than the store was created with, before and after a reload', async () => {
    const store = await VectorStore.create({ dim: 8, metric: 'l2', maxBuffer: 8 });
    store.addMany(Array.from({ length: 10 }, (_, i) => `a${i}`), randomVectors(10, 8, 4));
    expect(store.stats().pending).toBe(0);
    const copy = await VectorStore.deserialize(store.serialize());
    copy.addMany(Array.from({ length: 10 }, (_, i) => `b${i}`), randomVectors(10, 8, 5));
    expect(copy.stats().pending).toBe(0);
    for (let i = 0; i < 7; i++) copy.add(`c${i}`, randomVectors(1, 8, 10 + i));
    expect(copy.stats().pending).toBe(7); // below the buffer's capacity: kept and searched exactly
    store.dispose();
    copy.dispose();
  });
});

describe('option ranges are the core\'s rule, stated once', () => {
  it('the wrapper checks types; the core checks ranges and names the limit', async () => {
    // Types: refused before anything reaches the core.
    for (const bad of [2.5, -1, '8', 2 ** 32, NaN]) {
      const e = await expectCodeAsync(VectorStore.create({ dim: 4, maxDegree: bad as never }), 'INVALID_ARGUMENT');
      expect(e.message).toContain('maxDegree must be a non-negative integer');
    }
    // Ranges: the core's messages, with the core's limits.
    const cases: [Record<string, unknown>, string][] = [
      [{ dim: 0 }, 'dim must be 1..16384, got 0'],
      [{ dim: 16385 }, 'dim must be 1..16384, got 16385'],
      [{ dim: 4, maxDegree: 1 }, 'maxDegree must be 2..256, got 1'],
      [{ dim: 4, maxDegree: 257 }, 'maxDegree must be 2..256, got 257'],
      [{ dim: 4, buildListSize: 4097 }, 'buildListSize must be 1..4096'],
      [{ dim: 4, searchListSize: 0 }, 'searchListSize must be 1..4096'],
      [{ dim: 4, maxBuffer: 65537 }, 'maxBuffer must be 1..65536'],
      [{ dim: 4, alpha: 0.5 }, 'alpha must be in [1, 4]'],
      [{ dim: 4, alpha: NaN }, 'alpha must be in [1, 4]'],
    ];
    for (const [options, message] of cases) {
      const e = await expectCodeAsync(VectorStore.create(options as never), 'INVALID_ARGUMENT');
      expect(e.message, JSON.stringify(options)).toContain(message);
    }
    const store = await VectorStore.create({ dim: 4, metric: 'l2' });
    store.add('a', new Float32Array([1, 2, 3, 4]));
    const q = new Float32Array(4);
    expect(expectCode(() => store.search(q, { k: 0 }), 'INVALID_ARGUMENT').message).toContain('k must be 1..4096, got 0');
    expect(expectCode(() => store.search(q, { k: 4097 }), 'INVALID_ARGUMENT').message).toContain('k must be 1..4096');
    expect(expectCode(() => store.search(q, { listSize: 4097 }), 'INVALID_ARGUMENT').message).toContain('listSize must be 0..4096, got 4097');
    expect(expectCode(() => store.search(q, { k: 1.5 }), 'INVALID_ARGUMENT').message).toContain('k must be a non-negative integer');
    // The limits themselves are accepted.
    const widest = await VectorStore.create({ dim: 16384, maxDegree: 256, buildListSize: 4096, searchListSize: 4096, maxBuffer: 65536, alpha: 4 });
    expect(widest.dim).toBe(16384);
    widest.dispose();
    expect(store.search(q, { k: 4096, listSize: 4096 })).toHaveLength(1);
    store.dispose();
  });

  it('metric and storage names are the core\'s', async () => {
    for (const metric of ['l2', 'ip', 'cosine'] as const) {
      for (const storage of ['int8', 'float32'] as const) {
        const store = await VectorStore.create({ dim: 2, metric, storage });
        expect([store.metric, store.stats().metric, store.stats().storage]).toEqual([metric, metric, storage]);
        store.dispose();
      }
    }
    const e = await expectCodeAsync(VectorStore.create({ dim: 2, metric: 'euclidean' as never }), 'INVALID_ARGUMENT');
    expect(e.message).toContain('l2, ip, cosine');
  });
});
