import { TabvecError, errorFromStatus } from './errors.js';
import type { NativeIndex } from './module-types.js';
import { type SaveReport, type StorageTarget, readSnapshot, writeSnapshot } from './persist.js';
import { type Runtime, type WasmFlavor, loadRuntime } from './runtime.js';

// Node 20 has no Symbol.dispose yet; TypeScript's `using` looks it up here.
if (typeof (Symbol as { dispose?: symbol }).dispose !== 'symbol') {
  Object.defineProperty(Symbol, 'dispose', { value: Symbol.for('Symbol.dispose') });
}

/** Distance function. 'l2' is squared Euclidean distance. */
export type Metric = 'cosine' | 'l2' | 'ip';
/** How vectors are kept: 8-bit scalar codes (default) or full float32. */
export type Storage = 'int8' | 'float32';

const METRICS: readonly Metric[] = ['l2', 'ip', 'cosine']; // index = core Metric value
const STORAGES: readonly Storage[] = ['int8', 'float32'];

export interface VectorStoreOptions {
  /** Vector length, 1..16384. */
  dim: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Default 'int8': a quarter of float32's memory for about a point of recall. */
  storage?: Storage;
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
}

export interface LoadOptions {
  maxMemoryBytes?: number;
  wasm?: WasmFlavor;
}

export interface SearchOptions<M> {
  /** Number of results, default 10. */
  k?: number;
  /** Search list size L for this query (at least k); defaults to the store's searchListSize. */
  listSize?: number;
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
  phase: 'copy' | 'index';
  done: number;
  total: number;
}

export interface AddManyOptions {
  onProgress?: (progress: AddManyProgress) => void;
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
  /** Deleted vectors still in the graph until consolidate() (or automatic consolidation). */
  tombstones: number;
  /** Vectors waiting in the write buffer, searched exactly until merged. */
  pending: number;
  memory: Record<'vectors' | 'graph' | 'ids' | 'metadata' | 'buffer' | 'other' | 'total', MemoryUse>;
  /** Reserved bytes per stored vector (0 when empty). */
  bytesPerVector: number;
  /** Size of the shared WebAssembly memory (all stores of this flavor). */
  wasmMemoryBytes: number;
  simd: boolean;
}

const COMPONENTS = ['vectors', 'graph', 'ids', 'metadata', 'buffer', 'other'] as const;
// Vectors per addBatch call in addMany: bounds the scratch copy to ~1 MiB.
const COPY_CHUNK_BYTES = 1 << 20;
const LINK_STEP = 256;

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

// A macrotask boundary: lets timers, input and worker messages run.
function yieldToEventLoop(): Promise<void> {
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

function checkInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

function checkId(id: unknown, what = 'id'): string {
  if (typeof id !== 'string' || id.length === 0) throw invalid(`${what} must be a non-empty string, got ${JSON.stringify(id) ?? String(id)}`);
  return id;
}

function encodeMetadata(metadata: unknown, what = 'metadata'): string {
  if (metadata === undefined) return '';
  let json: string | undefined;
  try {
    json = JSON.stringify(metadata);
  } catch (e) {
    throw new TabvecError('NOT_SERIALIZABLE', `${what} cannot be stored as JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'string') throw new TabvecError('NOT_SERIALIZABLE', `${what} cannot be stored as JSON (got ${typeof metadata})`);
  return json;
}

/**
 * A vector store in WebAssembly memory: a Vamana (DiskANN) graph over 8-bit
 * or float32 vectors, with string ids and JSON metadata kept inside the heap.
 */
export class VectorStore<M = unknown> {
  readonly #runtime: Runtime;
  #native: NativeIndex | null;
  readonly #dim: number;
  readonly #maxBuffer: number;

  private constructor(runtime: Runtime, native: NativeIndex, maxBuffer: number) {
    this.#runtime = runtime;
    this.#native = native;
    this.#dim = native.dim();
    this.#maxBuffer = maxBuffer;
    finalizer.register(this, native, this);
  }

  /**
   * Creates an empty store.
   * @throws {TabvecError} INVALID_ARGUMENT for an option out of range.
   */
  static async create<M = unknown>(options: VectorStoreOptions): Promise<VectorStore<M>> {
    if (typeof options !== 'object' || options === null) throw invalid('options must be an object with at least { dim }');
    const dim = checkInteger('dim', options.dim, 1, 16384);
    const metric = options.metric ?? 'cosine';
    if (!METRICS.includes(metric)) throw invalid(`metric must be one of ${METRICS.join(', ')}, got ${String(metric)}`);
    const storage = options.storage ?? 'int8';
    if (!STORAGES.includes(storage)) throw invalid(`storage must be one of ${STORAGES.join(', ')}, got ${String(storage)}`);
    const maxDegree = checkInteger('maxDegree', options.maxDegree ?? 32, 2, 256);
    const buildListSize = checkInteger('buildListSize', options.buildListSize ?? 64, 1, 4096);
    const searchListSize = checkInteger('searchListSize', options.searchListSize ?? 64, 1, 4096);
    const maxBuffer = checkInteger('maxBuffer', options.maxBuffer ?? 256, 1, 65536);
    const alpha = options.alpha ?? 1.2;
    if (typeof alpha !== 'number' || !(alpha >= 1 && alpha <= 4)) throw invalid(`alpha must be a number in [1, 4], got ${String(alpha)}`);
    const maxMemoryBytes = checkInteger('maxMemoryBytes', options.maxMemoryBytes ?? 0, 0, Number.MAX_SAFE_INTEGER);
    const runtime = await loadRuntime(options.wasm);
    const native = new runtime.module.Index();
    const status = native.create(dim, METRICS.indexOf(metric), STORAGES.indexOf(storage), maxDegree, buildListSize,
      alpha, searchListSize, maxBuffer, maxMemoryBytes);
    if (status !== 0) {
      const error = errorFromStatus(status, native.lastError());
      native.delete();
      throw error;
    }
    return new VectorStore<M>(runtime, native, maxBuffer);
  }

  /**
   * Loads a store from bytes produced by {@link VectorStore.serialize}.
   * @throws {TabvecError} CORRUPT_SNAPSHOT, UNSUPPORTED_VERSION or MEMORY_CAP_EXCEEDED.
   */
  static async deserialize<M = unknown>(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Promise<VectorStore<M>> {
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
    if (!(view instanceof Uint8Array)) throw invalid('bytes must be a Uint8Array or ArrayBuffer');
    const maxMemoryBytes = checkInteger('maxMemoryBytes', options.maxMemoryBytes ?? 0, 0, Number.MAX_SAFE_INTEGER);
    const runtime = await loadRuntime(options.wasm);
    const native = new runtime.module.Index();
    const ptr = runtime.malloc(view.byteLength);
    let status: number;
    try {
      runtime.u8.set(view, ptr);
      status = native.load(ptr, view.byteLength, maxMemoryBytes);
    } finally {
      runtime.module._free(ptr);
    }
    if (status !== 0) {
      const error = errorFromStatus(status, native.lastError());
      native.delete();
      throw error;
    }
    return new VectorStore<M>(runtime, native, 256);
  }

  /**
   * Opens a store saved with {@link VectorStore.save}. The bytes are checked
   * (checksum, version, structure) before anything is trusted.
   * @throws {TabvecError} NOT_FOUND, CORRUPT_SNAPSHOT, UNSUPPORTED_VERSION, STORAGE_UNAVAILABLE.
   */
  static async open<M = unknown>(target: StorageTarget, options: LoadOptions = {}): Promise<VectorStore<M>> {
    return VectorStore.deserialize<M>(await readSnapshot(target), options);
  }

  /**
   * Saves the store durably to OPFS or IndexedDB. Crash-safe: until the new
   * version is completely written the previous one stays the one that opens.
   * @throws {TabvecError} QUOTA_EXCEEDED, STORAGE_UNAVAILABLE.
   */
  async save(target: StorageTarget): Promise<SaveReport> {
    return writeSnapshot(target, this.serialize());
  }

  get dim(): number {
    return this.#dim;
  }

  get size(): number {
    return this.#open().size();
  }

  get metric(): Metric {
    return METRICS[this.#open().metric()]!;
  }

  /**
   * Adds one vector.
   * @throws {TabvecError} DIMENSION_MISMATCH, NON_FINITE_VALUE, ZERO_VECTOR (cosine),
   *   DUPLICATE_ID, NOT_SERIALIZABLE, MEMORY_CAP_EXCEEDED, DISPOSED.
   */
  add(id: string, vector: Float32Array, metadata?: M): void {
    this.#writeOne('add', id, vector, metadata);
  }

  /** Adds the vector, or replaces the vector and metadata of an existing id. */
  upsert(id: string, vector: Float32Array, metadata?: M): void {
    this.#writeOne('upsert', id, vector, metadata);
  }

  /**
   * Adds n vectors given back to back in one Float32Array of n * dim values,
   * then merges them into the graph. All or nothing: on any error nothing is added.
   */
  addMany(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[], options: AddManyOptions = {}): void {
    for (const progress of this.#addManySteps(ids, vectors, metadata, () => false, Infinity)) options.onProgress?.(progress);
  }

  /**
   * addMany() in time slices of about 8 ms, yielding to the event loop between
   * them so a page stays responsive; cancellable with an AbortSignal (then
   * nothing is added and the promise rejects with ABORTED).
   */
  async addManyAsync(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[],
    options: AddManyOptions & { signal?: AbortSignal } = {}): Promise<void> {
    const signal = options.signal;
    const steps = this.#addManySteps(ids, vectors, metadata, () => signal?.aborted === true, 8);
    for (;;) {
      const next = steps.next();
      if (next.done) return;
      options.onProgress?.(next.value);
      await yieldToEventLoop();
    }
  }

  // Validates everything, copies in chunks, then links; yields progress after
  // each chunk and each time slice of linking.
  *#addManySteps(ids: readonly string[], vectors: Float32Array, metadata: readonly (M | undefined)[] | undefined,
    aborted: () => boolean, sliceMs: number): Generator<AddManyProgress, void, void> {
    const native = this.#open();
    if (!Array.isArray(ids)) throw invalid('ids must be an array of strings');
    const n = ids.length;
    this.#checkVector(vectors, n * this.#dim, `vectors (${n} ids x dim ${this.#dim})`);
    if (metadata !== undefined && (!Array.isArray(metadata) || metadata.length !== n)) {
      throw invalid(`metadata must be an array with one entry per id (${n})`);
    }
    // Validate everything before the first write, so a failure changes nothing.
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const id = checkId(ids[i], `ids[${i}]`);
      if (seen.has(id)) throw new TabvecError('DUPLICATE_ID', `id '${id}' appears twice in the batch`);
      seen.add(id);
      if (this.has(id)) throw new TabvecError('DUPLICATE_ID', `id '${id}' already exists`);
    }
    seen.clear();
    for (let i = 0; i < vectors.length; i++) {
      if (!Number.isFinite(vectors[i])) {
        throw new TabvecError('NON_FINITE_VALUE', `vector ${Math.floor(i / this.#dim)} component ${i % this.#dim} is ${vectors[i]}`);
      }
    }
    const encoded = metadata?.map((m, i) => encodeMetadata(m, `metadata[${i}]`));
    const chunk = Math.max(1, Math.floor(COPY_CHUNK_BYTES / (this.#dim * 4)));
    let added = 0;
    const rollback = (error: unknown): never => {
      // Remove what earlier chunks added; linked ones become tombstones that consolidate() clears.
      for (let i = 0; i < added; i++) this.#withId(ids[i]!, (p, l) => native.remove(p, l));
      if (native.tombstones() > 0) native.consolidate();
      throw error;
    };
    const abortError = () => new TabvecError('ABORTED', `addMany was aborted; none of the ${n} vectors were added`);
    for (let start = 0; start < n; start += chunk) {
      if (aborted()) rollback(abortError());
      const end = Math.min(n, start + chunk);
      const status = this.#copyBatch(ids, vectors, encoded, start, end);
      if (status !== 0) rollback(errorFromStatus(status, native.lastError()));
      added = end;
      yield { phase: 'copy', done: end, total: n };
    }
    if (native.pending() < this.#maxBuffer) return;
    const total = native.pending();
    let remaining = total;
    while (remaining > 0) {
      if (aborted()) rollback(abortError());
      const sliceStart = performance.now();
      do {
        remaining = native.linkPending(sliceMs === Infinity ? LINK_STEP : 8);
      } while (remaining > 0 && performance.now() - sliceStart < sliceMs && sliceMs !== Infinity);
      yield { phase: 'index', done: total - remaining, total };
    }
  }

  #copyBatch(ids: readonly string[], vectors: Float32Array, encoded: string[] | undefined, start: number, end: number): number {
    const native = this.#native!;
    const rt = this.#runtime;
    const count = end - start;
    let textBytes = 0;
    for (let i = start; i < end; i++) textBytes += (ids[i]!.length + (encoded ? encoded[i]!.length : 0)) * 3;
    const vecBytes = count * this.#dim * 4;
    return rt.withScratch(vecBytes + 8 * count + textBytes + 16, (base) => {
      const idLensPtr = base + vecBytes;
      const metaLensPtr = idLensPtr + 4 * count;
      let cursor = metaLensPtr + 4 * count;
      rt.f32.set(vectors.subarray(start * this.#dim, end * this.#dim), base >> 2);
      const idsPtr = cursor;
      for (let i = start; i < end; i++) {
        const len = rt.writeUtf8(ids[i]!, cursor);
        rt.u32[(idLensPtr >> 2) + i - start] = len;
        cursor += len;
      }
      const metaPtr = cursor;
      if (encoded) {
        for (let i = start; i < end; i++) {
          const len = rt.writeUtf8(encoded[i]!, cursor);
          rt.u32[(metaLensPtr >> 2) + i - start] = len;
          cursor += len;
        }
      }
      return native.addBatch(count, idsPtr, idLensPtr, base, metaPtr, encoded ? metaLensPtr : 0, false);
    });
  }

  /**
   * Nearest neighbours of `query`, closest first (ties by insertion slot).
   * @throws {TabvecError} DIMENSION_MISMATCH, NON_FINITE_VALUE, ZERO_VECTOR, INVALID_ARGUMENT.
   */
  search(query: Float32Array, options: SearchOptions<M> = {}): SearchHit<M>[] {
    const native = this.#open();
    this.#checkVector(query, this.#dim, 'query');
    const k = checkInteger('k', options.k ?? 10, 1, 4096);
    const listSize = checkInteger('listSize', options.listSize ?? 0, 0, 4096);
    if (options.filter !== undefined && typeof options.filter !== 'function') throw invalid('filter must be a function');
    const filter = combineFilters(options.filter, options.where);
    const rt = this.#runtime;
    let filterError: unknown;
    const status = rt.withScratch(this.#dim * 4, (ptr) => {
      rt.f32.set(query, ptr >> 2);
      if (!filter) return native.search(ptr, k, listSize);
      return native.searchFiltered(ptr, k, listSize, (slot: number) => {
        if (filterError !== undefined) return false;
        try {
          return filter(this.#metadataAt(slot), this.#idAt(slot)) === true;
        } catch (e) {
          filterError = e ?? new Error('filter threw');
          return false;
        }
      });
    });
    if (filterError !== undefined) throw filterError;
    if (status !== 0) throw errorFromStatus(status, native.lastError());
    const count = native.resultCount();
    const at = native.resultRecords() >> 2;
    const u32 = rt.u32;
    const f32 = rt.f32;
    const hits: SearchHit<M>[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const r = at + i * 6;
      const metaLen = u32[r + 5]!;
      hits[i] = {
        id: rt.readUtf8(u32[r + 2]!, u32[r + 3]!),
        distance: f32[r + 1]!,
        metadata: metaLen === 0 ? undefined : (JSON.parse(rt.readUtf8(u32[r + 4]!, metaLen)) as M),
      };
    }
    return hits;
  }

  /** search() for each of n queries given back to back (n * dim values). */
  searchBatch(queries: Float32Array, options: SearchOptions<M> = {}): SearchHit<M>[][] {
    this.#open();
    if (!(queries instanceof Float32Array) || queries.length % this.#dim !== 0) {
      throw new TabvecError('DIMENSION_MISMATCH', `queries must be a Float32Array whose length is a multiple of ${this.#dim}`);
    }
    const results: SearchHit<M>[][] = [];
    for (let at = 0; at < queries.length; at += this.#dim) results.push(this.search(queries.subarray(at, at + this.#dim), options));
    return results;
  }

  has(id: string): boolean {
    const native = this.#open();
    if (typeof id !== 'string' || id.length === 0) return false;
    return this.#withId(id, (p, l) => native.slotOf(p, l)) >= 0;
  }

  /**
   * The stored vector (decoded from its 8-bit code under int8, so approximate)
   * and metadata, or undefined for an unknown id.
   */
  get(id: string): { vector: Float32Array; metadata: M | undefined } | undefined {
    const native = this.#open();
    if (typeof id !== 'string' || id.length === 0) return undefined;
    const rt = this.#runtime;
    const found = rt.withScratch(this.#dim * 4 + id.length * 3, (ptr) => {
      const len = rt.writeUtf8(id, ptr + this.#dim * 4);
      const slot = native.slotOf(ptr + this.#dim * 4, len);
      if (slot < 0) return undefined;
      native.getVector(ptr + this.#dim * 4, len, ptr);
      return { vector: rt.f32.slice(ptr >> 2, (ptr >> 2) + this.#dim), slot };
    });
    return found && { vector: found.vector, metadata: this.#metadataAt(found.slot) };
  }

  /**
   * Deletes a vector. Its slot is reclaimed by consolidation.
   * @throws {TabvecError} UNKNOWN_ID.
   */
  delete(id: string): void {
    const native = this.#open();
    checkId(id);
    const status = this.#withId(id, (p, l) => native.remove(p, l));
    if (status !== 0) throw errorFromStatus(status, native.lastError());
  }

  /** Replaces an id's metadata; undefined removes it. */
  setMetadata(id: string, metadata: M | undefined): void {
    const native = this.#open();
    checkId(id);
    const json = encodeMetadata(metadata);
    const rt = this.#runtime;
    const status = rt.withScratch(id.length * 3 + json.length * 3, (ptr) => {
      const idLen = rt.writeUtf8(id, ptr);
      const metaLen = rt.writeUtf8(json, ptr + idLen);
      return native.setMetadata(ptr, idLen, ptr + idLen, metaLen);
    });
    if (status !== 0) throw errorFromStatus(status, native.lastError());
  }

  /** Merges the write buffer into the graph now (otherwise it happens as the buffer fills). */
  flush(): void {
    this.#open().linkPending(0xffffffff);
  }

  /** Repairs the graph around deleted vectors and frees their memory for reuse; returns how many were removed. */
  consolidate(): number {
    return this.#open().consolidate();
  }

  /** The whole store as bytes (versioned, checksummed), for {@link VectorStore.deserialize}. */
  serialize(): Uint8Array {
    const native = this.#open();
    const rt = this.#runtime;
    const size = native.serializedSize();
    const ptr = rt.malloc(size);
    try {
      native.serialize(ptr);
      return rt.u8.slice(ptr, ptr + size);
    } finally {
      rt.module._free(ptr);
    }
  }

  stats(): StoreStats {
    const native = this.#open();
    const rt = this.#runtime;
    const memory = rt.withScratch(12 * 8, (ptr) => {
      native.memoryStats(ptr);
      return Array.from(rt.f64.subarray(ptr >> 3, (ptr >> 3) + 12));
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
      metric: METRICS[native.metric()]!,
      storage: STORAGES[native.storage()]!,
      tombstones: native.tombstones(),
      pending: native.pending(),
      memory: parts,
      bytesPerVector: size > 0 ? reserved / size : 0,
      wasmMemoryBytes: rt.u8.buffer.byteLength,
      simd: rt.simd,
    };
  }

  /** Frees the store's WebAssembly memory. Safe to call twice; later calls on the store throw DISPOSED. */
  dispose(): void {
    if (!this.#native) return;
    finalizer.unregister(this);
    this.#native.delete();
    this.#native = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  #open(): NativeIndex {
    if (!this.#native) throw new TabvecError('DISPOSED', 'this VectorStore has been disposed');
    return this.#native;
  }

  #checkVector(v: unknown, length: number, what: string): asserts v is Float32Array {
    if (!(v instanceof Float32Array)) throw invalid(`${what} must be a Float32Array`);
    if (v.length !== length) {
      throw new TabvecError('DIMENSION_MISMATCH', `${what} has ${v.length} components, expected ${length}`);
    }
  }

  #writeOne(kind: 'add' | 'upsert', id: string, vector: Float32Array, metadata: M | undefined): void {
    const native = this.#open();
    checkId(id);
    this.#checkVector(vector, this.#dim, 'vector');
    const json = encodeMetadata(metadata);
    const rt = this.#runtime;
    const vecBytes = this.#dim * 4;
    const status = rt.withScratch(vecBytes + id.length * 3 + json.length * 3, (ptr) => {
      rt.f32.set(vector, ptr >> 2);
      const idLen = rt.writeUtf8(id, ptr + vecBytes);
      const metaPtr = ptr + vecBytes + idLen;
      const metaLen = rt.writeUtf8(json, metaPtr);
      return kind === 'add' ? native.add(ptr + vecBytes, idLen, ptr, metaPtr, metaLen)
        : native.upsert(ptr + vecBytes, idLen, ptr, metaPtr, metaLen);
    });
    if (status !== 0) throw errorFromStatus(status, native.lastError());
  }

  #withId<T>(id: string, fn: (ptr: number, len: number) => T): T {
    const rt = this.#runtime;
    return rt.withScratch(id.length * 3, (ptr) => fn(ptr, rt.writeUtf8(id, ptr)));
  }

  #idAt(slot: number): string {
    const native = this.#native!;
    return this.#runtime.readUtf8(native.idPtr(slot), native.idLen(slot));
  }

  #metadataAt(slot: number): M | undefined {
    const native = this.#native!;
    const len = native.metadataLen(slot);
    return len === 0 ? undefined : (JSON.parse(this.#runtime.readUtf8(native.metadataPtr(slot), len)) as M);
  }
}
