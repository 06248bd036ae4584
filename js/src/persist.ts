// Durable storage of snapshots in the browser: OPFS files or IndexedDB records.
//
// Both backends keep the previous good version until the new one is
// complete: a save writes generation g+1 in full, reads it back and checks it
// is byte for byte what was meant to be written and a valid snapshot by its
// own CRC, then switches a small manifest to it, and only then deletes
// generation g. A save cut off at any point (tab closed, exception, quota,
// a failed check) leaves the manifest on g.
//
// Other tabs may open while one saves. IndexedDB transactions already give
// them a consistent view. OPFS has no transactions: readers take a shared Web
// Lock while they read the manifest and the file it names, and a writer
// switches the manifest and deletes old generations only under the exclusive
// lock, so a reader never sees its generation vanish. Without Web Locks (or if
// a read still fails) a reader re-reads the manifest and tries again, a
// bounded number of times.
import { TabvecError } from './errors.js';
import { sameBytes, snapshotProblem } from './snapshot.js';

/** Where a store is saved: an OPFS file name or an IndexedDB key. */
export type StorageTarget = { opfs: string } | { indexedDB: string };

export interface SaveReport {
  /** Bytes written for this version. */
  bytes: number;
  /** Monotonic version number of what is now saved. */
  generation: number;
}

interface Manifest {
  generation: number;
  bytes: number;
}

const DIRECTORY = 'tabvec';
const DATABASE = 'tabvec';
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

function checkTarget(target: StorageTarget): { kind: 'opfs' | 'indexedDB'; name: string } {
  const t = target as { opfs?: unknown; indexedDB?: unknown };
  const kind = typeof t?.opfs === 'string' ? 'opfs' : typeof t?.indexedDB === 'string' ? 'indexedDB' : undefined;
  if (!kind || (t.opfs !== undefined && t.indexedDB !== undefined)) {
    throw new TabvecError('INVALID_ARGUMENT', "target must be { opfs: 'name' } or { indexedDB: 'name' }");
  }
  const name = (kind === 'opfs' ? t.opfs : t.indexedDB) as string;
  if (!NAME_PATTERN.test(name)) {
    throw new TabvecError('INVALID_ARGUMENT', `storage name must match ${NAME_PATTERN}, got ${JSON.stringify(name)}`);
  }
  return { kind, name };
}

function storageError(e: unknown, what: string): TabvecError {
  if (e instanceof TabvecError) return e;
  const name = (e as { name?: string })?.name;
  if (name === 'QuotaExceededError') return new TabvecError('QUOTA_EXCEEDED', `${what}: the browser's storage quota is exhausted`);
  return new TabvecError('STORAGE_UNAVAILABLE', `${what}: ${(e as Error)?.message ?? String(e)}`);
}

// --- IndexedDB -------------------------------------------------------------

function openDatabase(): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return Promise.reject(new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB is not available here'));
  return new Promise((resolve, reject) => {
    const request = idb.open(DATABASE, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('snapshots');
      request.result.createObjectStore('manifests');
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new TabvecError('STORAGE_UNAVAILABLE', 'the IndexedDB database is blocked by another tab'));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB transaction aborted'));
  });
}

function get<T>(store: IDBObjectStore, key: string): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const r = store.get(key);
    r.onsuccess = () => resolve(r.result as T | undefined);
    r.onerror = () => reject(r.error);
  });
}

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

// Why the bytes read back after a write are not the bytes meant to be written
// (or not a snapshot at all), or undefined when they are.
function writtenProblem(expected: Uint8Array, stored: unknown): string | undefined {
  if (!(stored instanceof Uint8Array) && !(stored instanceof ArrayBuffer)) return 'nothing readable was stored';
  const got = stored instanceof ArrayBuffer ? new Uint8Array(stored) : stored;
  if (!sameBytes(got, expected)) return `the ${got.byteLength} bytes read back differ from the ${expected.byteLength} bytes written`;
  const problem = snapshotProblem(got);
  return problem === undefined ? undefined : `the bytes read back are not a valid snapshot: ${problem}`;
}

async function saveIndexedDB(name: string, bytes: Uint8Array): Promise<SaveReport> {
  const db = await openDatabase();
  try {
    // One readwrite transaction is atomic and isolated from other tabs: the
    // new snapshot, the check of what was stored, the manifest switch and the
    // removal of the old snapshot commit together or not at all.
    const tx = db.transaction(['snapshots', 'manifests'], 'readwrite');
    const committed = done(tx);
    committed.catch(() => undefined); // awaited below unless the save fails first
    let generation: number;
    try {
      const previous = await get<Manifest>(tx.objectStore('manifests'), name);
      generation = (previous?.generation ?? 0) + 1;
      const key = `${name}/${generation}`;
      await request(tx.objectStore('snapshots').put(bytes, key));
      const problem = writtenProblem(bytes, await get<unknown>(tx.objectStore('snapshots'), key));
      if (problem !== undefined) throw new TabvecError('STORAGE_UNAVAILABLE', `IndexedDB did not store the snapshot faithfully (${problem}); the previous version is kept`);
      tx.objectStore('manifests').put({ generation, bytes: bytes.byteLength } satisfies Manifest, name);
      if (previous) tx.objectStore('snapshots').delete(`${name}/${previous.generation}`);
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already finished: nothing was committed by this transaction
      }
      throw e;
    }
    await committed;
    return { bytes: bytes.byteLength, generation };
  } finally {
    db.close();
  }
}

async function loadIndexedDB(name: string): Promise<Uint8Array> {
  const db = await openDatabase();
  try {
    const tx = db.transaction(['snapshots', 'manifests'], 'readonly');
    const manifest = await get<Manifest>(tx.objectStore('manifests'), name);
    if (!manifest) throw new TabvecError('NOT_FOUND', `nothing is saved in IndexedDB under '${name}'`);
    const stored = await get<unknown>(tx.objectStore('snapshots'), `${name}/${manifest.generation}`);
    if (!(stored instanceof Uint8Array) && !(stored instanceof ArrayBuffer)) {
      throw new TabvecError('CORRUPT_SNAPSHOT', `IndexedDB record '${name}' is missing or not bytes`);
    }
    return stored instanceof ArrayBuffer ? new Uint8Array(stored) : stored;
  } finally {
    db.close();
  }
}

async function removeIndexedDB(name: string): Promise<void> {
  const db = await openDatabase();
  try {
    const tx = db.transaction(['snapshots', 'manifests'], 'readwrite');
    const committed = done(tx);
    const manifest = await get<Manifest>(tx.objectStore('manifests'), name);
    if (manifest) tx.objectStore('snapshots').delete(`${name}/${manifest.generation}`);
    tx.objectStore('manifests').delete(name);
    await committed;
  } finally {
    db.close();
  }
}

// --- OPFS ------------------------------------------------------------------

async function opfsDirectory(): Promise<FileSystemDirectoryHandle> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (!storage?.getDirectory) throw new TabvecError('STORAGE_UNAVAILABLE', 'the Origin Private File System is not available here');
  const root = await storage.getDirectory();
  return root.getDirectoryHandle(DIRECTORY, { create: true });
}

async function writeFile(dir: FileSystemDirectoryHandle, file: string, data: Uint8Array | string): Promise<void> {
  const handle = await dir.getFileHandle(file, { create: true });
  // createWritable writes to a swap file; close() replaces the file atomically.
  const writable = await handle.createWritable();
  try {
    await writable.write(data as unknown as FileSystemWriteChunkType);
    await writable.close();
  } catch (e) {
    await writable.abort().catch(() => undefined);
    throw e;
  }
}

async function readFile(dir: FileSystemDirectoryHandle, file: string): Promise<Uint8Array | undefined> {
  try {
    const handle = await dir.getFileHandle(file);
    return new Uint8Array(await (await handle.getFile()).arrayBuffer());
  } catch (e) {
    if ((e as { name?: string })?.name === 'NotFoundError') return undefined;
    throw e;
  }
}

// A file may be replaced or removed by another tab between looking it up and
// reading it; these are the errors that shows up as.
function isTransient(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === 'NotFoundError' || name === 'NotReadableError' || name === 'InvalidStateError' || name === 'NoModificationAllowedError';
}

async function readManifest(dir: FileSystemDirectoryHandle, name: string): Promise<Manifest | undefined> {
  const raw = await readFile(dir, `${name}.manifest.json`);
  if (!raw) return undefined;
  try {
    const m = JSON.parse(new TextDecoder().decode(raw)) as Manifest;
    if (Number.isInteger(m.generation) && m.generation > 0 && Number.isInteger(m.bytes)) return m;
  } catch {
    // fall through: an unreadable manifest is treated like a corrupt snapshot
  }
  throw new TabvecError('CORRUPT_SNAPSHOT', `OPFS manifest for '${name}' is unreadable`);
}

function generationFile(name: string, generation: number): string {
  return `${name}.${generation}.tabvec`;
}

// Generations present on disk for a name, including ones an interrupted or
// failed save left behind.
async function listGenerations(dir: FileSystemDirectoryHandle, name: string): Promise<number[]> {
  const prefix = `${name}.`;
  const found: number[] = [];
  for await (const entry of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.tabvec')) continue;
    const middle = entry.slice(prefix.length, -'.tabvec'.length);
    if (/^[1-9][0-9]*$/.test(middle)) found.push(Number(middle));
  }
  return found;
}

type LockMode = 'shared' | 'exclusive';

// Runs fn holding a Web Lock (shared between tabs and workers of the origin);
// where the API is missing, runs it unlocked and relies on readers retrying.
async function withLock<T>(lock: string, mode: LockMode, fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
  if (typeof locks?.request !== 'function') return fn();
  return (await locks.request(lock, { mode }, fn)) as T;
}

// Held exclusively for a whole save or removal: saves of one name from several
// tabs run one after the other, so two never pick the same generation.
const saveLock = (name: string) => `tabvec:opfs:${name}:save`;
// Shared by readers while they read; exclusive to switch the manifest and delete files.
const filesLock = (name: string) => `tabvec:opfs:${name}:files`;

async function saveOpfs(name: string, bytes: Uint8Array): Promise<SaveReport> {
  const dir = await opfsDirectory();
  return withLock(saveLock(name), 'exclusive', async () => {
    const previous = await readManifest(dir, name).catch(() => undefined);
    const onDisk = await listGenerations(dir, name);
    // Above every file present, so a leftover of a failed save is never reused
    // under a name a reader might still be reading.
    const generation = Math.max(previous?.generation ?? 0, ...onDisk) + 1;
    const file = generationFile(name, generation);
    try {
      await writeFile(dir, file, bytes);
      const problem = writtenProblem(bytes, await readFile(dir, file));
      if (problem !== undefined) throw new TabvecError('STORAGE_UNAVAILABLE', `OPFS did not store '${file}' faithfully (${problem}); the previous version is kept`);
    } catch (e) {
      await dir.removeEntry(file).catch(() => undefined);
      throw e;
    }
    const locked = typeof (globalThis as { navigator?: { locks?: unknown } }).navigator?.locks === 'object';
    await withLock(filesLock(name), 'exclusive', async () => {
      await writeFile(dir, `${name}.manifest.json`, JSON.stringify({ generation, bytes: bytes.byteLength } satisfies Manifest));
      // With the lock no reader is between reading the manifest and its file,
      // so every older generation can go. Without it, keep the one just
      // replaced for readers that read the old manifest a moment ago.
      const keepFrom = locked ? generation : (previous?.generation ?? generation);
      for (const g of [...onDisk, previous?.generation ?? 0]) {
        if (g > 0 && g < keepFrom) await dir.removeEntry(generationFile(name, g)).catch(() => undefined);
      }
    });
    return { bytes: bytes.byteLength, generation };
  });
}

type ReadAttempt = { bytes: Uint8Array } | { retry: unknown } | { fail: unknown };

async function readOpfsOnce(dir: FileSystemDirectoryHandle, name: string): Promise<ReadAttempt> {
  let manifest: Manifest | undefined;
  try {
    manifest = await readManifest(dir, name);
  } catch (e) {
    return { retry: e };
  }
  if (!manifest) {
    // Truly nothing saved, unless a save or removal is halfway.
    const onDisk = await listGenerations(dir, name);
    const missing = new TabvecError('NOT_FOUND', `nothing is saved in OPFS under '${name}'`);
    return onDisk.length === 0 ? { fail: missing } : { retry: missing };
  }
  const file = generationFile(name, manifest.generation);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(dir, file);
  } catch (e) {
    return isTransient(e) ? { retry: e } : { fail: e };
  }
  const problem = !bytes ? `'${file}' is missing`
    : bytes.byteLength !== manifest.bytes ? `'${file}' has ${bytes.byteLength} bytes, the manifest says ${manifest.bytes}`
      : snapshotProblem(bytes);
  if (problem === undefined) return { bytes: bytes! };
  const corrupt = new TabvecError('CORRUPT_SNAPSHOT', `OPFS snapshot '${name}' generation ${manifest.generation}: ${problem}`);
  // Only a manifest that moved on meanwhile makes this worth another try.
  const now = await readManifest(dir, name).catch(() => undefined);
  return now?.generation !== manifest.generation ? { retry: corrupt } : { fail: corrupt };
}

const READ_ATTEMPTS = 8;

async function loadOpfs(name: string): Promise<Uint8Array> {
  const dir = await opfsDirectory();
  let last: unknown;
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    // Back off a little: a save in another tab is between two steps.
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 5 * attempt * attempt));
    const result = await withLock(filesLock(name), 'shared', () => readOpfsOnce(dir, name));
    if ('bytes' in result) return result.bytes;
    if ('fail' in result) throw result.fail;
    last = result.retry;
  }
  throw last;
}

async function removeOpfs(name: string): Promise<void> {
  const dir = await opfsDirectory();
  await withLock(saveLock(name), 'exclusive', () => withLock(filesLock(name), 'exclusive', async () => {
    await dir.removeEntry(`${name}.manifest.json`).catch(() => undefined);
    for (const g of await listGenerations(dir, name)) await dir.removeEntry(generationFile(name, g)).catch(() => undefined);
  }));
}

// --- entry points used by VectorStore --------------------------------------

/** @internal */
export async function writeSnapshot(target: StorageTarget, bytes: Uint8Array): Promise<SaveReport> {
  const { kind, name } = checkTarget(target);
  try {
    return kind === 'opfs' ? await saveOpfs(name, bytes) : await saveIndexedDB(name, bytes);
  } catch (e) {
    throw storageError(e, `saving to ${kind} '${name}'`);
  }
}

/** @internal */
export async function readSnapshot(target: StorageTarget): Promise<Uint8Array> {
  const { kind, name } = checkTarget(target);
  try {
    return kind === 'opfs' ? await loadOpfs(name) : await loadIndexedDB(name);
  } catch (e) {
    throw storageError(e, `opening ${kind} '${name}'`);
  }
}

/** See index.ts. */
export async function removeSaved(target: StorageTarget): Promise<void> {
  const { kind, name } = checkTarget(target);
  try {
    await (kind === 'opfs' ? removeOpfs(name) : removeIndexedDB(name));
  } catch (e) {
    throw storageError(e, `removing ${kind} '${name}'`);
  }
}

/** See index.ts, which imports this module when it is first needed. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return storage?.persist ? storage.persist() : false;
}
