// LiveStore: a VectorStore bound to storage. Every mutation is a journal
// record; the store opens as its last checkpoint plus the journal after it;
// any number of tabs (and workers) of an origin may have it open and write.
//
// How tabs share one store. A write does not touch memory when it is called:
// it is queued, and the next commit (which starts when the calling task
// ends, or when the commit before it finishes: group commit) takes the
// store's exclusive lock, first applies every record other tabs committed
// since this tab last looked, then applies the queued writes in order,
// appends their records as one segment, and releases the lock. So every tab
// applies every record in one global order, the journal's; no write is
// applied on a state other than the one it is recorded after; and a call
// that would fail on that state (a duplicate id another tab just added)
// rejects and is not recorded. Its promise resolves once its record is
// written (`durability` says how far). Other tabs learn of the commit by a
// BroadcastChannel message and read the new records under the lock held
// shared; a poll catches what a tab that died before announcing wrote.
//
// Nothing depends on one tab staying alive: the lock is held only for a
// commit, and Web Locks are released when their holder dies, so a frozen or
// killed tab holds up no one. A commit cut off by a crash left no record
// (IndexedDB and Node files write a commit whole) or a torn tail (OPFS
// appends in place), which the next writer cuts off: neither was acknowledged.
import { TabvecError } from './errors.js';
import { type JournalOp, MAX_PAYLOAD_BYTES, type SegmentRead, applyEntry, checkRecovery, corruptJournal, decodeSegment, encodeSegment, replayError } from './journal.js';
import { type RecoveryReport, type StoredState, noManifest, readJournal, readStored, writeCheckpoint } from './persist.js';
import { type Backend, type Durability, FileBackend, type Manifest, type StorageTarget, backendFor, canAdoptCheckpoint, newLineage, storageError, withLock } from './storage.js';
import {
  type AddManyOptions, type HybridHit, type HybridSearchOptions, type Metric, type OpenOptions, type SearchHit, type SearchOptions,
  type StoreStats, type TextHit, type TextSearchOptions, VectorStore, type VectorStoreOptions, type WriteOptions, storeInternals,
  toJson, yieldToEventLoop,
} from './store.js';
import { StorageRows, copyRows, rowAccess } from './rows.js';

// A storage tier's rows file (rows.ts), of the lineage this tab's copy
// belongs to, opened when its store has one.
class Rows {
  #lineage = -1;
  #tier: StorageRows | undefined;
  constructor(readonly backend: Backend) {}
  get tier(): StorageRows | undefined {
    return this.#tier;
  }
  // Attaches the rows of `lineage` to a store that keeps them in storage; undefined for one that does not.
  async attach(store: VectorStore<unknown>, lineage: number): Promise<StorageRows | undefined> {
    if (!rowAccess.keepsRows(store)) return undefined;
    if (!this.#tier || this.#lineage !== lineage) this.adopt(lineage, new StorageRows(await this.backend.openRows(lineage)));
    rowAccess.attach(store, this.#tier!);
    return this.#tier;
  }
  adopt(lineage: number, tier: StorageRows): void {
    this.#tier?.file.close();
    this.#tier = tier;
    this.#lineage = lineage;
  }
  close(): void {
    this.#tier?.file.close();
    this.#tier = undefined;
  }
}

// A checkpoint compacts a storage tier's rows when those no vector holds
// (deleted and replaced ones) are more than half of those in use, and more
// than this many bytes: right after a checkpoint the rows file holds at most
// max(1.5x, + this) what is in use. Copying costs about what writing the
// checkpoint does (a row is dim x 4 + 8 bytes, a code dim).
/** @internal */
export const ROWS_COMPACT_MIN_BYTES = 256 << 10;

export interface LiveStoreOptions extends OpenOptions {
  /** Creates the store with these options when nothing is stored yet. Without it, an empty target is NOT_FOUND. */
  create?: VectorStoreOptions;
  /**
   * 'strict' (default): a write resolves once its record is on stable
   * storage (fsync in Node, a flushed IndexedDB transaction), so it survives
   * a power cut as well as a tab or browser crash. 'relaxed': once the
   * storage has it (survives a crash of the tab or process, maybe not of the
   * machine), for workloads that prefer throughput.
   */
  durability?: Durability;
}

/** What changed: records from this tab (local) or another (remote), up to `seq`. */
export interface ChangeEvent {
  seq: number;
  local: boolean;
  /** True when the store was reloaded from a checkpoint (another tab saved over it, or this tab fell far behind). */
  reloaded: boolean;
}

const KEYS = ['create', 'durability', 'recovery', 'maxMemoryBytes', 'wasm'] as const satisfies readonly (keyof LiveStoreOptions)[];

// A checkpoint is written when the journal since the last one passes this
// fraction of the checkpoint's size (and at least MIN bytes), or when
// replaying it would take longer than loading the checkpoint (and at least
// REPLAY_MIN_MS): opening then costs at most about twice a checkpoint load.
// Bytes alone would not do: at 100,000 x 384 a quarter of the checkpoint is
// ~9,000 adds, over a second to replay (each is linked into the graph), where
// the checkpoint loads in ~0.1 s. Replay time is measured, not guessed: it is
// the time this tab spent applying the same records.
const CHECKPOINT_RATIO = 0.25;
const CHECKPOINT_MIN_BYTES = 1 << 20;
const REPLAY_MIN_MS = 50;
// A tab that died between committing and announcing it is noticed this late.
const POLL_MS = 1000;
// Commits up to this size are sent to other tabs with their announcement.
const ANNOUNCED_BYTES = 64 << 10;

interface Pending {
  // Applies the write to the store and returns its record; undefined for a flush.
  apply?: (store: VectorStore<unknown>) => JournalOp | Promise<JournalOp>;
  // A write's number in call order; for a flush, the writes it answers for: [from, to).
  index: number;
  from?: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function invalid(message: string): TabvecError {
  return new TabvecError('INVALID_ARGUMENT', message);
}

const parse = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

/**
 * A vector store kept on storage and shared by every tab that opens it.
 * Reads (search, get, has, size, stats) are synchronous, on this tab's copy.
 * Writes return promises that resolve once the write is durable and reject
 * with the error the write would throw on a VectorStore (nothing is then
 * recorded); see the file comment for how tabs agree on one order.
 */
export class LiveStore<M = unknown> {
  #store: VectorStore<M>;
  readonly #rows: Rows;
  readonly #backend: Backend;
  readonly #durability: Durability;
  readonly #load: OpenOptions;
  readonly #channel: BroadcastChannel | undefined;
  readonly #poll: ReturnType<typeof setInterval>;
  readonly #releaseProcessLock: (() => Promise<void>) | undefined;
  readonly #listeners = new Set<(event: ChangeEvent) => void>();
  #manifest: Manifest;
  #applied: number;
  // The journal since the checkpoint: its bytes and the time applying it took.
  #journalBytes: number;
  #replayMs: number;
  // Time to load the last checkpoint this tab read, per byte (to estimate later ones).
  #loadMsPerByte: number;
  #queue: Pending[] = [];
  // Writes called so far; the first write the next flush() answers for.
  #writes = 0;
  #flushedUpTo = 0;
  // Writes storage refused to take (by call number), until the flush that answers for them.
  #lost: { index: number; error: TabvecError }[] = [];
  // Commits, catch-ups and checkpoints of this tab run one at a time, in order.
  #chain: Promise<void> = Promise.resolve();
  #commitScheduled = false;
  #closed = false;
  // Set when storage can no longer be trusted to match memory.
  #failure: TabvecError | undefined;
  // Set when this tab's copy holds writes storage does not and could not be
  // read back: then reads refuse too, rather than show what was never stored.
  #diverged = false;
  /** What opening found in the journal (records replayed, a torn tail left out). */
  readonly recovery: RecoveryReport;

  private constructor(init: {
    store: VectorStore<M>; backend: Backend; durability: Durability; load: OpenOptions; manifest: Manifest; applied: number;
    journalBytes: number; replayMs: number; loadMs: number; recovery: RecoveryReport; releaseProcessLock?: () => Promise<void>;
    rows: Rows;
  }) {
    this.#store = init.store;
    this.#rows = init.rows;
    this.#backend = init.backend;
    this.#durability = init.durability;
    this.#load = init.load;
    this.#manifest = init.manifest;
    this.#applied = init.applied;
    this.#journalBytes = init.journalBytes;
    this.#replayMs = init.replayMs;
    this.#loadMsPerByte = init.loadMs / Math.max(1, init.manifest.bytes);
    this.recovery = init.recovery;
    this.#releaseProcessLock = init.releaseProcessLock;
    this.#channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(init.backend.lockName) : undefined;
    if (this.#channel) {
      this.#channel.onmessage = (event: MessageEvent) => {
        const { seq, first, records, lineage } = (event.data ?? {}) as { seq?: unknown; first?: unknown; records?: unknown; lineage?: unknown };
        if (typeof seq !== 'number' || (seq <= this.#applied && lineage === this.#manifest.lineage)) return;
        if (typeof first === 'number' && records instanceof Uint8Array && lineage === this.#manifest.lineage) this.#enqueueAnnounced(first, records, lineage);
        else this.#enqueueCatchUp();
      };
      (this.#channel as { unref?: () => void }).unref?.();
    }
    this.#poll = setInterval(() => this.#enqueueCatchUp(), POLL_MS);
    (this.#poll as { unref?: () => void }).unref?.();
  }

  /**
   * Opens the store kept at `target` (checkpoint plus journal replay), or
   * creates it with `options.create` if nothing is there.
   * @throws {TabvecError} NOT_FOUND (nothing stored and no `create`), CORRUPT_SNAPSHOT (also a journal
   *   damaged before its tail, naming where), UNSUPPORTED_VERSION, STORAGE_UNAVAILABLE (also: no Web Locks,
   *   or in Node another process has it open), QUOTA_EXCEEDED, INVALID_ARGUMENT, OUT_OF_MEMORY, WASM_UNAVAILABLE.
   */
  static async open<M = unknown>(target: StorageTarget, options: LiveStoreOptions = {}): Promise<LiveStore<M>> {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw invalid('options must be an object');
    for (const key of Object.keys(options)) {
      if (!(KEYS as readonly string[]).includes(key)) throw invalid(`options has an unknown option '${key.slice(0, 64)}'; the options are ${KEYS.join(', ')}`);
    }
    const { create, durability = 'strict', recovery, ...load } = options;
    if (durability !== 'strict' && durability !== 'relaxed') throw invalid(`durability must be 'strict' or 'relaxed', got ${String(durability)}`);
    const prefix = checkRecovery(recovery);
    const backend = backendFor(target);
    const rows = new Rows(backend);
    let releaseProcessLock: (() => Promise<void>) | undefined;
    try {
      if (backend instanceof FileBackend) releaseProcessLock = await backend.acquireProcessLock('live');
      // Refused before anything is created: a store whose rows could not be read here.
      const noRows = create?.rerank === 'storage' ? backend.rowsUnavailable() : undefined;
      if (noRows) throw new TabvecError('STORAGE_UNAVAILABLE', `${backend.where} cannot keep rerank 'storage' rows: ${noRows}`);
      if (create !== undefined) await LiveStore.#createIfMissing(backend, create, load);
      const { stored, store, loadMs, replayMs } = await LiveStore.#read<M>(backend, rows, prefix, load, target);
      const { dim, metric } = store;
      const { storage, rerank } = store.stats();
      const [heldText, askedText] = create === undefined ? ['', ''] : await textSettings(store, create.text);
      if (create !== undefined && (create.dim !== dim || (create.metric ?? 'cosine') !== metric ||
          (create.storage ?? 'int8') !== storage || (create.rerank ?? 'none') !== rerank || heldText !== askedText)) {
        store.dispose();
        throw invalid(`${backend.where} holds a store of dim ${dim}, metric ${metric}, storage ${storage}, rerank ${rerank}, ${heldText}; ` +
          `options.create asks for dim ${create.dim}, metric ${create.metric ?? 'cosine'}, storage ${create.storage ?? 'int8'}, rerank ${create.rerank ?? 'none'}, ${askedText}`);
      }
      const live = new LiveStore<M>({
        store, backend, durability, load, manifest: stored.manifest, applied: stored.head, journalBytes: stored.journalBytes,
        replayMs, loadMs, recovery: stored.report, releaseProcessLock, rows,
      });
      if (stored.manifest.legacy) {
        // tabvec 0.1's OPFS layout (a file per commit): rewritten now in the
        // current one, which later writes append to in place.
        await live.#serial(() => live.#locked(async () => {
          // Unless records were dropped (recovery 'prefix'): then the rewrite
          // holds what was opened, not what reading on would refuse.
          if (!stored.report.dropped) await live.#catchUp(true);
          const now = await backend.readManifest();
          if (now?.legacy && now.generation === stored.manifest.generation) await live.#writeCheckpoint();
        }));
      } else if (stored.report.dropped || stored.report.tornTail) {
        // A torn tail or (with 'prefix') dropped damage is cut off now, so the
        // next record is written after the last intact one.
        await live.#serial(() => live.#locked(() => live.#cutJournal(stored.report, stored.head)));
      }
      return live;
    } catch (e) {
      rows.close();
      backend.close();
      await releaseProcessLock?.();
      throw storageError(e, `opening ${backend.where}`);
    }
  }

  static async #createIfMissing(backend: Backend, create: VectorStoreOptions, load: OpenOptions): Promise<void> {
    // Without the lock, to skip the lock when it is there; the answer that counts is read under it.
    if (await backend.readManifest().catch(() => undefined)) return;
    const store = await VectorStore.create({ ...create, ...load });
    try {
      await withLock(backend, 'exclusive', async () => {
        // Another tab may have created it meanwhile.
        if (await backend.readManifest()) return;
        // Created only where nothing is: data without a manifest is a lost manifest, not room for a new store.
        const missing = await noManifest(backend);
        if (missing.code !== 'NOT_FOUND') {
          if (await LiveStore.#adoptCheckpoint(backend, load)) return;
          throw missing;
        }
        await writeCheckpoint(backend, store.serialize(), 0, 'strict', 'new');
      });
    } finally {
      store.dispose();
    }
  }

  // A lone checkpoint and no journal, without a manifest: a creation (or a
  // save) cut off between writing the checkpoint and the manifest. Nothing is
  // lost by naming it in a manifest, once it loads: no journal means nothing
  // to replay after it. Call holding the lock exclusively.
  static async #adoptCheckpoint(backend: Backend, load: OpenOptions): Promise<boolean> {
    if (!canAdoptCheckpoint(backend)) return false;
    const checkpoints = await backend.listCheckpoints();
    if (checkpoints.length !== 1 || (await backend.journalPieces(0)).length > 0) return false;
    const generation = checkpoints[0]!;
    const source = await backend.readCheckpoint(generation);
    if (!source) return false;
    try {
      (await VectorStore.load(source, load)).dispose();
    } catch {
      return false;
    }
    await backend.writeManifest({ generation, bytes: source.bytes, seq: 0, lineage: newLineage() }, 'strict');
    return true;
  }

  // What storage holds: the checkpoint loaded and the journal applied, each timed.
  static async #read<M>(backend: Backend, rows: Rows, prefix: boolean, load: OpenOptions, target: unknown, locked = false): Promise<{
    stored: StoredState<VectorStore<M>>; store: VectorStore<M>; loadMs: number; replayMs: number;
  }> {
    let loadMs = 0;
    const stored = await readStored(backend, prefix, async (checkpoint) => {
      const started = performance.now();
      const loaded = await VectorStore.load<M>(checkpoint, load);
      loadMs = performance.now() - started;
      return loaded;
    }, locked);
    const store = stored.loaded;
    try {
      await rows.attach(store as VectorStore<unknown>, stored.manifest.lineage);
    } catch (e) {
      store.dispose();
      throw e;
    }
    const started = performance.now();
    try {
      for (const record of stored.records) applyEntry(store, record.entry);
    } catch (e) {
      store.dispose();
      throw replayError(e, target);
    }
    return { stored, store, loadMs, replayMs: performance.now() - started };
  }

  // --- reads: this tab's copy ------------------------------------------------

  get dim(): number {
    return this.#store.dim;
  }
  get metric(): Metric {
    return this.#store.metric;
  }
  size(): number {
    return this.#open().size();
  }
  search(query: Float32Array, options: HybridSearchOptions<M>): HybridHit<M>[];
  search(query: Float32Array, options?: SearchOptions<M>): SearchHit<M>[];
  search(query: Float32Array, options?: SearchOptions<M> | HybridSearchOptions<M>): SearchHit<M>[] | HybridHit<M>[] {
    return this.#open().search(query, options as SearchOptions<M>);
  }
  searchText(query: string, options?: TextSearchOptions<M>): TextHit<M>[] {
    return this.#open().searchText(query, options);
  }
  searchBatch(queries: Float32Array, options?: SearchOptions<M>): SearchHit<M>[][] {
    return this.#open().searchBatch(queries, options);
  }
  get(id: string): { vector: Float32Array; metadata: M | undefined } | undefined {
    return this.#open().get(id);
  }
  has(id: string): boolean {
    return this.#open().has(id);
  }
  stats(): StoreStats {
    return this.#open().stats();
  }
  /** The whole store as snapshot bytes (export; see VectorStore.serialize). */
  serialize(): Uint8Array {
    return this.#open().serialize();
  }
  /** The sequence number of the last journal record this tab has applied. */
  get seq(): number {
    return this.#applied;
  }

  /** Calls `listener` after records are applied (this tab's or another's). Returns a function that removes it. */
  onChange(listener: (event: ChangeEvent) => void): () => void {
    if (typeof listener !== 'function') throw invalid('listener must be a function');
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- writes: journaled ---------------------------------------------------------

  add(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): Promise<void> {
    return this.#writeOne('add', id, vector, metadata, options);
  }

  upsert(id: string, vector: Float32Array, metadata?: M, options?: WriteOptions): Promise<void> {
    return this.#writeOne('upsert', id, vector, metadata, options);
  }

  /** All or nothing, as one record; runs in time slices (VectorStore.addManyAsync). */
  addMany(ids: readonly string[], vectors: Float32Array, metadata?: readonly (M | undefined)[],
    options: AddManyOptions & { signal?: AbortSignal } = {}): Promise<void> {
    return this.#write(() => {
      if (!Array.isArray(ids)) throw invalid('ids must be an array of strings');
      const batch = ids.slice();
      const v = this.#copy(vectors, 'vectors');
      if (metadata !== undefined && (!Array.isArray(metadata) || metadata.length !== batch.length)) {
        throw invalid(`metadata must be an array with one entry per id (${batch.length})`);
      }
      const metas = metadata?.map((m, i) => toJson(m, `metadata[${i}]`));
      // Taken now, as the vectors are: the caller may change its array before the commit.
      // Array.from, not slice: a hole (a sparse array) becomes an undefined entry, which the journal records.
      const texts = (Array.isArray(options?.texts) ? Array.from(options.texts) : options?.texts) as (string | undefined)[] | undefined;
      // One record holds the batch: past what a reader accepts, it is refused now.
      let bytes = v.byteLength;
      for (let i = 0; i < batch.length; i++) {
        const text = texts?.[i];
        bytes += 12 + 3 * (String(batch[i]).length + (metas?.[i]?.length ?? 0) + (typeof text === 'string' ? text.length : 0));
      }
      if (bytes > MAX_PAYLOAD_BYTES) {
        throw invalid(`an addMany of about ${bytes} bytes does not fit one journal record (${MAX_PAYLOAD_BYTES} bytes); split it into smaller batches`);
      }
      return async (store) => {
        await store.addManyAsync(batch, v, metas?.map(parse), texts === undefined ? options : { ...options, texts });
        return { op: 'addMany', ids: batch, vectors: v, metadata: metas, texts };
      };
    });
  }

  delete(id: string): Promise<void> {
    return this.#write(() => (store) => {
      store.delete(id);
      return { op: 'delete', id };
    });
  }

  setMetadata(id: string, metadata: M | undefined): Promise<void> {
    return this.#write(() => {
      const meta = toJson(metadata);
      return (store) => {
        store.setMetadata(id, parse(meta));
        return { op: 'setMetadata', id, metadata: meta };
      };
    });
  }

  /** Repairs the graph around deleted vectors (journaled, so every tab does the same). */
  consolidate(): Promise<void> {
    return this.#write(() => (store) => {
      store.consolidate();
      return { op: 'consolidate' };
    });
  }

  /**
   * Resolves once every write called before it is durable. Rejects with the
   * storage error if one of them could not be written (those writes rejected too).
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#disposed());
    const from = this.#flushedUpTo;
    const to = (this.#flushedUpTo = this.#writes);
    return new Promise((resolve, reject) => {
      this.#queue.push({ index: to, from, resolve, reject });
      this.#scheduleCommit();
    });
  }

  /** Writes a checkpoint now (otherwise one is written when the journal has grown enough). */
  async checkpoint(): Promise<void> {
    await this.flush();
    await this.#serial(() => this.#locked(async () => {
      await this.#catchUp(true);
      await this.#writeCheckpoint();
    })).catch((e) => {
      throw storageError(e, `writing a checkpoint of ${this.#backend.where}`);
    });
  }

  /** Flushes, then releases everything this store holds. Later calls throw DISPOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      // A store that failed has nothing more to write.
      if (!this.#failure) await this.flush();
    } finally {
      this.#closed = true;
      clearInterval(this.#poll);
      // After the last commit, which announces itself on the channel.
      await this.#chain.catch(() => undefined);
      this.#channel?.close();
      this.#store.dispose();
      this.#rows.close();
      this.#backend.close();
      await this.#releaseProcessLock?.();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- internals -------------------------------------------------------------------

  #open(): VectorStore<M> {
    if (this.#closed) throw this.#disposed();
    if (this.#diverged) throw this.#failure!;
    return this.#store;
  }

  #disposed(): TabvecError {
    return new TabvecError('DISPOSED', 'this LiveStore has been closed');
  }

  #writeOne(op: 'add' | 'upsert', id: string, vector: Float32Array, metadata: M | undefined, options: WriteOptions | undefined): Promise<void> {
    return this.#write(() => {
      const v = this.#copy(vector, 'vector');
      const meta = toJson(metadata);
      // The store checks the options and the text; the journal keeps the text as given.
      if (options !== undefined && (typeof options !== 'object' || options === null)) throw invalid('options must be an object');
      const opts = options && { ...options };
      const text = opts?.text;
      return (store) => {
        store[op](id, v, parse(meta), opts);
        return { op, id, vector: v, metadata: meta, text };
      };
    });
  }

  #copy(vectors: Float32Array, what: string): Float32Array {
    // A copy taken now: the caller may reuse its array before the commit.
    if (!(vectors instanceof Float32Array)) throw invalid(`${what} must be a Float32Array`);
    return vectors.slice();
  }

  // Queues a write. `prepare` runs now (copies and encodes the arguments, so
  // later changes by the caller do not matter) and returns what the commit runs.
  #write(prepare: () => (store: VectorStore<unknown>) => JournalOp | Promise<JournalOp>): Promise<void> {
    if (this.#closed) return Promise.reject(this.#disposed());
    if (this.#failure) return Promise.reject(this.#failure);
    let apply: (store: VectorStore<unknown>) => JournalOp | Promise<JournalOp>;
    try {
      apply = prepare();
    } catch (e) {
      return Promise.reject(e);
    }
    const index = this.#writes++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ apply, index, resolve, reject });
      this.#scheduleCommit();
    });
  }

  #scheduleCommit(): void {
    if (this.#commitScheduled) return;
    this.#commitScheduled = true;
    // After the current task's synchronous calls, so they commit together.
    queueMicrotask(() => {
      void this.#serial(() => {
        this.#commitScheduled = false;
        return this.#commit();
      }).catch(() => undefined);
    });
  }

  // Applies records another tab committed and announced, when they are the
  // next this tab needs; anything else is read from storage as usual.
  #enqueueAnnounced(first: number, bytes: Uint8Array, lineage: number): void {
    if (this.#closed) return;
    void this.#serial(async () => {
      if (this.#closed || this.#failure || first !== this.#applied + 1 || lineage !== this.#manifest.lineage) return this.#catchUp(false);
      const read = decodeSegment(bytes, first);
      if (read.problem || read.records.length === 0) return this.#catchUp(false);
      if (!this.#applyRecords(read)) return this.#reload(false);
      this.#emit({ seq: this.#applied, local: false, reloaded: false });
    }).catch(() => undefined);
  }

  // Applies records other tabs committed. False when one fails: this tab's
  // copy and the journal disagree, and the caller starts again from storage.
  #applyRecords(read: SegmentRead): boolean {
    const started = performance.now();
    for (const record of read.records) {
      try {
        applyEntry(this.#store as VectorStore<unknown>, record.entry);
      } catch {
        return false;
      }
      this.#applied = record.seq;
    }
    this.#journalBytes += read.validBytes;
    this.#replayMs += performance.now() - started;
    return true;
  }

  #enqueueCatchUp(): void {
    if (this.#closed) return;
    void this.#serial(() => this.#catchUp(false)).catch(() => undefined);
  }

  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task);
    this.#chain = run.then(() => undefined, () => undefined);
    return run;
  }

  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.#backend, 'exclusive', fn);
  }

  async #commit(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    if (this.#failure) {
      for (const p of batch) p.reject(this.#failure);
      return;
    }
    const settled = new Set<Pending>();
    const settle = (p: Pending, error?: unknown) => {
      settled.add(p);
      if (error === undefined) p.resolve();
      else p.reject(error);
    };
    // A flush answers for every write called before it since the previous flush,
    // including writes of earlier commits that storage refused.
    const settleFlushes = () => {
      for (const p of batch) {
        if (p.apply || settled.has(p)) continue;
        settle(p, this.#lost.find((l) => l.index >= p.from! && l.index < p.index)?.error);
        // Later flushes answer for later writes only.
        this.#lost = this.#lost.filter((l) => l.index >= p.index);
      }
    };
    try {
      await this.#locked(async () => {
        await this.#catchUp(true);
        const entries: JournalOp[] = [];
        const applied: Pending[] = [];
        const applyStarted = performance.now();
        const store = this.#store as VectorStore<unknown>;
        // This tab's writes store their rows (a storage tier), before the records that refer to them.
        const rows = await this.#rows.attach(store, this.#manifest.lineage);
        for (const p of batch) {
          if (!p.apply) continue;
          const nextRow = rows ? rowAccess.nextRow(store) : 0;
          try {
            if (rows) rows.writes = true;
            entries.push(await p.apply(store));
            applied.push(p);
          } catch (e) {
            settle(p, e); // refused on this state: nothing recorded, nothing changed
            // ...except the rows a write numbered before it failed (a batch taken
            // back, a row storage refused): numbered again from where they were, so
            // this tab numbers rows as every other tab does; if a vector still
            // holds one, memory goes back to what storage holds.
            if (rows && rowAccess.nextRow(store) !== nextRow && !rowAccess.rewind(store, nextRow)) {
              // The writes after it were not applied: refused with it.
              for (const q of batch) if (q.apply && !settled.has(q)) settle(q, e);
              entries.length = 0;
              applied.length = 0;
              await this.#reload(true);
              break;
            }
          } finally {
            if (rows) rows.writes = false;
          }
        }
        const applyEnded = performance.now();
        if (entries.length > 0) {
          const first = this.#applied + 1;
          const bytes = encodeSegment(first, entries);
          try {
            if (rows && this.#durability === 'strict') rows.file.flush();
            await this.#backend.appendJournal(first, bytes, this.#durability);
          } catch (e) {
            // Memory now holds writes storage does not: go back to what storage
            // holds before anyone hears of the failure, or stop writing at all.
            const error = storageError(e, `writing to ${this.#backend.where}`);
            for (const p of applied) this.#lost.push({ index: p.index, error });
            try {
              await this.#reload(true);
            } catch (reloadError) {
              this.#diverged = true;
              this.#fail(new TabvecError('STORAGE_UNAVAILABLE',
                `${this.#backend.where}: a journal write failed (${error.message}) and reading the store back failed too (${(reloadError as Error)?.message ?? reloadError}); this LiveStore accepts no more writes, open it again`));
            }
            for (const p of applied) settle(p, error);
            throw error;
          }
          this.#applied = first + entries.length - 1;
          this.#journalBytes += bytes.byteLength;
          this.#replayMs += applyEnded - applyStarted;
          // Small commits travel with the announcement, so other tabs need not
          // read them back. Best effort: the poll finds what is not announced.
          try {
            this.#channel?.postMessage({ seq: this.#applied, first, lineage: this.#manifest.lineage, records: bytes.byteLength <= ANNOUNCED_BYTES ? bytes : undefined });
          } catch {
            // closed meanwhile
          }
          for (const p of applied) settle(p);
          this.#emit({ seq: this.#applied, local: true, reloaded: false });
        }
        if (this.#checkpointDue()) {
          await this.#writeCheckpoint().catch(() => undefined); // tried again after the next commit
        }
      });
    } catch (e) {
      // Whatever was not settled was not written.
      const error = e instanceof TabvecError ? e : storageError(e, `writing to ${this.#backend.where}`);
      for (const p of batch) {
        if (settled.has(p)) continue;
        if (p.apply) this.#lost.push({ index: p.index, error });
        settle(p, error);
      }
      settleFlushes();
      return;
    }
    settleFlushes();
  }

  // Applies what other tabs committed since this tab last looked. With the
  // lock held exclusively, also cuts off a torn tail so the next segment
  // follows the last intact record.
  async #catchUp(exclusive: boolean): Promise<void> {
    // A background catch-up after close() has nothing to do; one that is part
    // of a commit or checkpoint must run, or they would write a stale state.
    if (this.#closed && !exclusive) return;
    const run = async () => {
      // Both reads at once: they are most of a commit's cost when nothing is new.
      let next: Promise<Uint8Array | undefined> | undefined = this.#backend.readJournal(this.#applied + 1);
      next.catch(() => undefined);
      const manifest = await this.#backend.readManifest();
      if (!manifest) {
        const removed = new TabvecError('NOT_FOUND', `${this.#backend.where} was removed while this LiveStore was open; open it again (with create) to write`);
        this.#fail(removed);
        throw removed;
      }
      if (manifest.seq > this.#applied || manifest.lineage !== this.#manifest.lineage) {
        // A checkpoint past what this tab has (its records may be gone), or
        // another store under this name (saved over, or removed and created again).
        await this.#reload(true);
        return;
      }
      if (manifest.generation !== this.#manifest.generation) {
        // Another tab's checkpoint: the journal left is what came after it,
        // at most a few commits this tab has applied since; counted from here.
        this.#journalBytes = 0;
        this.#replayMs = 0;
      }
      this.#manifest = manifest;
      const before = this.#applied;
      for (;;) {
        const first = this.#applied + 1;
        const bytes = await (next ?? this.#backend.readJournal(first));
        next = undefined;
        if (!bytes) break;
        const read = decodeSegment(bytes, first);
        if (!this.#applyRecords(read)) {
          await this.#reload(true);
          return;
        }
        if (read.problem && !read.problem.tail) {
          const damaged = corruptJournal(`journal segment ${first} of ${this.#backend.where}`, read.problem.offset, read.problem.reason);
          this.#fail(damaged);
          throw damaged;
        }
        if (read.problem || read.records.length === 0) {
          // A torn tail (or an empty file) a crash left: no one acknowledged
          // it. The writer keeps only the intact records, so the next
          // segment follows the last of them.
          if (exclusive) {
            await this.#backend.cutJournal(first, read.validBytes, this.#durability, true).catch((e) => {
              if (e instanceof TabvecError && e.code === 'CORRUPT_SNAPSHOT') this.#fail(e);
              throw e;
            });
          }
          break;
        }
      }
      if (this.#applied > before) this.#emit({ seq: this.#applied, local: false, reloaded: false });
    };
    await (exclusive ? run() : withLock(this.#backend, 'shared', run));
  }

  // Cuts the journal after record `head`, where opening found a torn tail or
  // (recovery 'prefix') damage. Call holding the lock exclusively. Only if
  // storage still looks the same: another tab may have cut it, or written
  // after the cut, meanwhile.
  async #cutJournal(seen: RecoveryReport, head: number): Promise<void> {
    const manifest = await this.#backend.readManifest();
    if (!manifest || manifest.seq !== this.#manifest.seq) return;
    const now = await readJournal(this.#backend, manifest.seq, true);
    const cut = now.report.dropped ?? now.report.tornTail;
    const before = seen.dropped ?? seen.tornTail;
    if (!cut || !before || cut.segment !== before.segment || cut.offset !== before.offset || now.records.length !== head - manifest.seq) return;
    await this.#backend.cutJournal(cut.segment, cut.offset, this.#durability, !now.report.dropped);
  }

  // Replaces this tab's copy with what storage holds. Call holding the lock.
  async #reload(locked: boolean): Promise<void> {
    const { stored, store, loadMs, replayMs } = await LiveStore.#read<M>(this.#backend, this.#rows, false, this.#load, this.#backend.where, locked);
    this.#store.dispose();
    this.#store = store;
    this.#manifest = stored.manifest;
    this.#applied = stored.head;
    this.#journalBytes = stored.journalBytes;
    this.#replayMs = replayMs;
    this.#loadMsPerByte = loadMs / Math.max(1, stored.manifest.bytes);
    this.#emit({ seq: this.#applied, local: false, reloaded: true });
  }

  #checkpointDue(): boolean {
    const bytes = this.#manifest.bytes;
    return this.#journalBytes > Math.max(CHECKPOINT_MIN_BYTES, bytes * CHECKPOINT_RATIO) ||
      this.#replayMs > Math.max(REPLAY_MIN_MS, this.#loadMsPerByte * bytes);
  }

  // Call holding the lock exclusively, caught up.
  async #writeCheckpoint(): Promise<void> {
    // Before the snapshot is taken: it holds the rows' new numbers.
    const compacted = await this.#compactRows();
    // In slices: at 100,000 x 384 a whole serialize() would stall the page for
    // over 100 ms. Nothing writes the store meanwhile: this runs in the chain.
    try {
      const bytes = await serializeSliced(this.#store);
      this.#manifest = await writeCheckpoint(this.#backend, bytes, this.#applied, this.#durability, this.#manifest.lineage, compacted?.lineage);
    } catch (e) {
      // The store numbers its rows as the compacted file does, which storage does not hold.
      if (compacted) await this.#reload(true);
      throw e;
    }
    this.#journalBytes = 0;
    this.#replayMs = 0;
    if (this.#rows.tier) await this.#backend.removeStaleRows(this.#manifest.lineage).catch(() => undefined);
  }

  // Copies the rows in use to a new file, of a new lineage, and numbers the
  // store's rows as there (its searches read the new file from now on); the
  // checkpoint then starts that lineage, so every other tab reloads from it.
  async #compactRows(): Promise<{ lineage: number } | undefined> {
    const tier = this.#rows.tier;
    const store = this.#store as VectorStore<unknown>;
    if (!tier || !rowAccess.keepsRows(store)) return undefined;
    const inUse = rowAccess.rowBytesHeld(store);
    const unused = tier.file.size() - inUse;
    if (unused <= inUse / 2 || unused <= ROWS_COMPACT_MIN_BYTES) return undefined;
    const lineage = newLineage();
    const fresh = new StorageRows(await this.#backend.openRows(lineage));
    try {
      rowAccess.compact(store, (rows, bytes) => {
        copyRows(tier.file, fresh.file, rows, bytes);
        fresh.file.flush();
      });
    } catch (e) {
      // Nothing changed (the store renumbers only after the copy); the file goes with the next stale ones.
      fresh.file.close();
      throw e;
    }
    this.#rows.adopt(lineage, fresh);
    rowAccess.attach(store, fresh);
    return { lineage };
  }

  #fail(error: TabvecError): void {
    this.#failure = error;
    for (const p of this.#queue.splice(0)) p.reject(error);
  }

  #emit(event: ChangeEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a listener's error is its own
      }
    }
  }
}

/**
 * @internal serialize() in slices of about `sliceMs`, yielding to the event
 * loop between them, so a large store is written out without stalling the
 * page (checkpoints). The store must not be written meanwhile.
 */
export async function serializeSliced(store: VectorStore<unknown>, sliceMs = 8): Promise<Uint8Array> {
  const steps = storeInternals(store).serializeSteps();
  let sliceStart = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - sliceStart > sliceMs) {
      await yieldToEventLoop();
      sliceStart = performance.now();
    }
  }
}

// A store's full-text settings and those `create.text` asks for, worded alike
// so that they compare equal when they agree (k1 and b as the core keeps them, float32).
async function textSettings(store: VectorStore<unknown>, asked: VectorStoreOptions['text']): Promise<[string, string]> {
  const { native, runtime } = storeInternals(store);
  const m = runtime.module;
  const words = (language: string, k1: number | undefined, b: number | undefined) =>
    `text (language ${language}, k1 ${k1 === undefined ? 'default' : Math.fround(k1)}, b ${b === undefined ? 'default' : Math.fround(b)})`;
  const noText = 'no text';
  const wants = asked !== undefined && asked !== false;
  if (!native.textLanguage && !wants) return [noText, noText];
  const { TEXT_LANGUAGES } = await import('./tokenize.js');
  const held = native.textLanguage ? words(TEXT_LANGUAGES[native.textLanguage()] ?? '?', native.textK1!(), native.textB!()) : noText;
  const opts = (asked === true ? {} : asked || {}) as { language?: string; k1?: number; b?: number };
  return [held, wants ? words(opts.language ?? TEXT_LANGUAGES[0]!, opts.k1 ?? m.DEFAULT_BM25_K1, opts.b ?? m.DEFAULT_BM25_B) : noText];
}
