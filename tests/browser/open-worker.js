// tests/browser/persist.js: opens a store in a dedicated worker (which reads
// its checkpoint through a sync access handle of its own), then reports
// whether the checkpoint file can be opened exclusively at once, which is
// refused while any handle to it is open.
import { VectorStore } from '/dist/index.js';

self.onmessage = async ({ data: { target, file } }) => {
  const result = {};
  try {
    const store = await VectorStore.open(target);
    result.size = store.size();
    result.pad = store.get('c')?.metadata?.pad?.length;
    store.dispose();
  } catch (e) {
    result.error = e.code ?? e.name;
  }
  try {
    const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
    (await (await dir.getFileHandle(file)).createSyncAccessHandle()).close();
    result.exclusive = true;
  } catch (e) {
    result.exclusive = e.name;
  }
  self.postMessage(result);
};
