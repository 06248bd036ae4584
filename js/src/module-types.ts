/** @internal The Embind surface of wasm/bindings.cpp. Pointers are heap offsets. */
export interface NativeIndex {
  create(dim: number, metric: number, storage: number, rerank: number, maxDegree: number, buildListSize: number,
    alpha: number, searchListSize: number, maxBuffer: number, maxMemoryBytes: number): number;
  loadStart(length: number, maxMemoryBytes: number): number;
  loadFeed(bytes: number, length: number): number;
  loadFinish(): number;
  lastError(): string;
  /** `rows`: 0, or under a storage tier room for rowsNeeded(n) rows, which receive rows [nextRow() before, nextRow() after). */
  add(id: number, idLen: number, vector: number, meta: number, metaLen: number, rows: number): number;
  addBatch(n: number, ids: number, idLens: number, vectors: number, meta: number, metaLens: number, linkNow: boolean, rows: number): number;
  upsert(id: number, idLen: number, vector: number, meta: number, metaLen: number, rows: number): number;
  rowBytes(): number;
  nextRow(): number;
  /** Bytes of room the rows of n new vectors need (staged ones may join them). */
  rowRoom(n: number): number;
  /** A status: numbers rows from `next` on again (refused while a vector holds one of them). */
  rewindRows(next: number): number;
  /** Compaction: how many rows are in use, which (in slot order, written to out), then number them 0, 1, ... */
  rowsHeld(): number;
  rowsInUse(out: number): void;
  renumberRows(): void;
  /** The id's row as i32 bits (>>> 0; 0xFFFFFFFF for none: a staged vector). */
  rowOf(id: number, idLen: number): number;
  /**
   * A status: scores search()'s candidates first..first+count-1 with their rows' bytes (rowBytes()
   * each, in result order); the call that scores the last one sorts them, keeps k and lays out the records.
   */
  rescore(query: number, rows: number, first: number, count: number, k: number): number;
  remove(id: number, idLen: number): number;
  setMetadata(id: number, idLen: number, meta: number, metaLen: number): number;
  /** `row`: 0, or the bytes of the id's row (a storage tier), checked to be its vector's. */
  getVector(id: number, idLen: number, out: number, row: number): number;
  slotOf(id: number, idLen: number): number;
  idPtr(slot: number): number;
  idLen(slot: number): number;
  metadataPtr(slot: number): number;
  metadataLen(slot: number): number;
  search(query: number, k: number, listSize: number, rerankFactor: number): number;
  searchFiltered(query: number, k: number, listSize: number, rerankFactor: number, accept: (slot: number) => boolean): number;
  resultCount(): number;
  resultRecords(): number;
  /** Runs up to `budget` linking steps; returns the work left. */
  linkPending(budget: number): number;
  /** True when the last linkPending stopped for want of memory (the data stays searchable). */
  linkStalled(): boolean;
  pending(): number;
  /** The core's rule for when the write buffer is full enough to merge into the graph. */
  linkDue(): boolean;
  /** A status; consolidated() is how many tombstones it removed. */
  consolidate(): number;
  consolidated(): number;
  /** A status: room for n removals, so that taking a batch back cannot fail halfway. */
  reserveRemovals(n: number): number;
  size(): number;
  dim(): number;
  metric(): number;
  storage(): number;
  rerank(): number;
  tombstones(): number;
  memoryStats(out: number): void;
  /** Starts writing the snapshot; returns its size in bytes. */
  serializeStart(): number;
  /** Writes the snapshot's next min(len, left) bytes to out; returns how many. */
  serializeNext(out: number, len: number): number;
  delete(): void;
  // The text builds only (wasm/bindings.cpp, TABVEC_TEXT).
  /** The next create()'s text options: the tokenizer's language (by index) and version, BM25's k1 and b. */
  textOptions?(language: number, tokenizer: number, k1: number, b: number): void;
  textLanguage?(): number;
  textTokenizer?(): number;
  textK1?(): number;
  textB?(): number;
  /** Documents with text. */
  textSize?(): number;
  /**
   * A status: the next write's texts, n documents' terms (each followed by a 0 byte) back to back at
   * `terms`, with a u32 length each at `lens` (0xFFFFFFFF: no text). They must stay in the heap until it returns.
   */
  setTexts?(n: number, terms: number, lens: number): number;
  /** A status: BM25 search; results as search() lays them out, the score where the distance is. */
  searchText?(terms: number, len: number, k: number, accept: ((slot: number) => boolean) | null): number;
}

/** @internal */
export interface TabvecModule {
  Index: new () => NativeIndex;
  simdBuild(): boolean;
  /**
   * Feeds heap bytes [ptr, ptr + len) into the checksum serialize() writes,
   * kept at `state` (SNAPSHOT_CHECKSUM_STATE_BYTES, zero-filled to start);
   * returns the checksum of everything fed so far.
   */
  snapshotChecksum(state: number, ptr: number, len: number): number;
  readonly SNAPSHOT_CHECKSUM_STATE_BYTES: number;
  /** The core's name for a Status code ('ok', 'invalid_argument', ..., 'out_of_memory'). */
  statusName(status: number): string;
  /** Number of Status codes (ok included). */
  readonly STATUS_COUNT: number;
  readonly STATUS_OUT_OF_MEMORY: number;
  /** The API's name for a metric code ('l2', 'ip', 'cosine') and for a storage code ('int8', 'float32'). */
  metricName(metric: number): string;
  readonly METRIC_COUNT: number;
  storageName(storage: number): string;
  readonly STORAGE_COUNT: number;
  /** The API's name for a re-ranking tier code ('none', 'float16', 'float32'). */
  rerankName(rerank: number): string;
  readonly RERANK_COUNT: number;
  // IndexOptions' and SearchParams' defaults (core/index.h); the core checks the ranges.
  readonly DEFAULT_MAX_DEGREE: number;
  readonly DEFAULT_BUILD_LIST_SIZE: number;
  readonly DEFAULT_ALPHA: number;
  readonly DEFAULT_SEARCH_LIST_SIZE: number;
  readonly DEFAULT_MAX_BUFFER: number;
  readonly DEFAULT_K: number;
  readonly DEFAULT_RERANK_FACTOR: number;
  // Limits the wrapper needs before copying into the heap.
  /** Longest id in UTF-8 bytes. */
  readonly MAX_ID_BYTES: number;
  /** Longest metadata JSON in UTF-8 bytes. */
  readonly MAX_METADATA_BYTES: number;
  // The text builds' limits and defaults (core/fulltext.h, core/hybrid.h).
  readonly MAX_TERM_BYTES?: number;
  readonly MAX_DOCUMENT_TERMS?: number;
  readonly MAX_QUERY_TERMS?: number;
  readonly MAX_TEXT_K?: number;
  readonly MAX_BM25_K1?: number;
  readonly DEFAULT_BM25_K1?: number;
  readonly DEFAULT_BM25_B?: number;
  /** Returns a signed i32: past 2 GiB of memory a pointer arrives negative (Runtime.malloc fixes that). */
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  HEAPF32: Float32Array;
  HEAPF64: Float64Array;
}

/** @internal */
export type TabvecModuleFactory = (options?: {
  wasmBinary?: ArrayBuffer | Uint8Array;
  locateFile?: (path: string, prefix: string) => string;
}) => Promise<TabvecModule>;
