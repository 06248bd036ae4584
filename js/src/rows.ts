// A storage tier's rows (rerank 'storage'): the exact vectors, as rows of a
// file beside a LiveStore's journal, numbered by the core (core/index.h, Row).
// Kept out of store.ts so that only stores with persistence load it.
import type { NativeIndex } from './module-types.js';
import type { Runtime } from './runtime.js';
import { type RowTier, type VectorStore, storeInternals } from './store.js';

/**
 * @internal What a LiveStore does with its store's storage tier, kept off
 * VectorStore's public surface: attach the rows, read the next row number,
 * number rows from `next` on again after a write was taken back (false while
 * a vector holds one of them), and compact them: `move` gets the rows in use
 * in slot order and copies them to rows 0, 1, ... of a new file, then the
 * store numbers them so.
 */
export const rowAccess = {
  attach: (store: VectorStore<unknown>, rows: RowTier): void => storeInternals(store).attach(rows),
  keepsRows: (store: VectorStore<unknown>): boolean => {
    const { runtime, native } = storeInternals(store);
    return runtime.reranks[native.rerank()] === 'storage';
  },
  nextRow: (store: VectorStore<unknown>): number => storeInternals(store).native.nextRow(),
  /** The bytes of the rows the stored vectors hold (tombstones too). */
  rowBytesHeld: (store: VectorStore<unknown>): number => {
    const { native } = storeInternals(store);
    return native.rowsHeld() * native.rowBytes();
  },
  rewind: (store: VectorStore<unknown>, next: number): boolean => storeInternals(store).native.rewindRows(next) === 0,
  compact: (store: VectorStore<unknown>, move: (rows: Uint32Array, rowBytes: number) => void): void => {
    const { runtime: rt, native } = storeInternals(store);
    const held = native.rowsHeld();
    const rows = rt.withScratch(held * 4, (ptr) => {
      native.rowsInUse(ptr);
      return rt.u32.slice(ptr >>> 2, (ptr >>> 2) + held);
    });
    move(rows, native.rowBytes());
    native.renumberRows();
  },
};

/**
 * @internal Where the rows live (storage.ts opens one per store): synchronous,
 * as search is. A file in Node, an OPFS sync access handle in a worker.
 */
export interface RowFile {
  /** Fills `into` with the bytes stored at `position`; throws if they are not all there. */
  read(into: Uint8Array, position: number): void;
  write(bytes: Uint8Array, position: number): void;
  /** Makes what was written durable (before the journal records that refer to it). */
  flush(): void;
  /** Bytes stored. */
  size(): number;
  close(): void;
}

const NO_ROW = 0xFFFFFFFF;
// The most candidates' row bytes a search holds in the heap at once.
const RESCORE_BYTES = 64 << 10;

/** @internal */
export class StorageRows implements RowTier {
  /**
   * Whether writes store their rows: only while this tab commits its own
   * writes. A tab replaying records another tab wrote reads the rows that
   * tab stored before recording them.
   */
  writes = false;

  constructor(readonly file: RowFile) {}

  stored(rt: Runtime, native: NativeIndex, firstRow: number, ptr: number): void {
    if (!this.writes) return;
    const rowBytes = native.rowBytes();
    const bytes = (native.nextRow() - firstRow) * rowBytes;
    if (bytes > 0) this.file.write(rt.u8.subarray(ptr, ptr + bytes), firstRow * rowBytes);
  }

  rescore(rt: Runtime, native: NativeIndex, queryPtr: number, k: number): number {
    const count = native.resultCount();
    const rowBytes = native.rowBytes();
    // Each result record (6 u32) starts with the candidate's row.
    const records = native.resultRecords() >>> 2;
    const rows = new Uint32Array(count);
    for (let i = 0; i < count; i++) rows[i] = rt.u32[records + 6 * i]!;
    // A small store's exact scan has every vector as a candidate: their rows
    // pass through a bounded buffer, since the WASM heap never shrinks.
    const batch = Math.max(1, Math.min(count, Math.floor(RESCORE_BYTES / rowBytes)));
    return rt.withScratch(batch * rowBytes, (into) => {
      let first = 0;
      let status: number;
      do {
        const n = Math.min(batch, count - first);
        this.#readRows(rt, rows.subarray(first, first + n), into, rowBytes);
        status = native.rescore(queryPtr, into, first, n, k);
        first += n;
      } while (status === 0 && first < count);
      return status;
    });
  }

  read(rt: Runtime, native: NativeIndex, idPtr: number, idLen: number, out: number): boolean {
    const row = native.rowOf(idPtr, idLen) >>> 0;
    if (row === NO_ROW) return false;
    const rowBytes = native.rowBytes();
    const at = rt.malloc(rowBytes);
    try {
      this.file.read(rt.u8.subarray(at, at + rowBytes), row * rowBytes);
      const status = native.getVector(idPtr, idLen, out, at);
      if (status !== 0) throw rt.statusError(status, native.lastError());
    } finally {
      rt.module._free(at);
    }
    return true;
  }

  // The candidates' rows (their numbers in `rows`) into `into`, rowBytes each, in
  // candidate order: one read per run of consecutive rows (a small store's
  // rows mostly are one run).
  #readRows(rt: Runtime, rows: Uint32Array, into: number, rowBytes: number): void {
    const order: number[] = [];
    for (let i = 0; i < rows.length; i++) if (rows[i] !== NO_ROW) order.push(i);
    order.sort((a, b) => rows[a]! - rows[b]!);
    for (let s = 0; s < order.length;) {
      let e = s + 1;
      while (e < order.length && rows[order[e]!] === rows[order[e - 1]!]! + 1) e++;
      const position = rows[order[s]!]! * rowBytes;
      if (e - s === 1) {
        const at = into + order[s]! * rowBytes;
        this.file.read(rt.u8.subarray(at, at + rowBytes), position);
      } else {
        const run = new Uint8Array((e - s) * rowBytes);
        this.file.read(run, position);
        const heap = rt.u8;
        for (let j = s; j < e; j++) heap.set(run.subarray((j - s) * rowBytes, (j - s + 1) * rowBytes), into + order[j]! * rowBytes);
      }
      s = e;
    }
  }
}

// Copies `rows` of `from` to rows 0, 1, ... of `to`: one read and one write
// per run of consecutive rows (most of a store's rows are, in slot order), at
// most COPY_BYTES at a time.
const COPY_BYTES = 1 << 20;

/** @internal Compaction's copy (see rowAccess.compact). */
export function copyRows(from: RowFile, to: RowFile, rows: Uint32Array, rowBytes: number): void {
  const most = Math.max(1, Math.floor(COPY_BYTES / rowBytes));
  const buffer = new Uint8Array(Math.min(rows.length, most) * rowBytes);
  for (let s = 0; s < rows.length;) {
    let e = s + 1;
    while (e < rows.length && e - s < most && rows[e] === rows[e - 1]! + 1) e++;
    const run = buffer.subarray(0, (e - s) * rowBytes);
    from.read(run, rows[s]! * rowBytes);
    to.write(run, s * rowBytes);
    s = e;
  }
}
