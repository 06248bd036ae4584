// tabvec/worker: the VectorStore API running in a dedicated Web Worker, so
// building a large index never blocks the page. Every method returns a promise.
import { TabvecError } from './errors.js';
import type { SaveReport, StorageTarget } from './persist.js';
import type {
  AddManyOptions, HybridHit, LoadOptions, Metric, SearchHit, StoreStats, TextHit, VectorStoreOptions, WriteOptions,
} from './store.js';
import {
  type Args, type OpenOperation, type Operation, type PortLike, type Response, type Result, type StoreInfo,
  type WorkerHybridSearchOptions, type WorkerSearchOptions, type WorkerTextSearchOptions, decodeError, isHybrid,
} from './worker-protocol.js';

export interface WorkerInit {
  /**
   * The worker (or any MessagePort-like peer running serveStores) to use.
   * Default: a new module Worker running tabvec's worker script; dispose() terminates it.
   */
  worker?: PortLike & { terminate?: () => void };
}

export interface WorkerAddManyOptions extends AddManyOptions {
  signal?: AbortSignal;
  /** Transfer the vectors' buffer to the worker instead of copying it (the caller's array is emptied). */
  transfer?: boolean;
}

interface Pending {
  op: Operation;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  progress?: (p: unknown) => void;
}

// Call ids are unique across connections, and each port keeps the ids posted
// to it and not yet answered, in posting order: several stores may share one
// worker (WorkerInit.worker), and each of them sees every reply and notice.
let nextCallId = 1;
const unansweredByPort = new WeakMap<object, Set<number>>();

interface CallExtras {
  transfer?: Transferable[];
  progress?: (p: unknown) => void;
  signal?: AbortSignal;
}

class Connection {
  readonly #port: PortLike & { terminate?: () => void };
  readonly #owned: boolean;
  readonly #pending = new Map<number, Pending>();
  readonly #unanswered: Set<number>;
  // Set once the worker has failed: later calls reject with it at once.
  #failure: TabvecError | undefined;

  constructor(init: WorkerInit) {
    this.#owned = !init.worker;
    this.#port = init.worker ?? new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module', name: 'tabvec' });
    let unanswered = unansweredByPort.get(this.#port);
    if (!unanswered) unansweredByPort.set(this.#port, (unanswered = new Set()));
    this.#unanswered = unanswered;
    this.#port.addEventListener('message', (event: MessageEvent) => {
      const r = event.data as Response;
      if ('lost' in r) {
        // Only that call: the others are running and may still succeed.
        for (const id of this.#unanswered) {
          if (id <= r.after) continue;
          const call = this.#pending.get(id); // absent if another store's call
          this.#pending.delete(id);
          call?.reject(new TabvecError('INVALID_ARGUMENT', `${call.op}: ${r.lost}`));
          break;
        }
        return;
      }
      const call = this.#pending.get(r.id);
      if (!call) return;
      if ('progress' in r) {
        call.progress?.(r.progress);
        return;
      }
      this.#pending.delete(r.id);
      if (r.ok) call.resolve(r.value);
      else call.reject(decodeError(r.error));
    });
    // A worker whose script or imports fail to load, or that throws outside a
    // call, fires 'error' and never answers: without this its calls would
    // never settle.
    this.#port.addEventListener('error', (event: Event) => {
      const detail = (event as ErrorEvent).message;
      this.#failure = new TabvecError('WORKER_FAILED', `the tabvec worker failed${detail ? `: ${detail}` : ' (its script could not be loaded or it crashed)'}`);
      this.#rejectAll(this.#failure);
      if (this.#owned) this.#port.terminate?.();
    });
    // A reply that cannot be read cannot be matched to its call either, so
    // every pending call is rejected rather than left waiting for ever.
    this.#port.addEventListener('messageerror', () => {
      this.#rejectAll(new TabvecError('WORKER_FAILED', 'a reply from the worker could not be deserialized; the calls pending at that moment were rejected'));
    });
    (this.#port as { start?: () => void }).start?.();
  }

  call<K extends Operation>(op: K, store: number | undefined, args: Args<K>, extra: CallExtras = {}): Promise<Result<K>> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (extra.signal?.aborted) return Promise.reject(new TabvecError('ABORTED', `${op} was aborted before it started`));
    const id = nextCallId++;
    return new Promise<Result<K>>((resolve, reject) => {
      const signal = extra.signal;
      const onAbort = () => this.#send({ cancel: id });
      const settled = () => {
        this.#unanswered.delete(id);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#pending.set(id, {
        op,
        resolve: (v) => { settled(); resolve(v as Result<K>); },
        reject: (e) => { settled(); reject(e); },
        progress: extra.progress,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.#port.postMessage({ id, op, store, args }, extra.transfer ?? []);
        this.#unanswered.add(id);
      } catch (e) {
        // Nothing was sent (postMessage clones everything first), so nothing will answer.
        const call = this.#pending.get(id);
        this.#pending.delete(id);
        const cannotClone = (e as { name?: string })?.name === 'DataCloneError';
        call?.reject(new TabvecError(cannotClone ? 'INVALID_ARGUMENT' : 'WORKER_FAILED',
          `${op}: ${cannotClone ? 'an argument cannot be sent to the worker' : 'the message could not be posted to the worker'} (${(e as Error)?.message ?? String(e)})`));
      }
    });
  }

  close(): void {
    this.#rejectAll(new TabvecError('DISPOSED', 'the store was disposed'));
    if (this.#owned) this.#port.terminate?.();
  }

  #send(message: unknown): void {
    try {
      this.#port.postMessage(message);
    } catch {
      // a cancel that cannot be sent leaves the call to finish normally
    }
  }

  #rejectAll(error: TabvecError): void {
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const call of calls) call.reject(error);
  }
}

// The options each call takes here: the page's, less `filter` (refused with
// its own message below), plus the worker's own (`signal`, `transfer`).
const WORKER_SEARCH_KEYS = ['k', 'listSize', 'rerankFactor', 'where'] as const satisfies readonly (keyof WorkerSearchOptions)[];
const WORKER_HYBRID_KEYS = [...WORKER_SEARCH_KEYS, 'text', 'fusion', 'textWeight', 'candidates'] as const satisfies
  readonly (keyof WorkerHybridSearchOptions)[];
const WORKER_TEXT_SEARCH_KEYS = ['k', 'where'] as const satisfies readonly (keyof WorkerTextSearchOptions)[];
const WORKER_ADD_MANY_KEYS = ['onProgress', 'texts', 'signal', 'transfer'] as const satisfies readonly (keyof WorkerAddManyOptions)[];

// Functions cannot cross to the worker; null or non-object options, and
// unknown option names, are refused here the same way VectorStore refuses them.
function checkWorkerOptions(op: string, options: unknown, known: readonly string[]): TabvecError | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return new TabvecError('INVALID_ARGUMENT', `${op}: options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  if ((options as { filter?: unknown }).filter !== undefined && !known.includes('filter')) {
    return new TabvecError('INVALID_ARGUMENT', 'functions cannot be sent to a worker: use `where` instead of `filter`');
  }
  const unknown = Object.keys(options).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    return new TabvecError('INVALID_ARGUMENT', `${op}: unknown option '${unknown.slice(0, 64)}'; the options are ${known.join(', ')}`);
  }
  return undefined;
}

/**
 * A VectorStore living in a Web Worker. Filters are plain data (`where`), since functions cannot cross threads.
 * Every method rejects with the same TabvecError (class and code) the store
 * would throw in the page; also with INVALID_ARGUMENT for an argument that
 * cannot be cloned to the worker, and WORKER_FAILED for every call pending
 * when the worker fails to start or dies (and every call after that).
 */
export class WorkerVectorStore<M = unknown> {
  readonly #connection: Connection;
  readonly #handle: number;
  readonly #dim: number;
  readonly #metric: Metric;
  #disposed = false;

  private constructor(connection: Connection, info: StoreInfo) {
    this.#connection = connection;
    this.#handle = info.handle;
    this.#dim = info.dim;
    this.#metric = info.metric;
  }

  static async create<M = unknown>(options: VectorStoreOptions, init: WorkerInit = {}): Promise<WorkerVectorStore<M>> {
    return WorkerVectorStore.#start<M, 'create'>(init, 'create', [options]);
  }

  static async open<M = unknown>(target: StorageTarget, options: LoadOptions = {}, init: WorkerInit = {}): Promise<WorkerVectorStore<M>> {
    return WorkerVectorStore.#start<M, 'open'>(init, 'open', [target, options]);
  }

  static async deserialize<M = unknown>(bytes: Uint8Array, options: LoadOptions = {}, init: WorkerInit = {}): Promise<WorkerVectorStore<M>> {
    return WorkerVectorStore.#start<M, 'deserialize'>(init, 'deserialize', [bytes, options]);
  }

  static async #start<M, K extends OpenOperation>(init: WorkerInit, op: K, args: Args<K>): Promise<WorkerVectorStore<M>> {
    if (typeof init !== 'object' || init === null) throw new TabvecError('INVALID_ARGUMENT', `init must be an object, got ${init === null ? 'null' : typeof init}`);
    let connection: Connection;
    try {
      connection = new Connection(init);
    } catch (e) {
      // new Worker() throws where workers are unavailable or forbidden (a CSP without worker-src, Node).
      throw new TabvecError('WORKER_FAILED', `the tabvec worker could not be started: ${(e as Error)?.message ?? String(e)}`);
    }
    try {
      return new WorkerVectorStore<M>(connection, await connection.call(op, undefined, args));
    } catch (e) {
      connection.close();
      throw e;
    }
  }

  get dim(): number {
    return this.#dim;
  }

  get metric(): Metric {
    return this.#metric;
  }

  // add's and upsert's options are checked by the store in the worker, as in
  // the page (they hold no function to refuse here).
  add(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): Promise<void> {
    return this.#call('add', [id, vector, metadata, options]);
  }

  upsert(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): Promise<void> {
    return this.#call('upsert', [id, vector, metadata, options]);
  }

  /** VectorStore.addManyAsync in the worker, with progress and cancellation across the thread boundary. */
  addManyAsync(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[], options: WorkerAddManyOptions = {}): Promise<void> {
    const bad = checkWorkerOptions('addManyAsync', options, WORKER_ADD_MANY_KEYS);
    if (bad) return Promise.reject(bad);
    const transfer = options.transfer && vectors instanceof Float32Array ? [vectors.buffer] : [];
    return this.#call('addManyAsync', [ids, vectors, metadata, options.texts], {
      transfer,
      signal: options.signal,
      progress: options.onProgress as ((p: unknown) => void) | undefined,
    });
  }

  /** VectorStore.search in the worker: with `text` in the options, a hybrid search. */
  search(query: Float32Array, options: WorkerHybridSearchOptions): Promise<HybridHit<M>[]>;
  search(query: Float32Array, options?: WorkerSearchOptions): Promise<SearchHit<M>[]>;
  search(query: Float32Array, options: WorkerSearchOptions | WorkerHybridSearchOptions = {}): Promise<SearchHit<M>[] | HybridHit<M>[]> {
    // As in the page, the hybrid options are unknown names in a search without `text`.
    const bad = checkWorkerOptions('search', options, isHybrid(options) ? WORKER_HYBRID_KEYS : WORKER_SEARCH_KEYS);
    if (bad) return Promise.reject(bad);
    return this.#call('search', [query, options]) as Promise<SearchHit<M>[] | HybridHit<M>[]>;
  }

  /** VectorStore.searchText in the worker. */
  searchText(query: string, options: WorkerTextSearchOptions = {}): Promise<TextHit<M>[]> {
    const bad = checkWorkerOptions('searchText', options, WORKER_TEXT_SEARCH_KEYS);
    if (bad) return Promise.reject(bad);
    return this.#call('searchText', [query, options]) as Promise<TextHit<M>[]>;
  }

  searchBatch(queries: Float32Array, options: WorkerSearchOptions = {}): Promise<SearchHit<M>[][]> {
    const bad = checkWorkerOptions('searchBatch', options, WORKER_SEARCH_KEYS);
    if (bad) return Promise.reject(bad);
    return this.#call('searchBatch', [queries, options]) as Promise<SearchHit<M>[][]>;
  }

  get(id: string): Promise<{ vector: Float32Array; metadata: M | undefined } | undefined> {
    return this.#call('get', [id]) as Promise<{ vector: Float32Array; metadata: M | undefined } | undefined>;
  }
  has(id: string): Promise<boolean> {
    return this.#call('has', [id]);
  }
  delete(id: string): Promise<void> {
    return this.#call('delete', [id]);
  }
  setMetadata(id: string, metadata: M | undefined): Promise<void> {
    return this.#call('setMetadata', [id, metadata]);
  }
  flush(): Promise<void> {
    return this.#call('flush', []);
  }
  consolidate(): Promise<number> {
    return this.#call('consolidate', []);
  }
  serialize(): Promise<Uint8Array> {
    return this.#call('serialize', []);
  }
  save(target: StorageTarget): Promise<SaveReport> {
    return this.#call('save', [target]);
  }
  stats(): Promise<StoreStats> {
    return this.#call('stats', []);
  }
  size(): Promise<number> {
    return this.#call('size', []);
  }

  /** Frees the store and stops its worker. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#connection.call('dispose', this.#handle, []).catch(() => undefined);
    this.#connection.close();
  }

  #call<K extends Exclude<Operation, OpenOperation>>(op: K, args: Args<K>, extra?: CallExtras): Promise<Result<K>> {
    if (this.#disposed) return Promise.reject(new TabvecError('DISPOSED', 'this WorkerVectorStore has been disposed'));
    return this.#connection.call(op, this.#handle, args, extra);
  }
}

export { TabvecError } from './errors.js';
export type { TabvecErrorCode } from './errors.js';
export type { SaveReport, StorageTarget } from './persist.js';
export type {
  AddManyProgress, Fusion, HybridHit, LoadOptions, Metric, SearchHit, StoreStats, TextHit, TextLanguage, TextOptions,
  VectorStoreOptions, WriteOptions,
} from './store.js';
export type { WorkerHybridSearchOptions, WorkerSearchOptions, WorkerTextSearchOptions } from './worker-protocol.js';
