// Writes to OPFS files in place, through a sync access handle, and nothing
// else: no new file, no rename, no swap file. Chromium records OPFS names
// (creations, renames, removals) in a LevelDB log that a browser crash can
// tear, and the session after next then drops what followed the tear: a
// crash can undo a name change made long before it. Writes in place to a
// file that already exists never touch that log (see storage.ts).
//
// Sync access handles exist only in dedicated workers. A store opened in a
// page (or anywhere else without them) writes through one small worker of
// this module, started on the first write and stopped when no store needs it.
import { TabvecError, isErrorCode } from './errors.js';

/**
 * A step of an in-place write. Fences first: the file must have exactly
 * `size` bytes, or begin with `begins` (else the write stops with an error,
 * having changed nothing); then cut it to `truncate` bytes (if longer), or
 * write `bytes` at `at`. The fences make a write conditional on the file
 * being as its writer last saw it, under the lock: a request still running
 * after its tab died and its lock passed to another tab changes nothing.
 */
export type InPlaceStep =
  | { size: number } | { begins: Uint8Array }
  | { truncate: number } | { at: number; bytes: Uint8Array };

/**
 * @internal What the page sends the writer worker (steps to run, a range to
 * read, or the end of a reading), and what it answers. A read with `reading`
 * goes through that reading's handle (see openReadingHere).
 */
export interface InPlaceRequest {
  id: number; directory: string; file: string; steps?: InPlaceStep[]; keep?: boolean;
  read?: { at: number; length: number; reading?: number; into?: ArrayBuffer }; endReading?: number;
}
export interface InPlaceReply { id: number; bytes?: Uint8Array; size?: number; error?: { name: string; message: string; code?: string } }

// The part of FileSystemSyncAccessHandle used here.
export interface SyncAccessHandle {
  getSize(): number;
  read(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

type SyncCapable = FileSystemFileHandle & { createSyncAccessHandle?: (options?: { mode: string }) => Promise<SyncAccessHandle> };

/** @internal Whether this context can open sync access handles (a dedicated worker). */
export function hasSyncAccess(handle: FileSystemFileHandle): boolean {
  return typeof (handle as SyncCapable).createSyncAccessHandle === 'function';
}

function changed(handle: FileSystemFileHandle, how: string): TabvecError {
  return new TabvecError('STORAGE_UNAVAILABLE', `${handle.name} ${how}: it changed since this writer read it, so this write was not made`);
}

// A store's journal and superblock are written on every commit, and opening
// a sync access handle costs more than the write and flush (Chromium: ~1.1 ms
// to open, ~0.6 ms to write and flush 1.6 KB, ~0.7 ms to close). So their
// handles are kept open, in 'readwrite-unsafe' mode, which every tab may hold
// at once (the Web Lock and the fences order the writes; see also
// opfs-io-worker.ts), for as long as the context lives, unless a context asks
// for them (releaseKept): an open handle blocks the file's removal. Engines
// without handle modes give exclusive handles only: there nothing is kept
// (a kept exclusive handle would shut out every other tab), and reads go
// through Files. Files that are not kept get exclusive handles everywhere.
const RELEASE_CHANNEL = 'tabvec:opfs-release';
const kept = new Map<string, SyncAccessHandle>();
// Releases asked per file, counted: an open under way when one arrives keeps nothing.
const releasesOf = new Map<string, number>();
let releases: BroadcastChannel | undefined;
// Rows files' handles (openRowsHere), several per file when several stores of a context have one open.
const rowsOpen = new Map<string, Set<SyncAccessHandle>>();

/** @internal Whether sync access handles take a mode here (Chromium 121+), so that handles can be kept. */
export function keepsHandles(): boolean {
  const prototype = (globalThis as { FileSystemSyncAccessHandle?: { prototype: object } }).FileSystemSyncAccessHandle?.prototype;
  return prototype !== undefined && 'mode' in prototype;
}

// Closes `access` and forgets it, if it is still the handle kept for `key`.
function forget(key: string, access: SyncAccessHandle): void {
  if (kept.get(key) === access) kept.delete(key);
  try {
    access.close();
  } catch {
    // already closed (storage cleared)
  }
}

// Closes this context's kept handles of these files (`directory/file`).
function closeKept(keys: readonly string[]): void {
  for (const key of keys) {
    releasesOf.set(key, (releasesOf.get(key) ?? 0) + 1);
    const access = kept.get(key);
    if (access) forget(key, access);
    for (const rows of rowsOpen.get(key) ?? []) closeRowsHere(key, rows);
  }
}

/**
 * @internal A storage tier's rows file (`key`: directory/file), for
 * synchronous reads and writes from a worker: 'readwrite-unsafe', which every
 * tab may hold at once (writes are ordered by the store's Web Lock). Kept
 * like the journal's handle, so a removal elsewhere can ask for it; undefined
 * where handles take no mode (an exclusive handle would shut out other tabs).
 */
export async function openRowsHere(handle: FileSystemFileHandle, key: string): Promise<SyncAccessHandle | undefined> {
  if (!hasSyncAccess(handle) || !keepsHandles()) return undefined;
  listenForReleases();
  const access = await (handle as SyncCapable).createSyncAccessHandle!({ mode: 'readwrite-unsafe' });
  let open = rowsOpen.get(key);
  if (!open) rowsOpen.set(key, (open = new Set()));
  open.add(access);
  return access;
}

/** @internal Closes a handle openRowsHere gave. */
export function closeRowsHere(key: string, access: SyncAccessHandle): void {
  rowsOpen.get(key)?.delete(access);
  try {
    access.close();
  } catch {
    // closed already (released for a removal, storage cleared)
  }
}

/** @internal Closes the kept handles of these files here and asks every other context to close theirs. */
export function releaseKept(keys: readonly string[]): void {
  closeKept(keys);
  try {
    const channel = new BroadcastChannel(RELEASE_CHANNEL);
    channel.postMessage(keys);
    channel.close();
  } catch {
    // no BroadcastChannel: nothing else can hold a handle kept by this code either
  }
}

function listenForReleases(): void {
  if (releases || typeof BroadcastChannel !== 'function') return;
  releases = new BroadcastChannel(RELEASE_CHANNEL);
  releases.onmessage = ({ data }: MessageEvent<unknown>) => {
    if (Array.isArray(data)) closeKept(data.filter((key): key is string => typeof key === 'string'));
  };
}

async function openKept(handle: FileSystemFileHandle, keep: string | undefined): Promise<{ access: SyncAccessHandle; done(failed: boolean): void }> {
  const once = (access: SyncAccessHandle) => ({ access, done: () => access.close() });
  const open = (handle as SyncCapable).createSyncAccessHandle!;
  if (keep === undefined || !keepsHandles()) return once(await open.call(handle));
  // A handle that fails (the file removed, storage cleared) is opened again next time.
  const keeping = (access: SyncAccessHandle) => ({ access, done: (failed: boolean) => failed && forget(keep, access) });
  const known = kept.get(keep);
  if (known) return keeping(known);
  listenForReleases();
  const releasesBefore = releasesOf.get(keep) ?? 0;
  const access = await open.call(handle, { mode: 'readwrite-unsafe' });
  // Two opens of one file at once (two stores of this context): one handle is kept.
  const first = kept.get(keep);
  if (first) {
    access.close();
    return keeping(first);
  }
  if ((releasesOf.get(keep) ?? 0) !== releasesBefore) return once(access);
  kept.set(keep, access);
  return keeping(access);
}

/**
 * @internal Runs the steps on the file through a sync access handle and
 * flushes. With `keep` (a key naming the file, `directory/file`), the handle
 * stays open for the next write to it.
 */
export async function writeInPlaceHere(handle: FileSystemFileHandle, steps: readonly InPlaceStep[], keep?: string): Promise<void> {
  const { access, done } = await openKept(handle, keep);
  let failed = true;
  try {
    for (const step of steps) {
      if ('truncate' in step) {
        if (access.getSize() > step.truncate) access.truncate(step.truncate);
        continue;
      }
      if ('size' in step) {
        const size = access.getSize();
        if (size !== step.size) {
          failed = false;
          throw changed(handle, `has ${size} bytes where ${step.size} were expected`);
        }
        continue;
      }
      if ('begins' in step) {
        const head = new Uint8Array(step.begins.byteLength);
        const got = access.read(head, { at: 0 });
        if (got !== head.byteLength || head.some((b, i) => b !== step.begins[i])) {
          failed = false;
          throw changed(handle, 'does not hold what its writer read');
        }
        continue;
      }
      for (let done = 0; done < step.bytes.byteLength;) {
        const wrote = access.write(step.bytes.subarray(done), { at: step.at + done });
        if (!(wrote > 0)) throw new TabvecError('STORAGE_UNAVAILABLE', `a write to ${handle.name} stopped after ${done} of ${step.bytes.byteLength} bytes`);
        done += wrote;
      }
    }
    access.flush();
    failed = false;
  } finally {
    done(failed);
  }
}

/**
 * @internal The file's size and up to `length` bytes of it at `at`, through
 * the handle writeInPlaceHere keeps open under `keep`: a commit reads the
 * journal and superblock this way in microseconds, where reading a File
 * costs a millisecond or two each.
 */
export async function readKeptHere(handle: FileSystemFileHandle, keep: string, at: number, length: number): Promise<{ size: number; bytes: Uint8Array }> {
  if (!keepsHandles()) return readFileRange(await handle.getFile(), at, length);
  const { access, done } = await openKept(handle, keep);
  let failed = true;
  try {
    const size = access.getSize();
    const bytes = readAll(access, at, length, size);
    failed = false;
    return { size, bytes };
  } finally {
    done(failed);
  }
}

/** @internal A File's size and up to `length` bytes of it at `at`. */
export async function readFileRange(file: File, at: number, length: number): Promise<{ size: number; bytes: Uint8Array }> {
  return { size: file.size, bytes: new Uint8Array(await file.slice(at, at + Math.min(length, file.size)).arrayBuffer()) };
}

// Into `into` when it is large enough (its start; see ReadingHere.read), else into new memory.
function readAll(access: SyncAccessHandle, at: number, length: number, size: number, into?: ArrayBuffer): Uint8Array {
  const n = Math.max(0, Math.min(length, size - at));
  const bytes = into && into.byteLength >= n ? new Uint8Array(into, 0, n) : new Uint8Array(n);
  for (let done = 0; done < bytes.length;) {
    const got = access.read(bytes.subarray(done), { at: at + done });
    if (!(got > 0)) return bytes.subarray(0, done);
    done += got;
  }
  return bytes;
}

/** @internal A file open for reading, piece by piece, through one sync access handle. */
export interface ReadingHere {
  /**
   * Up to `length` bytes at `at` (fewer at the end of the file), into the
   * start of `into` when it is large enough. Reading into memory used before
   * is ~4x faster than into new memory, whose pages are mapped as the read
   * first touches them (Chromium: 57 MB in ~7 ms against ~30).
   */
  read(at: number, length: number, into?: ArrayBuffer): Uint8Array;
  /** The file's size. */
  size(): number;
  /** Closes the handle; safe to call twice. */
  close(): void;
}

/**
 * @internal Opens the file for reading through a read-only sync access
 * handle (several readers may hold one at once; engines without modes give
 * an exclusive one, which a concurrent reader is refused). Several times
 * faster than reading the File: ~50 ms for 57 MB in Chromium against ~240
 * ms. A checkpoint is read through one handle from its first piece to its
 * last: opening and closing one costs ~2 ms, per piece when each had its own.
 * The handle blocks writes to the file until it is closed: read holding the
 * store's lock, and close it before letting go.
 */
export async function openReadingHere(handle: FileSystemFileHandle): Promise<ReadingHere> {
  const access = await (handle as SyncCapable).createSyncAccessHandle!({ mode: 'read-only' });
  let open = true;
  return {
    read: (at, length, into) => readAll(access, at, length, access.getSize(), into),
    size: () => access.getSize(),
    close() {
      if (!open) return;
      open = false;
      try {
        access.close();
      } catch {
        // already closed (storage cleared)
      }
    },
  };
}

// The readings under way in this context (the writer worker, for its page), by number.
const readings = new Map<number, ReadingHere>();

/**
 * @internal Up to `length` bytes at `at` for reading `reading`, through the
 * handle its first read opens. The handle is closed (before the bytes are
 * returned) by a read that reaches the end of the file or fails, or by
 * endReadingHere; a later read of the same reading opens it again.
 */
export async function readReadingHere(handle: FileSystemFileHandle, reading: number, at: number, length: number, into?: ArrayBuffer): Promise<Uint8Array> {
  let open = readings.get(reading);
  if (!open) readings.set(reading, (open = await openReadingHere(handle)));
  let done = true;
  try {
    const bytes = open.read(at, length, into);
    done = at + bytes.length >= open.size();
    return bytes;
  } finally {
    if (done) endReadingHere(reading);
  }
}

/** @internal Closes the handle of reading `reading`, if it is open. */
export function endReadingHere(reading: number): void {
  readings.get(reading)?.close();
  readings.delete(reading);
}

/** @internal The directory a store's files are in (created if missing). */
export async function storeDirectory(name: string): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) throw new TabvecError('STORAGE_UNAVAILABLE', 'the Origin Private File System is not available here');
  return (await storage.getDirectory()).getDirectoryHandle(name, { create: true });
}

// --- the writer worker, for contexts without sync access handles ----------------

interface Writer {
  worker: Worker;
  holds: number;
  next: number;
  waiting: Map<number, { resolve: (reply: InPlaceReply) => void; reject: (e: unknown) => void }>;
  // Set when the worker failed to start or died: every request fails with it.
  failed?: TabvecError;
  idle?: ReturnType<typeof setTimeout>;
  // Set when it was stopped unused (its handles closed with it).
  stopped?: true;
}

let shared: Writer | undefined;

function unavailable(why: string): TabvecError {
  return new TabvecError('STORAGE_UNAVAILABLE',
    `OPFS writes from a page go through a worker (tabvec writes OPFS files only in place, which needs a sync access handle), and it could not start: ${why}. ` +
    "Allow workers from this origin (CSP worker-src 'self'), open the store in a dedicated worker, or use { indexedDB: name }");
}

// An unused worker is kept this long: a page that saves or opens again soon
// does not pay its start (tens of milliseconds) each time.
const IDLE_MS = 10_000;

function stopIfUnused(w: Writer): void {
  if (w.holds > 0 || w.waiting.size > 0) return;
  clearTimeout(w.idle);
  w.idle = setTimeout(() => {
    if (w.holds > 0 || w.waiting.size > 0) return;
    w.worker.terminate();
    w.stopped = true;
    if (shared === w) shared = undefined;
  }, IDLE_MS);
}

function startWriter(): Writer {
  if (typeof Worker !== 'function') throw unavailable('this context has no Worker');
  let worker: Worker;
  try {
    worker = new Worker(new URL('./opfs-io-worker.js', import.meta.url), { type: 'module', name: 'tabvec-opfs' });
  } catch (e) {
    throw unavailable((e as Error)?.message ?? String(e));
  }
  const w: Writer = { worker, holds: 0, next: 1, waiting: new Map() };
  worker.onmessage = ({ data }: MessageEvent<InPlaceReply>) => {
    const call = w.waiting.get(data.id);
    if (!call) return;
    w.waiting.delete(data.id);
    if (!data.error) call.resolve(data);
    // As thrown in the worker: a TabvecError keeps its code; a DOMException its name (QuotaExceededError).
    else call.reject(isErrorCode(data.error.code) ? new TabvecError(data.error.code, data.error.message) : Object.assign(new Error(data.error.message), { name: data.error.name }));
    stopIfUnused(w);
  };
  // A worker that fails to load (blocked by a CSP, missing script) reports here.
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault?.();
    w.failed = unavailable(event.message || 'its script failed to load');
    for (const call of w.waiting.values()) call.reject(w.failed);
    w.waiting.clear();
    if (shared === w) shared = undefined;
    worker.terminate();
  };
  return w;
}

/** @internal A hold on the writer worker: while any is held (or a write is pending) it keeps running. */
export interface WriterHold {
  /** Runs the steps on `directory/file` in the worker (writeInPlaceHere; `keep` keeps its handle open). */
  write(directory: string, file: string, steps: InPlaceStep[], keep: boolean): Promise<void>;
  /**
   * The size of `directory/file` and up to `length` bytes of it at `at`,
   * read in the worker through the handle kept for writing it (readKeptHere).
   */
  read(directory: string, file: string, at: number, length: number): Promise<{ size: number; bytes: Uint8Array }>;
  /**
   * A reading of `directory/file` in the worker, through one read-only handle
   * (readReadingHere): opened by its first read, closed by a read that
   * reaches the end of the file or fails, or by end(), which a reader that
   * stops early must call. Requests run in the order sent: an end() sent
   * after a read closes the handle once that read is done. `into`: memory
   * to read into (see ReadingHere.read), detached here until it comes back
   * with the bytes.
   */
  reading(directory: string, file: string): { read(at: number, length: number, into?: ArrayBuffer): Promise<Uint8Array>; end(): Promise<void> };
  /** Whether the worker failed: take a new hold to try another. */
  readonly failed: boolean;
  release(): void;
}

/** @internal Takes a hold on the page's writer worker, starting it if none runs. */
export function holdWriter(): WriterHold {
  const w = (shared ??= startWriter());
  w.holds++;
  let released = false;
  // `ending`: sent even after release (it only closes what this hold opened),
  // unless the worker was stopped meanwhile, which closed it (and would never answer).
  const send = (request: Omit<InPlaceRequest, 'id'>, ending = false, transfer: Transferable[] = []): Promise<InPlaceReply> => {
    if (w.failed) return Promise.reject(w.failed);
    if (ending && w.stopped) return Promise.resolve({ id: 0 });
    if (released && !ending) return Promise.reject(new TabvecError('STORAGE_UNAVAILABLE', 'this OPFS store has been closed'));
    const id = w.next++;
    return new Promise((resolve, reject) => {
      w.waiting.set(id, { resolve, reject });
      w.worker.postMessage({ id, ...request } satisfies InPlaceRequest, transfer);
    });
  };
  return {
    get failed() {
      return w.failed !== undefined;
    },
    write(directory, file, steps, keep) {
      // Posting a view clones its whole buffer: a view of part of one goes as a copy of that part.
      const own = steps.map((step) => ('bytes' in step && step.bytes.byteLength !== step.bytes.buffer.byteLength ? { at: step.at, bytes: step.bytes.slice() } : step));
      return send({ directory, file, steps: own, keep }).then(() => undefined);
    },
    read(directory, file, at, length) {
      return send({ directory, file, read: { at, length }, keep: true }).then((reply) => ({ size: reply.size ?? 0, bytes: reply.bytes ?? new Uint8Array(0) }));
    },
    reading(directory, file) {
      // Numbered like requests: unique in this worker.
      const reading = w.next++;
      return {
        read: (at, length, into) => send({ directory, file, read: { at, length, reading, into } }, false, into ? [into] : []).then((reply) => reply.bytes ?? new Uint8Array(0)),
        end: () => send({ directory, file, endReading: reading }, true).then(() => undefined),
      };
    },
    release() {
      if (released) return;
      released = true;
      w.holds--;
      stopIfUnused(w);
    },
  };
}
