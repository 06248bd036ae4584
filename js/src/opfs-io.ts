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
import { TabvecError } from './errors.js';

/**
 * A step of an in-place write: cut the file to a length (if longer), check
 * that it has exactly a length (or stop with an error, writing nothing more),
 * or write bytes at an offset.
 */
export type InPlaceStep = { truncate: number } | { size: number } | { at: number; bytes: Uint8Array };

/** @internal What the page sends the writer worker, and what it answers. */
export interface InPlaceRequest { id: number; directory: string; file: string; steps: InPlaceStep[] }
export interface InPlaceReply { id: number; error?: { name: string; message: string } }

// The part of FileSystemSyncAccessHandle used here.
interface SyncAccessHandle {
  getSize(): number;
  truncate(size: number): void;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

type SyncCapable = FileSystemFileHandle & { createSyncAccessHandle?: () => Promise<SyncAccessHandle> };

/** @internal Whether this context can open sync access handles (a dedicated worker). */
export function hasSyncAccess(handle: FileSystemFileHandle): boolean {
  return typeof (handle as SyncCapable).createSyncAccessHandle === 'function';
}

/** @internal Runs the steps on the file through a sync access handle, flushes, and closes it. */
export async function writeInPlaceHere(handle: FileSystemFileHandle, steps: readonly InPlaceStep[]): Promise<void> {
  const access = await (handle as SyncCapable).createSyncAccessHandle!();
  try {
    for (const step of steps) {
      if ('truncate' in step) {
        if (access.getSize() > step.truncate) access.truncate(step.truncate);
        continue;
      }
      if ('size' in step) {
        const size = access.getSize();
        if (size !== step.size) throw new TabvecError('STORAGE_UNAVAILABLE', `${handle.name} has ${size} bytes where ${step.size} were expected; it changed under this writer`);
        continue;
      }
      for (let done = 0; done < step.bytes.byteLength;) {
        const wrote = access.write(step.bytes.subarray(done), { at: step.at + done });
        if (!(wrote > 0)) throw new TabvecError('STORAGE_UNAVAILABLE', `a write to ${handle.name} stopped after ${done} of ${step.bytes.byteLength} bytes`);
        done += wrote;
      }
    }
    access.flush();
  } finally {
    access.close();
  }
}

/** @internal The directory a store's files are in (created if missing). */
export async function storeDirectory(name: string): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) throw new TabvecError('STORAGE_UNAVAILABLE', 'the Origin Private File System is not available here');
  return (await storage.getDirectory()).getDirectoryHandle(name, { create: true });
}

// --- the writer worker, for contexts without sync access handles ----------------

let writer: { worker: Worker; users: number; next: number; waiting: Map<number, { resolve: () => void; reject: (e: unknown) => void }> } | undefined;

function unavailable(why: string): TabvecError {
  return new TabvecError('STORAGE_UNAVAILABLE',
    `OPFS writes from a page go through a worker (tabvec writes OPFS files only in place, which needs a sync access handle), and it could not start: ${why}. ` +
    "Allow workers from this origin (CSP worker-src 'self'), open the store in a dedicated worker, or use { indexedDB: name }");
}

function startWriter(): NonNullable<typeof writer> {
  if (typeof Worker !== 'function') throw unavailable('this context has no Worker');
  let worker: Worker;
  try {
    worker = new Worker(new URL('./opfs-io-worker.js', import.meta.url), { type: 'module', name: 'tabvec-opfs' });
  } catch (e) {
    throw unavailable((e as Error)?.message ?? String(e));
  }
  const w = { worker, users: 0, next: 1, waiting: new Map<number, { resolve: () => void; reject: (e: unknown) => void }>() };
  worker.onmessage = ({ data }: MessageEvent<InPlaceReply>) => {
    const call = w.waiting.get(data.id);
    if (!call) return;
    w.waiting.delete(data.id);
    if (!data.error) call.resolve();
    else call.reject(Object.assign(new Error(data.error.message), { name: data.error.name }));
  };
  // A worker that fails to load (blocked by a CSP, missing script) reports here, once.
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault?.();
    const error = unavailable(event.message || 'its script failed to load');
    for (const call of w.waiting.values()) call.reject(error);
    w.waiting.clear();
    if (writer === w) writer = undefined;
    worker.terminate();
  };
  return w;
}

/** @internal A hold on the writer worker: while any is held, it keeps running. */
export function holdWriter(): () => void {
  writer ??= startWriter();
  const w = writer;
  w.users++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--w.users === 0 && w.waiting.size === 0) {
      w.worker.terminate();
      if (writer === w) writer = undefined;
    }
  };
}

/** @internal Runs the steps on `directory/file` in the writer worker (hold it first with holdWriter). */
export function writeInPlaceViaWorker(directory: string, file: string, steps: InPlaceStep[]): Promise<void> {
  const w = writer;
  if (!w) return Promise.reject(new TabvecError('STORAGE_UNAVAILABLE', 'the OPFS writer worker is not running'));
  const id = w.next++;
  // Posting a view clones its whole buffer: a view of part of one goes as a copy of that part.
  const own = steps.map((step) => ('bytes' in step && step.bytes.byteLength !== step.bytes.buffer.byteLength ? { at: step.at, bytes: step.bytes.slice() } : step));
  return new Promise((resolve, reject) => {
    w.waiting.set(id, { resolve, reject });
    w.worker.postMessage({ id, directory, file, steps: own } satisfies InPlaceRequest);
  });
}
