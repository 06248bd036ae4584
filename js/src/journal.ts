// The live store's journal: every mutation as one self-checking record.
//
// A commit writes one segment: the records of the mutations it carries, back
// to back, named by the sequence number of its first record (IndexedDB and
// Node keep a segment per commit; OPFS appends them all to one file). A record is
//
//   u32 payload length | u32 CRC-32 of (seq, payload) | f64 seq | payload
//
// little-endian, so a reader can tell a complete record from a torn or
// damaged one without trusting anything inside it. The payload is the
// operation and its arguments as the wrapper received them (ids and metadata
// as UTF-8, vectors as float32): replaying it calls the same store method.
// A write with text (full-text search) carries its texts after the vectors;
// records without text are as tabvec 0.1 wrote them.
import { TabvecError } from './errors.js';

// Slicing-by-4 tables for the standard reflected CRC-32 (polynomial 0xEDB88320):
// four table lookups per word are several times faster than one per byte.
const TABLES: Uint32Array[] = (() => {
  const t = Array.from({ length: 4 }, () => new Uint32Array(256));
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[0]![i] = c >>> 0;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 4; s++) t[s]![i] = (t[s - 1]![i]! >>> 8) ^ t[0]![t[s - 1]![i]! & 0xff]!;
  }
  return t;
})();

/** @internal CRC-32 of bytes[0, end). */
export function crc32(bytes: Uint8Array, end = bytes.length): number {
  const [t0, t1, t2, t3] = TABLES as [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let c = 0xffffffff;
  let i = 0;
  for (const stop = end - 3; i < stop; i += 4) {
    c ^= bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    c = t3[c & 0xff]! ^ t2[(c >>> 8) & 0xff]! ^ t1[(c >>> 16) & 0xff]! ^ t0[c >>> 24]!;
  }
  for (; i < end; i++) c = t0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export type JournalOp =
  | { op: 'add' | 'upsert'; id: string; vector: Float32Array; metadata: string | undefined; text?: string }
  | { op: 'addMany'; ids: string[]; vectors: Float32Array; metadata: (string | undefined)[] | undefined; texts?: (string | undefined)[] }
  | { op: 'delete'; id: string }
  | { op: 'setMetadata'; id: string; metadata: string | undefined }
  | { op: 'consolidate' };

export interface JournalRecord {
  seq: number;
  entry: JournalOp;
}

const HEADER_BYTES = 16;
/**
 * @internal Longest record payload: a reader refuses a longer one (a corrupt
 * length must not make it allocate or wait for gigabytes), so a writer must
 * never write one.
 */
export const MAX_PAYLOAD_BYTES = 1 << 30;
const NO_METADATA = 0xffffffff;
const OPS = ['add', 'upsert', 'addMany', 'delete', 'setMetadata', 'consolidate'] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

class Writer {
  bytes = new Uint8Array(256);
  view = new DataView(this.bytes.buffer);
  at = 0;

  room(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.bytes[this.at++] = v;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }
  text(s: string | undefined): void {
    if (s === undefined) return this.u32(NO_METADATA);
    this.room(4 + s.length * 3);
    const { written } = encoder.encodeInto(s, this.bytes.subarray(this.at + 4));
    this.view.setUint32(this.at, written, true);
    this.at += 4 + written;
  }
  floats(v: Float32Array): void {
    this.room(v.byteLength);
    this.bytes.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), this.at);
    this.at += v.byteLength;
  }
}

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array, readonly view: DataView, readonly end: number, start: number) {
    this.at = start;
  }
  need(n: number): void {
    if (this.at + n > this.end) throw new Error('payload ends early');
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  text(): string | undefined {
    const n = this.u32();
    if (n === NO_METADATA) return undefined;
    this.need(n);
    const s = decoder.decode(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return s;
  }
  id(): string {
    const s = this.text();
    if (s === undefined) throw new Error('an id is missing');
    return s;
  }
  floats(count: number): Float32Array {
    this.need(count * 4);
    // A copy: the segment's buffer is not kept alive by the store.
    const out = new Float32Array(count);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.at, this.at + count * 4));
    this.at += count * 4;
    return out;
  }
}

/** @internal Encodes records seq, seq+1, ... for `entries` as one segment. */
export function encodeSegment(firstSeq: number, entries: readonly JournalOp[]): Uint8Array {
  const w = new Writer();
  entries.forEach((entry, i) => {
    const start = w.at;
    w.room(HEADER_BYTES);
    w.at += HEADER_BYTES;
    w.u8(OPS.indexOf(entry.op));
    switch (entry.op) {
      case 'add':
      case 'upsert':
        w.text(entry.id);
        w.text(entry.metadata);
        w.u32(entry.vector.length);
        w.floats(entry.vector);
        if (entry.text !== undefined) w.text(entry.text);
        break;
      case 'addMany':
        w.u32(entry.ids.length);
        entry.ids.forEach((id, k) => {
          w.text(id);
          w.text(entry.metadata?.[k]);
        });
        w.u32(entry.vectors.length);
        w.floats(entry.vectors);
        // One per id, holes included (forEach would skip a hole and the reader would run short).
        if (entry.texts) for (let k = 0; k < entry.ids.length; k++) w.text(entry.texts[k]);
        break;
      case 'delete':
        w.text(entry.id);
        break;
      case 'setMetadata':
        w.text(entry.id);
        w.text(entry.metadata);
        break;
      case 'consolidate':
        break;
    }
    w.view.setUint32(start, w.at - start - HEADER_BYTES, true);
    w.view.setFloat64(start + 8, firstSeq + i, true);
    w.view.setUint32(start + 4, crc32(w.bytes.subarray(start + 8, w.at)), true);
  });
  return w.bytes.slice(0, w.at);
}

/**
 * @internal The sequence number and end of the record whose header starts at
 * `at`, when the header is there and the record fits in `bytes` (its checksum
 * is not checked): enough to walk a journal file to a record.
 */
export function recordAt(bytes: Uint8Array, at: number): { seq: number; end: number } | undefined {
  if (bytes.length - at < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER_BYTES);
  const length = view.getUint32(0, true);
  const end = at + HEADER_BYTES + length;
  if (length === 0 || length > MAX_PAYLOAD_BYTES || end > bytes.length) return undefined;
  return { seq: view.getFloat64(8, true), end };
}

/**
 * @internal The highest number of an intact record in `bytes`, walking
 * whole records from the start by their headers: a damaged record does not
 * hide the intact ones after it, and its own number (maybe torn, any value)
 * does not count. Undefined if there is none.
 */
export function lastRecordNumber(bytes: Uint8Array): number | undefined {
  let last: number | undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0, r = recordAt(bytes, 0); r; at = r.end, r = recordAt(bytes, at)) {
    const intact = Number.isSafeInteger(r.seq) && crc32(bytes.subarray(at + 8, r.end)) === view.getUint32(at + 4, true);
    if (intact) last = Math.max(last ?? r.seq, r.seq);
  }
  return last;
}

/** What reading a segment found. */
export interface SegmentRead {
  records: JournalRecord[];
  /** Bytes of complete, valid records from the start. */
  validBytes: number;
  /**
   * Why reading stopped before the end, with the offset of the first bad
   * byte; undefined if it did not. `tail` says whether the bad record is the
   * last thing in the segment (cut off by its end, or ending exactly there),
   * as a write cut short leaves it; a bad record with bytes after it is damage.
   */
  problem?: { offset: number; reason: string; tail: boolean };
}

/**
 * @internal Reads the records of a segment in order, stopping at the first
 * that is incomplete or fails its checksum. Whether that is a torn tail or
 * damage is the caller's call: it knows whether later segments exist.
 */
export function decodeSegment(bytes: Uint8Array, firstSeq: number): SegmentRead {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: JournalRecord[] = [];
  let at = 0;
  // A bad record is a torn tail only if no intact record follows it: one
  // journal file (OPFS) holds many commits, and damage to a length field
  // must not pass for a write cut short, dropping the records after it.
  const stop = (reason: string, tail: boolean): SegmentRead =>
    ({ records, validBytes: at, problem: { offset: at, reason, tail: tail && !intactRecordAfter(bytes, at + 1, firstSeq + records.length) } });
  while (at < bytes.length) {
    if (bytes.length - at < HEADER_BYTES) return stop(`a record header is cut off (${bytes.length - at} of ${HEADER_BYTES} bytes)`, true);
    const length = view.getUint32(at, true);
    // Zeros where a header should be: space a write reserved and never filled.
    if (length === 0) return stop('a record claims 0 payload bytes', bytes.subarray(at).every((b) => b === 0));
    if (length > MAX_PAYLOAD_BYTES) return stop(`a record claims ${length} payload bytes`, false);
    const end = at + HEADER_BYTES + length;
    if (end > bytes.length) return stop(`a record of ${length} payload bytes is cut off after ${bytes.length - at - HEADER_BYTES}`, true);
    const stored = view.getUint32(at + 4, true);
    if (crc32(bytes.subarray(at + 8, end)) !== stored) return stop('a record fails its CRC-32', end === bytes.length);
    const seq = view.getFloat64(at + 8, true);
    const expected = firstSeq + records.length;
    if (seq !== expected) return stop(`a record has sequence number ${seq}, expected ${expected}`, false);
    let entry: JournalOp;
    try {
      entry = decodeEntry(new Reader(bytes, view, end, at + HEADER_BYTES));
    } catch (e) {
      return stop(`a record passes its CRC-32 but cannot be decoded (${(e as Error).message})`, false);
    }
    records.push({ seq, entry });
    at = end;
  }
  return { records, validBytes: at };
}

// Whether a record with a valid checksum, numbered `seq` or later, starts anywhere from `from` on.
function intactRecordAfter(bytes: Uint8Array, from: number, seq: number): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = from; at + HEADER_BYTES <= bytes.length; at++) {
    const length = view.getUint32(at, true);
    if (length === 0 || length > bytes.length - at - HEADER_BYTES) continue;
    const n = view.getFloat64(at + 8, true);
    if (!Number.isSafeInteger(n) || n < seq) continue;
    if (crc32(bytes.subarray(at + 8, at + HEADER_BYTES + length)) === view.getUint32(at + 4, true)) return true;
  }
  return false;
}

function decodeEntry(r: Reader): JournalOp {
  const op = OPS[r.u8()];
  let entry: JournalOp;
  switch (op) {
    case 'add':
    case 'upsert': {
      const id = r.id();
      const metadata = r.text();
      entry = { op, id, metadata, vector: r.floats(r.u32()) };
      if (r.at !== r.end) entry.text = r.id();
      break;
    }
    case 'addMany': {
      const n = r.u32();
      const ids: string[] = [];
      const metadata: (string | undefined)[] = [];
      for (let i = 0; i < n; i++) {
        ids.push(r.id());
        metadata.push(r.text());
      }
      entry = { op, ids, metadata: metadata.some((m) => m !== undefined) ? metadata : undefined, vectors: r.floats(r.u32()) };
      if (r.at !== r.end) entry.texts = ids.map(() => r.text());
      break;
    }
    case 'delete':
      entry = { op, id: r.id() };
      break;
    case 'setMetadata':
      entry = { op, id: r.id(), metadata: r.text() };
      break;
    case 'consolidate':
      entry = { op };
      break;
    default:
      throw new Error('unknown operation');
  }
  if (r.at !== r.end) throw new Error(`${r.end - r.at} bytes left over`);
  return entry;
}

/** @internal The error for a journal damaged before its tail. */
export function corruptJournal(where: string, offset: number, reason: string): TabvecError {
  return new TabvecError('CORRUPT_SNAPSHOT',
    `the journal is damaged in ${where} at byte ${offset}: ${reason}; records after it exist, so this is not a torn tail ` +
    "(open with { recovery: 'prefix' } to open the intact records before it)");
}

/** The store methods a journal entry replays through. */
export interface JournalTarget {
  add(id: string, vector: Float32Array, metadata?: unknown, options?: { text?: string }): void;
  upsert(id: string, vector: Float32Array, metadata?: unknown, options?: { text?: string }): void;
  addMany(ids: readonly string[], vectors: Float32Array, metadata?: readonly unknown[], options?: { texts?: readonly (string | undefined)[] }): void;
  delete(id: string): void;
  setMetadata(id: string, metadata: unknown): void;
  consolidate(): number;
}

const parse = (json: string | undefined): unknown => (json === undefined ? undefined : JSON.parse(json));
const withText = (text: string | undefined) => (text === undefined ? undefined : { text });

/**
 * @internal Applies one entry as the call that wrote it did. Only calls that
 * succeeded are journaled, so on the state they were made on they succeed
 * again; an error here means the stored state is not what it claims.
 */
export function applyEntry(store: JournalTarget, entry: JournalOp): void {
  switch (entry.op) {
    case 'add': return store.add(entry.id, entry.vector, parse(entry.metadata), withText(entry.text));
    case 'upsert': return store.upsert(entry.id, entry.vector, parse(entry.metadata), withText(entry.text));
    case 'addMany': return store.addMany(entry.ids, entry.vectors, entry.metadata?.map(parse), entry.texts && { texts: entry.texts });
    case 'delete': return store.delete(entry.id);
    case 'setMetadata': return store.setMetadata(entry.id, parse(entry.metadata));
    case 'consolidate':
      store.consolidate();
  }
}

/** @internal 'prefix' recovery or not. */
export function checkRecovery(recovery: unknown): boolean {
  if (recovery !== undefined && recovery !== 'strict' && recovery !== 'prefix') {
    throw new TabvecError('INVALID_ARGUMENT', `recovery must be 'strict' or 'prefix', got ${String(recovery)}`);
  }
  return recovery === 'prefix';
}

/** @internal A journal record that does not replay: the stored state is not what it claims. */
export function replayError(e: unknown, target: unknown): TabvecError {
  const reason = e instanceof TabvecError ? `${e.code}: ${e.message}` : String((e as Error)?.message ?? e);
  if (e instanceof TabvecError && (e.code === 'OUT_OF_MEMORY' || e.code === 'MEMORY_CAP_EXCEEDED')) return e;
  return new TabvecError('CORRUPT_SNAPSHOT', `a journal record of ${JSON.stringify(target)} does not apply to the state before it (${reason})`);
}


/**
 * @internal VectorStore.open after its options are checked: reads the
 * checkpoint (`read`, with 'prefix' recovery or not) and replays the journal
 * records after it.
 */
export async function openStored<S extends JournalTarget & { dispose(): void }>(target: unknown, recovery: unknown,
  read: (prefix: boolean) => Promise<{ loaded: S; records: JournalRecord[] }>): Promise<S> {
  const stored = await read(checkRecovery(recovery));
  const store = stored.loaded;
  try {
    for (const record of stored.records) applyEntry(store, record.entry);
  } catch (e) {
    store.dispose();
    throw replayError(e, target);
  }
  return store;
}
