// Runs inside a dedicated Web Worker (see worker-entry.ts): hosts stores and
// answers WorkerVectorStore's requests. Long operations report progress and
// stop when the caller aborts.
import { TabvecError } from './errors.js';
import { VectorStore } from './store.js';
import {
  type Args, type Cancel, type OpenOperation, type Operation, type PortLike, type Request, type Response, type Result,
  type StoreInfo, type StoreOperation, encodeError, isHybrid,
} from './worker-protocol.js';

// What a handler gets besides its arguments.
interface Call {
  id: number;
  // Posts a progress message for this call.
  progress(value: unknown): void;
  // Aborted when the page cancels this call.
  signal: AbortSignal;
}

// Opening operations give a store, which the host registers under a handle.
const opens: { [K in OpenOperation]: (...args: Args<K>) => Promise<VectorStore> } = {
  create: (options) => VectorStore.create(options),
  deserialize: (bytes, options) => VectorStore.deserialize(bytes, options),
  open: (target, options) => VectorStore.open(target, options),
};

type Handler<K extends StoreOperation> = (store: VectorStore, args: Args<K>, call: Call) => Result<K> | Promise<Result<K>>;

const operations: { [K in StoreOperation]: Handler<K> } = {
  add: (store, [id, vector, metadata, options]) => store.add(id, vector, metadata, options),
  upsert: (store, [id, vector, metadata, options]) => store.upsert(id, vector, metadata, options),
  addManyAsync: (store, [ids, vectors, metadata, texts], call) =>
    store.addManyAsync(ids, vectors, metadata, { texts, signal: call.signal, onProgress: (progress) => call.progress(progress) }),
  search: (store, [query, options]) => (isHybrid(options) ? store.search(query, options) : store.search(query, options)),
  searchText: (store, [query, options]) => store.searchText(query, options),
  searchBatch: (store, [queries, options]) => store.searchBatch(queries, options),
  get: (store, [id]) => store.get(id),
  has: (store, [id]) => store.has(id),
  delete: (store, [id]) => store.delete(id),
  setMetadata: (store, [id, metadata]) => store.setMetadata(id, metadata),
  flush: (store) => store.flush(),
  consolidate: (store) => store.consolidate(),
  serialize: (store) => store.serialize(),
  save: (store, [target]) => store.save(target),
  stats: (store) => store.stats(),
  size: (store) => store.size(),
  dispose: (store) => store.dispose(),
};

function isOpen(op: Operation): op is OpenOperation {
  return Object.hasOwn(opens, op);
}

/** @internal Serves stores over a port; returns when the port is attached. */
export function serveStores(port: PortLike): void {
  const stores = new Map<number, VectorStore>();
  const aborts = new Map<number, AbortController>();
  let nextStore = 1;

  const run = async (req: Request, call: Call): Promise<unknown> => {
    const op = req.op;
    if (isOpen(op)) {
      const store = await (opens[op] as (...args: unknown[]) => Promise<VectorStore>)(...req.args);
      const handle = nextStore++;
      stores.set(handle, store);
      return { handle, dim: store.dim, metric: store.metric } satisfies StoreInfo;
    }
    if (!Object.hasOwn(operations, op)) throw new TabvecError('INVALID_ARGUMENT', `unknown operation ${String(op).slice(0, 64)}`);
    const store = req.store === undefined ? undefined : stores.get(req.store);
    if (!store) throw new TabvecError('DISPOSED', 'this store has been disposed');
    const result = await (operations[op] as Handler<StoreOperation>)(store, req.args as never, call);
    if (op === 'dispose') stores.delete(req.store!);
    return result;
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
    const controller = new AbortController();
    aborts.set(message.id, controller);
    const call: Call = { id: message.id, signal: controller.signal, progress: (progress) => post({ id: message.id, progress }) };
    run(message, call).then(
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
    ).finally(() => aborts.delete(message.id));
  });
  port.addEventListener('messageerror', () => post({ lost: 'the worker could not deserialize the arguments', after: lastRequest }));
}
