// tests/browser/live.test.ts: a worker outside tabvec that opens a sync access
// handle to one of tabvec's OPFS files and keeps it until told to let go,
// whatever else it is asked (as a frozen tab's worker would).
onmessage = async ({ data }) => {
  if (data === 'let go') {
    self.access.close();
    postMessage('closed');
    return;
  }
  const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle('tabvec');
  self.access = await (await dir.getFileHandle(data)).createSyncAccessHandle({ mode: 'readwrite-unsafe' });
  postMessage('held');
};
