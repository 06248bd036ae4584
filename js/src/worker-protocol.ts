// @internal Messages between WorkerVectorStore and the worker host, and how
// errors cross the boundary keeping their class and code.
import { TabvecError, isErrorCode } from './errors.js';

export interface Request {
  id: number;
  op: string;
  store?: number;
  args: unknown[];
}

/** An error as plain data: structured clone would drop a TabvecError's class and code. */
export interface WireError {
  name: string;
  message: string;
  /** TabvecError code. */
  code?: string;
  /** True for a DOMException (QuotaExceededError, DataCloneError, ...). */
  dom?: boolean;
}

export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: WireError }
  | { id: number; progress: unknown }
  // The worker received a request it could not deserialize, so it cannot
  // read its id; it was the first request sent after request `after` (ports
  // deliver in order), which is how the page finds the call to reject.
  | { lost: string; after: number };

export interface Cancel {
  cancel: number;
}

/** The part of a Worker (or MessagePort) the protocol needs. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message' | 'messageerror' | 'error', listener: (event: MessageEvent) => void): void;
}

export function encodeError(error: unknown): WireError {
  if (error instanceof TabvecError) return { name: error.name, message: error.message, code: error.code };
  if (error instanceof Error) {
    const dom = typeof DOMException === 'function' && error instanceof DOMException;
    return { name: error.name, message: error.message, ...(dom ? { dom } : {}) };
  }
  return { name: 'Error', message: String(error) };
}

const STANDARD: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
};

export function decodeError(wire: WireError): Error {
  if (wire.name === 'TabvecError') {
    return new TabvecError(isErrorCode(wire.code) ? wire.code : 'INVALID_ARGUMENT', wire.message);
  }
  if (wire.dom && typeof DOMException === 'function') return new DOMException(wire.message, wire.name);
  const error = new (STANDARD[wire.name] ?? Error)(wire.message);
  if (error.name !== wire.name) error.name = wire.name;
  return error;
}
