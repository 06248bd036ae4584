// Durable storage of snapshots in the browser: OPFS files or IndexedDB records.
//
// Both backends keep the previous good version until the new one is
// complete: a save writes generation g+1 in full, verifies it, then switches
// a small manifest to it, and only then deletes generation g. A save cut off
// at any point (tab closed, exception, quota) leaves the manifest on g.
import { TabvecError } from './errors.js';

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

async function saveIndexedDB(name: string, bytes: Uint8Array): Promise<SaveReport> {
  const db = await openDatabase();
  try {
    const read = db.transaction('manifests', 'readonly');
    const previous = await get<Manifest>(read.objectStore('manifests'), name);
    const generation = (previous?.generation ?? 0) + 1;
    // One readwrite transaction is atomic: the new snapshot, the manifest
    // switch and the removal of the old snapshot commit together or not at all.
    const tx = db.transaction(['snapshots', 'manifests'], 'readwrite');
    const committed = done(tx);
    tx.objectStore('snapshots').put(bytes, `${name}/${generation}`);
    tx.objectStore('manifests').put({ generation, bytes: bytes.byteLength } satisfies Manifest, name);
    if (previous) tx.objectStore('snapshots').delete(`${name}/${previous.generation}`);
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

async function saveOpfs(name: string, bytes: Uint8Array): Promise<SaveReport> {
  const dir = await opfsDirectory();
  const previous = await readManifest(dir, name).catch(() => undefined);
  const generation = (previous?.generation ?? 0) + 1;
  const file = `${name}.${generation}.tabvec`;
  await writeFile(dir, file, bytes);
  const written = await readFile(dir, file);
  if (!written || written.byteLength !== bytes.byteLength) {
    throw new TabvecError('STORAGE_UNAVAILABLE', `OPFS write of '${file}' could not be verified`);
  }
  await writeFile(dir, `${name}.manifest.json`, JSON.stringify({ generation, bytes: bytes.byteLength } satisfies Manifest));
  if (previous) await dir.removeEntry(`${name}.${previous.generation}.tabvec`).catch(() => undefined);
  return { bytes: bytes.byteLength, generation };
}

async function loadOpfs(name: string): Promise<Uint8Array> {
  const dir = await opfsDirectory();
  const manifest = await readManifest(dir, name);
  if (!manifest) throw new TabvecError('NOT_FOUND', `nothing is saved in OPFS under '${name}'`);
  const bytes = await readFile(dir, `${name}.${manifest.generation}.tabvec`);
  if (!bytes) throw new TabvecError('CORRUPT_SNAPSHOT', `OPFS file for '${name}' generation ${manifest.generation} is missing`);
  return bytes;
}

async function removeOpfs(name: string): Promise<void> {
  const dir = await opfsDirectory();
  const manifest = await readManifest(dir, name).catch(() => undefined);
  await dir.removeEntry(`${name}.manifest.json`).catch(() => undefined);
  if (manifest) await dir.removeEntry(`${name}.${manifest.generation}.tabvec`).catch(() => undefined);
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

/** Deletes what is saved under a target (no error if nothing is). */
export async function removeSaved(target: StorageTarget): Promise<void> {
  const { kind, name } = checkTarget(target);
  try {
    await (kind === 'opfs' ? removeOpfs(name) : removeIndexedDB(name));
  } catch (e) {
    throw storageError(e, `removing ${kind} '${name}'`);
  }
}

/**
 * Asks the browser not to evict this origin's storage under pressure
 * (navigator.storage.persist()). Resolves to whether the request was granted;
 * false where the API does not exist.
 */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return storage?.persist ? storage.persist() : false;
}
