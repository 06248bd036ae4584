// The storage re-ranking tier (rerank 'storage') in real Chromium, on OPFS:
// LiveStores in dedicated workers (tests/browser/rows-worker.js) read and
// write the rows through sync access handles. Two workers share one store's
// rows, a compaction in one sends the other to the new rows, a page is
// refused, and the whole browser is killed mid-write with compactions under
// way: every acknowledged write is there, with its exact vector.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../js/data.js';
import { serve } from './server.js';
import { callPage as call, openPersistPage } from './pages.js';
import { killBrowser, launch, newProfile, removeProfiles } from './browsers.js';

let server: Awaited<ReturnType<typeof serve>>;

interface Reply<T> { result?: T; error?: { code: string; message: string } }
interface Check { wrong: string[]; recall: number; size: number; rerank: string; rowsBytes: number }

async function rows<T>(page: Page, worker: string, op: string, ...args: unknown[]): Promise<T> {
  const reply = await call<Reply<T>>(page, 'rowsCall', worker, op, ...args);
  if (reply.error) throw new Error(`${worker}.${op}: ${reply.error.code}: ${reply.error.message}`);
  return reply.result as T;
}

const ids = (prefix: string, from: number, count: number, step = 1) =>
  Array.from({ length: Math.ceil(count / step) }, (_, k) => `${prefix}${from + k * step}`);

beforeAll(async () => {
  server = await serve(root, ['dist', 'tests']);
});

afterAll(async () => {
  await server?.close();
  removeProfiles();
});

describe("rerank 'storage' on OPFS", () => {
  it('two workers share the rows; a compaction in one sends the other to the new rows; a page is refused', async () => {
    const context = await launch(newProfile('rows'));
    const page = await openPersistPage(context, server.url);
    const target = { opfs: 'rows-shared' };
    expect(await call(page, 'rowsOnPage', target)).toBe('STORAGE_UNAVAILABLE');
    await call(page, 'rowsWorker', 'a');
    await call(page, 'rowsWorker', 'b');
    expect(await rows(page, 'a', 'open', target, true)).toEqual({ size: 0 });
    await rows(page, 'a', 'add', 'a', 0, 600);
    expect(await rows(page, 'b', 'open', target, false)).toEqual({ size: 600 });
    // b reads the rows a wrote, then writes its own, which a reads.
    let check = await rows<Check>(page, 'b', 'check', ids('a', 0, 600), []);
    expect(check.wrong).toEqual([]);
    await rows(page, 'b', 'add', 'b', 0, 600);
    await rows(page, 'a', 'flush');
    check = await rows<Check>(page, 'a', 'check', [...ids('a', 0, 600), ...ids('b', 0, 600)], []);
    expect(check).toMatchObject({ wrong: [], size: 1200, rerank: 'storage', rowsBytes: 1200 * 4 });
    expect(check.recall).toBeGreaterThanOrEqual(0.99);
    // Half of a's vectors deleted: the next checkpoint compacts the rows into a new file.
    await rows(page, 'a', 'remove', 'a', 0, 600, 1);
    await rows(page, 'a', 'checkpoint');
    const present = ids('b', 0, 600);
    const absent = ids('a', 0, 600);
    // b, on the old rows, catches up with its next write and reads the new ones.
    await rows(page, 'b', 'add', 'c', 0, 50);
    present.push(...ids('c', 0, 50));
    check = await rows<Check>(page, 'b', 'check', present, absent);
    expect(check.wrong).toEqual([]);
    expect(check.recall).toBeGreaterThanOrEqual(0.99);
    const listing = await call<string[]>(page, 'liveListing', 'rows-shared');
    expect(listing.filter((f) => f.includes('.rows-')).length).toBeLessThanOrEqual(2);
    await rows(page, 'a', 'close');
    await rows(page, 'b', 'close');
    // A fresh worker reads it all from storage.
    await call(page, 'rowsWorker', 'c');
    expect(await rows(page, 'c', 'open', target, false)).toEqual({ size: 650 });
    check = await rows<Check>(page, 'c', 'check', present, absent);
    expect(check.wrong).toEqual([]);
    await rows(page, 'c', 'close');
    await context.close();
  });

  it('loses no acknowledged write and no row, round after round (SIGKILL to the whole browser, compactions under way)', async () => {
    const profile = newProfile('rows');
    const target = { opfs: 'rows-kill' };
    const acked = new Set<string>();
    const deleted = new Set<string>();
    const rounds = 5;
    // The rows files seen (one per lineage): more than one means compactions happened.
    const lineages = new Set<string>();
    for (let round = 0; round < rounds; round++) {
      const context = await launch(profile);
      const page = await openPersistPage(context, server.url);
      await call(page, 'rowsWorker', 'w');
      for (const f of await call<string[]>(page, 'liveListing', 'rows-kill')) if (f.includes('.rows-')) lineages.add(f.split(':')[0]!);
      const opened = await call<Reply<{ size: number }>>(page, 'rowsCall', 'w', 'open', target, true);
      expect(opened.error, `round ${round}`).toBeUndefined();
      const check = await rows<Check>(page, 'w', 'check', [...acked], [...deleted]);
      console.log(`[rows] round ${round}: opened ${opened.result!.size}; ${acked.size} acknowledged, ${deleted.size} deleted; wrong ${check.wrong.length}`);
      expect(check.wrong, `round ${round}: after the kill`).toEqual([]);
      const before = acked.size;
      page.on('console', (m) => {
        const t = m.text();
        if (t.startsWith('ack ')) acked.add(t.slice(4));
        else if (t.startsWith('del ')) {
          acked.delete(t.slice(4));
          deleted.add(t.slice(4));
        }
      });
      await call(page, 'rowsCall', 'w', 'writeForever', `r${round}-`);
      // A few cycles in (compactions come every few), then a random moment.
      while (acked.size < before + 400) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.random() * 2000));
      await killBrowser(profile);
      await context.close().catch(() => undefined);
      // Deletes run oldest first, and the kill may beat their reports here
      // (they travel through the page's console): the ids next in line, up to
      // two cycles' deletes past the last reported, may or may not be gone.
      const prefix = `r${round}-`;
      const last = Math.max(-1, ...[...deleted].filter((id) => id.startsWith(prefix)).map((id) => Number(id.slice(prefix.length))));
      for (let k = last + 1; k <= last + 240; k++) acked.delete(`${prefix}${k}`);
    }
    const context = await launch(profile);
    const page = await openPersistPage(context, server.url);
    await call(page, 'rowsWorker', 'w');
    await rows(page, 'w', 'open', target, false);
    const check = await rows<Check>(page, 'w', 'check', [...acked], [...deleted]);
    expect(check.wrong).toEqual([]);
    expect(lineages.size).toBeGreaterThan(1);
    console.log(`[rows] ${rounds} browser kills: ${acked.size} acknowledged vectors there with their exact rows, ${deleted.size} acknowledged deletes gone; rows files seen: ${lineages.size}`);
    await rows(page, 'w', 'close');
    await context.close();
  });
});
