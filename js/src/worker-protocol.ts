/** @internal Messages between WorkerVectorStore and the worker host. */
export interface Request {
  id: number;
  op: string;
  store?: number;
  args: unknown[];
}

export type Response =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: string; message: string } }
  | { id: number; progress: unknown };

export interface Cancel {
  cancel: number;
}

/** The part of a Worker (or MessagePort) the protocol needs. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}
