// Regression tests for the reliability issue: each one failed on the wrapper
// before its fix. A call that throws must change nothing.
import 'fake-indexeddb/auto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TabvecError, VectorStore } from '../../dist/index.js';
import { Runtime, loadRuntime } from '../../dist/runtime.js';
import { WorkerVectorStore } from '../../dist/worker.js';
import { serveStores } from '../../dist/worker-host.js';
import { channel } from './worker-channel.js';
import { expectCode, expectCodeAsync } from './expect-error.js';
import { randomVectors, root } from './data.js';



interface Saved {
  size: number;
  items: Map<string, { vector: number[]; metadata: unknown }>;
}

// Everything a user can observe about each id, for "exactly as before" checks.
function contents(store: VectorStore, ids: Iterable<string>): Saved {
  const items = new Map<string, { vector: number[]; metadata: unknown }>();
  for (const id of ids) {
    const got = store.get(id);
    if (got) items.set(id, { vector: Array.from(got.vector), metadata: got.metadata });
  }
  return { size: store.size(), items };
}

const ids = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

// A copy of dist/ without its .wasm files: what a page sees when they are not served.
const brokenDist = mkdtempSync(path.join(tmpdir(), 'tabvec-nowasm-'));
cpSync(path.join(root, 'dist'), brokenDist, { recursive: true });
rmSync(path.join(brokenDist, 'wasm/tabvec.wasm'));
rmSync(path.join(brokenDist, 'wasm/tabvec-simd.wasm'));
afterAll(() => rmSync(brokenDist, { recursive: true, force: true }));

describe('1. pointers at or above 2 GiB are unsigned', () => {
  it('Runtime.malloc turns a negative i32 from _malloc into the unsigned offset', () => {
    const high = 0x80000010;
    const fake = { _malloc: () => high | 0, _free: () => undefined } as unknown as ConstructorParameters<typeof Runtime>[0];
    const rt = new Runtime(fake, false);
    expect(rt.malloc(16)).toBe(high);
    expect(rt.withScratch(16, (p) => p)).toBe(high);
  });

  it('Runtime.malloc turns a 0 from _malloc into OUT_OF_MEMORY', () => {
    const fake = { _malloc: () => 0, _free: () => undefined } as unknown as ConstructorParameters<typeof Runtime>[0];
    expectCode(() => new Runtime(fake, false).malloc(16), 'OUT_OF_MEMORY');
  });
});

describe('2. serialize() and save() verify what they hand out and write', () => {
  it('serialize() refuses bytes whose checksum does not match (a wrong read of the heap)', async () => {
    const store = await VectorStore.create({ dim: 8, metric: 'l2', wasm: 'simd' });
    store.addMany(ids(300, 'c'), randomVectors(300, 8, 1));
    const good = store.serialize();
    const runtime = await loadRuntime('simd');
    const proto = runtime.module.Index.prototype as { serializeNext: (out: number, len: number) => number };
    const original = proto.serializeNext;
    let first = true;
    proto.serializeNext = function (this: unknown, out: number, len: number) {
      const written = original.call(this, out, len);
      if (first) runtime.module.HEAPU8[out + 100]! ^= 0x20;
      first = false;
      return written;
    };
    try {
      expectCode(() => store.serialize(), 'CORRUPT_SNAPSHOT');
      first = true;
      await expectCodeAsync(store.save({ indexedDB: 'crc-serialize' }), 'CORRUPT_SNAPSHOT');
    } finally {
      proto.serializeNext = original;
    }
    await expectCodeAsync(VectorStore.open({ indexedDB: 'crc-serialize' }), 'NOT_FOUND');
    expect(store.serialize()).toEqual(good);
    store.dispose();
  });

  it('save() reads back what it wrote and keeps the previous version when the stored bytes differ', async () => {
    const store = await VectorStore.create({ dim: 8, metric: 'l2' });
    store.addMany(ids(300, 'r'), randomVectors(300, 8, 2));
    const first = await store.save({ indexedDB: 'readback' });
    const saved = store.serialize();
    store.add('extra', randomVectors(1, 8, 3));
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (this: IDBObjectStore, value: unknown, key?: IDBValidKey) {
      if (this.name === 'snapshots' && value instanceof Uint8Array) {
        const damaged = value.slice();
        damaged[damaged.length >> 1]! ^= 1;
        return put.call(this, damaged, key);
      }
      return put.call(this, value, key);
    };
    try {
      await expectCodeAsync(store.save({ indexedDB: 'readback' }), 'STORAGE_UNAVAILABLE');
    } finally {
      IDBObjectStore.prototype.put = put;
    }
    const reopened = await VectorStore.open({ indexedDB: 'readback' });
    expect(reopened.serialize()).toEqual(saved);
    const again = await store.save({ indexedDB: 'readback' });
    expect(again.generation).toBe(first.generation + 1);
    expect((await VectorStore.open({ indexedDB: 'readback' })).has('extra')).toBe(true);
    store.dispose();
    reopened.dispose();
  });
});

describe('3. addMany is all or nothing across copy chunks', () => {
  const D = 8192; // a copy chunk holds 32 vectors at this dimension

  async function storeWithData() {
    const store = await VectorStore.create<{ n: number }>({ dim: D, metric: 'l2', storage: 'float32' });
    store.addMany(ids(5, 'old'), randomVectors(5, D, 9), [{ n: 0 }, { n: 1 }, undefined, { n: 3 }, { n: 4 }]);
    return store;
  }

  it('addManyAsync rolls back earlier chunks when the caller detaches its buffer between chunks', async () => {
    const store = await storeWithData();
    const all = [...ids(5, 'old'), ...ids(96, 'v')];
    const before = contents(store, all);
    const data = randomVectors(96, D, 4);
    let copies = 0;
    const run = store.addManyAsync(ids(96, 'v'), data, undefined, {
      onProgress: (p) => {
        if (p.phase === 'copy' && ++copies === 1) structuredClone(data.buffer, { transfer: [data.buffer] });
      },
    });
    await expectCodeAsync(run, 'INVALID_ARGUMENT');
    expect(contents(store, all)).toEqual(before);
    store.dispose();
  });

  it('addMany rolls back earlier chunks when a later chunk cannot get scratch memory', async () => {
    const store = await storeWithData();
    const all = [...ids(5, 'old'), ...ids(96, 'm')];
    const before = contents(store, all);
    const runtime = await loadRuntime('auto');
    const malloc = runtime.module._malloc;
    let calls = 0;
    runtime.module._malloc = (bytes: number) => (bytes > 1 << 20 && ++calls === 2 ? 0 : malloc(bytes));
    try {
      expectCode(() => store.addMany(ids(96, 'm'), randomVectors(96, D, 5)), 'OUT_OF_MEMORY');
    } finally {
      runtime.module._malloc = malloc;
    }
    expect(calls).toBe(2);
    expect(contents(store, all)).toEqual(before);
    store.dispose();
  });

  it('addMany rolls back when onProgress throws after a chunk', async () => {
    const store = await storeWithData();
    const all = [...ids(5, 'old'), ...ids(96, 'p')];
    const before = contents(store, all);
    const boom = new Error('progress callback failed');
    expect(() => store.addMany(ids(96, 'p'), randomVectors(96, D, 6), undefined, {
      onProgress: (p) => { if (p.done === 64) throw boom; },
    })).toThrow(boom);
    expect(contents(store, all)).toEqual(before);
    store.dispose();
  });

  it('addManyAsync rolls back when onProgress throws while linking', async () => {
    const store = await VectorStore.create({ dim: 8, metric: 'l2', storage: 'float32' });
    store.addMany(ids(300, 'old'), randomVectors(300, 8, 7));
    const all = [...ids(300, 'old'), ...ids(2000, 'q')];
    const before = contents(store, all);
    let steps = 0;
    await expect(store.addManyAsync(ids(2000, 'q'), randomVectors(2000, 8, 8), undefined, {
      onProgress: (p) => { if (p.phase === 'index' && ++steps === 2) throw new RangeError('stop'); },
    })).rejects.toBeInstanceOf(RangeError);
    expect(contents(store, all)).toEqual(before);
    expect(store.stats().tombstones).toBe(0);
    store.dispose();
  });
});

describe('4. a rolled-back batch leaves other calls\' writes alone', () => {
  it('aborting addManyAsync keeps an upsert, a delete and a setMetadata made meanwhile', async () => {
    const dim = 16;
    const v = randomVectors(3000, dim, 7);
    const store = await VectorStore.create<Record<string, unknown>>({ dim, metric: 'l2' });
    store.addMany(ids(500, 'pre'), v.slice(0, 500 * dim));
    const controller = new AbortController();
    let done = false;
    const run = store.addManyAsync(ids(1500, 'x'), v.slice(500 * dim, 2000 * dim), undefined, {
      signal: controller.signal,
      onProgress: (p) => {
        if (done || p.phase !== 'index') return;
        done = true;
        store.upsert('x7', v.slice(2500 * dim, 2501 * dim), { savedByUser: true });
        store.setMetadata('x8', { touched: true });
        store.delete('x9');
        store.add('mine', v.slice(2600 * dim, 2601 * dim), { own: 1 });
        controller.abort();
      },
    });
    await expectCodeAsync(run, 'ABORTED');
    expect(store.get('x7')?.metadata).toEqual({ savedByUser: true });
    expect(store.get('x8')?.metadata).toEqual({ touched: true });
    expect(store.has('x9')).toBe(false);
    expect(store.get('mine')?.metadata).toEqual({ own: 1 });
    expect(store.has('x0')).toBe(false);
    expect(store.has('x1499')).toBe(false);
    expect(store.size()).toBe(500 + 3);
    store.dispose();
  });

  it('a later chunk failing on an id another call added meanwhile leaves that id as the other call left it', async () => {
    const D = 8192;
    const store = await VectorStore.create<{ who: string }>({ dim: D, metric: 'l2', storage: 'float32' });
    const v = randomVectors(97, D, 3);
    let copies = 0;
    const run = store.addManyAsync(ids(96, 'b'), v.slice(0, 96 * D), undefined, {
      onProgress: (p) => { if (p.phase === 'copy' && ++copies === 1) store.add('b50', v.slice(96 * D), { who: 'user' }); },
    });
    await expectCodeAsync(run, 'DUPLICATE_ID');
    expect(store.size()).toBe(1);
    expect(store.get('b50')!.metadata).toEqual({ who: 'user' });
    expect(Array.from(store.get('b50')!.vector)).toEqual(Array.from(v.slice(96 * D)));
    store.dispose();
  });

  it('dispose() during addManyAsync rejects it with DISPOSED', async () => {
    const store = await VectorStore.create({ dim: 16 });
    let disposed = false;
    const run = store.addManyAsync(ids(3000, 'd'), randomVectors(3000, 16, 5), undefined, {
      onProgress: (p) => {
        if (!disposed && p.phase === 'index') {
          disposed = true;
          store.dispose();
        }
      },
    });
    await expectCodeAsync(run, 'DISPOSED');
    const copying = await VectorStore.create({ dim: 8192, storage: 'float32' });
    const second = copying.addManyAsync(ids(64, 'e'), randomVectors(64, 8192, 6));
    copying.dispose();
    await expectCodeAsync(second, 'DISPOSED');
  });
});

describe('5. ids are validated the same way by every method', () => {
  it('rejects lone surrogates instead of collapsing them to U+FFFD', async () => {
    const store = await VectorStore.create({ dim: 2 });
    const v = new Float32Array([1, 2]);
    expectCode(() => store.add('\uD800', v), 'INVALID_ARGUMENT');
    expectCode(() => store.add('a\uDFFFb', v), 'INVALID_ARGUMENT');
    store.add('\uFFFD', v);
    for (const bad of ['\uD800', '\uDBFF', '\uDFFF', 'x\uD83D']) {
      expectCode(() => store.has(bad), 'INVALID_ARGUMENT');
      expectCode(() => store.get(bad), 'INVALID_ARGUMENT');
      expectCode(() => store.delete(bad), 'INVALID_ARGUMENT');
      expectCode(() => store.upsert(bad, v), 'INVALID_ARGUMENT');
      expectCode(() => store.setMetadata(bad, {}), 'INVALID_ARGUMENT');
      expectCode(() => store.addMany(['ok', bad], new Float32Array(4).fill(1)), 'INVALID_ARGUMENT');
    }
    expect(store.size()).toBe(1);
    expect(store.has('\uFFFD')).toBe(true);
    store.add('\uD83D\uDE00', v); // a well-formed pair is fine
    expect(store.has('\uD83D\uDE00')).toBe(true);
    store.dispose();
  });

  it('rejects empty and non-string ids in has() and get() too', async () => {
    const store = await VectorStore.create({ dim: 2 });
    for (const bad of ['', 42, null, undefined, {}]) {
      expectCode(() => store.has(bad as string), 'INVALID_ARGUMENT');
      expectCode(() => store.get(bad as string), 'INVALID_ARGUMENT');
    }
    store.dispose();
  });

  it('checks the UTF-8 length against MAX_ID_BYTES before copying into WebAssembly memory', async () => {
    const store = await VectorStore.create({ dim: 2 });
    const { module } = await loadRuntime('auto');
    const max = (module as unknown as { MAX_ID_BYTES: number }).MAX_ID_BYTES;
    expect(max).toBe(65535);
    const v = new Float32Array([1, 2]);
    store.add('a'.repeat(max), v);
    expectCode(() => store.add('b'.repeat(max + 1), v), 'INVALID_ARGUMENT');
    store.add('€'.repeat(max / 3), v); // 3 UTF-8 bytes each: exactly the limit
    expectCode(() => store.add('€'.repeat(max / 3 + 1), v), 'INVALID_ARGUMENT');
    const memory = store.stats().wasmMemoryBytes;
    const huge = 'q'.repeat(5e7);
    const error = expectCode(() => store.has(huge), 'INVALID_ARGUMENT');
    expect(error.message.length).toBeLessThan(300);
    expectCode(() => store.get(huge), 'INVALID_ARGUMENT');
    expectCode(() => store.delete(huge), 'INVALID_ARGUMENT');
    expect(store.stats().wasmMemoryBytes).toBe(memory);
    expect(store.size()).toBe(2);
    store.dispose();
  });

  it('checks metadata against MAX_METADATA_BYTES before copying it', async () => {
    // baseline: a module no other test here has grown, so growth would show
    const store = await VectorStore.create({ dim: 2, wasm: 'baseline' });
    store.add('a', new Float32Array([1, 2]));
    const memory = store.stats().wasmMemoryBytes;
    const big = 'm'.repeat(17 << 20);
    expectCode(() => store.add('b', new Float32Array([1, 2]), big), 'INVALID_ARGUMENT');
    expectCode(() => store.setMetadata('a', big), 'INVALID_ARGUMENT');
    expect(store.stats().wasmMemoryBytes).toBe(memory);
    expect(store.get('a')!.metadata).toBeUndefined();
    store.dispose();
  });
});

describe('6. calls on a store from inside its own filter are rejected', () => {
  async function filled() {
    const store = await VectorStore.create<{ i: number }>({ dim: 8, metric: 'l2' });
    const v = randomVectors(2000, 8, 11);
    store.addMany(ids(2000, 'f'), v, Array.from({ length: 2000 }, (_, i) => ({ i })));
    return { store, q: v.subarray(0, 8) };
  }

  it('search, add, delete, dispose inside a filter throw REENTRANT_CALL and change nothing', async () => {
    const { store, q } = await filled();
    const expected = store.search(q, { k: 5, filter: (m) => m!.i % 2 === 0 });
    const calls: Array<[string, () => unknown]> = [
      ['search', () => store.search(q, { k: 5 })],
      ['add', () => store.add('new', q)],
      ['delete', () => store.delete('f2')],
      ['dispose', () => store.dispose()],
      ['has', () => store.has('f2')],
      ['serialize', () => store.serialize()],
    ];
    for (const [name, call] of calls) {
      const thrown = (() => {
        try {
          store.search(q, { k: 5, filter: () => { call(); return true; } });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(thrown, name).toBeInstanceOf(TabvecError);
      expect((thrown as TabvecError).code, name).toBe('REENTRANT_CALL');
    }
    expect(store.size()).toBe(2000);
    expect(store.has('new')).toBe(false);
    expect(store.has('f2')).toBe(true);
    expect(store.search(q, { k: 5, filter: (m) => m!.i % 2 === 0 })).toEqual(expected);
    store.dispose();
  });

  it('a filter may still use other stores, and the outer results stay right', async () => {
    const { store, q } = await filled();
    const other = await VectorStore.create({ dim: 8, metric: 'l2' });
    other.addMany(ids(300, 'o'), randomVectors(300, 8, 12));
    const expected = store.search(q, { k: 5, filter: (m) => m!.i % 3 === 0 });
    let n = 0;
    const hits = store.search(q, {
      k: 5,
      filter: (m) => {
        other.search(q, { k: 3, filter: () => true });
        other.add(`o-extra-${n++}`, randomVectors(1, 8, 100 + n));
        return m!.i % 3 === 0;
      },
    });
    expect(hits).toEqual(expected);
    expect(new Set(hits.map((h) => h.id)).size).toBe(5);
    expect(other.size()).toBe(300 + n);
    store.dispose();
    other.dispose();
  });
});

describe('7. WorkerVectorStore settles every call', () => {
  function deadWorker() {
    const target = new EventTarget();
    return Object.assign(target, { postMessage: () => undefined, terminate: () => undefined });
  }

  it('create() rejects when the worker fails to start', async () => {
    const worker = deadWorker();
    const created = WorkerVectorStore.create({ dim: 4 }, { worker });
    worker.dispatchEvent(new Event('error'));
    await expectCodeAsync(created, 'WORKER_FAILED');
  });

  it('a worker that cannot even be constructed is WORKER_FAILED', async () => {
    // Node has no Worker global: new Worker() throws a ReferenceError.
    await expectCodeAsync(WorkerVectorStore.create({ dim: 4 }), 'WORKER_FAILED');
    await expectCodeAsync(WorkerVectorStore.create({ dim: 4 }, null as never), 'INVALID_ARGUMENT');
  });

  it('a messageerror rejects the pending calls', async () => {
    const worker = deadWorker();
    const created = WorkerVectorStore.create({ dim: 4 }, { worker });
    worker.dispatchEvent(new MessageEvent('messageerror'));
    await expectCodeAsync(created, 'WORKER_FAILED');
  });

  it('arguments that cannot be cloned reject with INVALID_ARGUMENT and the store stays usable', async () => {
    const store = await WorkerVectorStore.create({ dim: 2 }, channel());
    await expectCodeAsync(store.add('a', new Float32Array([1, 2]), { f: () => 1 } as never), 'INVALID_ARGUMENT');
    await expectCodeAsync(store.searchBatch(new Float32Array([1, 2]), { filter: () => true } as never), 'INVALID_ARGUMENT');
    await expectCodeAsync(store.search(new Float32Array([1, 2]), null as never), 'INVALID_ARGUMENT');
    await store.add('a', new Float32Array([1, 2]));
    expect(await store.size()).toBe(1);
    await store.dispose();
  });

  it('a request the worker cannot deserialize rejects only that call', async () => {
    const { port1, port2 } = new MessageChannel();
    serveStores(port2 as unknown as Parameters<typeof serveStores>[0]);
    port2.start();
    let spoil = false;
    // Delivers every message, except that one chosen request arrives as a
    // 'messageerror' instead, as an undeserializable one would.
    const worker = {
      postMessage(message: { op?: string }, transfer?: Transferable[]) {
        if (spoil && message.op === 'has') {
          spoil = false;
          port2.dispatchEvent(new MessageEvent('messageerror'));
          return;
        }
        port1.postMessage(message, transfer ?? []);
      },
      addEventListener: port1.addEventListener.bind(port1),
      start: () => port1.start(),
      terminate: () => { port1.close(); port2.close(); },
    };
    const store = await WorkerVectorStore.create({ dim: 16 }, { worker });
    let started!: () => void;
    const running = new Promise<void>((resolve) => { started = resolve; });
    const batch = store.addManyAsync(ids(3000, 'l'), randomVectors(3000, 16, 3), undefined, { onProgress: () => started() });
    await running; // the worker has the batch
    spoil = true;
    await expectCodeAsync(store.has('l1'), 'INVALID_ARGUMENT');
    await batch; // still running, and it succeeds
    expect(await store.size()).toBe(3000);
    await store.dispose();
    worker.terminate();
  });

  it('stores sharing one worker get their own answers', async () => {
    const { worker } = channel();
    const a = await WorkerVectorStore.create({ dim: 2 }, { worker });
    const b = await WorkerVectorStore.create({ dim: 2 }, { worker });
    // The same number of calls on each, so per-store call numbering would collide.
    await Promise.all([a.add('a1', new Float32Array([1, 2])), b.addManyAsync(['b1', 'b2'], new Float32Array([1, 2, 2, 1]))]);
    for (let i = 0; i < 5; i++) expect(await Promise.all([a.size(), b.size()])).toEqual([1, 2]);
    await a.dispose();
    expect(await b.size()).toBe(2);
    await b.dispose();
    worker.terminate();
  });

  it('errors keep their class and code across the boundary', async () => {
    const store = await WorkerVectorStore.create({ dim: 2 }, channel());
    await expectCodeAsync(store.add('a', new Float32Array(3)), 'DIMENSION_MISMATCH');
    await expectCodeAsync(store.has('\uD800'), 'INVALID_ARGUMENT');
    await store.dispose();
    const { decodeError, encodeError } = (await import('../../dist/worker-protocol.js')) as unknown as {
      decodeError: (e: unknown) => Error;
      encodeError: (e: unknown) => unknown;
    };
    const type = decodeError(encodeError(new TypeError('bad type')));
    expect(type).toBeInstanceOf(TypeError);
    expect(type.message).toBe('bad type');
    const typed = decodeError(encodeError(new TabvecError('REENTRANT_CALL', 'again')));
    expect(typed).toBeInstanceOf(TabvecError);
    expect((typed as TabvecError).code).toBe('REENTRANT_CALL');
    const custom = Object.assign(new Error('x'), { name: 'DataError' });
    expect(decodeError(encodeError(custom)).name).toBe('DataError');
  });

  it('a missing .wasm in the worker is WASM_UNAVAILABLE, not INVALID_ARGUMENT', async () => {
    const host = (await import(pathToFileURL(path.join(brokenDist, 'worker-host.js')).href)) as { serveStores: typeof serveStores };
    const { port1, port2 } = new MessageChannel();
    host.serveStores(port2 as unknown as Parameters<typeof serveStores>[0]);
    port2.start();
    const worker = Object.assign(port1, { terminate: () => { port1.close(); port2.close(); } });
    await expectCodeAsync(WorkerVectorStore.create({ dim: 4, wasm: 'simd' }, { worker }), 'WASM_UNAVAILABLE');
  });
});

describe('9. typed errors for bad options and a missing module', () => {
  it('null or non-object options are INVALID_ARGUMENT', async () => {
    const store = await VectorStore.create({ dim: 2 });
    store.add('a', new Float32Array([1, 2]));
    const q = new Float32Array([1, 2]);
    for (const bad of [null, 5, 'k'] as never[]) {
      expectCode(() => store.search(q, bad), 'INVALID_ARGUMENT');
      expectCode(() => store.searchBatch(q, bad), 'INVALID_ARGUMENT');
      expectCode(() => store.addMany(['b'], q, undefined, bad), 'INVALID_ARGUMENT');
      await expectCodeAsync(store.addManyAsync(['b'], q, undefined, bad), 'INVALID_ARGUMENT');
      await expectCodeAsync(VectorStore.deserialize(store.serialize(), bad), 'INVALID_ARGUMENT');
      await expectCodeAsync(VectorStore.open({ indexedDB: 'x' }, bad), 'INVALID_ARGUMENT');
      await expectCodeAsync(VectorStore.create(bad), 'INVALID_ARGUMENT');
    }
    expect(store.size()).toBe(1);
    store.dispose();
  });

  it('a missing .wasm is WASM_UNAVAILABLE', async () => {
    const pkg = (await import(pathToFileURL(path.join(brokenDist, 'index.js')).href)) as typeof import('../../dist/index.js');
    for (const wasm of ['simd', 'baseline'] as const) {
      const error = await pkg.VectorStore.create({ dim: 4, wasm }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(pkg.TabvecError);
      expect((error as TabvecError).code).toBe('WASM_UNAVAILABLE');
    }
  });

  it('every core status maps to a documented error code', async () => {
    const { module } = await loadRuntime('auto');
    const m = module as unknown as { STATUS_COUNT: number; statusName: (s: number) => string };
    const { errorFromStatus } = await import('../../dist/errors.js');
    expect(m.STATUS_COUNT).toBeGreaterThanOrEqual(11);
    for (let s = 1; s < m.STATUS_COUNT; s++) {
      const e = errorFromStatus(module, s, 'x');
      expect(e.code).toBe(m.statusName(s).toUpperCase());
    }
    expect(errorFromStatus(module, 10, 'x').code).toBe('OUT_OF_MEMORY');
  });
});
