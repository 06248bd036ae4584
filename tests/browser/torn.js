// Page-side helpers for tests/browser/torn-metadata.test.ts: one LiveStore,
// driven through the public API only, either in this page or in a dedicated
// worker running this same module (then every call is forwarded to it).
// Also plants and checks a "canary" OPFS file outside tabvec's directory: a
// name created after the injected tear, which Chromium must lose (the test's
// proof that the injection took effect).
import { LiveStore } from '/dist/index.js';
import { randomVectors } from '/tests/fixtures/random.js';

const DIM = 32;
const CREATE = { dim: DIM, metric: 'l2', storage: 'float32' };
let live;

const local = {
  async open(target, create) {
    try {
      live = await LiveStore.open(target, create ? { create: CREATE } : {});
      return { size: live.size(), seq: live.seq, recovery: live.recovery };
    } catch (e) {
      live = undefined;
      return { error: { name: e.name, code: e.code, message: e.message } };
    }
  },
  // Resolves once the add is acknowledged (durable); rejects with its error otherwise.
  async add(id, seed) {
    await live.add(id, randomVectors(1, DIM, seed), { id });
    return true;
  },
  // The ids the store does not have.
  missing(ids) {
    return ids.filter((id) => !live.has(id));
  },
  async checkpoint() {
    await live.checkpoint();
    return true;
  },
  async close() {
    await live?.close();
    live = undefined;
    return true;
  },
};

if (typeof window === 'undefined') {
  // In the dedicated worker: answer the page's calls in order.
  self.onmessage = async ({ data: { call, fn, args } }) => {
    try {
      self.postMessage({ call, result: await local[fn](...args) });
    } catch (e) {
      self.postMessage({ call, error: `${e.code ?? e.name}: ${e.message}` });
    }
  };
} else {
  let worker;
  let calls = 0;
  const pending = new Map();
  const remote = (fn) => (...args) => new Promise((resolve, reject) => {
    const call = ++calls;
    pending.set(call, { resolve, reject });
    worker.postMessage({ call, fn, args });
  });
  let api = local;
  window.torn = {
    // 'page': the store lives in this page; 'worker': in a dedicated worker.
    mode(mode) {
      if (mode === 'worker' && !worker) {
        worker = new Worker('/tests/browser/torn.js', { type: 'module' });
        worker.onmessage = ({ data }) => {
          const p = pending.get(data.call);
          pending.delete(data.call);
          if (data.error !== undefined) p.reject(new Error(data.error));
          else p.resolve(data.result);
        };
        worker.onerror = (e) => {
          for (const p of pending.values()) p.reject(new Error(`worker error: ${e.message}`));
          pending.clear();
        };
        api = Object.fromEntries(Object.keys(local).map((fn) => [fn, remote(fn)]));
      }
      return mode;
    },
    open: (...a) => api.open(...a),
    add: (...a) => api.add(...a),
    missing: (...a) => api.missing(...a),
    checkpoint: (...a) => api.checkpoint(...a),
    close: (...a) => api.close(...a),
    // Creates an OPFS file at the root (name creation + a write), outside tabvec's files.
    async plantCanary(name) {
      const root = await navigator.storage.getDirectory();
      const handle = await root.getFileHandle(name, { create: true });
      const w = await handle.createWritable();
      await w.write(new TextEncoder().encode(`planted ${new Date().toISOString()}`));
      await w.close();
      return (await handle.getFile()).size;
    },
    async hasCanary(name) {
      const root = await navigator.storage.getDirectory();
      try {
        await root.getFileHandle(name);
        return true;
      } catch (e) {
        if (e.name === 'NotFoundError') return false;
        throw e;
      }
    },
  };
  document.getElementById('status').textContent = 'ready';
}
