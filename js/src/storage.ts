// Where a store's bytes live: a manifest, checkpoints (whole snapshots, one
// per generation) and journal segments (named by their first sequence
// number). Three backends give the same small interface: OPFS files,
// IndexedDB records, and files under Node. Everything above this file
// (persist.ts, live.ts) is written once against it.
//
// Every write that replaces something writes a new name and switches the
// manifest afterwards, so a write cut off at any point leaves the previous
// state readable. Locks serialize writers across tabs and workers (Web Locks)
// or within a Node process; a live store in Node also holds a lock file.
import { TabvecError } from './errors.js';
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
}

export interface Backend {
  /** For messages: "OPFS 'notes'". */
  readonly where: string;
  /** Web Lock (or in-process lock) name serializing writers of this store. */
  readonly lockName: string;
  readManifest(): Promise<Manifest | undefined>;
  writeManifest(manifest: Manifest, durability: Durability): Promise<void>;
  removeManifest(): Promise<void>;
  writeCheckpoint(generation: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  /** The checkpoint, read in pieces when iterated; undefined when it is not there. */
  readCheckpoint(generation: number): Promise<SnapshotSource | undefined>;
  listCheckpoints(): Promise<number[]>;
  removeCheckpoint(generation: number): Promise<void>;
  /**
   * Writes a new segment. Whole or not at all (files: renamed into place;
   * IndexedDB: one transaction; OPFS from a page: createWritable), except
   * OPFS from a worker, where a write cut short leaves a torn tail.
   */
  writeSegment(firstSeq: number, bytes: Uint8Array, durability: Durability): Promise<void>;
  readSegment(firstSeq: number): Promise<Uint8Array | undefined>;
  /** First sequence numbers of the segments present, ascending. */
  listSegments(): Promise<number[]>;
  removeSegment(firstSeq: number): Promise<void>;
  /** Releases what the backend holds open (a database connection). */
  close(): void;
}

const DIRECTORY = 'tabvec';
const DATABASE = 'tabvec';
const DATABASE_VERSION = 2;
// IndexedDB checkpoints are written in pieces of this size (see IndexedDbBackend).
const CHECKPOINT_PIECE_BYTES = 4 << 20;
// Checkpoints are read in pieces of this size and loaded as they arrive.
const READ_PIECE_BYTES = 4 << 20;
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

function parseManifest(text: string, where: string): Manifest {
  try {
    const m = JSON.parse(text) as Partial<Manifest>;
    // Format 1 manifests (plain save()) have no seq: no journal.
    const seq = m.seq ?? 0;
    if (Number.isSafeInteger(m.generation) && m.generation! > 0 && Number.isSafeInteger(m.bytes) && Number.isSafeInteger(seq) && seq >= 0) {
      return { generation: m.generation!, bytes: m.bytes!, seq };
    }
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

// --- OPFS ----------------------------------------------------------------------

/** @internal A file or record that is not there (any backend). */
export function isNotFound(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === 'NotFoundError' || (e as { code?: string })?.code === 'ENOENT';
}

// The part of FileSystemSyncAccessHandle (dedicated workers only) used here.
interface SyncAccessHandle {
  getSize(): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  flush(): void;
  close(): void;
}

class OpfsBackend implements Backend {
  readonly where: string;
  readonly lockName: string;
  #dir: Promise<FileSystemDirectoryHandle> | undefined;

  constructor(readonly name: string) {
    this.where = `OPFS '${name}'`;
    this.lockName = `tabvec:opfs:${name}`;
  }

  #directory(): Promise<FileSystemDirectoryHandle> {
    this.#dir ??= (async () => {
      const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
      if (!storage?.getDirectory) throw new TabvecError('STORAGE_UNAVAILABLE', 'the Origin Private File System is not available here');
      return (await storage.getDirectory()).getDirectoryHandle(DIRECTORY, { create: true });
    })();
    this.#dir.catch(() => (this.#dir = undefined));
    return this.#dir;
  }

  async #write(file: string, data: Uint8Array | string): Promise<void> {
    const dir = await this.#directory();
    const handle = await dir.getFileHandle(file, { create: true });
    // createWritable writes a swap file; close() replaces the file atomically.
    const writable = await handle.createWritable();
    try {
      await writable.write(data as unknown as FileSystemWriteChunkType);
      await writable.close();
    } catch (e) {
      await writable.abort().catch(() => undefined);
      throw e;
    }
  }

  async #read(file: string): Promise<Uint8Array | undefined> {
    const dir = await this.#directory();
    try {
      const handle = await dir.getFileHandle(file);
      return new Uint8Array(await (await handle.getFile()).arrayBuffer());
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async #remove(file: string): Promise<void> {
    const dir = await this.#directory();
    await dir.removeEntry(file).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }

  async #list(suffix: string): Promise<number[]> {
    const dir = await this.#directory();
    const prefix = `${this.name}.`;
    const found: number[] = [];
    for await (const entry of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) {
      if (!entry.startsWith(prefix) || !entry.endsWith(suffix)) continue;
      const middle = entry.slice(prefix.length, -suffix.length);
      if (/^[1-9][0-9]*$/.test(middle)) found.push(Number(middle));
    }
    return found.sort((a, b) => a - b);
  }

  async readManifest(): Promise<Manifest | undefined> {
    const raw = await this.#read(`${this.name}.manifest.json`);
    return raw && parseManifest(new TextDecoder().decode(raw), this.where);
  }
  writeManifest(m: Manifest): Promise<void> {
    return this.#write(`${this.name}.manifest.json`, JSON.stringify(m));
  }
  removeManifest(): Promise<void> {
    return this.#remove(`${this.name}.manifest.json`);
  }
  writeCheckpoint(generation: number, bytes: Uint8Array): Promise<void> {
    return this.#write(`${this.name}.${generation}.tabvec`, bytes);
  }
  async readCheckpoint(generation: number): Promise<SnapshotSource | undefined> {
    const dir = await this.#directory();
    let file: File;
    try {
      file = await (await dir.getFileHandle(`${this.name}.${generation}.tabvec`)).getFile();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
    return {
      bytes: file.size,
      async *pieces() {
        for (let at = 0; at < file.size; at += READ_PIECE_BYTES) yield new Uint8Array(await file.slice(at, at + READ_PIECE_BYTES).arrayBuffer());
      },
    };
  }
  listCheckpoints(): Promise<number[]> {
    return this.#list('.tabvec');
  }
  removeCheckpoint(generation: number): Promise<void> {
    return this.#remove(`${this.name}.${generation}.tabvec`);
  }
  async writeSegment(firstSeq: number, bytes: Uint8Array): Promise<void> {
    const file = `${this.name}.${firstSeq}.journal`;
    const handle = await (await this.#directory()).getFileHandle(file, { create: true });
    // In a dedicated worker a sync access handle writes in place, several
    // times faster than createWritable's swap file. In place is not atomic,
    // which a segment can afford (a cut-off one is a torn tail, never
    // acknowledged and cut off by the next writer); the manifest and
    // checkpoints cannot, so they always go through #write.
    const sync = (handle as { createSyncAccessHandle?: () => Promise<SyncAccessHandle> }).createSyncAccessHandle;
    if (typeof sync !== 'function') return this.#write(file, bytes);
    const access = await sync.call(handle);
    let fresh: boolean;
    try {
      fresh = access.getSize() === 0;
      if (fresh) {
        if (access.write(bytes, { at: 0 }) !== bytes.byteLength) throw new TabvecError('STORAGE_UNAVAILABLE', `${this.where}: a journal write was cut short`);
        access.flush();
      }
    } finally {
      access.close();
    }
    // Rewriting a segment (cutting a torn tail) must be atomic.
    if (!fresh) await this.#write(file, bytes);
  }
  readSegment(firstSeq: number): Promise<Uint8Array | undefined> {
    return this.#read(`${this.name}.${firstSeq}.journal`);
  }
  listSegments(): Promise<number[]> {
    return this.#list('.journal');
  }
  removeSegment(firstSeq: number): Promise<void> {
    return this.#remove(`${this.name}.${firstSeq}.journal`);
  }
  close(): void {}
}

// --- IndexedDB -------------------------------------------------------------------

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function openDatabase(): Promise<IDBDatabase> {
  const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) return Promise.reject(new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB is not available here'));
  return new Promise((resolve, reject) => {
    const r = idb.open(DATABASE, DATABASE_VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      for (const store of ['snapshots', 'manifests', 'journal']) {
        if (!db.objectStoreNames.contains(store)) db.createObjectStore(store);
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
}

class IndexedDbBackend implements Backend {
  readonly where: string;
  readonly lockName: string;
  #db: Promise<IDBDatabase> | undefined;

  constructor(readonly name: string) {
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
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new TabvecError('STORAGE_UNAVAILABLE', 'IndexedDB transaction aborted'));
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
  async removeManifest(): Promise<void> {
    await this.#run('manifests', 'readwrite', undefined, (s) => s.delete(this.name));
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
  async writeSegment(firstSeq: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    await this.#run('journal', 'readwrite', durability, (s) => s.put(bytes, [this.name, firstSeq]));
  }
  async readSegment(firstSeq: number): Promise<Uint8Array | undefined> {
    return this.#bytes(await this.#run('journal', 'readonly', undefined, (s) => s.get([this.name, firstSeq])));
  }
  async listSegments(): Promise<number[]> {
    const keys = (await this.#run('journal', 'readonly', undefined,
      (s) => s.getAllKeys(IDBKeyRange.bound([this.name, 0], [this.name, Number.MAX_SAFE_INTEGER])))) ?? [];
    return keys.map((k) => (k as [string, number])[1]);
  }
  async removeSegment(firstSeq: number): Promise<void> {
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
export class FileBackend implements Backend {
  readonly where: string;
  readonly lockName: string;

  readonly file: string;

  constructor(file: string) {
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
  removeManifest(): Promise<void> {
    return this.#remove(this.file);
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
  writeSegment(firstSeq: number, bytes: Uint8Array, durability: Durability): Promise<void> {
    return this.#write(`${this.file}.${firstSeq}.journal`, bytes, durability);
  }
  readSegment(firstSeq: number): Promise<Uint8Array | undefined> {
    return this.#read(`${this.file}.${firstSeq}.journal`);
  }
  listSegments(): Promise<number[]> {
    return this.#list('.journal');
  }
  removeSegment(firstSeq: number): Promise<void> {
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
