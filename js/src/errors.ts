/** Machine-readable reason for a {@link TabvecError}. */
export type TabvecErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'NON_FINITE_VALUE'
  | 'ZERO_VECTOR'
  | 'DUPLICATE_ID'
  | 'UNKNOWN_ID'
  | 'MEMORY_CAP_EXCEEDED'
  | 'CORRUPT_SNAPSHOT'
  | 'UNSUPPORTED_VERSION'
  | 'NOT_SERIALIZABLE'
  | 'OUT_OF_MEMORY'
  | 'NOT_FOUND'
  | 'QUOTA_EXCEEDED'
  | 'STORAGE_UNAVAILABLE'
  | 'ABORTED'
  | 'DISPOSED';

/** Every error tabvec throws. A call that throws has changed nothing. */
export class TabvecError extends Error {
  readonly code: TabvecErrorCode;

  constructor(code: TabvecErrorCode, message: string) {
    super(message);
    this.name = 'TabvecError';
    this.code = code;
  }
}

// Order matches tabvec::Status in core/status.h.
const STATUS_CODES: readonly TabvecErrorCode[] = [
  'INVALID_ARGUMENT', // placeholder for ok (0), never thrown
  'INVALID_ARGUMENT',
  'DIMENSION_MISMATCH',
  'NON_FINITE_VALUE',
  'ZERO_VECTOR',
  'DUPLICATE_ID',
  'UNKNOWN_ID',
  'MEMORY_CAP_EXCEEDED',
  'CORRUPT_SNAPSHOT',
  'UNSUPPORTED_VERSION',
];

/** @internal Turns a core status and message into a TabvecError. */
export function errorFromStatus(status: number, message: string): TabvecError {
  return new TabvecError(STATUS_CODES[status] ?? 'INVALID_ARGUMENT', message);
}
