// Review: a stated checkpoint length over 4 GiB with a format 1 prefix.
// SnapshotReader::read_prefix reserves size_t(length_ - 4) for gathering, which
// wraps in wasm32, and feed() then appends past it (asserts are off in the
// release build): an untyped RuntimeError and a corrupt heap for every store
// of the module afterwards. Reached from storage through IndexedDB (the
// checkpoint's head record states its length).
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { TabvecError, VectorStore } from '../../dist/index.js';
import { root } from './data.js';
import { putRecords } from './idb.js';

it('a format 1 checkpoint whose stated length is over 4 GiB is CORRUPT_SNAPSHOT and leaves the module usable', async () => {
  const v1 = new Uint8Array(readFileSync(path.join(root, 'tests/core/fixtures/snapshot-v1-cosine-float32.tabvec')));
  const seed = await VectorStore.create({ dim: 2 });
  await seed.save({ indexedDB: 'seed' }); // creates the database
  seed.dispose();
  const stated = 2 ** 32 + 20;
  await putRecords([
    ['snapshots', 'forged/1', { pieces: 1, bytes: stated }],
    ['snapshots', 'forged/1/0', v1],
    ['manifests', 'forged', { generation: 1, bytes: stated, seq: 0 }],
  ]);
  const e = await VectorStore.open({ indexedDB: 'forged' }).then(() => undefined, (x: unknown) => x);
  console.log('open:', String(e));
  // the module afterwards: a valid snapshot must still load
  const after = await VectorStore.deserialize(v1).then((s) => { s.dispose(); return 'ok'; }, (x: unknown) => String(x));
  console.log('deserialize of a valid snapshot afterwards:', after);
  expect(e).toBeInstanceOf(TabvecError);
  expect((e as TabvecError).code).toBe('CORRUPT_SNAPSHOT');
  expect(after).toBe('ok');
});
