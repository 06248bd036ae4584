// The dedicated worker script WorkerVectorStore starts.
import { serveStores } from './worker-host.js';

serveStores(self as unknown as import('./worker-protocol.js').PortLike);
