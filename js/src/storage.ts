// Where a store's bytes live: a manifest (what is current), checkpoints
// (whole snapshots, by generation) and the journal (records written since
// the checkpoint, numbered in sequence). Three backends give the same small
// interface: OPFS files, IndexedDB records, and files under Node. Everything
// above this file (persist.ts, live.ts) is written once against it.
//
// A write never touches what the manifest names: a checkpoint goes to a
// new generation and the manifest switches afterwards, so a write cut off at
// any point leaves the previous state readable. Locks serialize writers
// across tabs and workers (Web Locks) or within a Node process; a live store
// in Node also holds a lock file.
import { TabvecError } from './errors.js';
import { corruptJournal, crc32, decodeSegment, recordAt } from './journal.js';
import { type InPlaceStep, type SyncAccessHandle, type WriterHold, closeRowsHere, hasSyncAccess, holdWriter, keepsHandles, openReadingHere, openRowsHere, readFileRange, readKeptHere, releaseKept, storeDirectory, writeInPlaceHere } from './opfs-io.js';
import type { RowFile } from './rows.js';
import type { SnapshotSource } from './store.js';

/** Where a store is kept: an OPFS file name, an IndexedDB key, or (Node) a file path. */
export type StorageTarget = { opfs: string } | { indexedDB: string } | { file: string };

export type Durability = 'strict' | 'relaxed';

/** What the manifest says is current. */
export interface Manifest {
  /** The checkpoint file or record in use. */
  generation: number;
  /** Its length in bytes. */
  bytes: number;
  /** The last journal record it includes: replay starts after it. */
  seq: number;
  /**
   * Which store this is: drawn anew when a store is created or replaced
   * (save()), kept by its checkpoints. A live store that finds another
   * reloads, however the numbers compare (0: written before lineages).
   */
  lineage: number;
  /** Read from an OPFS store in tabvec 0.1's layout (a file per commit), which a live store rewrites in the current one. */
  legacy?: true;
}

export interface Backend {
  /** For messages: "OPFS 'notes'". */
  readonly where: string;
  /** Web Lock (or in-process lock) name serializing writers of this store. */
  readonly lockName: string;
  readManifest(): Promise<Manifest | undefined>;
  writeManifest(manifest: Manifest, durability: Durability): Promise<void>;
  writeCheckpoint(generation: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  /** The checkpoint, read in pieces when iterated; undefined when it is not there. */
  readCheckpoint(generation: number): Promise<SnapshotSource | undefined>;
  listCheckpoints(): Promise<number[]>;
  removeCheckpoint(generation: number): Promise<void>;
  /**
   * Appends one commit's records (encoded; the first is numbered `first`)
   * after the last record stored. Whole or not at all, except on OPFS, where
   * a write cut short leaves a torn tail (never acknowledged; the next writer cuts it).
   */
  appendJournal(first: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  /**
   * The stored journal from record `first` on, to the end of the piece that
   * holds it (IndexedDB and files: the commit's segment; OPFS: the journal
   * file); undefined when no record `first` is stored. On OPFS, where the
   * intact records stop before `first` with bytes left over (a torn or
   * damaged record), those bytes, for the caller to judge.
   */
  readJournal(first: number): Promise<Uint8Array | undefined>;
  /** Where the stored pieces holding records after `after` begin (record numbers), ascending. */
  journalPieces(after: number): Promise<number[]>;
  /**
   * Keeps `keep` bytes of the piece readJournal(first) returns, and nothing
   * after them. `torn`: the cut drops a torn tail, so it is refused
   * (CORRUPT_SNAPSHOT) if intact records come after it: then it is damage.
   */
  cutJournal(first: number, keep: number, durability: Durability, torn: boolean): Promise<void>;
  /** Drops the records up to `through` (a checkpoint holds them). */
  dropJournal(through: number): Promise<void>;
  /** Whether checkpoints or journal are stored (asked when there is no manifest: then they mean it was lost). */
  holdsData(): Promise<boolean>;
  /**
   * How this storage was lost, when tabvec learned it was deleted underneath
   * it (the browser found it corrupt, or other code deleted it) and this store
   * has not been removed since; asked when there is no manifest, which then
   * does not mean "never created".
   */
  storageLost?(): Promise<string | undefined>;
  /** Removes the store: its checkpoints and journal, the manifest last. */
  removeAll(): Promise<void>;
  /**
   * The rows file of a storage tier (rerank 'storage') of the store's
   * lineage `lineage`, for synchronous reads and writes; STORAGE_UNAVAILABLE
   * where reads cannot be synchronous. Compaction starts a new lineage, so
   * tabs still reading the old rows reload before they read the new ones.
   */
  openRows(lineage: number): Promise<RowFile>;
  /** Why openRows() cannot work here (checked before a store is created); undefined when it can. */
  rowsUnavailable(): string | undefined;
  /** Removes the rows files of other lineages, those nothing holds open (best effort). */
  removeStaleRows(lineage: number): Promise<void>;
  /** Releases what the backend holds open (a database connection, the OPFS writer worker). */
  close(): void;
}

function noSyncRows(where: string, why: string): TabvecError {
  return new TabvecError('STORAGE_UNAVAILABLE', `${where} cannot keep rerank 'storage' rows: ${why}`);
}

// A row read that came back short: the rows file lost its end (or is another store's).
function shortRead(where: string, position: number): TabvecError {
  return new TabvecError('CORRUPT_SNAPSHOT', `${where}: its rows file ends before byte ${position}, where a stored vector should be`);
}

// A backend's synchronous file calls: read() returns the bytes it read (fewer at the file's end).
type RawRows = Omit<RowFile, 'read'> & { read(into: Uint8Array, position: number): number };

/** A rows file over a backend's raw calls: their failures as storage errors, a short read as damage. */
function rowFile(where: string, raw: RawRows): RowFile {
  const guarded = <T>(call: () => T): T => {
    try {
      return call();
    } catch (e) {
      throw storageError(e, `using the rows of ${where}`);
    }
  };
  return {
    read(into, position) {
      if (guarded(() => raw.read(into, position)) !== into.byteLength) throw shortRead(where, position + into.byteLength);
    },
    write: (bytes, position) => guarded(() => raw.write(bytes, position)),
    flush: () => guarded(() => raw.flush()),
    size: () => raw.size(),
    close: () => raw.close(),
  };
}

/** A rows file through an OPFS sync access handle. */
function opfsRows(where: string, key: string, access: SyncAccessHandle): RowFile {
  return rowFile(where, {
    read: (into, position) => access.read(into, { at: position }),
    write(bytes, position) {
      if (access.write(bytes, { at: position }) !== bytes.byteLength) throw new Error('short write');
    },
    flush: () => access.flush(),
    size: () => access.getSize(),
    close: () => closeRowsHere(key, access),
  });
}

const DIRECTORY = 'tabvec';
const DATABASE = 'tabvec';
const DATABASE_VERSION = 2;
// Checkpoints are written in pieces of this size (IndexedDB records, OPFS writes handed to a worker).
const CHECKPOINT_PIECE_BYTES = 4 << 20;
// Checkpoints are read in pieces of this size and loaded as they arrive
// (files in Node, IndexedDB records, OPFS Blobs).
const READ_PIECE_BYTES = 8 << 20;
// Through a sync access handle (OPFS), in pieces of this size, into the memory
// of pieces already loaded. From a page each piece is a request to the writer
// worker, and the next is asked for when one arrives: small pieces keep the
// loader from waiting for the first (its memory is new) and for the round
// trip. LiveStore.open of a 57 MB store in Chromium, medians of 27 opens on a
// loaded machine: 65 ms with pieces of 1 MiB, 62 with 2, 68 with 4, 72 with
// 8 (16: 110, in another round). Loading a piece stalls the page ~1 ms; at
// most three are held (loading, read, being read).
const HANDLE_PIECE_BYTES = 2 << 20;
// How long a removal waits for other contexts to close their handles to a store's files (they are asked at once), and how often it tries.
const REMOVE_WAIT_MS = 5_000;
const REMOVE_RETRY_MS = 20;
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

function invalidTarget(): TabvecError {
  return new TabvecError('INVALID_ARGUMENT', "target must be { opfs: 'name' }, { indexedDB: 'name' } or, in Node, { file: 'path' }");
}

/** @internal Checks a target and returns its backend (nothing is opened yet). */
export function backendFor(target: StorageTarget): Backend {
  if (typeof target !== 'object' || target === null) throw invalidTarget();
  const keys = Object.keys(target);
  if (keys.length !== 1) throw invalidTarget();
  const kind = keys[0]!;
  const name = (target as Record<string, unknown>)[kind];
  if (typeof name !== 'string') throw invalidTarget();
  if (kind === 'file') {
    if (name.length === 0 || name.includes('\0')) throw new TabvecError('INVALID_ARGUMENT', `file must be a non-empty path, got ${JSON.stringify(name)}`);
    return new FileBackend(name);
  }
  if (kind !== 'opfs' && kind !== 'indexedDB') throw invalidTarget();
  if (!NAME_PATTERN.test(name)) {
    throw new TabvecError('INVALID_ARGUMENT', `storage name must match ${NAME_PATTERN}, got ${JSON.stringify(name.slice(0, 140))}`);
  }
  return kind === 'opfs' ? new OpfsBackend(name) : new IndexedDbBackend(name);
}

/** @internal A storage failure as a TabvecError (quota, unavailable), keeping TabvecErrors as they are. */
export function storageError(e: unknown, what: string): TabvecError {
  if (e instanceof TabvecError) return e;
  const name = (e as { name?: string })?.name;
  const code = (e as { code?: string })?.code;
  if (name === 'QuotaExceededError' || code === 'ENOSPC' || code === 'EDQUOT') {
    return new TabvecError('QUOTA_EXCEEDED', `${what}: the storage quota is exhausted`);
  }
  return new TabvecError('STORAGE_UNAVAILABLE', `${what}: ${(e as Error)?.message ?? String(e)}`);
}

function validManifest(m: Partial<Manifest>): m is Manifest {
  return Number.isSafeInteger(m.generation) && m.generation! > 0 && Number.isSafeInteger(m.bytes) && m.bytes! >= 0 &&
    Number.isSafeInteger(m.seq) && m.seq! >= 0 && Number.isSafeInteger(m.lineage) && m.lineage! >= 0;
}

/** @internal A new store's lineage (see Manifest). */
export function newLineage(): number {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  // 52 random bits, never 0.
  return (words[0]! & 0xfffff) * 2 ** 32 + words[1]! || 1;
}

function parseManifest(text: string, where: string): Manifest {
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    // Format 1 manifests (plain save()) have no seq: no journal; none before this one had a lineage.
    const manifest = { generation: m.generation, bytes: m.bytes, seq: m.seq ?? 0, lineage: m.lineage ?? 0 };
    if (validManifest(manifest)) return manifest;
  } catch {
    // fall through
  }
  throw new TabvecError('CORRUPT_SNAPSHOT', `the manifest of ${where} is unreadable`);
}
// --- locks -------------------------------------------------------------------

export type LockMode = 'shared' | 'exclusive';

interface LockState {
  holders: number;
  exclusive: boolean;
  waiting: { mode: LockMode; grant: () => void }[];
}

// Where there is no navigator.locks (Node 20): the same semantics within this
// process. A live store in Node also holds a lock file against other processes.
const localLocks = new Map<string, LockState>();

async function withLocalLock<T>(name: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  let s = localLocks.get(name);
  if (!s) localLocks.set(name, (s = { holders: 0, exclusive: false, waiting: [] }));
  const state = s;
  // Shared requests queue behind a waiting exclusive one, so writers are not starved.
  const runsNow = mode === 'shared' ? !state.exclusive && state.waiting.length === 0 : state.holders === 0;
  if (runsNow) {
    state.holders++;
    state.exclusive = mode === 'exclusive';
  } else {
    // The releasing holder counts this one in before granting it.
    await new Promise<void>((grant) => state.waiting.push({ mode, grant }));
  }
  try {
    return await fn();
  } finally {
    state.holders--;
    if (state.holders === 0) state.exclusive = false;
    while (state.waiting.length > 0) {
      const next = state.waiting[0]!;
      if (next.mode === 'exclusive') {
        if (state.holders > 0) break;
        state.waiting.shift();
        state.holders = 1;
        state.exclusive = true;
        next.grant();
        break;
      }
      if (state.exclusive) break;
      state.waiting.shift();
      state.holders++;
      next.grant();
    }
    if (state.holders === 0 && state.waiting.length === 0) localLocks.delete(name);
  }
}

function webLocks(): LockManager | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  return typeof locks?.request === 'function' ? locks : undefined;
}

function isBrowserLike(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node !== 'string';
}

/**
 * @internal Runs fn holding the store's lock. Browsers: a Web Lock, shared by
 * every tab and worker of the origin; where a browser lacks Web Locks this
 * refuses with STORAGE_UNAVAILABLE rather than letting writers race.
 */
export async function withLock<T>(backend: Backend, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks) return (await locks.request(backend.lockName, { mode }, fn)) as T;
  if (isBrowserLike() && !(backend instanceof FileBackend)) {
    throw new TabvecError('STORAGE_UNAVAILABLE',
      `${backend.where}: this browser has no Web Locks API (navigator.locks), which tabvec needs so that tabs never write the same store at once`);
  }
  return withLocalLock(backend.lockName, mode, fn);
}

/**
 * @internal Whether a checkpoint left without a manifest may be named in a new
 * one as it is (IndexedDB and files: checkpoints are named by generation;
 * OPFS slots are not, and its superblock is created before them).
 */
export function canAdoptCheckpoint(backend: Backend): boolean {
  return backend instanceof SegmentBackend;
}

/** @internal A file or record that is not there (any backend). */
export function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === 'NotFoundError' || (e as { code?: string })?.code === 'ENOENT';
}

/**
 * Refuses a cut of the OPFS journal file that would drop intact records: the
 * caller judged a tail torn or damaged from what it read; the file as it is
 * now must end its intact records exactly there. (A segment, written whole,
 * cannot change under its reader.)
 */
function checkCut(bytes: Uint8Array, first: number, keep: number, where: string, torn: boolean): void {
  const read = decodeSegment(bytes, first);
  if (torn && read.problem && !read.problem.tail) throw corruptJournal(`journal segment ${first} of ${where}`, read.problem.offset, read.problem.reason);
  const intact = read.validBytes;
  if (intact !== keep) {
    throw new TabvecError('STORAGE_UNAVAILABLE', `${where}: not cutting the journal at byte ${keep} from record ${first}: its intact records end at byte ${intact}`);
  }
}

// --- the journal as segments (IndexedDB, files, OPFS stores of tabvec 0.1) ------

/**
 * A journal kept as segments, one per commit, each named by its first
 * record: written whole (a file renamed into place, one transaction), so
 * only a segment can be missing, never half of one.
 */
abstract class SegmentBackend implements Backend {
  abstract readonly where: string;
  abstract readonly lockName: string;
  abstract readManifest(): Promise<Manifest | undefined>;
  abstract writeManifest(manifest: Manifest, durability: Durability): Promise<void>;
  abstract writeCheckpoint(generation: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  abstract readCheckpoint(generation: number): Promise<SnapshotSource | undefined>;
  abstract listCheckpoints(): Promise<number[]>;
  abstract removeCheckpoint(generation: number): Promise<void>;
  abstract close(): void;
  protected abstract removeManifest(): Promise<void>;
  abstract openRows(lineage: number): Promise<RowFile>;
  abstract rowsUnavailable(): string | undefined;
  async removeStaleRows(_lineage: number): Promise<void> {}
  protected async removeRows(): Promise<void> {}
  protected abstract writeSegment(first: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  protected abstract readSegment(first: number): Promise<Uint8Array | undefined>;
  /** First record numbers of the segments present, ascending. */
  protected abstract listSegments(): Promise<number[]>;
  protected abstract removeSegment(first: number): Promise<void>;

  appendJournal(first: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    return this.writeSegment(first, bytes, durability);
  }
  readJournal(first: number): Promise<Uint8Array | undefined> {
    return this.readSegment(first);
  }
  async journalPieces(after: number): Promise<number[]> {
    return (await this.listSegments()).filter((first) => first > after);
  }
  async cutJournal(first: number, keep: number, durability: Durability, torn: boolean): Promise<void> {
    if (torn && (await this.listSegments()).some((later) => later > first)) {
      throw corruptJournal(`journal segment ${first} of ${this.where}`, keep, 'a record is incomplete or fails its CRC-32, and later segments exist');
    }
    const bytes = await this.readSegment(first);
    // Rewritten whole, so the cut is atomic too.
    if (bytes && keep > 0) await this.writeSegment(first, bytes.subarray(0, keep), durability);
    else await this.removeSegment(first);
    for (const later of await this.listSegments()) if (later > first) await this.removeSegment(later);
  }
  async dropJournal(through: number): Promise<void> {
    for (const first of await this.listSegments()) if (first <= through) await this.removeSegment(first).catch(() => undefined);
  }
  async holdsData(): Promise<boolean> {
    return (await this.listCheckpoints()).length > 0 || (await this.listSegments()).length > 0;
  }
  async removeAll(): Promise<void> {
    for (const g of await this.listCheckpoints()) await this.removeCheckpoint(g);
    for (const s of await this.listSegments()) await this.removeSegment(s);
    await this.removeRows();
    // Last: a removal cut off midway leaves a manifest naming what is gone,
    // which opening reports (and remove() finishes), not an unnamed remainder.
    await this.removeManifest();
  }
}

// --- OPFS ----------------------------------------------------------------------

// The superblock: two copies of the manifest, at 0 and at SUPERBLOCK_COPY_BYTES,
// each  u32 magic | u32 version | f64 generation | f64 bytes | f64 seq | f64 lineage | u32 CRC-32 of the 40 bytes before it.
// Generation g is written to copy g % 2, so the copy a write cut short
// damages is never the current one.
const SUPERBLOCK_MAGIC = 0x42535654; // "TVSB"
const SUPERBLOCK_VERSION = 1;
const SUPERBLOCK_COPY_BYTES = 64;
// What a migration leaves in tabvec 0.1's manifest: JSON that 0.1 rejects as
// damage (no generation), with the manifest it replaced (see readManifest).
const movedTo = 'superblock';

function encodeSuperblockCopy(m: Manifest): Uint8Array {
  const bytes = new Uint8Array(SUPERBLOCK_COPY_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, SUPERBLOCK_MAGIC, true);
  view.setUint32(4, SUPERBLOCK_VERSION, true);
  view.setFloat64(8, m.generation, true);
  view.setFloat64(16, m.bytes, true);
  view.setFloat64(24, m.seq, true);
  view.setFloat64(32, m.lineage, true);
  view.setUint32(40, crc32(bytes, 40), true);
  return bytes;
}

function decodeSuperblock(bytes: Uint8Array, where: string): Manifest {
  let best: Manifest | undefined;
  for (let at = 0; at + 44 <= bytes.length && at <= SUPERBLOCK_COPY_BYTES; at += SUPERBLOCK_COPY_BYTES) {
    const copy = bytes.subarray(at, at + 44);
    const view = new DataView(copy.buffer, copy.byteOffset, 44);
    if (view.getUint32(0, true) !== SUPERBLOCK_MAGIC || view.getUint32(40, true) !== crc32(copy, 40)) continue;
    if (view.getUint32(4, true) !== SUPERBLOCK_VERSION) {
      throw new TabvecError('UNSUPPORTED_VERSION', `${where} was written by a newer tabvec (superblock version ${view.getUint32(4, true)})`);
    }
    const m = { generation: view.getFloat64(8, true), bytes: view.getFloat64(16, true), seq: view.getFloat64(24, true), lineage: view.getFloat64(32, true) };
    if (validManifest(m) && (!best || m.generation > best.generation)) best = m;
  }
  if (!best) throw new TabvecError('CORRUPT_SNAPSHOT', `the superblock of ${where} has no intact copy`);
  return best;
}

/**
 * A store in OPFS, as files written only in place (see opfs-io.ts for why):
 *   <name>.wal            the journal: commits appended, emptied after a checkpoint
 *   <name>.checkpoint-0/1 checkpoints: generation g in slot g % 2
 *   <name>.superblock     the manifest, twice over
 * The files are created once, with the store's first checkpoint (the
 * superblock first); from then on nothing is created, renamed or removed
 * until the store is. No name ends like tabvec 0.1's files
 * (<name>.manifest.json, <name>.<g>.tabvec, <name>.<seq>.journal), so the
 * files of store "a.2" are never taken for those of a 0.1 store "a". Stores
 * in 0.1's layout still read; a live store rewrites them in this one. Every
 * write is fenced by what its writer read (see InPlaceStep).
 */
class OpfsBackend implements Backend {
  readonly where: string;
  readonly lockName: string;
  #dir: Promise<FileSystemDirectoryHandle> | undefined;
  readonly #handles = new Map<string, FileSystemFileHandle>();
  // The manifest last read or written (the checkpoint slot in use), and the superblock bytes it came from.
  #current: Manifest | undefined;
  #superblockBytes: Uint8Array | undefined;
  // Where record `seq` of the journal file starts (or would), just after
  // record seq - 1 at `previous`: a hint, checked before use.
  #cursor: { seq: number; offset: number; previous: number } | undefined;
  // The end of the journal, where the last walk looked for record `seq`.
  #appendAt: { seq: number; offset: number } | undefined;
  // What journalPieces read, for the readJournal that follows it under the
  // same lock (every hold starts with readManifest, which forgets it).
  #walked: { seq: number; bytes: Uint8Array } | undefined;
  #writer: WriterHold | undefined;

  constructor(readonly name: string) {
    this.where = `OPFS '${name}'`;
    this.lockName = `tabvec:opfs:${name}`;
  }

  get #superblock(): string {
    return `${this.name}.superblock`;
  }
  get #journal(): string {
    return `${this.name}.wal`;
  }
  #slot(generation: number): string {
    return `${this.name}.checkpoint-${generation % 2}`;
  }
  get #legacyManifest(): string {
    return `${this.name}.manifest.json`;
  }

  #directory(): Promise<FileSystemDirectoryHandle> {
    this.#dir ??= storeDirectory(DIRECTORY);
    this.#dir.catch(() => (this.#dir = undefined));
    return this.#dir;
  }

  // The file's handle; undefined when it does not exist (and `create` is not set).
  async #handle(file: string, create = false): Promise<FileSystemFileHandle | undefined> {
    const known = this.#handles.get(file);
    if (known) return known;
    try {
      const handle = await (await this.#directory()).getFileHandle(file, { create });
      this.#handles.set(file, handle);
      return handle;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async #file(file: string): Promise<File | undefined> {
    const handle = await this.#handle(file);
    if (!handle) return undefined;
    try {
      return await handle.getFile();
    } catch (e) {
      // Removed (by another tab's remove()) since the handle was looked up.
      if (!isNotFound(e)) throw e;
      this.#handles.delete(file);
      return undefined;
    }
  }

  async #bytes(file: string): Promise<Uint8Array | undefined> {
    const f = await this.#file(file);
    return f && new Uint8Array(await f.arrayBuffer());
  }

  async #size(file: string): Promise<number> {
    return (await this.#file(file))?.size ?? 0;
  }

  async #inPlace(file: string, steps: InPlaceStep[]): Promise<void> {
    const handle = await this.#handle(file);
    if (!handle) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: its file ${file} is missing (was the store removed?)`);
    // Every commit writes these two: their handles stay open (see opfs-io.ts).
    const keep = file === this.#journal || file === this.#superblock;
    if (hasSyncAccess(handle)) return writeInPlaceHere(handle, steps, keep ? `${DIRECTORY}/${file}` : undefined);
    return this.#writerHold().write(DIRECTORY, file, steps, keep);
  }

  // The size of the journal or superblock and up to `length` bytes of it at
  // `at` (undefined if it does not exist): through the handle kept open for
  // writing it, where this context has one or a page's writer worker runs
  // (a read-only open does not start the worker), else from a File.
  async #readKept(file: string, at: number, length: number): Promise<{ size: number; bytes: Uint8Array } | undefined> {
    const handle = await this.#handle(file);
    if (!handle) return undefined;
    try {
      if (hasSyncAccess(handle)) return await readKeptHere(handle, `${DIRECTORY}/${file}`, at, length);
      if (this.#writer && !this.#writer.failed) return await this.#writer.read(DIRECTORY, file, at, length);
    } catch (e) {
      if (isNotFound(e)) {
        this.#handles.delete(file);
        return undefined;
      }
      // A worker that failed meanwhile, a handle refused: the File holds the same bytes.
      if (hasSyncAccess(handle)) throw e;
    }
    const f = await this.#file(file);
    return f && readFileRange(f, at, length);
  }

  // This backend's hold on the page's writer worker (a new one if the last failed).
  #writerHold(): WriterHold {
    if (this.#writer?.failed) {
      this.#writer.release();
      this.#writer = undefined;
    }
    return (this.#writer ??= holdWriter());
  }

  async #remove(file: string): Promise<void> {
    this.#handles.delete(file);
    const directory = await this.#directory();
    // An open sync access handle blocks the removal: every context closes the
    // handles it keeps (opfs-io.ts) when asked; a frozen tab cannot answer,
    // and the removal fails rather than wait for it.
    for (let waited = 0; ; waited += REMOVE_RETRY_MS) {
      try {
        return await directory.removeEntry(file);
      } catch (e) {
        if (isNotFound(e)) return;
        if ((e as { name?: string })?.name !== 'NoModificationAllowedError') throw e;
        if (waited >= REMOVE_WAIT_MS) {
          throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: ${file} is held open by another tab or worker that did not let go within ${REMOVE_WAIT_MS / 1000} s (a frozen background tab?); the removal stopped there, and remove() again finishes it`);
        }
      }
      // Asked again each time (a context may have opened one since), for all
      // of the store's kept files at once: a tab that lets go of this one and
      // then stalls does not hold the next.
      releaseKept([file, this.#journal, this.#superblock].map((f) => `${DIRECTORY}/${f}`));
      await new Promise((resolve) => setTimeout(resolve, REMOVE_RETRY_MS));
    }
  }

  // tabvec 0.1's files of this store: `<name>.<n><suffix>`, by n.
  async #legacyFiles(suffix: string): Promise<number[]> {
    const prefix = `${this.name}.`;
    const found: number[] = [];
    for await (const entry of (await this.#directory() as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (!entry.startsWith(prefix) || !entry.endsWith(suffix)) continue;
      const middle = entry.slice(prefix.length, -suffix.length);
      if (/^[1-9][0-9]*$/.test(middle)) found.push(Number(middle));
    }
    return found.sort((a, b) => a - b);
  }

  async readManifest(): Promise<Manifest | undefined> {
    this.#walked = undefined;
    const superblock = (await this.#readKept(this.#superblock, 0, Infinity))?.bytes;
    this.#superblockBytes = superblock;
    // Empty: created, never written (the store's creation was cut off).
    if (superblock && superblock.length > 0) return (this.#current = decodeSuperblock(superblock, this.where));
    const legacy = await this.#bytes(this.#legacyManifest);
    if (!legacy) return (this.#current = undefined);
    let text = new TextDecoder().decode(legacy);
    // Migrated, yet no superblock: a crash undid the new files' creation, and
    // with it (they came later) the removal of 0.1's: read those, as they were.
    const moved = (() => { try { return JSON.parse(text) as { movedTo?: unknown; was?: unknown }; } catch { return undefined; } })();
    if (moved?.movedTo === movedTo) text = JSON.stringify(moved.was ?? null);
    this.#current = { ...parseManifest(text, this.where), legacy: true };
    return this.#current;
  }

  async writeManifest(m: Manifest): Promise<void> {
    await this.#handle(this.#superblock, true);
    // Fenced by the superblock as read under this lock (readManifest comes first).
    const seen = this.#superblockBytes ?? (await this.#bytes(this.#superblock)) ?? new Uint8Array(0);
    const copy = encodeSuperblockCopy(m);
    // The first write fills both copies, so one damaged copy never leaves none.
    const steps: InPlaceStep[] = seen.length === 0
      ? [{ size: 0 }, { at: 0, bytes: copy }, { at: SUPERBLOCK_COPY_BYTES, bytes: copy }]
      : [{ begins: seen }, { at: (m.generation % 2) * SUPERBLOCK_COPY_BYTES, bytes: copy }];
    await this.#inPlace(this.#superblock, steps);
    const legacy = this.#current?.legacy ? this.#current : undefined;
    this.#current = { generation: m.generation, bytes: m.bytes, seq: m.seq, lineage: m.lineage };
    this.#superblockBytes = undefined; // read again before the next write
    if (legacy) {
      // What tabvec 0.1 wrote is superseded (the superblock is read first).
      // Its manifest stays, saying so, so that a tab still running 0.1 fails
      // to open the store rather than start a new one beside it.
      const was = { generation: legacy.generation, bytes: legacy.bytes, seq: legacy.seq };
      const tombstone = new TextEncoder().encode(JSON.stringify({ movedTo, was }));
      await this.#inPlace(this.#legacyManifest, [{ truncate: 0 }, { at: 0, bytes: tombstone }]).catch(() => undefined);
      for (const first of await this.#legacyFiles('.journal')) await this.#remove(`${this.name}.${first}.journal`).catch(() => undefined);
    }
  }

  async writeCheckpoint(generation: number, bytes: Uint8Array): Promise<void> {
    // The store's files, created once, with its first checkpoint. The
    // superblock comes first: a crash can undo name changes only from some
    // point on, so while the superblock's name stands, the others do too; and
    // an empty superblock is a creation that never finished (nothing acknowledged).
    for (const file of [this.#superblock, this.#journal, this.#slot(0), this.#slot(1)]) await this.#handle(file, true);
    const slot = this.#slot(generation);
    const before = await this.#size(slot);
    // In pieces: a page hands each to the writer worker by copying it, and one
    // 57 MB copy stalled the page for ~100 ms. Each piece is fenced by the
    // size the one before left.
    for (let at = 0; at === 0 || at < bytes.byteLength; at += CHECKPOINT_PIECE_BYTES) {
      const piece = { at, bytes: bytes.subarray(at, Math.min(bytes.byteLength, at + CHECKPOINT_PIECE_BYTES)) };
      await this.#inPlace(slot, at === 0 ? [{ size: before }, { truncate: 0 }, piece] : [{ size: at }, piece]);
    }
  }

  async readCheckpoint(generation: number): Promise<SnapshotSource | undefined> {
    const legacy = this.#current?.legacy && this.#current.generation === generation;
    const name = legacy ? `${this.name}.${generation}.tabvec` : this.#slot(generation);
    const file = await this.#file(name);
    const handle = await this.#handle(name);
    if (!file || !handle) return undefined;
    // Through a sync access handle where they exist; from a page, a large
    // checkpoint through the worker (its startup costs less than the Blob
    // reads save), else as a Blob. Either handle is opened once for the whole
    // read, and closed after its last piece or when the loader stops early
    // (pieces() is left only through its finally). Readers hold the lock:
    // nothing writes meanwhile.
    const here = hasSyncAccess(handle);
    let worker: WriterHold | undefined;
    try {
      if (!here && file.size > READ_PIECE_BYTES) worker = this.#writerHold();
    } catch {
      // no worker here (a CSP without worker-src): Blob reads
    }
    const pieceBytes = here || worker ? HANDLE_PIECE_BYTES : READ_PIECE_BYTES;
    return {
      bytes: file.size,
      async *pieces() {
        let opened: ReturnType<typeof openReadingHere> | undefined;
        const reading = worker?.reading(DIRECTORY, name);
        // Memory of pieces the loader is done with, read into again (see ReadingHere.read).
        const spare: ArrayBuffer[] = [];
        const readPiece = async (at: number): Promise<Uint8Array> => {
          const length = Math.min(pieceBytes, file.size - at);
          if (here) return (await (opened ??= openReadingHere(handle))).read(at, length, spare.pop());
          if (reading) {
            try {
              return await reading.read(at, length, spare.pop());
            } catch {
              // a worker that cannot start, or a handle refused: the Blob reads the same bytes
            }
          }
          return new Uint8Array(await file.slice(at, at + length).arrayBuffer());
        };
        // A piece ahead: the next is read while the loader takes this one.
        const read = (at: number) => {
          const piece = readPiece(at);
          piece.catch(() => undefined); // awaited below, unless the loader stops first
          return piece;
        };
        try {
          let next = read(0);
          let previous: Uint8Array | undefined;
          for (let at = 0; at < file.size; at += pieceBytes) {
            const piece = await next;
            if (at + pieceBytes < file.size) next = read(at + pieceBytes);
            yield piece;
            // The loader asks for the piece after this one: it is done with
            // the one before (SnapshotSource.pieces), whose memory is reused.
            if (previous) spare.push(previous.buffer as ArrayBuffer);
            previous = piece;
          }
        } finally {
          // After the piece read ahead, if any: the worker runs a reading's requests in order.
          if (opened) (await opened.catch(() => undefined))?.close();
          await reading?.end().catch(() => undefined);
        }
      },
    };
  }

  async listCheckpoints(): Promise<number[]> {
    const legacy = await this.#legacyFiles('.tabvec');
    return this.#current && !this.#current.legacy ? [...legacy, this.#current.generation] : legacy;
  }

  async removeCheckpoint(generation: number): Promise<void> {
    await this.#remove(`${this.name}.${generation}.tabvec`);
    // A slot is emptied, not removed (the checkpoint after next writes it
    // again), and never the one the manifest names.
    const slot = this.#slot(generation);
    const inUse = this.#current && !this.#current.legacy ? this.#slot(this.#current.generation) : undefined;
    if (slot === inUse || !(await this.#handle(slot))) return;
    const size = await this.#size(slot);
    if (size > 0) await this.#inPlace(slot, [{ size }, { truncate: 0 }]);
  }

  // Walks the journal file to record `seq`: where it starts, or where the
  // intact records before it end; the file's bytes from there on, and its
  // size. The walk starts at the cursor when the record before it is still
  // the one the cursor names (another tab may have cut or emptied the file
  // meanwhile), and stops at a header that is not whole or whose number does
  // not follow the one before (a torn header can hold any number).
  async #find(seq: number): Promise<{ offset: number; found: boolean; bytes: Uint8Array; size: number; follows: boolean }> {
    let start = 0;
    let previous: number | undefined;
    let last = -1;
    const hint = this.#cursor;
    let read = hint && hint.seq <= seq ? await this.#readKept(this.#journal, hint.previous, 16) : undefined;
    if (read && hint && hint.offset <= read.size) {
      const head = new DataView(read.bytes.buffer, read.bytes.byteOffset, read.bytes.byteLength);
      if (head.byteLength === 16 && head.getFloat64(8, true) === hint.seq - 1 && hint.previous + 16 + head.getUint32(0, true) === hint.offset) {
        start = hint.offset;
        previous = hint.previous;
        last = hint.seq - 1;
      }
    }
    // At the end already (the usual case: a tab caught up), nothing more to read.
    if (!read || start !== read.size) read = await this.#readKept(this.#journal, start, Infinity);
    if (!read) return { offset: 0, found: false, bytes: new Uint8Array(0), size: 0, follows: false };
    const size = read.size;
    const bytes = start === size ? new Uint8Array(0) : read.bytes;
    let at = 0;
    let r = recordAt(bytes, 0);
    for (; r && r.seq > last && r.seq < seq; r = recordAt(bytes, at)) {
      previous = start + at;
      last = r.seq;
      at = r.end;
    }
    if (r && r.seq <= last) r = undefined; // a number going backwards: not a record
    const found = r?.seq === seq;
    // Only a position after an intact record can be checked later.
    this.#cursor = previous === undefined || (r && !found) ? undefined : { seq: r?.seq ?? seq, offset: start + at, previous };
    // Whether record `seq` may go at the end: the file ends there, after
    // record seq - 1 or (emptied or not, after a checkpoint) after records the
    // checkpoint holds, when it ends at seq - 1. Never after a gap.
    const covered = this.#current?.seq;
    const follows = !r && at === bytes.length && (last === seq - 1 || (covered === seq - 1 && last <= covered));
    this.#appendAt = follows ? { seq, offset: start + at } : undefined;
    return { offset: start + at, found, bytes: bytes.subarray(at), size, follows };
  }

  async appendJournal(first: number, bytes: Uint8Array): Promise<void> {
    if (this.#current?.legacy) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where} is in tabvec 0.1's layout; it must be rewritten before it is appended to`);
    // A writer appends right after catching up under the same lock, whose
    // last walk found the end of the journal where this record goes: that
    // walk is not repeated. Either way the write requires the file to end
    // there (a torn tail is cut before, by cutJournal).
    let end = this.#appendAt?.seq === first ? this.#appendAt.offset : undefined;
    this.#appendAt = undefined;
    this.#walked = undefined;
    if (end === undefined) {
      const walk = await this.#find(first);
      if (walk.found) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: the journal already holds record ${first}`);
      if (walk.bytes.length > 0) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: the journal has ${walk.bytes.length} unread bytes where record ${first} goes`);
      if (!walk.follows) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: the journal does not end with record ${first - 1}; not appending record ${first} after a gap`);
      end = walk.offset;
    }
    await this.#inPlace(this.#journal, [{ size: end }, { at: end, bytes }]);
    let last = 0;
    let records = 0;
    for (let at = 0, r = recordAt(bytes, 0); r; r = recordAt(bytes, at)) {
      last = at;
      at = r.end;
      records++;
    }
    this.#cursor = { seq: first + records, offset: end + bytes.byteLength, previous: end + last };
  }

  async readJournal(first: number): Promise<Uint8Array | undefined> {
    if (this.#current?.legacy) return this.#bytes(`${this.name}.${first}.journal`);
    const walked = this.#walked;
    this.#walked = undefined;
    if (walked?.seq === first) return walked.bytes;
    const { found, bytes } = await this.#find(first);
    return found || bytes.length > 0 ? bytes : undefined;
  }

  async journalPieces(after: number): Promise<number[]> {
    if (this.#current?.legacy) return (await this.#legacyFiles('.journal')).filter((first) => first > after);
    // One piece, from where record after + 1 is or should be: the reader
    // judges what is there (a gap or damage reads as such, never as nothing).
    const { bytes } = await this.#find(after + 1);
    if (bytes.length === 0) return [];
    this.#walked = { seq: after + 1, bytes };
    return [after + 1];
  }

  async cutJournal(first: number, keep: number, _durability: Durability, torn: boolean): Promise<void> {
    // A tabvec 0.1 journal is only read: the live store rewrites the store at once.
    if (this.#current?.legacy) return;
    const { offset, size, bytes } = await this.#find(first);
    checkCut(bytes, first, keep, this.where, torn);
    await this.#inPlace(this.#journal, [{ size }, { truncate: offset + keep }]);
    this.#cursor = undefined;
    this.#appendAt = undefined;
    this.#walked = undefined;
  }

  async dropJournal(through: number): Promise<void> {
    if (this.#current?.legacy) return;
    const { found, size } = await this.#find(through + 1);
    this.#cursor = undefined;
    this.#appendAt = undefined;
    this.#walked = undefined;
    // Records after `through` are kept (and found by their numbers); otherwise all of it goes.
    if (found || size === 0) return;
    await this.#inPlace(this.#journal, [{ size }, { truncate: 0 }]);
  }

  async holdsData(): Promise<boolean> {
    if ((await this.#legacyFiles('.tabvec')).length > 0 || (await this.#legacyFiles('.journal')).length > 0) return true;
    // An empty superblock: a creation cut off before it was written, so nothing was acknowledged.
    if (await this.#file(this.#superblock)) return false;
    for (const file of [this.#journal, this.#slot(0), this.#slot(1)]) if (await this.#size(file) > 0) return true;
    return false;
  }

  async removeAll(): Promise<void> {
    this.#writer?.release();
    this.#writer = undefined;
    // Checkpoints first (see SegmentBackend.removeAll), the superblock and
    // 0.1's manifest last: a removal cut off midway, or stopped by a tab that
    // keeps the journal open and does not let go (see #remove), leaves a
    // superblock naming a checkpoint that is gone: CORRUPT_SNAPSHOT until
    // remove() is called again, never an older version that opens.
    for (const g of await this.#legacyFiles('.tabvec')) await this.#remove(`${this.name}.${g}.tabvec`);
    for (const file of [this.#slot(0), this.#slot(1), this.#journal]) await this.#remove(file);
    for (const lineage of await this.#rowsLineages()) await this.#remove(this.#rows(lineage));
    for (const s of await this.#legacyFiles('.journal')) await this.#remove(`${this.name}.${s}.journal`);
    await this.#remove(this.#legacyManifest);
    await this.#remove(this.#superblock);
    this.#current = undefined;
    this.#superblockBytes = undefined;
    this.#cursor = undefined;
    this.#appendAt = undefined;
    this.#walked = undefined;
  }

  #rows(lineage: number): string {
    return `${this.name}.rows-${lineage}`;
  }

  // The lineages of the rows files present.
  async #rowsLineages(): Promise<number[]> {
    const prefix = `${this.name}.rows-`;
    const found: number[] = [];
    for await (const name of (await this.#directory() as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (name.startsWith(prefix) && /^[0-9]+$/.test(name.slice(prefix.length))) found.push(Number(name.slice(prefix.length)));
    }
    return found;
  }

  async removeStaleRows(lineage: number): Promise<void> {
    const directory = await this.#directory();
    for (const other of await this.#rowsLineages()) {
      if (other === lineage) continue;
      this.#handles.delete(this.#rows(other));
      // Once, without asking anyone to let go: a tab still reading them holds them until it reloads.
      await directory.removeEntry(this.#rows(other)).catch(() => undefined);
    }
  }

  rowsUnavailable(): string | undefined {
    return keepsHandles() ? undefined
      : 'OPFS is read synchronously only from a dedicated worker (open the LiveStore in one) in a browser whose sync access handles take a mode';
  }

  async openRows(lineage: number): Promise<RowFile> {
    const why = this.rowsUnavailable();
    if (why) throw noSyncRows(this.where, why);
    const file = this.#rows(lineage);
    const handle = await this.#handle(file, true);
    const key = `${DIRECTORY}/${file}`;
    const access = handle && await openRowsHere(handle, key);
    if (!access) throw noSyncRows(this.where, why ?? 'its rows file could not be opened for synchronous reads');
    return opfsRows(this.where, key, access);
  }

  close(): void {
    // Kept file handles stay: another store of this context may use them
    // (they close with the context: a page's writer worker stops 10 s after
    // its last store closes), and removal asks for them.
    this.#writer?.release();
    this.#writer = undefined;
  }
}

// --- IndexedDB -------------------------------------------------------------------

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// Kept in 'manifests' beside the manifests, whose keys are store names:
// array keys never equal a string.
const LOSS_KEY = ['browser-data-loss'];
const lossSeenKey = (name: string) => ['browser-data-loss-seen', name];
const DATABASE_KEY = ['tabvec-database'];
interface BrowserLoss { at: number; how: string }

// Once tabvec's database exists, an empty OPFS file says so, and a record in
// the database says the database knows it: a database then found missing, or
// made again without that record (by an older tabvec in a stale tab), was
// deleted. Chromium deletes an origin's IndexedDB when it finds it corrupt (a
// record torn by a crash, then written after, does it) and says so once, to
// whichever database of the origin opens first, even if that open never
// completes; the mark still tells. Origins without OPFS rely on that one report.
const DATABASE_MARK = '.indexeddb';
const MARK_WAIT_MS = 1_000;
// A mark once seen stays (clearing site data takes IndexedDB with it): looked up once per context.
let markSeen = false;

async function databaseMarked(): Promise<boolean | undefined> {
  if (markSeen) return true;
  const look = async (): Promise<boolean | undefined> => {
    try {
      const root = await (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage?.getDirectory?.();
      if (!root) return undefined;
      await (await root.getDirectoryHandle(DIRECTORY)).getFileHandle(DATABASE_MARK);
      return (markSeen = true);
    } catch (e) {
      return (e as { name?: string })?.name === 'NotFoundError' ? false : undefined;
    }
  };
  // IndexedDB does not wait long on OPFS: without an answer, this open checks nothing.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, MARK_WAIT_MS, undefined)));
  try {
    return await Promise.race([look(), late]);
  } finally {
    clearTimeout(timer);
  }
}

function lossRecord(how: string): BrowserLoss {
  return { at: Date.now(), how };
}

async function openDatabase(): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) throw new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB is not available here');
  const marked = await databaseMarked();
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = idb.open(DATABASE, DATABASE_VERSION);
    r.onupgradeneeded = (event) => {
      const db = r.result;
      for (const store of ['snapshots', 'manifests', 'journal']) {
        if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
      }
      const manifests = r.transaction!.objectStore('manifests');
      if (event.oldVersion === 0) manifests.put(true, DATABASE_KEY);
      // Recorded in the new database, so no store that was lost opens as a new empty one unnoticed.
      const { dataLoss, dataLossMessage } = event as IDBVersionChangeEvent & { dataLoss?: string; dataLossMessage?: string };
      const reported = dataLoss !== undefined && dataLoss !== 'none';
      if (reported || (event.oldVersion === 0 && marked)) {
        manifests.put(lossRecord(reported ? `the browser reported "${dataLossMessage || dataLoss}"` : 'it was missing, though tabvec had created it in this origin'), LOSS_KEY);
      }
    };
    r.onsuccess = () => {
      // A newer version of this library in another tab upgrades the
      // database: let it, and reconnect on the next call.
      r.result.onversionchange = () => r.result.close();
      resolve(r.result);
    };
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new TabvecError('STORAGE_UNAVAILABLE', 'the IndexedDB database is blocked by another tab'));
  });
  if (marked !== undefined && (await request(db.transaction('manifests').objectStore('manifests').get(DATABASE_KEY))) === undefined) {
    // Made by a tabvec from before the record: after the mark, a loss; before it, the database it marks.
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('manifests', 'readwrite', { durability: 'strict' });
      const manifests = tx.objectStore('manifests');
      const now = manifests.get(DATABASE_KEY);
      now.onsuccess = () => {
        if (now.result !== undefined) return;
        manifests.put(true, DATABASE_KEY);
        if (marked) manifests.put(lossRecord('it was made again without the record tabvec keeps in it, by an older tabvec'), LOSS_KEY);
      };
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
  }
  if (marked === false) {
    // After the record is durable (a mark without it would read as a loss). Best effort, not waited for.
    void storeDirectory(DIRECTORY).then((dir) => dir.getFileHandle(DATABASE_MARK, { create: true })).catch(() => undefined);
  }
  return db;
}

class IndexedDbBackend extends SegmentBackend {
  readonly where: string;
  readonly lockName: string;
  #db: Promise<IDBDatabase> | undefined;

  constructor(readonly name: string) {
    super();
    this.where = `IndexedDB '${name}'`;
    this.lockName = `tabvec:indexedDB:${name}`;
  }

  async #run<T>(stores: string, mode: IDBTransactionMode, durability: Durability | undefined,
    fn: (store: IDBObjectStore) => IDBRequest<T> | undefined): Promise<T | undefined> {
    this.#db ??= openDatabase();
    this.#db.catch(() => (this.#db = undefined));
    let db = await this.#db;
    let tx: IDBTransaction;
    try {
      tx = db.transaction(stores, mode, durability ? { durability } : undefined);
    } catch (e) {
      // Closed by a version change: reconnect once.
      if ((e as { name?: string })?.name !== 'InvalidStateError') throw e;
      this.#db = openDatabase();
      db = await this.#db;
      tx = db.transaction(stores, mode, durability ? { durability } : undefined);
    }
    const r = fn(tx.objectStore(stores));
    const result = r ? request(r) : Promise.resolve(undefined);
    // Reported through the transaction below.
    result.catch(() => undefined);
    // A failed request aborts its transaction, whose error is then the request's.
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error ?? (r?.readyState === 'done' ? r.error : null) ?? new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB transaction aborted'));
    }).catch((e) => {
      // Chromium: a record whose large-value file is gone ("should be considered irrecoverable").
      if ((e as { name?: string })?.name === 'NotReadableError') throw new TabvecError('CORRUPT_SNAPSHOT', `${this.where}: ${(e as Error).message}`);
      throw e;
    });
    return result;
  }

  #bytes(value: unknown): Uint8Array | undefined {
    if (value === undefined) return undefined;
    if (value instanceof Uint8Array) return value;
    if (value instanceof ArrayBuffer) return new Uint8Array(value);
    throw new TabvecError('CORRUPT_SNAPSHOT', `${this.where}: a record is not bytes`);
  }

  async readManifest(): Promise<Manifest | undefined> {
    const m = await this.#run('manifests', 'readonly', undefined, (s) => s.get(this.name));
    return m === undefined ? undefined : parseManifest(JSON.stringify(m), this.where);
  }
  async writeManifest(m: Manifest, durability: Durability): Promise<void> {
    await this.#run('manifests', 'readwrite', durability, (s) => s.put(m, this.name));
  }
  protected async removeManifest(): Promise<void> {
    await this.#run('manifests', 'readwrite', undefined, (s) => s.delete(this.name));
  }
  async storageLost(): Promise<string | undefined> {
    const loss = await this.#run('manifests', 'readonly', undefined, (s) => s.get(LOSS_KEY)) as BrowserLoss | undefined;
    if (loss === undefined || await this.#run('manifests', 'readonly', undefined, (s) => s.get(lossSeenKey(this.name))) === loss.at) return undefined;
    return `this origin's IndexedDB database was deleted (${loss.how}; noticed ${new Date(loss.at).toISOString()})`;
  }
  // Removing a store is how an app says it has seen the loss: then the name may be created again.
  rowsUnavailable(): string {
    return 'IndexedDB is read asynchronously; use a { file } target in Node, or { opfs } from a worker';
  }
  openRows(_lineage: number): Promise<RowFile> {
    return Promise.reject(noSyncRows(this.where, this.rowsUnavailable()));
  }
  override async removeAll(): Promise<void> {
    await super.removeAll();
    const loss = await this.#run('manifests', 'readonly', undefined, (s) => s.get(LOSS_KEY)) as BrowserLoss | undefined;
    if (loss) await this.#run('manifests', 'readwrite', undefined, (s) => s.put(loss.at, lossSeenKey(this.name)));
  }
  // A checkpoint is stored in pieces, one record and transaction each, and
  // then a record at `<name>/<generation>` saying how many: put() clones its
  // value on the calling thread, so one 57 MB record stalled the page for
  // ~150 ms. (A checkpoint stored as one record, as save() did before, reads too.)
  async writeCheckpoint(generation: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    const key = `${this.name}/${generation}`;
    let pieces = 0;
    for (let at = 0; at === 0 || at < bytes.byteLength; at += CHECKPOINT_PIECE_BYTES, pieces++) {
      // slice(): cloning a view would clone its whole buffer.
      const piece = bytes.slice(at, at + CHECKPOINT_PIECE_BYTES);
      await this.#run('snapshots', 'readwrite', durability, (s) => s.put(piece, `${key}/${pieces}`));
    }
    await this.#run('snapshots', 'readwrite', durability, (s) => s.put({ pieces, bytes: bytes.byteLength }, key));
  }
  async readCheckpoint(generation: number): Promise<SnapshotSource | undefined> {
    const key = `${this.name}/${generation}`;
    const head = await this.#run('snapshots', 'readonly', undefined, (s) => s.get(key));
    if (head === undefined) return undefined;
    if (head instanceof Uint8Array || head instanceof ArrayBuffer) {
      const whole = this.#bytes(head)!;
      return { bytes: whole.byteLength, pieces: () => [whole] };
    }
    const { pieces, bytes } = head as { pieces?: unknown; bytes?: unknown };
    if (!Number.isSafeInteger(pieces) || !Number.isSafeInteger(bytes) || (pieces as number) < 1 || (bytes as number) < 0) {
      throw new TabvecError('CORRUPT_SNAPSHOT', `${this.where}: checkpoint ${generation} has an unreadable piece count`);
    }
    const read = (i: number) => this.#run('snapshots', 'readonly', undefined, (s) => s.get(`${key}/${i}`));
    const where = this.where;
    const bytesOf = (v: unknown) => this.#bytes(v);
    return {
      bytes: bytes as number,
      async *pieces() {
        // One transaction a piece: the page stays responsive while a large checkpoint loads.
        for (let i = 0; i < (pieces as number); i++) {
          const piece = bytesOf(await read(i));
          if (!piece) throw Object.assign(new Error(`${where}: piece ${i} of checkpoint ${generation} is missing`), { name: 'NotFoundError' });
          yield piece;
        }
      },
    };
  }
  async listCheckpoints(): Promise<number[]> {
    const keys = (await this.#run('snapshots', 'readonly', undefined,
      (s) => s.getAllKeys(IDBKeyRange.bound(`${this.name}/`, `${this.name}/\uffff`)))) ?? [];
    // `<name>/<generation>`, not its pieces `<name>/<generation>/<i>`.
    return keys.map((k) => String(k).slice(this.name.length + 1)).filter((rest) => /^[1-9][0-9]*$/.test(rest)).map(Number).sort((a, b) => a - b);
  }
  async removeCheckpoint(generation: number): Promise<void> {
    const key = `${this.name}/${generation}`;
    await this.#run('snapshots', 'readwrite', undefined, (s) => s.delete(key));
    await this.#run('snapshots', 'readwrite', undefined, (s) => s.delete(IDBKeyRange.bound(`${key}/`, `${key}/\uffff`)));
  }
  protected async writeSegment(firstSeq: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    await this.#run('journal', 'readwrite', durability, (s) => s.put(bytes, [this.name, firstSeq]));
  }
  protected async readSegment(firstSeq: number): Promise<Uint8Array | undefined> {
    return this.#bytes(await this.#run('journal', 'readonly', undefined, (s) => s.get([this.name, firstSeq])));
  }
  protected async listSegments(): Promise<number[]> {
    const keys = (await this.#run('journal', 'readonly', undefined,
      (s) => s.getAllKeys(IDBKeyRange.bound([this.name, 0], [this.name, Number.MAX_SAFE_INTEGER])))) ?? [];
    return keys.map((k) => (k as [string, number])[1]);
  }
  protected async removeSegment(firstSeq: number): Promise<void> {
    await this.#run('journal', 'readwrite', undefined, (s) => s.delete([this.name, firstSeq]));
  }
  close(): void {
    const db = this.#db;
    this.#db = undefined;
    db?.then((d) => d.close(), () => undefined);
  }
}

// --- files (Node) -------------------------------------------------------------------

type NodeFs = typeof import('node:fs/promises');
type NodePath = typeof import('node:path');
type NodeSyncFs = typeof import('node:fs');

let nodeModules: Promise<{ fs: NodeFs; path: NodePath }> | undefined;

function node(): Promise<{ fs: NodeFs; path: NodePath }> {
  // Module names in variables: bundlers for the browser leave them alone.
  const fsName = 'node:fs/promises';
  const pathName = 'node:path';
  nodeModules ??= Promise.all([import(/* @vite-ignore */ fsName), import(/* @vite-ignore */ pathName)])
    .then(([fs, path]) => ({ fs: fs as NodeFs, path: path as NodePath }))
    .catch(() => {
      nodeModules = undefined;
      throw new TabvecError('STORAGE_UNAVAILABLE', '{ file } targets need Node (node:fs is not available here)');
    });
  return nodeModules;
}

// The lock files this process holds: how many holders, and whether a live store is one.
const processLocks = new Map<string, { count: number; live: boolean }>();

// An absolute, normalized POSIX path (no node:path here: this runs synchronously).
function absolutePath(file: string): string {
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.() ?? '/';
  const parts: string[] = [];
  for (const part of (file.startsWith('/') ? file : `${cwd}/${file}`).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/**
 * Files next to the given path: the manifest at the path itself,
 * `<path>.<generation>.checkpoint` and `<path>.<seq>.journal`. Every file is
 * written to a temporary name, fsynced (strict durability), renamed over its
 * name, and the directory fsynced, so a crash leaves the old or the new file.
 */
export class FileBackend extends SegmentBackend {
  readonly where: string;
  readonly lockName: string;

  readonly file: string;

  constructor(file: string) {
    super();
    this.where = `file '${file}'`;
    // One name however the path is spelt, so one process's saves and live
    // store of a file take one lock.
    this.file = absolutePath(file);
    this.lockName = `tabvec:file:${this.file}`;
  }

  async #write(file: string, data: Uint8Array | string, durability: Durability): Promise<void> {
    const { fs, path } = await node();
    const temporary = `${file}.tmp`;
    const handle = await fs.open(temporary, 'w');
    try {
      await handle.writeFile(data);
      if (durability === 'strict') await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temporary, file);
    if (durability === 'strict') await this.#syncDirectory(path.dirname(file));
  }

  async #syncDirectory(dir: string): Promise<void> {
    const { fs } = await node();
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #read(file: string): Promise<Uint8Array | undefined> {
    const { fs } = await node();
    try {
      const b = await fs.readFile(file);
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async #remove(file: string): Promise<void> {
    const { fs } = await node();
    await fs.unlink(file).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }

  async #list(suffix: string): Promise<number[]> {
    const { fs, path } = await node();
    const base = path.basename(this.file);
    let entries: string[];
    try {
      entries = await fs.readdir(path.dirname(this.file));
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
    const found: number[] = [];
    for (const entry of entries) {
      if (!entry.startsWith(`${base}.`) || !entry.endsWith(suffix)) continue;
      const middle = entry.slice(base.length + 1, -suffix.length);
      if (/^[1-9][0-9]*$/.test(middle)) found.push(Number(middle));
    }
    return found.sort((a, b) => a - b);
  }

  async readManifest(): Promise<Manifest | undefined> {
    const raw = await this.#read(this.file);
    return raw && parseManifest(new TextDecoder().decode(raw), this.where);
  }
  writeManifest(m: Manifest, durability: Durability): Promise<void> {
    return this.#write(this.file, JSON.stringify(m), durability);
  }
  protected removeManifest(): Promise<void> {
    return this.#remove(this.file);
  }
  protected override async removeRows(): Promise<void> {
    for (const lineage of await this.#list('.rows')) await this.#remove(`${this.file}.${lineage}.rows`);
  }
  // One process has a file's live store open (acquireProcessLock): nothing else reads them.
  override async removeStaleRows(lineage: number): Promise<void> {
    for (const other of await this.#list('.rows')) if (other !== lineage) await this.#remove(`${this.file}.${other}.rows`).catch(() => undefined);
  }
  rowsUnavailable(): undefined {
    return undefined;
  }
  async openRows(lineage: number): Promise<RowFile> {
    // Synchronous, as search is: node:fs's own sync calls, loaded by name so bundlers leave them alone.
    const fsName = 'node:fs';
    const fs = await import(/* @vite-ignore */ fsName) as NodeSyncFs;
    const file = `${this.file}.${lineage}.rows`;
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    } catch (e) {
      throw storageError(e, `using the rows of ${this.where}`);
    }
    return rowFile(this.where, {
      read(into, position) {
        let n = 0;
        for (let got = 1; n < into.byteLength && got > 0; n += got) got = fs.readSync(fd, into, n, into.byteLength - n, position + n);
        return n;
      },
      write(bytes, position) {
        for (let n = 0; n < bytes.byteLength;) n += fs.writeSync(fd, bytes, n, bytes.byteLength - n, position + n);
      },
      flush: () => fs.fsyncSync(fd),
      size: () => fs.fstatSync(fd).size,
      close() {
        try {
          fs.closeSync(fd);
        } catch {
          // closed already
        }
      },
    });
  }
  writeCheckpoint(generation: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    return this.#write(`${this.file}.${generation}.checkpoint`, bytes, durability);
  }
  async readCheckpoint(generation: number): Promise<SnapshotSource | undefined> {
    const { fs } = await node();
    const file = `${this.file}.${generation}.checkpoint`;
    let size: number;
    try {
      size = (await fs.stat(file)).size;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    return {
      bytes: size,
      async *pieces() {
        const handle = await fs.open(file, 'r');
        // Two buffers in turn: the loader reads a piece ahead while it loads one.
        const buffers = [new Uint8Array(Math.min(size, READ_PIECE_BYTES)), new Uint8Array(Math.min(size, READ_PIECE_BYTES))];
        try {
          for (let at = 0, turn = 0; at < size; turn ^= 1) {
            const buffer = buffers[turn]!;
            const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.byteLength, size - at), at);
            if (bytesRead === 0) break; // shorter than it was: the loader reports it truncated
            yield buffer.subarray(0, bytesRead);
            at += bytesRead;
          }
        } finally {
          await handle.close();
        }
      },
    };
  }
  listCheckpoints(): Promise<number[]> {
    return this.#list('.checkpoint');
  }
  removeCheckpoint(generation: number): Promise<void> {
    return this.#remove(`${this.file}.${generation}.checkpoint`);
  }
  protected writeSegment(firstSeq: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    return this.#write(`${this.file}.${firstSeq}.journal`, bytes, durability);
  }
  protected readSegment(firstSeq: number): Promise<Uint8Array | undefined> {
    return this.#read(`${this.file}.${firstSeq}.journal`);
  }
  protected listSegments(): Promise<number[]> {
    return this.#list('.journal');
  }
  protected removeSegment(firstSeq: number): Promise<void> {
    return this.#remove(`${this.file}.${firstSeq}.journal`);
  }
  close(): void {}

  /**
   * Takes `<path>.lock` for this process: for the life of a live store
   * ('live'), or for one save or removal ('write'). Another process holding
   * it is STORAGE_UNAVAILABLE; a lock left by a process that no longer
   * exists (killed) is taken over. Within this process the lock is shared by
   * saves, but only one live store may hold it. Returns the release.
   */
  async acquireProcessLock(purpose: 'live' | 'write'): Promise<() => Promise<void>> {
    const { fs } = await node();
    const lockFile = `${this.file}.lock`;
    const processInfo = (globalThis as unknown as { process: { pid: number; kill(pid: number, signal: number): void } }).process;
    const me = String(processInfo.pid);
    const held = processLocks.get(lockFile);
    const release = async () => {
      const h = processLocks.get(lockFile)!;
      if (purpose === 'live') h.live = false;
      if (--h.count > 0) return;
      processLocks.delete(lockFile);
      // Only our own lock: never one another process holds now.
      if ((await fs.readFile(lockFile, 'utf8').catch(() => '')) === me) await fs.unlink(lockFile).catch(() => undefined);
    };
    if (held) {
      if (purpose === 'live' && held.live) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where} is already open as a live store in this process`);
      held.count++;
      if (purpose === 'live') held.live = true;
      return release;
    }
    const unique = () => `${lockFile}.${me}.${Math.random().toString(36).slice(2)}`;
    for (let attempt = 0; attempt < 8; attempt++) {
      // link() creates the lock with its content in one step, or fails: no
      // other process ever sees it empty.
      const temporary = unique();
      await fs.writeFile(temporary, me);
      try {
        await fs.link(temporary, lockFile);
        processLocks.set(lockFile, { count: 1, live: purpose === 'live' });
        return release;
      } catch (e) {
        if ((e as { code?: string })?.code !== 'EEXIST') throw e;
      } finally {
        await fs.unlink(temporary).catch(() => undefined);
      }
      const owner = (await fs.readFile(lockFile, 'utf8').catch(() => undefined))?.trim();
      if (owner === undefined) continue; // released meanwhile
      let alive = false;
      const ownerPid = Number(owner);
      if (owner !== me && Number.isSafeInteger(ownerPid) && ownerPid > 0) {
        try {
          processInfo.kill(ownerPid, 0);
          alive = true;
        } catch (e) {
          alive = (e as { code?: string })?.code === 'EPERM';
        }
      }
      if (alive) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where} is open in process ${owner}; one process writes a store at a time`);
      // Stale: moved aside by a rename, which only one taker wins; if what was
      // moved is not the stale lock read above, its owner took it meanwhile: put it back.
      const aside = unique();
      try {
        await fs.rename(lockFile, aside);
      } catch (e) {
        if ((e as { code?: string })?.code === 'ENOENT') continue;
        throw e;
      }
      const moved = (await fs.readFile(aside, 'utf8').catch(() => ''))?.trim();
      if (moved !== owner) await fs.link(aside, lockFile).catch(() => undefined);
      await fs.unlink(aside).catch(() => undefined);
    }
    throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: could not take its lock file ${lockFile}`);
  }
}
