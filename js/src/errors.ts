/**
 * Machine-readable reasons for a {@link TabvecError}. The codes from
 * INVALID_ARGUMENT to OUT_OF_MEMORY are the core's statuses, by name;
 * the others are raised by the wrapper:
 * - NOT_FOUND, QUOTA_EXCEEDED, STORAGE_UNAVAILABLE: durable storage (save/open).
 * - ABORTED: an AbortSignal stopped addManyAsync; nothing was added.
 * - DISPOSED: the store was disposed (before or during the call).
 * - REENTRANT_CALL: a method of a store was called from inside a `filter`
 *   callback of a search on that same store (other stores may be used there).
 * - WASM_UNAVAILABLE: the WebAssembly module could not be fetched, compiled
 *   or instantiated (a .wasm file not served, a blocked fetch, a CSP without
 *   'wasm-unsafe-eval').
 * - WORKER_FAILED: the worker behind a WorkerVectorStore could not start,
 *   died, or a message between it and the page could not be read; every call
 *   pending at that moment rejects with it.
 */
export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'DIMENSION_MISMATCH',
  'NON_FINITE_VALUE',
  'ZERO_VECTOR',
  'DUPLICATE_ID',
  'UNKNOWN_ID',
  'MEMORY_CAP_EXCEEDED',
  'CORRUPT_SNAPSHOT',
  'UNSUPPORTED_VERSION',
  'OUT_OF_MEMORY',
  'NOT_SERIALIZABLE',
  'NOT_FOUND',
  'QUOTA_EXCEEDED',
  'STORAGE_UNAVAILABLE',
  'ABORTED',
  'DISPOSED',
  'REENTRANT_CALL',
  'WASM_UNAVAILABLE',
  'WORKER_FAILED',
] as const;

/** Machine-readable reason for a {@link TabvecError}; see {@link ERROR_CODES}. */
export type TabvecErrorCode = (typeof ERROR_CODES)[number];

const KNOWN = new Set<string>(ERROR_CODES);

/** Every error tabvec throws. A call that throws has changed nothing. */
export class TabvecError extends Error {
  readonly code: TabvecErrorCode;

  constructor(code: TabvecErrorCode, message: string) {
    super(message);
    this.name = 'TabvecError';
    this.code = code;
  }
}

/** @internal True for a string that is one of the documented codes. */
export function isErrorCode(code: unknown): code is TabvecErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/**
 * @internal Turns a core status and message into a TabvecError. The code is
 * the core's own name for the status, so a status added to the core needs no
 * table here; one this wrapper does not document yet is reported as such
 * rather than relabelled.
 */
export function errorFromStatus(module: { statusName(status: number): string }, status: number, message: string): TabvecError {
  const code = String(module.statusName(status)).toUpperCase();
  // The core words no out-of-memory message (building one could need memory).
  if (code === 'OUT_OF_MEMORY' && message === '') {
    message = 'WebAssembly memory is exhausted; nothing was changed (free other stores, or use less memory)';
  }
  if (isErrorCode(code)) return new TabvecError(code, message);
  return new TabvecError('INVALID_ARGUMENT', `core status ${status} (${code.toLowerCase()}) is not known to this wrapper: ${message}`);
}
