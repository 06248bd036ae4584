// Writing tabvec's IndexedDB records directly (fake-indexeddb in Node), to
// set up states save() no longer produces or damage it must survive. The
// object stores exist once anything has been saved.
export async function putRecords(entries: [store: 'snapshots' | 'manifests', key: string, value: unknown][]): Promise<void> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const r = indexedDB.open('tabvec');
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(['snapshots', 'manifests'], 'readwrite');
      for (const [store, key, value] of entries) tx.objectStore(store).put(value, key);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
