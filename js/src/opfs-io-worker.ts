// The writer worker of opfs-io.ts: runs in-place writes for a page, which has
// no sync access handles of its own.
import { type InPlaceReply, type InPlaceRequest, storeDirectory, writeInPlaceHere } from './opfs-io.js';

const scope = globalThis as unknown as { onmessage: ((event: MessageEvent<InPlaceRequest>) => void) | null; postMessage(reply: InPlaceReply): void };

// One write at a time, in order: a file has one sync access handle at a time.
let queue: Promise<void> = Promise.resolve();

scope.onmessage = ({ data: { id, directory, file, steps } }) => {
  queue = queue.then(async () => {
    try {
      // Never created here: the page creates a store's files, once.
      await writeInPlaceHere(await (await storeDirectory(directory)).getFileHandle(file), steps);
      scope.postMessage({ id });
    } catch (e) {
      scope.postMessage({ id, error: { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) } });
    }
  });
};
