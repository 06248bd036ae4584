// Runs inside a dedicated Web Worker (see worker-entry.ts): hosts stores and
// answers WorkerVectorStore's requests. Long operations report progress and
// stop when the caller aborts.
import { TabvecError } from './errors.js';
import type { StorageTarget } from './persist.js';
import { type LoadOptions, type SearchOptions, VectorStore, type VectorStoreOptions } from './store.js';
import { type Cancel, type PortLike, type Request, type Response, encodeError } from './worker-protocol.js';

/** @internal Serves stores over a port; returns when the port is attached. */
export function serveStores(port: PortLike): void {
  const stores = new Map<number, VectorStore>();
  const aborts = new Map<number, AbortController>();
  let nextStore = 1;

  const open = (store: VectorStore): number => {
    const handle = nextStore++;
    stores.set(handle, store);
    return handle;
  };
  const storeFor = (handle: number | undefined): VectorStore => {
    const store = handle === undefined ? undefined : stores.get(handle);
    if (!store) throw new TabvecError('DISPOSED', 'this store has been disposed');
    return store;
  };

  const handle = async (req: Request, reply: (r: Response, transfer?: Transferable[]) => void): Promise<unknown> => {
    const a = req.args;
    switch (req.op) {
      case 'create': return open(await VectorStore.create(a[0] as VectorStoreOptions));
      case 'deserialize': return open(await VectorStore.deserialize(a[0] as Uint8Array, a[1] as LoadOptions));
      case 'open': return open(await VectorStore.open(a[0] as StorageTarget, a[1] as LoadOptions));
    }
    const store = storeFor(req.store);
    switch (req.op) {
      case 'add': return store.add(a[0] as string, a[1] as Float32Array, a[2]);
      case 'upsert': return store.upsert(a[0] as string, a[1] as Float32Array, a[2]);
      case 'addMany': {
        const controller = new AbortController();
        aborts.set(req.id, controller);
        try {
          return await store.addManyAsync(a[0] as string[], a[1] as Float32Array, a[2] as unknown[] | undefined, {
            signal: controller.signal,
            onProgress: (progress) => reply({ id: req.id, progress }),
          });
        } finally {
          aborts.delete(req.id);
        }
      }
      case 'search': return store.search(a[0] as Float32Array, a[1] as SearchOptions<unknown>);
      case 'searchBatch': return store.searchBatch(a[0] as Float32Array, a[1] as SearchOptions<unknown>);
      case 'get': return store.get(a[0] as string);
      case 'has': return store.has(a[0] as string);
      case 'delete': return store.delete(a[0] as string);
      case 'setMetadata': return store.setMetadata(a[0] as string, a[1]);
      case 'flush': return store.flush();
      case 'consolidate': return store.consolidate();
      case 'serialize': return store.serialize();
      case 'save': return store.save(a[0] as StorageTarget);
      case 'stats': return store.stats();
      case 'size': return store.size;
      case 'dispose':
        store.dispose();
        stores.delete(req.store!);
        return undefined;
    }
    throw new TabvecError('INVALID_ARGUMENT', `unknown operation ${req.op}`);
  };

  let lastRequest = 0;
  const post = (r: Response, transfer: Transferable[] = []) => port.postMessage(r, transfer);
  const fail = (id: number, error: unknown) => post({ id, ok: false, error: encodeError(error) });

  port.addEventListener('message', (event: MessageEvent) => {
    const message = event.data as Request | Cancel;
    if ('cancel' in message) {
      aborts.get(message.cancel)?.abort();
      return;
    }
    lastRequest = message.id;
    handle(message, post).then(
      (value) => {
        // Bytes and vectors go back as transferred buffers, not copies.
        const transfer: Transferable[] = [];
        if (value instanceof Uint8Array) transfer.push(value.buffer);
        const vector = (value as { vector?: unknown } | undefined)?.vector;
        if (vector instanceof Float32Array) transfer.push(vector.buffer);
        try {
          post({ id: message.id, ok: true, value }, transfer);
        } catch (e) {
          // A result that cannot be cloned must still settle the call.
          fail(message.id, new TabvecError('INVALID_ARGUMENT', `the result of ${message.op} cannot be sent back from the worker: ${(e as Error)?.message ?? String(e)}`));
        }
      },
      (error: unknown) => fail(message.id, error),
    );
  });
  port.addEventListener('messageerror', () => post({ lost: 'the worker could not deserialize the arguments', after: lastRequest }));
}
