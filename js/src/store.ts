import { TabvecError } from './errors.js';
import type { NativeIndex } from './module-types.js';
import type { SaveReport, StorageTarget } from './persist.js';
import { type Runtime, type WasmFlavor, loadRuntime, utf8Length } from './runtime.js';
import { snapshotProblem } from './snapshot.js';
import type { HybridHit, HybridSearchOptions, TextHit, TextOptions, TextSearchOptions, TextSupport } from './text.js';

export type { Fusion, HybridHit, HybridSearchOptions, TextHit, TextOptions, TextSearchOptions } from './text.js';
export type { TextLanguage } from './tokenize.js';

// Node 20 has no Symbol.dispose yet; TypeScript's `using` looks it up here.
if (typeof (Symbol as { dispose?: symbol }).dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('Symbol.dispose') });
}

/** Distance function. 'l2' is squared Euclidean distance. */
export type Metric = 'cosine' | 'l2' | 'ip';
/** How vectors are kept: 8-bit scalar codes (default) or full float32. */
export type Storage = 'int8' | 'float32';
/**
 * The re-ranking tier beside int8 codes: full-precision vectors that the
 * best candidates are scored again on, and whose distances are returned.
 * 'float16' keeps 2 bytes per dimension (about three significant digits,
 * components up to 65504 in magnitude), 'float32' 4; 'storage' keeps them as
 * float32 rows in the store's storage (a LiveStore's file in Node, or OPFS
 * from a worker) and 4 bytes per vector in memory; 'none' keeps only the codes.
 */
export type Rerank = 'none' | 'float16' | 'float32' | 'storage';


export interface VectorStoreOptions {
  /** Vector length, 1..16384. */
  dim: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Default 'int8': a quarter of float32's memory for about a point of recall. */
  storage?: Storage;
  /**
   * Default 'none'. With 'float16' (3 bytes per dimension in all) or
   * 'float32' (5), searches are walked on the codes and the best
   * `rerankFactor` x k candidates are scored again on the tier's vectors:
   * recall@10 then reaches what float32 storage reaches (0.994-1.0 on the
   * benchmark sets, where codes alone stop at 0.975-0.995), distances are
   * the tier's, and a store of at most 512 vectors is scanned exactly. int8
   * storage only (float32 storage is exact already). 'storage' does the same
   * with the vectors read from storage, dim x 4 + 8 bytes a vector there and
   * 4 in memory: only a LiveStore opened where reads can be synchronous
   * (a file in Node; OPFS from a worker) has one.
   */
  rerank?: Rerank;
  /** Graph out-degree R, 2..256. Default 32. */
  maxDegree?: number;
  /** Search list size while building, L_build. Default 64. */
  buildListSize?: number;
  /** RobustPrune's alpha, 1..4. Default 1.2. */
  alpha?: number;
  /** Default search list size L; larger finds more true neighbours, slower. Default 64. */
  searchListSize?: number;
  /** Most vectors kept in the exact-search write buffer before a graph merge. Default 256. */
  maxBuffer?: number;
  /** Cap on the bytes this store may reserve; exceeding it throws MEMORY_CAP_EXCEEDED. Default: none. */
  maxMemoryBytes?: number;
  /** WebAssembly build: 'auto' (SIMD when supported), 'simd' or 'baseline'. */
  wasm?: WasmFlavor;
  /**
   * Full-text search (BM25) over each document's text, given with add, upsert
   * and addMany: `true` for the defaults, or options. The store then uses
   * the text build of the module (about 69 KB gzip where the core's is 43),
   * and searchText and search({ text }) work. Default: no text.
   */
  text?: boolean | TextOptions;
}

/** Per-call options of add and upsert. */
export interface WriteOptions {
  /** The document's text, for full-text search (a store created with `text`). */
  text?: string;
}

/** @internal A snapshot read in order, in pieces (storage.ts). */
export interface SnapshotSource {
  /** Its length in bytes, known before the first piece. */
  bytes: number;
  /**
   * Its bytes in order. The loader asks for the next piece before it loads
   * this one, so a piece must stay as it is until the one after the next is
   * asked for.
   */
  pieces(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export interface LoadOptions {
  maxMemoryBytes?: number;
  wasm?: WasmFlavor;
}

export interface OpenOptions extends LoadOptions {
  /**
   * What to do when the journal is damaged before its tail: 'strict'
   * (default) refuses with CORRUPT_SNAPSHOT naming where; 'prefix' opens the
   * checkpoint and the intact records before the damage. A torn tail (a
   * write cut off by a crash) is never an error: it was never acknowledged.
   */
  recovery?: 'strict' | 'prefix';
}

export interface SearchOptions<M> {
  /** Number of results, default 10. */
  k?: number;
  /** Search list size L for this query (at least k); defaults to the store's searchListSize. */
  listSize?: number;
  /**
   * With a re-ranking tier: how many candidates per result are scored again
   * on the tier's vectors, 1..64. Default 2: an exhaustive scan of the codes
   * re-ranked at 2x already finds every true top 10 of the text-embedding
   * benchmark, so more only costs time. Ignored without a tier.
   */
  rerankFactor?: number;
  /** Keeps only hits it returns true for; applied while the graph is walked. */
  filter?: (metadata: M | undefined, id: string) => boolean;
  /**
   * Keeps only hits whose metadata has these top-level values (strict
   * equality). Unlike `filter` it is plain data, so it also works in worker mode.
   */
  where?: Record<string, string | number | boolean | null>;
}

export interface SearchHit<M> {
  id: string;
  /** Smaller is closer: squared L2, 1 - cosine similarity, or -dot product. */
  distance: number;
  metadata: M | undefined;
}

export interface AddManyProgress {
  /** 'text': tokenizing the texts (full-text search), before anything is written. */
  phase: 'text' | 'copy' | 'index';
  done: number;
  total: number;
}

export interface AddManyOptions {
  onProgress?: (progress: AddManyProgress) => void;
  /** One text per id (undefined for none), for full-text search (a store created with `text`). */
  texts?: readonly (string | undefined)[];
}

export interface MemoryUse {
  used: number;
  reserved: number;
}

export interface StoreStats {
  size: number;
  dim: number;
  metric: Metric;
  storage: Storage;
  rerank: Rerank;
  /** Deleted vectors still in the graph until consolidate() (or automatic consolidation). */
  tombstones: number;
  /** Vectors waiting in the write buffer, searched exactly until merged. */
  pending: number;
  /** `rerank` is the re-ranking tier's exact vectors (zero without one). */
  /** `text` is the full-text index (zero without one). */
  memory: Record<'vectors' | 'rerank' | 'graph' | 'ids' | 'metadata' | 'buffer' | 'other' | 'text' | 'total', MemoryUse>;
  /** Documents with text (full-text search); 0 without it. */
  texts: number;
  /** Reserved bytes per stored vector (0 when empty). */
  bytesPerVector: number;
  /** Size of the shared WebAssembly memory (all stores of this flavor). */
  wasmMemoryBytes: number;
  simd: boolean;
}

// In the order of the core's memoryStats (wasm/bindings.cpp).
const COMPONENTS = ['vectors', 'rerank', 'graph', 'ids', 'metadata', 'buffer', 'other', 'text'] as const;
// Vectors per addBatch call in addMany: bounds the scratch copy to ~1 MiB.
const COPY_CHUNK_BYTES = 1 << 20;
const LINK_STEP = 256;
const SERIALIZE_WINDOW_BYTES = 1 << 20;

const finalizer = new FinalizationRegistry<NativeIndex>((native) => native.delete());

function combineFilters<M>(filter: SearchOptions<M>['filter'], where: SearchOptions<M>['where']): SearchOptions<M>['filter'] {
  if (where === undefined) return filter;
  if (typeof where !== 'object' || where === null) throw invalid('where must be an object of field: value pairs');
  const entries = Object.entries(where);
  const matches = (metadata: M | undefined) =>
    typeof metadata === 'object' && metadata !== null &&
    entries.every(([key, value]) => (metadata as Record<string, unknown>)[key] === value);
  return filter ? (m, id) => matches(m) && filter(m, id) : (m) => matches(m);
}

/** @internal A macrotask boundary: lets timers, input and worker messages run. */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => {
        channel.port1.close();
        resolve();
      };
      channel.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function invalid(message: string): TabvecError {
  return new TabvecError('INVALID_ARGUMENT', message);
}

// Integer arguments cross into the core as uint32; one outside that type
// would be truncated or wrapped by the binding, so the type is checked here.
// Their ranges are the core's to check (Index::create, Index::search), so
// each limit is stated once.
function checkUint32(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw invalid(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

// Byte counts cross as doubles (they may pass 2^32).
function checkByteCount(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(`${name} must be a non-negative integer, got ${String(value)}`);
  }
  return value;
}

/**
 * @internal A storage tier's rows as a store uses them (rows.ts; a LiveStore
 * attaches them). The core numbers rows and writes them into heap memory; this
 * stores them, and reads candidates' rows back for the core to re-rank.
 */
export interface RowTier {
  /** Stores the rows a write numbered from firstRow on, which the core wrote at ptr. */
  stored(rt: Runtime, native: NativeIndex, firstRow: number, ptr: number): void;
  /** Re-ranks the candidates search() left (the query at queryPtr); a core status. */
  rescore(rt: Runtime, native: NativeIndex, queryPtr: number, k: number): number;
  /** Reads the exact vector of the id (UTF-8 at idPtr) to out; false when it has no row yet. */
  read(rt: Runtime, native: NativeIndex, idPtr: number, idLen: number, out: number): boolean;
}

/**
 * @internal What a LiveStore (live.ts) reaches inside its store: the module
 * and the core index, and where the storage tier's rows are attached.
 */
export let storeInternals: (store: VectorStore<unknown>) => {
  runtime: Runtime;
  native: NativeIndex;
  attach(rows: RowTier): void;
  /** serialize() a window at a time: the store must not be written until it returns. */
  serializeSteps(): Generator<void, Uint8Array, void>;
};

function rowsMissing(): never {
  throw new TabvecError('STORAGE_UNAVAILABLE',
    "rerank 'storage' keeps exact vectors in storage: use LiveStore.open");
}

// The one way a core status becomes an exception.
function check(runtime: Runtime, native: NativeIndex, status: number): void {
  if (status !== 0) throw runtime.statusError(status, native.lastError());
}

// The option names each call accepts: a misspelt or foreign key (L for
// listSize, efSearch, ...) is an error rather than a silent default.
const CREATE_KEYS = ['dim', 'metric', 'storage', 'rerank', 'maxDegree', 'buildListSize', 'alpha', 'searchListSize', 'maxBuffer',
  'maxMemoryBytes', 'wasm', 'text'] as const satisfies readonly (keyof VectorStoreOptions)[];
const LOAD_KEYS = ['maxMemoryBytes', 'wasm'] as const satisfies readonly (keyof LoadOptions)[];
const OPEN_KEYS = [...LOAD_KEYS, 'recovery'] as const satisfies readonly (keyof OpenOptions)[];
const SEARCH_KEYS = ['k', 'listSize', 'rerankFactor', 'filter', 'where'] as const satisfies readonly (keyof SearchOptions<unknown>)[];
const ADD_MANY_KEYS = ['onProgress', 'texts'] as const satisfies readonly (keyof AddManyOptions)[];
const ADD_MANY_ASYNC_KEYS = ['onProgress', 'texts', 'signal'] as const;

// An options argument: undefined means defaults; anything but a plain object
// with known keys is refused.
function checkOptions<T extends object>(name: string, value: T | undefined, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${name} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalid(`${name} has an unknown option '${key.slice(0, 64)}'; the options are ${known.join(', ')}`);
  }
  return value;
}

function checkCallback(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalid(`${name} must be a function, got ${typeof value}`);
}

// Ids quoted in messages are cut short: an error about a 50-million-character
// id must not itself be 50 million characters.
function quote(text: string): string {
  return JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}…` : text);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? quote(value) : value === null ? 'null' : typeof value;
}

// A lone surrogate cannot be encoded as UTF-8 (TextEncoder writes U+FFFD for
// it), so two different ids would become the same stored id. In a /u class
// a surrogate range matches only unpaired surrogates.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function isWellFormed(text: string): boolean {
  const native = (text as { isWellFormed?: () => boolean }).isWellFormed;
  return typeof native === 'function' ? native.call(text) : !LONE_SURROGATE.test(text);
}

/**
 * The one rule for ids, applied by every method that takes one, before
 * anything is copied into WebAssembly memory: a non-empty, well-formed
 * Unicode string of at most maxBytes UTF-8 bytes. Returns its UTF-8 length.
 */
function checkId(id: unknown, maxBytes: number, what = 'id'): number {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${what} must be a non-empty string, got ${describe(id)}`);
  // Each UTF-16 unit takes at least one byte: a longer string is too long
  // without looking at it.
  if (id.length > maxBytes) throw invalid(`${what} is longer than ${maxBytes} UTF-8 bytes (${id.length} UTF-16 units): ${quote(id)}`);
  if (!isWellFormed(id)) throw invalid(`${what} is not well-formed Unicode (it has an unpaired surrogate): ${quote(id)}`);
  const bytes = utf8Length(id);
  if (bytes > maxBytes) throw invalid(`${what} is ${bytes} UTF-8 bytes, the limit is ${maxBytes}: ${quote(id)}`);
  return bytes;
}

// JSON for the core, with its UTF-8 length; the length is checked here so an
// oversized value is refused before it is copied into WebAssembly memory.
/** @internal Metadata as the JSON the core stores (undefined for none), or NOT_SERIALIZABLE. */
export function toJson(metadata: unknown, what = 'metadata'): string | undefined {
  if (metadata === undefined) return undefined;
  let json: string | undefined;
  try {
    json = JSON.stringify(metadata);
  } catch (e) {
    throw new TabvecError('NOT_SERIALIZABLE', `${what} cannot be stored as JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'string') throw new TabvecError('NOT_SERIALIZABLE', `${what} cannot be stored as JSON (got ${typeof metadata})`);
  return json;
}

function encodeMetadata(metadata: unknown, maxBytes: number, what = 'metadata'): { json: string; bytes: number } {
  const json = toJson(metadata, what);
  if (json === undefined) return { json: '', bytes: 0 };
  const bytes = json.length > maxBytes ? json.length : utf8Length(json);
  if (bytes > maxBytes) throw invalid(`${what} is at least ${bytes} bytes as JSON, the limit is ${maxBytes}`);
  return { json, bytes };
}

/**
 * A vector store in WebAssembly memory: a Vamana (DiskANN) graph over 8-bit
 * or float32 vectors, with string ids and JSON metadata kept inside the heap.
 *
 * Ids are non-empty, well-formed Unicode strings of at most 65535 UTF-8 bytes
 * (the core's MAX_ID_BYTES); every method taking an id throws INVALID_ARGUMENT
 * for any other value. Metadata is stored as JSON of at most 16 MiB.
 */
export class VectorStore<M = unknown> {
  readonly #runtime: Runtime;
  #native: NativeIndex | null;
  readonly #dim: number;
  // True while a filter callback of a search on this store runs: the core's
  // search scratch and result buffers are per store, so any call on this
  // store from there would corrupt the search in progress.
  #inFilter = false;
  // One set per addMany in progress: the ids other calls have written since
  // it started, which its rollback must leave as those calls left them.
  readonly #batches = new Set<Set<string>>();
  // A storage tier's rows (rerank 'storage'), which a LiveStore attaches.
  #rows: RowTier | undefined;
  // Full-text search (text.ts), in a store created with `text` or loaded from one.
  readonly #text: TextSupport | undefined;

  static {
    storeInternals = (store) => ({
      runtime: store.#runtime,
      native: store.#open(),
      attach: (rows) => {
        store.#rows = rows;
      },
      serializeSteps: () => store.#serializeSteps(),
    });
  }

  private constructor(runtime: Runtime, native: NativeIndex, text?: TextSupport) {
    this.#runtime = runtime;
    this.#native = native;
    this.#text = text;
    this.#dim = native.dim();
    finalizer.register(this, native, this);
  }

  /**
   * Creates an empty store.
   * @throws {TabvecError} INVALID_ARGUMENT for an option out of range or options that are not an object;
   *   WASM_UNAVAILABLE if the WebAssembly module cannot be loaded.
   */
  static async create<M = unknown>(options: VectorStoreOptions): Promise<VectorStore<M>> {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object with at least { dim }');
    checkOptions('options', options, CREATE_KEYS);
    // Text search code and its build of the module load only for a store that uses them.
    const textModule = options.text !== undefined && options.text !== false ? await import('./text.js') : undefined;
    const runtime = await loadRuntime(options.wasm, textModule !== undefined);
    const m = runtime.module;
    const metric = runtime.metrics.indexOf(options.metric ?? 'cosine');
    if (metric < 0) throw invalid(`metric must be one of ${runtime.metrics.join(', ')}, got ${String(options.metric)}`);
    const storage = runtime.storages.indexOf(options.storage ?? 'int8');
    if (storage < 0) throw invalid(`storage must be one of ${runtime.storages.join(', ')}, got ${String(options.storage)}`);
    const rerank = runtime.reranks.indexOf(options.rerank ?? 'none');
    if (rerank < 0) throw invalid(`rerank must be one of ${runtime.reranks.join(', ')}, got ${String(options.rerank)}`);
    const alpha = options.alpha ?? m.DEFAULT_ALPHA;
    if (typeof alpha !== 'number') throw invalid(`alpha must be a number, got ${typeof alpha}`);
    const maxMemoryBytes = checkByteCount('maxMemoryBytes', options.maxMemoryBytes ?? 0);
    const native = new m.Index();
    let text: TextSupport | undefined;
    try {
      text = textModule?.configure(runtime, native, options.text);
      check(runtime, native, native.create(checkUint32('dim', options.dim), metric, storage, rerank,
        checkUint32('maxDegree', options.maxDegree ?? m.DEFAULT_MAX_DEGREE),
        checkUint32('buildListSize', options.buildListSize ?? m.DEFAULT_BUILD_LIST_SIZE), alpha,
        checkUint32('searchListSize', options.searchListSize ?? m.DEFAULT_SEARCH_LIST_SIZE),
        checkUint32('maxBuffer', options.maxBuffer ?? m.DEFAULT_MAX_BUFFER), maxMemoryBytes));
    } catch (e) {
      native.delete();
      throw e;
    }
    return new VectorStore<M>(runtime, native, text);
  }

  /**
   * Loads a store from bytes produced by {@link VectorStore.serialize}.
   * @throws {TabvecError} CORRUPT_SNAPSHOT, UNSUPPORTED_VERSION, MEMORY_CAP_EXCEEDED, OUT_OF_MEMORY,
   *   INVALID_ARGUMENT (options not an object), WASM_UNAVAILABLE.
   */
  static async deserialize<M = unknown>(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Promise<VectorStore<M>> {
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
    if (!(view instanceof Uint8Array)) throw invalid('bytes must be a Uint8Array or ArrayBuffer');
    return VectorStore.load<M>({ bytes: view.byteLength, pieces: () => [view] }, options);
  }

  /**
   * @internal Loads a snapshot that arrives in pieces (storage reads it in
   * order): each piece is copied into the module through a small window and
   * loaded from there, so the whole snapshot is never held in WebAssembly
   * memory beside the store it becomes, and memory does not keep that peak.
   */
  static async load<M>(source: SnapshotSource, options: LoadOptions = {}): Promise<VectorStore<M>> {
    const opts = checkOptions('options', options, LOAD_KEYS);
    const maxMemoryBytes = checkByteCount('maxMemoryBytes', opts.maxMemoryBytes ?? 0);
    // Loading code is fetched on first use: a page that only creates stores does not download it.
    const { loadNative } = await import('./load.js');
    const { runtime, native, text } = await loadNative(source, maxMemoryBytes,
      (withText) => loadRuntime(opts.wasm, withText), () => import('./text.js'));
    return new VectorStore<M>(runtime, native, text);
  }

  /**
   * Opens a store saved with {@link VectorStore.save}. The bytes are checked
   * (checksum, version, structure) before anything is trusted.
   * @throws {TabvecError} NOT_FOUND (nothing was ever saved there), CORRUPT_SNAPSHOT, UNSUPPORTED_VERSION,
   *   STORAGE_UNAVAILABLE, INVALID_ARGUMENT, WASM_UNAVAILABLE.
   */
  static async open<M = unknown>(target: StorageTarget, options: OpenOptions = {}): Promise<VectorStore<M>> {
    const { recovery, ...load } = checkOptions('options', options, OPEN_KEYS);
    // Storage code is loaded on first use: a page that never saves does not download it.
    const [{ readSnapshot }, { openStored }] = await Promise.all([import('./persist.js'), import('./journal.js')]);
    return openStored(target, recovery, (prefix) => readSnapshot(target, prefix, (checkpoint) => VectorStore.load<M>(checkpoint, load)));
  }

  /**
   * Saves the store durably to OPFS or IndexedDB. Crash-safe: until the new
   * version is completely written, read back and found identical to what
   * serialize() produced (and valid by its own checksum), the previous one
   * stays the one that opens.
   * @throws {TabvecError} QUOTA_EXCEEDED, STORAGE_UNAVAILABLE (also when the bytes read back differ),
   *   CORRUPT_SNAPSHOT (see {@link VectorStore.serialize}), DISPOSED, REENTRANT_CALL.
   */
  async save(target: StorageTarget): Promise<SaveReport> {
    const bytes = this.serialize();
    const { writeSnapshot } = await import('./persist.js');
    return writeSnapshot(target, bytes);
  }

  get dim(): number {
    return this.#dim;
  }

  /** How many vectors are stored. */
  size(): number {
    return this.#open().size();
  }

  get metric(): Metric {
    return this.#runtime.metrics[this.#open().metric()] as Metric;
  }

  /**
   * Adds one vector.
   * @throws {TabvecError} DIMENSION_MISMATCH, NON_FINITE_VALUE, ZERO_VECTOR (cosine),
   *   DUPLICATE_ID, INVALID_ARGUMENT (bad id, metadata over 16 MiB), NOT_SERIALIZABLE,
   *   MEMORY_CAP_EXCEEDED, OUT_OF_MEMORY, DISPOSED, REENTRANT_CALL.
   */
  add(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): void {
    this.#writeOne('add', id, vector, metadata, options);
  }

  /**
   * Adds the vector, or replaces the vector, metadata and text of an existing id
   * (a text not given is removed, as metadata not given is).
   * @throws {TabvecError} as {@link VectorStore.add}, except DUPLICATE_ID.
   */
  upsert(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): void {
    this.#writeOne('upsert', id, vector, metadata, options);
  }

  /**
   * Adds n vectors given back to back in one Float32Array of n * dim values,
   * then merges them into the graph. All or nothing: on any error (including
   * one thrown by onProgress) nothing is added. See {@link VectorStore.addManyAsync}
   * for what a rollback leaves alone.
   * @throws {TabvecError} as {@link VectorStore.add}; INVALID_ARGUMENT for ids/metadata arrays
   *   of the wrong shape or options that are not an object.
   */
  addMany(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[], options: AddManyOptions = {}): void {
    const opts = checkOptions('options', options, ADD_MANY_KEYS);
    checkCallback('onProgress', opts.onProgress);
    // for-of calls the generator's return() if onProgress throws, which rolls the batch back.
    for (const progress of this.#addManySteps(ids, vectors, metadata, opts.texts, () => false, Infinity)) opts.onProgress?.(progress);
  }

  /**
   * addMany() in time slices of about 8 ms, yielding to the event loop between
   * them so a page stays responsive; cancellable with an AbortSignal (then
   * nothing is added and the promise rejects with ABORTED).
   *
   * Other calls may use the store while this runs. If the batch fails or is
   * aborted it removes only what it added itself: an id another call wrote
   * meanwhile (add, upsert, setMetadata, delete, another batch) is left as
   * that call left it, even if it is one of this batch's ids.
   *
   * Under int8 storage one thing is not undone: if the batch's values fell
   * outside the quantizer's range, the range was widened and every stored
   * code re-encoded on it (core/index.cpp, fit_quantizer); removing the batch
   * again leaves that widening, so other vectors read back by get() may differ
   * by up to half a quantization step. Ids, metadata, float32 vectors and
   * which vectors are stored are restored exactly.
   * @throws {TabvecError} as {@link VectorStore.addMany}; ABORTED; DISPOSED if the store is disposed
   *   meanwhile; INVALID_ARGUMENT if the vectors' buffer is detached (transferred) meanwhile.
   */
  async addManyAsync(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[],
    options: AddManyOptions & { signal?: AbortSignal } = {}): Promise<void> {
    const opts = checkOptions('options', options, ADD_MANY_ASYNC_KEYS);
    checkCallback('onProgress', opts.onProgress);
    const signal = opts.signal;
    if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean')) {
      throw invalid('signal must be an AbortSignal');
    }
    const steps = this.#addManySteps(ids, vectors, metadata, opts.texts, () => signal?.aborted === true, 8);
    try {
      for (;;) {
        const next = steps.next();
        if (next.done) return;
        opts.onProgress?.(next.value);
        await yieldToEventLoop();
      }
    } finally {
      // Unfinished (onProgress threw): return() runs the generator's rollback.
      steps.return();
    }
  }

  // Validates everything, copies in chunks, then links; yields progress after
  // each chunk and each time slice of linking. If it does not run to the end
  // (an error, an abort, or its consumer stopping) it removes what it added.
  *#addManySteps(ids: readonly string[], vectors: Float32Array, metadata: readonly (M | undefined)[] | undefined,
    texts: readonly (string | undefined)[] | undefined, aborted: () => boolean, sliceMs: number): Generator<AddManyProgress, void, void> {
    const native = this.#open();
    const rt = this.#runtime;
    if (!Array.isArray(ids)) throw invalid('ids must be an array of strings');
    // Our own copy: the caller may change its array while an async batch runs.
    const batch: string[] = ids.slice();
    const n = batch.length;
    const dim = this.#dim;
    this.#checkVector(vectors, n * dim, `vectors (${n} ids x dim ${dim})`);
    if (metadata !== undefined && (!Array.isArray(metadata) || metadata.length !== n)) {
      throw invalid(`metadata must be an array with one entry per id (${n})`);
    }
    // Validate everything before the first write, so a failure changes nothing.
    const idBytes = new Uint32Array(n);
    let longestId = 0;
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const id = batch[i]!;
      idBytes[i] = checkId(id, rt.maxIdBytes, `ids[${i}]`);
      longestId = Math.max(longestId, idBytes[i]!);
      if (seen.has(id)) throw new TabvecError('DUPLICATE_ID', `id ${quote(id)} appears twice in the batch`);
      seen.add(id);
      if (this.#slotOf(native, id, idBytes[i]!) >= 0) throw new TabvecError('DUPLICATE_ID', `id ${quote(id)} already exists`);
    }
    seen.clear();
    for (let i = 0; i < vectors.length; i++) {
      if (!Number.isFinite(vectors[i])) {
        throw new TabvecError('NON_FINITE_VALUE', `vector ${Math.floor(i / dim)} component ${i % dim} is ${vectors[i]}`);
      }
    }
    let encoded: string[] | undefined;
    let metaBytes: Uint32Array | undefined;
    if (metadata) {
      encoded = new Array<string>(n);
      metaBytes = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const e = encodeMetadata(metadata[i], rt.maxMetadataBytes, `metadata[${i}]`);
        encoded[i] = e.json;
        metaBytes[i] = e.bytes;
      }
    }
    const documents = texts === undefined ? undefined : yield* (this.#text ?? noText()).documents(texts, n, sliceMs);
    this.#checkStillOpen(native);
    const chunk = Math.max(1, Math.floor(COPY_CHUNK_BYTES / (dim * 4)));
    // Taken now, so that removing the batch again never needs an allocation
    // that could fail halfway through.
    const undoPtr = rt.malloc(longestId);
    try {
      check(rt, native, native.reserveRemovals(n));
    } catch (e) {
      rt.module._free(undoPtr);
      throw e;
    }
    const touched = new Set<string>();
    this.#batches.add(touched);
    let added = 0; // batch[0, added) are in the store because of this call
    let complete = false;
    const abortError = () => new TabvecError('ABORTED', `addMany was aborted; none of the ${n} vectors were added`);
    try {
      for (let start = 0; start < n; start += chunk) {
        this.#checkStillOpen(native);
        if (aborted()) throw abortError();
        // A detached (transferred) buffer reads as length 0.
        if (vectors.length !== n * dim) {
          throw invalid(`vectors changed length during addMany (was its buffer transferred?)`);
        }
        const end = Math.min(n, start + chunk);
        const status = this.#copyBatch(native, batch, idBytes, vectors, encoded, metaBytes, documents, start, end);
        check(rt, native, status);
        added = end;
        this.#wrote(batch, start, end, touched);
        yield { phase: 'copy', done: end, total: n };
      }
      this.#checkStillOpen(native);
      if (native.linkDue()) {
        let total = native.pending();
        let remaining = total;
        let done = 0;
        while (remaining > 0) {
          this.#checkStillOpen(native);
          if (aborted()) throw abortError();
          const sliceStart = performance.now();
          do {
            remaining = native.linkPending(sliceMs === Infinity ? LINK_STEP : 8);
          } while (remaining > 0 && !native.linkStalled() && performance.now() - sliceStart < sliceMs && sliceMs !== Infinity);
          // Without memory to link, the batch is still all there and searched
          // exactly from the buffer; linking resumes on later writes.
          const stalled = native.linkStalled();
          // Writes made meanwhile (at an await) can add work: the total grows, done never goes back.
          total = Math.max(total, done + remaining);
          done = total - remaining;
          yield { phase: 'index', done, total };
          if (stalled) break;
        }
      }
      complete = true;
    } finally {
      this.#batches.delete(touched);
      // A disposed store has nothing left to restore.
      if (!complete && this.#native === native) this.#removeBatch(native, batch, idBytes, added, touched, undoPtr);
      rt.module._free(undoPtr);
    }
  }

  // Removes batch[0, added) except the ids other calls wrote meanwhile; linked
  // ones become tombstones, which consolidate() then clears.
  #removeBatch(native: NativeIndex, batch: string[], idBytes: Uint32Array, added: number, touched: Set<string>, ptr: number): void {
    const rt = this.#runtime;
    let tombstones = false;
    // Newest first: the core then gives back the slots the batch took in the
    // reverse order it took them, which restores the store byte for byte.
    for (let i = added - 1; i >= 0; i--) {
      const id = batch[i]!;
      if (touched.has(id)) continue;
      const before = native.tombstones();
      native.remove(ptr, rt.writeUtf8(id, ptr, idBytes[i]!));
      if (native.tombstones() !== before) tombstones = true;
    }
    // Upkeep: without memory for it the tombstones wait for a later consolidate.
    if (tombstones && native.tombstones() > 0) native.consolidate();
  }

  #copyBatch(native: NativeIndex, ids: string[], idBytes: Uint32Array, vectors: Float32Array, encoded: string[] | undefined,
    metaBytes: Uint32Array | undefined, documents: (Uint8Array | undefined)[] | undefined, start: number, end: number): number {
    const rt = this.#runtime;
    const count = end - start;
    let textBytes = 0;
    for (let i = start; i < end; i++) textBytes += idBytes[i]! + (metaBytes ? metaBytes[i]! : 0);
    const vecBytes = count * this.#dim * 4;
    const rowRoom = this.#rowRoom(native, count);
    const docs = documents?.slice(start, end);
    return rt.withScratch(vecBytes + 8 * count + textBytes + rowRoom + (this.#text?.room(docs) ?? 0), (base) => {
      const idLensPtr = base + vecBytes;
      const metaLensPtr = idLensPtr + 4 * count;
      let cursor = metaLensPtr + 4 * count;
      rt.f32.set(vectors.subarray(start * this.#dim, end * this.#dim), base >>> 2);
      const idsPtr = cursor;
      for (let i = start; i < end; i++) {
        const len = rt.writeUtf8(ids[i]!, cursor, idBytes[i]!);
        rt.u32[(idLensPtr >>> 2) + i - start] = len;
        cursor += len;
      }
      const metaPtr = cursor;
      if (encoded) {
        for (let i = start; i < end; i++) {
          const len = rt.writeUtf8(encoded[i]!, cursor, metaBytes![i]!);
          rt.u32[(metaLensPtr >>> 2) + i - start] = len;
          cursor += len;
        }
      }
      const rowsPtr = rowRoom > 0 ? cursor : 0;
      // The text build is told of every write's texts, none included.
      this.#text?.setTexts(rt, native, docs, cursor + rowRoom);
      const firstRow = native.nextRow();
      const status = native.addBatch(count, idsPtr, idLensPtr, base, metaPtr, encoded ? metaLensPtr : 0, false, rowsPtr);
      if (status === 0 && rowRoom > 0) this.#rows!.stored(rt, native, firstRow, rowsPtr);
      return status;
    });
  }

  /**
   * Nearest neighbours of `query`, closest first (ties by insertion slot).
   * A `filter` callback must not call methods of this store (REENTRANT_CALL);
   * it may use other stores. An exception it throws propagates as is.
   * @throws {TabvecError} DIMENSION_MISMATCH, NON_FINITE_VALUE, ZERO_VECTOR, INVALID_ARGUMENT
   *   (also for options that are not an object), OUT_OF_MEMORY, DISPOSED, REENTRANT_CALL.
   */
  search(query: Float32Array, options: HybridSearchOptions<M>): HybridHit<M>[];
  search(query: Float32Array, options?: SearchOptions<M>): SearchHit<M>[];
  search(query: Float32Array, options: SearchOptions<M> | HybridSearchOptions<M> = {}): SearchHit<M>[] | HybridHit<M>[] {
    // Hybrid search's other options without `text` are unknown options below.
    if ('text' in Object(options)) return (this.#text ?? noText()).hybrid(this, this.#runtime, query, options as HybridSearchOptions<M>);
    const native = this.#open();
    const opts = checkOptions('options', options, SEARCH_KEYS);
    this.#checkVector(query, this.#dim, 'query');
    const k = checkUint32('k', opts.k ?? this.#runtime.module.DEFAULT_K);
    const listSize = checkUint32('listSize', opts.listSize ?? 0);
    const rerankFactor = checkUint32('rerankFactor', opts.rerankFactor ?? this.#runtime.module.DEFAULT_RERANK_FACTOR);
    const rt = this.#runtime;
    const status = this.#filtered(native, opts, (accept) => rt.withScratch(this.#dim * 4, (ptr) => {
      rt.f32.set(query, ptr >>> 2);
      return accept ? native.searchFiltered(ptr, k, listSize, rerankFactor, accept) : native.search(ptr, k, listSize, rerankFactor);
    }));
    check(rt, native, status);
    if (this.#keepsRows(native) && native.resultCount() > 0) {
      if (!this.#rows) rowsMissing();
      const rows = this.#rows;
      check(rt, native, rt.withScratch(this.#dim * 4, (ptr) => {
        rt.f32.set(query, ptr >>> 2);
        return rows.rescore(rt, native, ptr, k);
      }));
    }
    return this.#results<SearchHit<M>>(native, 'distance');
  }

  /**
   * The k documents whose text best matches `query`, by BM25 (best first,
   * ties by insertion slot). The query is tokenized as the documents were; a
   * query of stop words alone finds nothing. `filter` and `where` apply as in
   * {@link VectorStore.search}.
   * @throws {TabvecError} INVALID_ARGUMENT (a query that is not a non-empty string, too many words,
   *   bad options; a store without full-text search), OUT_OF_MEMORY, DISPOSED, REENTRANT_CALL.
   */
  searchText(query: string, options: TextSearchOptions<M> = {}): TextHit<M>[] {
    const native = this.#open();
    return (this.#text ?? noText()).search(this.#runtime, native, query, options,
      (opts, run) => this.#filtered(native, opts, run), () => this.#results<TextHit<M>>(native, 'score'));
  }

  // Runs a search with the options' filter and where as a slot predicate
  // (undefined without them). A filter's exception propagates as it was.
  #filtered(native: NativeIndex, opts: Pick<SearchOptions<M>, 'filter' | 'where'>,
    run: (accept: ((slot: number) => boolean) | undefined) => number): number {
    checkCallback('filter', opts.filter);
    const filter = combineFilters(opts.filter, opts.where);
    if (!filter) return run(undefined);
    let filterError: unknown;
    this.#inFilter = true;
    let status: number;
    try {
      status = run((slot: number) => {
        if (filterError !== undefined) return false;
        try {
          return filter(this.#metadataAt(native, slot), this.#idAt(native, slot)) === true;
        } catch (e) {
          filterError = e ?? new Error('filter threw');
          return false;
        }
      });
    } finally {
      this.#inFilter = false;
    }
    if (filterError !== undefined) throw filterError;
    return status;
  }

  // The last search's results, with the value each record carries under `key`.
  #results<H>(native: NativeIndex, key: 'distance' | 'score'): H[] {
    const rt = this.#runtime;
    const count = native.resultCount();
    const at = native.resultRecords() >>> 2;
    const u32 = rt.u32;
    const f32 = rt.f32;
    const hits: Record<string, unknown>[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const r = at + i * 6;
      const metaLen = u32[r + 5]!;
      hits[i] = {
        id: rt.readUtf8(u32[r + 2]!, u32[r + 3]!),
        [key]: f32[r + 1]!,
        metadata: metaLen === 0 ? undefined : (JSON.parse(rt.readUtf8(u32[r + 4]!, metaLen)) as M),
      };
    }
    return hits as H[];
  }

  /**
   * search() for each of n queries given back to back (n * dim values).
   * @throws {TabvecError} as {@link VectorStore.search}.
   */
  searchBatch(queries: Float32Array, options: SearchOptions<M> = {}): SearchHit<M>[][] {
    this.#open();
    checkOptions('options', options, SEARCH_KEYS);
    if (!(queries instanceof Float32Array) || queries.length % this.#dim !== 0) {
      throw new TabvecError('DIMENSION_MISMATCH', `queries must be a Float32Array whose length is a multiple of ${this.#dim}`);
    }
    const results: SearchHit<M>[][] = [];
    for (let at = 0; at < queries.length; at += this.#dim) results.push(this.search(queries.subarray(at, at + this.#dim), options));
    return results;
  }

  /**
   * True if the id is stored.
   * @throws {TabvecError} INVALID_ARGUMENT for an id that is not a non-empty, well-formed string
   *   of at most 65535 UTF-8 bytes; DISPOSED; REENTRANT_CALL.
   */
  has(id: string): boolean {
    const native = this.#open();
    return this.#slotOf(native, id, checkId(id, this.#runtime.maxIdBytes)) >= 0;
  }

  /**
   * The stored vector and metadata, or undefined for an unknown id. Under
   * int8 the vector is the re-ranking tier's (float16: about three significant
   * digits) or, without a tier, decoded from its 8-bit code, so approximate.
   * @throws {TabvecError} INVALID_ARGUMENT for an invalid id (as {@link VectorStore.has}); OUT_OF_MEMORY;
   *   DISPOSED; REENTRANT_CALL.
   */
  get(id: string): { vector: Float32Array; metadata: M | undefined } | undefined {
    const native = this.#open();
    const rt = this.#runtime;
    const idLen = checkId(id, rt.maxIdBytes);
    const vecBytes = this.#dim * 4;
    const found = rt.withScratch(vecBytes + idLen, (ptr) => {
      const len = rt.writeUtf8(id, ptr + vecBytes, idLen);
      const slot = native.slotOf(ptr + vecBytes, len);
      if (slot < 0) return undefined;
      if (!this.#keepsRows(native) || !(this.#rows ?? rowsMissing()).read(rt, native, ptr + vecBytes, len, ptr)) {
        check(rt, native, native.getVector(ptr + vecBytes, len, ptr, 0));
      }
      return { vector: rt.f32.slice(ptr >>> 2, (ptr >>> 2) + this.#dim), slot };
    });
    return found && { vector: found.vector, metadata: this.#metadataAt(native, found.slot) };
  }

  /**
   * Deletes a vector. Its slot is reclaimed by consolidation.
   * @throws {TabvecError} UNKNOWN_ID, INVALID_ARGUMENT (invalid id), DISPOSED, REENTRANT_CALL.
   */
  delete(id: string): void {
    const native = this.#open();
    const rt = this.#runtime;
    const idLen = checkId(id, rt.maxIdBytes);
    const status = rt.withScratch(idLen, (ptr) => native.remove(ptr, rt.writeUtf8(id, ptr, idLen)));
    check(rt, native, status);
    this.#wrote([id], 0, 1);
  }

  /**
   * Replaces an id's metadata; undefined removes it.
   * @throws {TabvecError} UNKNOWN_ID, INVALID_ARGUMENT (invalid id, metadata over 16 MiB), NOT_SERIALIZABLE,
   *   MEMORY_CAP_EXCEEDED, OUT_OF_MEMORY, DISPOSED, REENTRANT_CALL.
   */
  setMetadata(id: string, metadata: M | undefined): void {
    const native = this.#open();
    const rt = this.#runtime;
    const idLen = checkId(id, rt.maxIdBytes);
    const { json, bytes } = encodeMetadata(metadata, rt.maxMetadataBytes);
    const status = rt.withScratch(idLen + bytes, (ptr) => {
      const written = rt.writeUtf8(id, ptr, idLen);
      const metaLen = rt.writeUtf8(json, ptr + written, bytes);
      return native.setMetadata(ptr, written, ptr + written, metaLen);
    });
    check(rt, native, status);
    this.#wrote([id], 0, 1);
  }

  /**
   * Merges the write buffer into the graph now (otherwise it happens as the buffer fills).
   * @throws {TabvecError} OUT_OF_MEMORY when memory for linking ran out; what was
   *   not linked stays in the buffer, stored and searchable.
   */
  flush(): void {
    const native = this.#open();
    native.linkPending(0xffffffff);
    if (native.linkStalled()) throw this.#runtime.statusError(this.#runtime.module.STATUS_OUT_OF_MEMORY, '');
  }

  /**
   * Repairs the graph around deleted vectors and frees their memory for reuse; returns how many were removed.
   * @throws {TabvecError} OUT_OF_MEMORY (nothing changed).
   */
  consolidate(): number {
    const native = this.#open();
    const status = native.consolidate();
    check(this.#runtime, native, status);
    return native.consolidated();
  }

  /**
   * The whole store as bytes (versioned, checksummed), for {@link VectorStore.deserialize}.
   * The bytes are checked against their own CRC before they are returned, so
   * a wrong read of WebAssembly memory is never handed out (or saved).
   * @throws {TabvecError} CORRUPT_SNAPSHOT if that check fails, OUT_OF_MEMORY, DISPOSED, REENTRANT_CALL.
   */
  serialize(): Uint8Array {
    const steps = this.#serializeSteps();
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  // Copies the snapshot out through a bounded window (a second whole copy of
  // the store in WebAssembly memory would double its peak, and that memory
  // never shrinks), then sends what landed in `bytes` back through the window
  // to the core's checksum. Yields after each window.
  *#serializeSteps(): Generator<void, Uint8Array, void> {
    const native = this.#open();
    const rt = this.#runtime;
    const size = native.serializeStart();
    const window = Math.max(8, Math.min(size, SERIALIZE_WINDOW_BYTES));
    const bytes = new Uint8Array(size);
    const ptr = rt.malloc(window);
    const checksum = rt.malloc(rt.module.SNAPSHOT_CHECKSUM_STATE_BYTES);
    let problem: string | undefined;
    try {
      for (let at = 0; at < size; ) {
        this.#checkStillOpen(native);
        const len = native.serializeNext(ptr, Math.min(window, size - at));
        if (len === 0) {
          problem = `the core ended the snapshot after ${at} of ${size} bytes`;
          break;
        }
        bytes.set(rt.u8.subarray(ptr, ptr + len), at);
        at += len;
        yield;
      }
      if (problem === undefined) {
        rt.u8.fill(0, checksum, checksum + rt.module.SNAPSHOT_CHECKSUM_STATE_BYTES);
        let sum = 0;
        for (let at = 0, end = Math.max(0, size - 4); at < end; at += window) {
          const len = Math.min(window, end - at);
          rt.u8.set(bytes.subarray(at, at + len), ptr);
          sum = rt.module.snapshotChecksum(checksum, ptr, len);
          yield;
        }
        problem = snapshotProblem(bytes, sum >>> 0);
      }
    } finally {
      rt.module._free(ptr);
      rt.module._free(checksum);
    }
    if (problem !== undefined) {
      throw new TabvecError('CORRUPT_SNAPSHOT', `serialize() read ${size} bytes from WebAssembly memory that are not a valid snapshot (${problem}); nothing was returned`);
    }
    return bytes;
  }

  stats(): StoreStats {
    const native = this.#open();
    const rt = this.#runtime;
    const memory = rt.withScratch(COMPONENTS.length * 16, (ptr) => {
      native.memoryStats(ptr);
      return Array.from(rt.f64.subarray(ptr >>> 3, (ptr >>> 3) + COMPONENTS.length * 2));
    });
    const parts = {} as StoreStats['memory'];
    let used = 0;
    let reserved = 0;
    COMPONENTS.forEach((name, i) => {
      parts[name] = { used: memory[2 * i]!, reserved: memory[2 * i + 1]! };
      used += memory[2 * i]!;
      reserved += memory[2 * i + 1]!;
    });
    parts.total = { used, reserved };
    const size = native.size();
    return {
      size,
      dim: this.#dim,
      metric: rt.metrics[native.metric()] as Metric,
      storage: rt.storages[native.storage()] as Storage,
      rerank: rt.reranks[native.rerank()] as Rerank,
      tombstones: native.tombstones(),
      pending: native.pending(),
      memory: parts,
      texts: native.textSize?.() ?? 0,
      bytesPerVector: size > 0 ? reserved / size : 0,
      wasmMemoryBytes: rt.u8.buffer.byteLength,
      simd: rt.simd,
    };
  }

  /**
   * Frees the store's WebAssembly memory. Safe to call twice; later calls on
   * the store throw DISPOSED, and an addManyAsync in progress rejects with DISPOSED.
   * @throws {TabvecError} REENTRANT_CALL from inside a filter of this store's search.
   */
  dispose(): void {
    if (!this.#native) return;
    if (this.#inFilter) throw reentrant();
    finalizer.unregister(this);
    this.#native.delete();
    this.#native = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #open(): NativeIndex {
    if (!this.#native) throw new TabvecError('DISPOSED', 'this VectorStore has been disposed');
    if (this.#inFilter) throw reentrant();
    return this.#native;
  }

  #checkStillOpen(native: NativeIndex): void {
    if (this.#native !== native) throw new TabvecError('DISPOSED', 'this VectorStore was disposed while the call was running');
  }

  #checkVector(v: unknown, length: number, what: string): asserts v is Float32Array {
    if (!(v instanceof Float32Array)) throw invalid(`${what} must be a Float32Array`);
    if (v.length !== length) {
      throw new TabvecError('DIMENSION_MISMATCH', `${what} has ${v.length} components, expected ${length}`);
    }
  }

  // Records ids[start, end) as written by a call other than the batches in
  // progress (except `own`), so their rollbacks leave them alone.
  #wrote(ids: readonly string[], start: number, end: number, own?: Set<string>): void {
    for (const touched of this.#batches) {
      if (touched === own) continue;
      for (let i = start; i < end; i++) touched.add(ids[i]!);
    }
  }

  #slotOf(native: NativeIndex, id: string, idLen: number): number {
    const rt = this.#runtime;
    return rt.withScratch(idLen, (ptr) => native.slotOf(ptr, rt.writeUtf8(id, ptr, idLen)));
  }

  #writeOne(kind: 'add' | 'upsert', id: string, vector: Float32Array, metadata: M | undefined, options: WriteOptions | undefined): void {
    const native = this.#open();
    const rt = this.#runtime;
    const opts = checkOptions('options', options, ['text']);
    const idLen = checkId(id, rt.maxIdBytes);
    this.#checkVector(vector, this.#dim, 'vector');
    const { json, bytes } = encodeMetadata(metadata, rt.maxMetadataBytes);
    const docs = opts.text === undefined ? undefined : [(this.#text ?? noText()).document(opts.text)];
    const vecBytes = this.#dim * 4;
    const rowRoom = this.#rowRoom(native, 1);
    const status = rt.withScratch(vecBytes + idLen + bytes + rowRoom + (this.#text?.room(docs) ?? 0), (ptr) => {
      rt.f32.set(vector, ptr >>> 2);
      const written = rt.writeUtf8(id, ptr + vecBytes, idLen);
      const metaPtr = ptr + vecBytes + written;
      const metaLen = rt.writeUtf8(json, metaPtr, bytes);
      const rowsPtr = rowRoom > 0 ? metaPtr + metaLen : 0;
      this.#text?.setTexts(rt, native, docs, metaPtr + metaLen + rowRoom);
      const firstRow = native.nextRow();
      const st = kind === 'add' ? native.add(ptr + vecBytes, written, ptr, metaPtr, metaLen, rowsPtr)
        : native.upsert(ptr + vecBytes, written, ptr, metaPtr, metaLen, rowsPtr);
      if (st === 0 && rowRoom > 0) this.#rows!.stored(rt, native, firstRow, rowsPtr);
      return st;
    });
    check(rt, native, status);
    this.#wrote([id], 0, 1);
  }

  // Whether the store has a storage tier (rerank 'storage'): its exact vectors are rows in a file.
  #keepsRows(native: NativeIndex): boolean {
    return this.#runtime.reranks[native.rerank()] === 'storage';
  }

  // Scratch bytes the core needs for the rows of n new vectors: 0 without a storage tier.
  #rowRoom(native: NativeIndex, n: number): number {
    if (!this.#keepsRows(native)) return 0;
    if (!this.#rows) rowsMissing();
    return native.rowRoom(n);
  }

  #idAt(native: NativeIndex, slot: number): string {
    return this.#runtime.readUtf8(native.idPtr(slot), native.idLen(slot));
  }

  #metadataAt(native: NativeIndex, slot: number): M | undefined {
    const len = native.metadataLen(slot);
    return len === 0 ? undefined : (JSON.parse(this.#runtime.readUtf8(native.metadataPtr(slot), len)) as M);
  }
}

function noText(): never {
  throw invalid('this store has no text: create it with { text: true }');
}

function reentrant(): TabvecError {
  return new TabvecError('REENTRANT_CALL',
    "this store's methods cannot be called from inside a filter of its own search (other stores can be)");
}
