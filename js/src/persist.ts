// Durable storage of whole stores: save() and open() (and what a live store
// opens from). A store on storage is a checkpoint (a snapshot) plus the
// journal records written after it (live.ts); save() writes a checkpoint
// that replaces everything, journal included.
//
// A save keeps the previous good version until the new one is complete: it
// writes generation g+1 in full, reads it back and checks that it is byte
// for byte what was meant to be written and a valid snapshot by its own CRC,
// then switches the small manifest to it, and only then deletes what the new
// manifest no longer names. A save cut off at any point (tab closed,
// exception, quota, a failed check) leaves the manifest on g.
//
// Writers hold the store's lock exclusively (storage.ts withLock: a Web Lock
// across tabs and workers); readers hold it shared while they read the
// manifest and the files it names, so a reader never sees them vanish.
import { TabvecError } from './errors.js';
import { type JournalRecord, corruptJournal, decodeSegment, lastRecordNumber } from './journal.js';
import { sameBytes } from './snapshot.js';
import { type Backend, type Durability, FileBackend, type Manifest, type StorageTarget, backendFor, isNotFound, newLineage, storageError, withLock } from './storage.js';
import type { SnapshotSource } from './store.js';

export type { StorageTarget } from './storage.js';

export interface SaveReport {
  /** Bytes written for this version. */
  bytes: number;
  /** Monotonic version number of what is now saved. */
  generation: number;
}

/** What opening found in the journal. */
export interface RecoveryReport {
  /** Journal records replayed on top of the checkpoint. */
  replayed: number;
  /**
   * A torn tail (a write cut off when a tab or process died) that was left
   * out: where, and why it is not a complete record. Nothing acknowledged is
   * ever in a torn tail.
   */
  tornTail?: { segment: number; offset: number; reason: string };
  /**
   * With recovery: 'prefix', the damage the records after were dropped for.
   * (`segment`: the first record of the stored piece, `offset`: bytes into it.)
   */
  dropped?: { segment: number; offset: number; reason: string };
}

/** @internal A store as storage holds it: its checkpoint loaded (by the caller's loader) and the journal after it. */
export interface StoredState<T> {
  manifest: Manifest;
  loaded: T;
  records: JournalRecord[];
  report: RecoveryReport;
  /** The sequence number of the last record (the checkpoint's if none). */
  head: number;
  /** Bytes of journal read. */
  journalBytes: number;
}

// Why the checkpoint read back after a write is not the bytes meant to be
// written, or undefined when it is. Those were checked against their own
// CRC when serialize() produced them, so equal bytes are a valid snapshot.
// Compared piece by piece, yielding between pieces: a checkpoint of a large
// store must not stall the page.
async function writtenProblem(expected: Uint8Array, got: SnapshotSource | undefined): Promise<string | undefined> {
  if (!got) return 'nothing readable was stored';
  const differ = () => `the ${got.bytes} bytes read back differ from the ${expected.byteLength} bytes written`;
  if (got.bytes !== expected.byteLength) return differ();
  let at = 0;
  for await (const piece of got.pieces()) {
    if (piece.byteLength > expected.byteLength - at || !sameBytes(piece, expected.subarray(at, at + piece.byteLength))) return differ();
    at += piece.byteLength;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return at === expected.byteLength ? undefined : differ();
}

/**
 * @internal Writes `bytes` as a new checkpoint covering the journal up to
 * `seq`, verifies it, switches the manifest, and removes what it replaced.
 * `lineage`: 'new' for a store created or replaced; otherwise the lineage
 * the writer's copy belongs to, which the stored one must still be (a
 * checkpoint of a store since removed and made again would overwrite it).
 * `nextLineage`: the lineage the checkpoint starts instead (a compaction of
 * a storage tier's rows: every tab reloads). Call holding the store's
 * exclusive lock. Returns the new manifest.
 */
export async function writeCheckpoint(backend: Backend, bytes: Uint8Array, seq: number, durability: Durability, lineage: number | 'new',
  nextLineage?: number): Promise<Manifest> {
  const previous = await backend.readManifest().catch(() => undefined);
  if (previous && seq < previous.seq && lineage !== 'new') {
    // Would drop records another writer made since this copy was taken.
    throw new TabvecError('STORAGE_UNAVAILABLE', `${backend.where}: not writing a checkpoint at record ${seq} over one at record ${previous.seq}`);
  }
  if (lineage !== 'new' && previous?.lineage !== lineage) {
    throw new TabvecError('STORAGE_UNAVAILABLE', `${backend.where} was replaced (removed, saved over or created again) since this copy was read; not writing a checkpoint of it`);
  }
  const present = await backend.listCheckpoints();
  // Above every generation present, so a leftover of a failed write is never
  // reused under a name a reader might still be reading.
  const generation = Math.max(previous?.generation ?? 0, ...present) + 1;
  try {
    await backend.writeCheckpoint(generation, bytes, durability);
    const problem = await writtenProblem(bytes, await backend.readCheckpoint(generation));
    if (problem !== undefined) throw new TabvecError('STORAGE_UNAVAILABLE', `${backend.where} did not store the checkpoint faithfully (${problem}); the previous version is kept`);
  } catch (e) {
    await backend.removeCheckpoint(generation).catch(() => undefined);
    throw e;
  }
  const manifest: Manifest = { generation, bytes: bytes.byteLength, seq, lineage: nextLineage ?? (lineage === 'new' ? newLineage() : lineage) };
  await backend.writeManifest(manifest, durability);
  // Readers hold the lock shared while they read, so nothing still needs these.
  for (const g of present) if (g !== generation) await backend.removeCheckpoint(g).catch(() => undefined);
  await backend.dropJournal(seq).catch(() => undefined);
  return manifest;
}

/** @internal The last sequence number written to the journal, looking at what is stored. */
export async function journalHead(backend: Backend, manifest: Manifest | undefined): Promise<number> {
  let head = manifest?.seq ?? 0;
  for (const first of await backend.journalPieces(head)) {
    const bytes = await backend.readJournal(first);
    head = Math.max(head, (bytes && lastRecordNumber(bytes)) ?? 0);
  }
  return head;
}

/** @internal save(): a checkpoint that replaces everything stored under the target. */
export async function writeSnapshot(target: StorageTarget, bytes: Uint8Array): Promise<SaveReport> {
  const backend = backendFor(target);
  // In Node, not while another process has the file open as a live store.
  const release = backend instanceof FileBackend ? await backend.acquireProcessLock('write').catch((e) => { throw storageError(e, `saving to ${backend.where}`); }) : undefined;
  try {
    return await withLock(backend, 'exclusive', async () => {
      // Past every journal record, with a gap: what a live store wrote there
      // is replaced, not replayed, and a live store open on it sees a
      // checkpoint beyond what it has applied, so it reloads.
      const head = await journalHead(backend, await backend.readManifest().catch(() => undefined));
      const manifest = await writeCheckpoint(backend, bytes, head + 1, 'strict', 'new');
      // All of it, whatever its numbers: a damaged record may have hidden some
      // from journalHead. (Saved already: what is left is skipped by readers.)
      await backend.dropJournal(Infinity).catch(() => undefined);
      return { bytes: bytes.byteLength, generation: manifest.generation };
    });
  } catch (e) {
    throw storageError(e, `saving to ${backend.where}`);
  } finally {
    backend.close();
    await release?.();
  }
}

// A file may be replaced or removed by a writer between reading the manifest
// and reading it (where locks are missing); these errors are worth a retry.
function isTransient(e: unknown): boolean {
  const name = (e as { name?: string })?.name;
  return name === 'NotFoundError' || name === 'NotReadableError' || name === 'InvalidStateError' || name === 'NoModificationAllowedError';
}

/**
 * @internal Reads the journal after `after`: every segment in order. A bad
 * record in the last segment is a torn tail (reported, left out); one
 * followed by more records is damage: CORRUPT_SNAPSHOT naming the segment and
 * offset, or with `prefix`, the records before it.
 */
export async function readJournal(backend: Backend, after: number, prefix: boolean): Promise<{ records: JournalRecord[]; report: RecoveryReport; bytes: number }> {
  const records: JournalRecord[] = [];
  let total = 0;
  const report: RecoveryReport = { replayed: 0 };
  const segments = await backend.journalPieces(after);
  let expected = after + 1;
  for (let i = 0; i < segments.length; i++) {
    const first = segments[i]!;
    const last = i === segments.length - 1;
    const where = `journal segment ${first} of ${backend.where}`;
    const damage = (offset: number, reason: string) => {
      if (!prefix) throw corruptJournal(where, offset, reason);
      report.dropped = { segment: first, offset, reason };
    };
    if (first !== expected) {
      damage(0, `it starts at record ${first} but record ${expected} is missing`);
      break;
    }
    const bytes = await backend.readJournal(first);
    if (!bytes) {
      damage(0, 'it vanished while being read');
      break;
    }
    const read = decodeSegment(bytes, first);
    for (const record of read.records) records.push(record);
    total += read.validBytes;
    expected = first + read.records.length;
    if (read.problem) {
      // Only the very end of the journal can be a write cut short.
      if (last && read.problem.tail) report.tornTail = { segment: first, offset: read.problem.offset, reason: read.problem.reason };
      else damage(read.problem.offset, read.problem.reason);
      break;
    }
  }
  report.replayed = records.length;
  return { records, report, bytes: total };
}

const READ_ATTEMPTS = 8;

/**
 * @internal Why there is no manifest: nothing stored (NOT_FOUND), or a
 * manifest lost while checkpoints or journal remain, which must not read as
 * an empty target (a new store created over them would hide their data), or
 * everything deleted underneath tabvec, which must not either.
 */
export async function noManifest(backend: Backend): Promise<TabvecError> {
  if (!(await backend.holdsData())) {
    const lost = await backend.storageLost?.();
    if (lost === undefined) return new TabvecError('NOT_FOUND', `nothing is stored in ${backend.where}`);
    return new TabvecError('CORRUPT_SNAPSHOT', `${backend.where} is not there, and ${lost}: what it held is gone. ` +
      'tabvec will not create a new store in its place unnoticed; remove() acknowledges the loss, and creating it again then works');
  }
  return new TabvecError('CORRUPT_SNAPSHOT',
    `${backend.where} holds checkpoint or journal data but no manifest: its manifest was lost (after a browser crash, ` +
    'Chromium can drop recent OPFS and IndexedDB changes it had reported done). tabvec will not open it or create a new store over it; ' +
    'remove() discards what is left');
}

/**
 * @internal Reads the journal and the checkpoint, consistently: under the
 * store's lock held shared, unless the caller already holds it. The
 * checkpoint is handed to `load` as it is read (never held whole).
 */
export async function readStored<T>(backend: Backend, prefix: boolean, load: (checkpoint: SnapshotSource) => Promise<T>, locked = false): Promise<StoredState<T>> {
  let last: unknown;
  for (let attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
    // Back off a little: where locks are missing, a writer may be between two steps.
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 5 * attempt * attempt));
    try {
      const read = async (): Promise<StoredState<T>> => {
        const manifest = await backend.readManifest();
        if (!manifest) throw await noManifest(backend);
        const { records, report, bytes } = await readJournal(backend, manifest.seq, prefix);
        // Gone or cut short: replaced meanwhile by a writer this lock does not
        // cover (another process), worth reading again; otherwise damage.
        const missing = async (problem: string): Promise<never> => {
          if ((await backend.readManifest())?.generation !== manifest.generation) {
            throw Object.assign(new Error(`checkpoint ${manifest.generation} was replaced while being read`), { name: 'NotFoundError' });
          }
          throw new TabvecError('CORRUPT_SNAPSHOT', `${backend.where}: ${problem}`);
        };
        const checkpoint = await backend.readCheckpoint(manifest.generation) ?? await missing(`checkpoint ${manifest.generation} is missing`);
        if (checkpoint.bytes !== manifest.bytes) {
          throw new TabvecError('CORRUPT_SNAPSHOT', `${backend.where}: checkpoint ${manifest.generation} has ${checkpoint.bytes} bytes, the manifest says ${manifest.bytes}`);
        }
        // Its checksum and structure are checked by the core as it loads.
        const loaded = await load(checkpoint).catch((e) => (isNotFound(e) ? missing(`checkpoint ${manifest.generation} is incomplete`) : Promise.reject(e)));
        const head = records.length > 0 ? records[records.length - 1]!.seq : manifest.seq;
        return { manifest, loaded, records, report, head, journalBytes: bytes };
      };
      return await (locked ? read() : withLock(backend, 'shared', read));
    } catch (e) {
      if (!isTransient(e)) throw e;
      last = e;
    }
  }
  throw last;
}

/** @internal open(): the stored checkpoint, loaded by `load`, and the journal. */
export async function readSnapshot<T>(target: StorageTarget, prefix: boolean, load: (checkpoint: SnapshotSource) => Promise<T>): Promise<StoredState<T>> {
  const backend = backendFor(target);
  try {
    return await readStored(backend, prefix, load);
  } catch (e) {
    throw storageError(e, `opening ${backend.where}`);
  } finally {
    backend.close();
  }
}

/** See index.ts. */
export async function removeSaved(target: StorageTarget): Promise<void> {
  const backend = backendFor(target);
  const release = backend instanceof FileBackend ? await backend.acquireProcessLock('write').catch((e) => { throw storageError(e, `removing ${backend.where}`); }) : undefined;
  try {
    await withLock(backend, 'exclusive', () => backend.removeAll());
  } catch (e) {
    throw storageError(e, `removing ${backend.where}`);
  } finally {
    backend.close();
    await release?.();
  }
}

/** See index.ts, which imports this module when it is first needed. */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return storage?.persist ? storage.persist() : false;
}
