// The storage variant in Chromium: a LiveStore reads its rows from OPFS
// through sync access handles, which exist only in workers, so it is
// measured here, in a dedicated worker, with the page's adapters and sweep.
import * as tabvec from '/dist/index.js';
import { tabvecAdapter } from '/bench/adapters.mjs';
import { loadData, measureContender } from '/bench/browser-measure.js';

async function opfsBytes(name) {
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec', { create: true });
  let bytes = 0;
  for await (const [entry, handle] of dir.entries()) if (entry.startsWith(`${name}.`)) bytes += (await handle.getFile()).size;
  return bytes;
}

const opfsStorage = {
  target: () => ({ opfs: `bench-${Date.now()}` }),
  bytes: (target) => opfsBytes(target.opfs),
  remove: (target) => tabvec.removeSaved(target),
};

self.onmessage = async ({ data: { meta, name } }) => {
  try {
    const ds = await loadData(meta);
    self.postMessage({ records: await measureContender(tabvecAdapter(tabvec, name, opfsStorage), ds, meta, 'chromium') });
  } catch (e) {
    self.postMessage({ error: `${e.code ?? e.name}: ${e.message}` });
  }
};
