// The writer worker of opfs-io.ts: runs in-place writes (and large reads) for
// a page, which has no sync access handles of its own.
import { type InPlaceReply, type InPlaceRequest, endReadingHere, keepsHandles, readKeptHere, readReadingHere, storeDirectory, writeInPlaceHere } from './opfs-io.js';

const scope = globalThis as unknown as { onmessage: ((event: MessageEvent<InPlaceRequest>) => void) | null; postMessage(reply: InPlaceReply, transfer?: Transferable[]): void };

// One request at a time, in order: a file has one sync access handle at a time here.
let queue: Promise<void> = Promise.resolve();
// Looking a file up costs more than writing a commit to it.
const handles = new Map<string, FileSystemFileHandle>();

async function fileHandle(directory: string, file: string): Promise<FileSystemFileHandle> {
  const key = `${directory}/${file}`;
  let handle = handles.get(key);
  // Never created here: the page creates a store's files, once.
  if (!handle) handles.set(key, (handle = await (await storeDirectory(directory)).getFileHandle(file)));
  return handle;
}

scope.onmessage = ({ data: { id, directory, file, steps, keep, read, endReading } }) => {
  queue = queue.then(async () => {
    try {
      if (endReading !== undefined) {
        endReadingHere(endReading);
        scope.postMessage({ id });
        return;
      }
      const handle = await fileHandle(directory, file);
      if (read) {
        const { size, bytes } = read.reading === undefined
          ? await readKeptHere(handle, `${directory}/${file}`, read.at, read.length)
          : { size: undefined, bytes: await readReadingHere(handle, read.reading, read.at, read.length, read.into) };
        scope.postMessage({ id, bytes, size }, [bytes.buffer]);
      } else {
        const key = `${directory}/${file}`;
        const write = () => writeInPlaceHere(handle, steps ?? [], keep ? key : undefined);
        // The page's Web Lock goes when the page dies, while this worker may
        // still run the page's last request. A handle that is not kept is
        // exclusive, which keeps another tab's write out until it is done; a
        // kept one is shared, so its fence and write run under a lock this
        // worker holds, which goes only when they are done (or the worker is).
        const locks = (globalThis as { navigator?: { locks?: LockManager } }).navigator?.locks;
        await (keep && keepsHandles() && locks ? locks.request(`tabvec:io:${key}`, write) : write());
        scope.postMessage({ id });
      }
    } catch (e) {
      // Removed meanwhile (the store was removed, maybe created again): looked up again next time.
      handles.delete(`${directory}/${file}`);
      scope.postMessage({ id, error: { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e), code: (e as { code?: string })?.code } });
    }
  });
};
