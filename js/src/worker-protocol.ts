// @internal Messages between WorkerVectorStore and the worker host, and how
// errors cross the boundary keeping their class and code.
import { TabvecError, isErrorCode } from './errors.js';
import type { SaveReport, StorageTarget } from './persist.js';
import type {
  HybridHit, HybridSearchOptions, LoadOptions, Metric, SearchHit, SearchOptions, StoreStats, TextHit, TextSearchOptions,
  VectorStoreOptions, WriteOptions,
} from './store.js';

/** Search options that can cross to a worker: everything but the `filter` function. */
export type WorkerSearchOptions = Omit<SearchOptions<unknown>, 'filter'>;
/** Hybrid search options (search() with `text`) that can cross to a worker: everything but `filter`. */
export type WorkerHybridSearchOptions = Omit<HybridSearchOptions<unknown>, 'filter'>;
/** searchText options that can cross to a worker: everything but `filter`. */
export type WorkerTextSearchOptions = Omit<TextSearchOptions<unknown>, 'filter'>;

/** What the page learns about a store when the worker opens it. */
export interface StoreInfo {
  handle: number;
  dim: number;
  metric: Metric;
}

/** The test VectorStore.search makes to choose hybrid search; both sides use it. */
export function isHybrid(options: WorkerSearchOptions | WorkerHybridSearchOptions | undefined): options is WorkerHybridSearchOptions {
  return 'text' in Object(options);
}

/**
 * Every operation the worker serves: its arguments and its result. Both
 * sides are typed from this one map (WorkerVectorStore's calls and the host's
 * handler table), so an operation cannot be sent with the wrong arguments or
 * answered with the wrong result.
 */
export interface Operations {
  create: { args: [options: VectorStoreOptions]; result: StoreInfo };
  deserialize: { args: [bytes: Uint8Array, options: LoadOptions]; result: StoreInfo };
  open: { args: [target: StorageTarget, options: LoadOptions]; result: StoreInfo };
  // `options` as the caller gave them: the store in the worker checks them, as it does in the page.
  add: { args: [id: string, vector: Float32Array, metadata: unknown, options: WriteOptions | undefined]; result: void };
  upsert: { args: [id: string, vector: Float32Array, metadata: unknown, options: WriteOptions | undefined]; result: void };
  // Reports AddManyProgress messages and stops on a Cancel.
  addManyAsync: {
    args: [ids: readonly string[], vectors: Float32Array, metadata: readonly unknown[] | undefined, texts: readonly (string | undefined)[] | undefined];
    result: void;
  };
  // With `text` in the options a hybrid search (HybridHit results), as VectorStore.search decides it.
  search: { args: [query: Float32Array, options: WorkerSearchOptions | WorkerHybridSearchOptions]; result: SearchHit<unknown>[] | HybridHit<unknown>[] };
  searchText: { args: [query: string, options: WorkerTextSearchOptions]; result: TextHit<unknown>[] };
  searchBatch: { args: [queries: Float32Array, options: WorkerSearchOptions]; result: SearchHit<unknown>[][] };
  get: { args: [id: string]; result: { vector: Float32Array; metadata: unknown } | undefined };
  has: { args: [id: string]; result: boolean };
  delete: { args: [id: string]; result: void };
  setMetadata: { args: [id: string, metadata: unknown]; result: void };
  flush: { args: []; result: void };
  consolidate: { args: []; result: number };
  serialize: { args: []; result: Uint8Array };
  save: { args: [target: StorageTarget]; result: SaveReport };
  stats: { args: []; result: StoreStats };
  size: { args: []; result: number };
  dispose: { args: []; result: void };
}

export type Operation = keyof Operations;
/** The operations that open a store; every other one acts on an open store. */
export type OpenOperation = 'create' | 'deserialize' | 'open';
export type StoreOperation = Exclude<Operation, OpenOperation>;
export type Args<K extends Operation> = Operations[K]['args'];
export type Result<K extends Operation> = Operations[K]['result'];

export interface Request<K extends Operation = Operation> {
  id: number;
  op: K;
  /** The store's handle; absent for an OpenOperation. */
  store?: number;
  args: Args<K>;
}

/** An error as plain data: structured clone would drop a TabvecError's class and code. */
export interface WireError {
  name: string;
  message: string;
  /** TabvecError code. */
  code?: string;
  /** True for a DOMException (QuotaExceededError, DataCloneError, ...). */
  dom?: boolean;
}

export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { id: number; progress: unknown }
  // The worker received a request it could not deserialize, so it cannot
  // read its id; it was the first request sent after request `after` (ports
  // deliver in order), which is how the page finds the call to reject.
  | { lost: string; after: number };

export interface Cancel {
  cancel: number;
}

/** The part of a Worker (or MessagePort) the protocol needs. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: MessageEvent) => void): void;
}

export function encodeError(error: unknown): WireError {
  if (error instanceof TabvecError) return { name: error.name, message: error.message, code: error.code };
  if (error instanceof Error) {
    const dom = typeof DOMException === 'function' && error instanceof DOMException;
    return { name: error.name, message: error.message, ...(dom ? { dom } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

const STANDARD: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

export function decodeError(wire: WireError): Error {
  if (wire.name === 'TabvecError') {
    return new TabvecError(isErrorCode(wire.code) ? wire.code : 'INVALID_ARGUMENT', wire.message);
  }
  if (wire.dom && typeof DOMException === 'function') return new DOMException(wire.message, wire.name);
  const error = new (STANDARD[wire.name] ?? Error)(wire.message);
  if (error.name !== wire.name) error.name = wire.name;
  return error;
}
