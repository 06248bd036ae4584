// A WorkerVectorStore's worker stand-in: the host code the Web Worker runs,
// serving on the other end of a real MessageChannel in this thread.
import { serveStores } from '../../dist/worker-host.js';

export function channel() {
  const { port1, port2 } = new MessageChannel();
  serveStores(port2 as unknown as Parameters<typeof serveStores>[0]);
  port2.start();
  return { worker: Object.assign(port1, { terminate: () => { port1.close(); port2.close(); } }) };
}
