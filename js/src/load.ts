// Loading a snapshot that arrives in pieces (VectorStore.load), fetched on
// first use. It imports nothing the core API's page loads: the runtime and
// the text support come in as functions.
import type { NativeIndex } from './module-types.js';
import type { Runtime } from './runtime.js';
import type { SnapshotSource } from './store.js';
import type { TextSupport } from './text.js';

// Loading copies a snapshot into the module through a window of this size.
const LOAD_WINDOW_BYTES = 1 << 20;

/**
 * @internal Loads a snapshot: each piece is copied into the module through a
 * small window and loaded from there, so the whole snapshot is never held in
 * WebAssembly memory beside the store it becomes, and memory does not keep
 * that peak. A snapshot of a store with text (its magic's last byte is 'T',
 * core/hybrid.h) is loaded by the text build.
 */
export async function loadNative(source: SnapshotSource, maxMemoryBytes: number,
  runtimeFor: (text: boolean) => Promise<Runtime>, textModule: () => Promise<typeof import('./text.js')>):
  Promise<{ runtime: Runtime; native: NativeIndex; text: TextSupport | undefined }> {
  const pieces = source.pieces();
  const iterator = Symbol.asyncIterator in pieces ? pieces[Symbol.asyncIterator]() : pieces[Symbol.iterator]();
  // The next piece is asked for before this one is loaded, so storage
  // reads it while the module checks and copies this one.
  let next: Promise<IteratorResult<Uint8Array>> | IteratorResult<Uint8Array> = iterator.next();
  let runtime: Runtime | undefined;
  let native: NativeIndex | undefined;
  let window = 0;
  const check = (status: number) => {
    if (status !== 0) throw runtime!.statusError(status, native!.lastError());
  };
  try {
    let piece = await next;
    const text = !piece.done && piece.value[7] === 0x54 ? await textModule() : undefined;
    runtime = await runtimeFor(text !== undefined);
    native = new runtime.module.Index();
    const windowBytes = Math.min(LOAD_WINDOW_BYTES, source.bytes);
    check(native.loadStart(source.bytes, maxMemoryBytes));
    window = runtime.malloc(windowBytes);
    for (; !piece.done; piece = await next) {
      next = iterator.next();
      const bytes = piece.value;
      for (let at = 0; at < bytes.byteLength; at += windowBytes) {
        const part = bytes.subarray(at, at + windowBytes);
        runtime.u8.set(part, window); // u8 afresh each time: loading grows memory
        check(native.loadFeed(window, part.byteLength)); // more than stated is CORRUPT_SNAPSHOT
      }
    }
    check(native.loadFinish());
    return { runtime, native, text: text?.loaded(runtime, native) };
  } catch (e) {
    // Stop storage reading (it closes its file), and let the piece read
    // ahead fail quietly: this error is the one to report.
    Promise.resolve(next).catch(() => undefined);
    await Promise.resolve(iterator.return?.()).catch(() => undefined);
    native?.delete();
    throw e;
  } finally {
    if (window) runtime!.module._free(window);
  }
}
