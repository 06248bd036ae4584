// The writer worker of opfs-io.ts: runs in-place writes (and large reads) for
// a page, which has no sync access handles of its own.
import { type InPlaceReply, type InPlaceRequest, readInPlaceHere, readKeptHere, storeDirectory, writeInPlaceHere } from './opfs-io.js';

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

scope.onmessage = ({ data: { id, directory, file, steps, keep, read } }) => {
  queue = queue.then(async () => {
    try {
      const handle = await fileHandle(directory, file);
      if (read) {
        const { size, bytes } = keep
          ? await readKeptHere(handle, `${directory}/${file}`, read.at, read.length)
          : { size: undefined, bytes: await readInPlaceHere(handle, read.at, read.length) };
        scope.postMessage({ id, bytes, size }, [bytes.buffer]);
      } else {
        await writeInPlaceHere(handle, steps ?? [], keep ? `${directory}/${file}` : undefined);
        scope.postMessage({ id });
      }
    } catch (e) {
      // Removed meanwhile (the store was removed, maybe created again): looked up again next time.
      handles.delete(`${directory}/${file}`);
      scope.postMessage({ id, error: { name: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e), code: (e as { code?: string })?.code } });
    }
  });
};
