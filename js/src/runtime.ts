import { TabvecError, errorFromStatus } from './errors.js';
import type { TabvecModule, TabvecModuleFactory } from './module-types.js';

/** Which WebAssembly build to load: 'auto' picks SIMD when the engine supports it. */
export type WasmFlavor = 'auto' | 'simd' | 'baseline';

// The smallest module using a SIMD instruction (i8x16.splat); engines without
// SIMD (older Safari) fail to validate it.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 15, 11,
]);

/** True if this JavaScript engine can run the SIMD build. */
export function simdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();
// Bytes kept allocated between calls for small inputs; larger ones are freed after use.
const KEEP_SCRATCH_BYTES = 64 * 1024;

/**
 * @internal One instantiated WebAssembly module, shared by every store that
 * uses the same flavor, so an extra store costs kilobytes, not a new heap.
 */
export class Runtime {
  readonly module: TabvecModule;
  readonly simd: boolean;
  #scratch = 0;
  #scratchBytes = 0;
  #scratchInUse = false;

  /** The core's names for its metric, storage and re-ranking tier codes, by code. */
  readonly metrics: readonly string[];
  readonly storages: readonly string[];
  readonly reranks: readonly string[];

  constructor(module: TabvecModule, simd: boolean) {
    this.module = module;
    this.simd = simd;
    const names = (count: number, nameOf: (code: number) => string) => Array.from({ length: count }, (_, code) => nameOf(code));
    this.metrics = names(module.METRIC_COUNT, module.metricName);
    this.storages = names(module.STORAGE_COUNT, module.storageName);
    this.reranks = names(module.RERANK_COUNT, module.rerankName);
  }

  /** Heap views must be re-read after every call that may grow memory. */
  get u8(): Uint8Array {
    return this.module.HEAPU8;
  }
  get u32(): Uint32Array {
    return this.module.HEAPU32;
  }
  get f32(): Float32Array {
    return this.module.HEAPF32;
  }
  get f64(): Float64Array {
    return this.module.HEAPF64;
  }

  /**
   * Allocates heap bytes. _malloc is a raw export returning a signed i32, so
   * past 2 GiB of memory a pointer arrives negative: every pointer is made
   * unsigned here, and heap indices are taken with >>> (never >>).
   */
  malloc(bytes: number): number {
    const ptr = this.module._malloc(Math.max(bytes, 8)) >>> 0;
    if (ptr === 0) throw new TabvecError('OUT_OF_MEMORY', `could not allocate ${bytes} bytes of WebAssembly memory`);
    return ptr;
  }

  /** The core's limits (core/index.h), read from the module so the rule lives in one place. */
  get maxIdBytes(): number {
    return this.module.MAX_ID_BYTES;
  }
  get maxMetadataBytes(): number {
    return this.module.MAX_METADATA_BYTES;
  }

  /** A core status and message as a TabvecError. */
  statusError(status: number, message: string): TabvecError {
    return errorFromStatus(this.module, status, message);
  }

  /** Runs fn with a scratch region of at least `bytes` (8-byte aligned). */
  withScratch<T>(bytes: number, fn: (ptr: number) => T): T {
    if (this.#scratchInUse) {
      // Re-entered (a filter callback calling back into the store): use a private buffer.
      const ptr = this.malloc(bytes);
      try {
        return fn(ptr);
      } finally {
        this.module._free(ptr);
      }
    }
    if (bytes > this.#scratchBytes) {
      if (this.#scratch) this.module._free(this.#scratch);
      this.#scratch = 0;
      this.#scratchBytes = 0;
      this.#scratch = this.malloc(bytes);
      this.#scratchBytes = bytes;
    }
    this.#scratchInUse = true;
    try {
      return fn(this.#scratch);
    } finally {
      this.#scratchInUse = false;
      if (this.#scratchBytes > KEEP_SCRATCH_BYTES) {
        this.module._free(this.#scratch);
        this.#scratch = 0;
        this.#scratchBytes = 0;
      }
    }
  }

  /**
   * Writes UTF-8 at ptr into at most `room` bytes (by default 3 per UTF-16
   * unit, always enough) and returns its length.
   */
  writeUtf8(text: string, ptr: number, room = text.length * 3): number {
    return textEncoder.encodeInto(text, this.u8.subarray(ptr, ptr + room)).written;
  }

  readUtf8(ptr: number, length: number): string {
    return length === 0 ? '' : textDecoder.decode(this.u8.subarray(ptr, ptr + length));
  }
}

/** @internal Bytes `text` takes in UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}

const runtimes = new Map<string, Promise<Runtime>>();

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

// Under Node the glue cannot fetch a file path (Emscripten 3.1.6), so the bytes
// are read here; elsewhere (or if reading fails, as in some Electron renderers)
// the glue fetches the URL.
async function readWasmBytes(url: URL): Promise<Uint8Array | undefined> {
  if (!isNode() || url.protocol !== 'file:') return undefined;
  try {
    const fsModule = 'node:fs/promises';
    const fs = (await import(/* @vite-ignore */ fsModule)) as typeof import('node:fs/promises');
    return await fs.readFile(url);
  } catch {
    return undefined;
  }
}

async function instantiate(simd: boolean, text: boolean): Promise<Runtime> {
  // Literal paths, so bundlers see every build. The text builds (full-text
  // search, core/hybrid.h) load only for stores with text.
  const [name, glue, wasmUrl] = text
    ? simd
      ? ['tabvec-text-simd.wasm', import('./wasm/tabvec-text-simd.mjs'), new URL('./wasm/tabvec-text-simd.wasm', import.meta.url)]
      : ['tabvec-text.wasm', import('./wasm/tabvec-text.mjs'), new URL('./wasm/tabvec-text.wasm', import.meta.url)]
    : simd
      ? ['tabvec-simd.wasm', import('./wasm/tabvec-simd.mjs'), new URL('./wasm/tabvec-simd.wasm', import.meta.url)]
      : ['tabvec.wasm', import('./wasm/tabvec.mjs'), new URL('./wasm/tabvec.wasm', import.meta.url)];
  try {
    const factory: TabvecModuleFactory = (await glue).default;
    const wasmBinary = await readWasmBytes(wasmUrl);
    const module = wasmBinary ? await factory({ wasmBinary }) : await factory({ locateFile: () => wasmUrl.href });
    return new Runtime(module, simd);
  } catch (e) {
    // The glue rejects with whatever failed (a RuntimeError from its abort(), a
    // TypeError from fetch, a CompileError): one code for all of them.
    throw new TabvecError('WASM_UNAVAILABLE', `could not load the WebAssembly module ${name}: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** @internal Loads (once) and returns the runtime for a flavor, of the text build or the core API's. */
export function loadRuntime(flavor: WasmFlavor = 'auto', text = false): Promise<Runtime> {
  if (flavor !== 'auto' && flavor !== 'simd' && flavor !== 'baseline') {
    return Promise.reject(new TabvecError('INVALID_ARGUMENT', `wasm must be 'auto', 'simd' or 'baseline', got ${String(flavor)}`));
  }
  const simd = flavor === 'simd' || (flavor === 'auto' && simdSupported());
  const key = `${simd}${text}`;
  let runtime = runtimes.get(key);
  if (!runtime) {
    runtime = instantiate(simd, text);
    runtimes.set(key, runtime);
    runtime.catch(() => runtimes.delete(key));
  }
  return runtime;
}
