// The live store in real Chromium, on OPFS and IndexedDB in a persistent
// profile (as a user's browser keeps them): several tabs writing one store,
// tabs closed and the browser killed mid-write (also a store with full-text
// search, written from a page or a worker), damaged journals, and no
// Web Locks. Every page is served under the strict CSP (tests/browser/server.ts).
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../js/data.js';
import { STRICT_CSP, serve } from './server.js';
import { callPage as call, openPersistPage } from './pages.js';
import { killBrowser, launch, newProfile, removeProfiles } from './browsers.js';
import { TOPICS, applyOp, fingerprint, idsOf, opOf, vectorOf, wordsOf } from './live-text-ops.js';

let server: Awaited<ReturnType<typeof serve>>;

interface Contents { size: number; seq: number; records: unknown[]; results: string[][] }
interface Opened { size?: number; seq?: number; recovery?: { replayed: number; tornTail?: unknown; dropped?: unknown }; error?: { code: string; message: string } }

const CREATE = { create: { dim: 32, metric: 'l2', storage: 'float32' } };

beforeAll(async () => {
  server = await serve(root, ['dist', 'tests']);
});

afterAll(async () => {
  await server?.close();
  removeProfiles();
});

describe.each([{ opfs: 'live' }, { indexedDB: 'live' }])('live store on %o', (target) => {
  let context: BrowserContext;
  const open = (): Promise<Page> => openPersistPage(context, server.url);

  beforeAll(async () => {
    context = await launch(newProfile('live'));
  });
  afterAll(async () => {
    await context?.close();
  });

  it('two tabs interleave 1,000 adds each with deletes and metadata edits: both end identical, and so does a fresh tab', async () => {
    const [a, b] = [await open(), await open()];
    expect(await call<Opened>(a, 'liveOpen', target, CREATE)).toMatchObject({ size: 0 });
    expect(await call<Opened>(b, 'liveOpen', target, CREATE)).toMatchObject({ size: 0 });
    const started = performance.now();
    const [fromA, fromB] = await Promise.all([
      call<{ counts: Record<string, number>; seq: number }>(a, 'liveInterleave', 'a', 'b', 1000, 1),
      call<{ counts: Record<string, number>; seq: number }>(b, 'liveInterleave', 'b', 'a', 1000, 2),
    ]);
    const seconds = (performance.now() - started) / 1000;
    expect(fromA.counts.add).toBe(1000);
    expect(fromB.counts.add).toBe(1000);
    const head = Math.max(fromA.seq, fromB.seq);
    // Every acknowledged write has its own record: no lost update, no duplicate number.
    const acknowledged = [fromA, fromB].reduce((n, r) => n + r.counts.add + r.counts.delete + r.counts.setMetadata, 0);
    expect(head).toBe(acknowledged);
    expect(await call<number>(a, 'liveWaitSeq', head)).toBe(head);
    expect(await call<number>(b, 'liveWaitSeq', head)).toBe(head);
    const contentsA = await call<Contents>(a, 'liveContents', ['a', 'b'], 1000);
    const contentsB = await call<Contents>(b, 'liveContents', ['a', 'b'], 1000);
    expect(contentsB).toEqual(contentsA);
    expect(contentsA.size).toBe(2000 - fromA.counts.delete - fromB.counts.delete);
    await call(a, 'liveClose');
    await call(b, 'liveClose');
    const fresh = await open();
    await call(fresh, 'liveOpen', target);
    expect(await call<Contents>(fresh, 'liveContents', ['a', 'b'], 1000)).toEqual(contentsA);
    console.log(`[live] ${JSON.stringify(target)}: two tabs, ${acknowledged} acknowledged writes in ${seconds.toFixed(1)} s; ${contentsA.size} vectors; identical in both tabs and a fresh one`);
    await call(fresh, 'liveClose');
    await Promise.all([a.close(), b.close(), fresh.close()]);
  });

  it('a write in one tab reaches another open tab within 200 ms', async () => {
    const [a, b] = [await open(), await open()];
    await call(a, 'liveOpen', target, CREATE);
    await call(b, 'liveOpen', target, CREATE);
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      await call(b, 'liveWatch', `ping${i}`);
      const written = await call<number>(a, 'liveAdd', `ping${i}`, i);
      const seen = await call<number>(b, 'liveSeenAt');
      delays.push(seen - written);
    }
    delays.sort((x, y) => x - y);
    console.log(`[live] ${JSON.stringify(target)}: propagation to another tab p50 ${delays[5]!.toFixed(1)} ms, max ${delays[9]!.toFixed(1)} ms`);
    expect(delays[9]).toBeLessThan(1000);
    await call(a, 'liveClose');
    await call(b, 'liveClose');
    await Promise.all([a.close(), b.close()]);
  });

  it('a writer tab closed mid-stream loses no acknowledged write; the next tab writes on', async () => {
    const writer = await open();
    await call(writer, 'liveOpen', target, CREATE);
    const acked: string[] = [];
    writer.on('console', (m) => { const t = m.text(); if (t.startsWith('ack ')) acked.push(t.slice(4)); });
    await call(writer, 'liveWriteForever', 'closed-');
    while (acked.length < 150) await new Promise((r) => setTimeout(r, 10));
    await writer.close({ runBeforeUnload: false });
    const reader = await open();
    const opened = await call<Opened>(reader, 'liveOpen', target);
    expect(opened.error).toBeUndefined();
    expect(await call<string[]>(reader, 'liveHas', acked)).toEqual([]);
    await call(reader, 'liveAdd', 'after-close', 1);
    console.log(`[live] ${JSON.stringify(target)}: tab closed after ${acked.length} acknowledged adds; all there`);
    await call(reader, 'liveClose');
    await reader.close();
  });

  it('a live store in a dedicated worker and one in the page write the same store', async () => {
    const page = await open();
    await call(page, 'liveOpen', target, CREATE);
    const [workerSeq, pageResult] = await Promise.all([
      call<number>(page, 'liveInWorker', target, 'w', 300),
      call<{ counts: Record<string, number>; seq: number }>(page, 'liveInterleave', 'p', 'p', 300, 9),
    ]);
    const head = Math.max(workerSeq, pageResult.seq);
    expect(await call<number>(page, 'liveWaitSeq', head)).toBe(head);
    const here = await call<Contents>(page, 'liveContents', ['w', 'p'], 300);
    expect(here.records.filter((r) => (r as [string])[0].startsWith('w')).length).toBe(300);
    await call(page, 'liveClose');
    const fresh = await open();
    await call(fresh, 'liveOpen', target);
    expect(await call<Contents>(fresh, 'liveContents', ['w', 'p'], 300)).toEqual(here);
    await call(fresh, 'liveClose');
    await Promise.all([page.close(), fresh.close()]);
  });

  it('a torn journal tail is cut off and reported; damage before the tail is CORRUPT_SNAPSHOT unless recovery is prefix', async () => {
    const name = { ...target, ...('opfs' in target ? { opfs: 'damaged' } : { indexedDB: 'damaged' }) };
    const page = await open();
    await call(page, 'liveOpen', name, CREATE);
    for (let i = 0; i < 8; i++) await call(page, 'liveAdd', `d${i}`, i);
    await call(page, 'liveClose');
    await call(page, 'liveDamage', name, 'truncate');
    const torn = await call<Opened>(page, 'liveOpen', name);
    expect(torn.error).toBeUndefined();
    expect(torn.recovery?.tornTail).toBeDefined();
    expect(torn.size).toBe(7);
    await call(page, 'liveAdd', 'd8', 8);
    await call(page, 'liveClose');
    await call(page, 'liveDamage', name, 'flip');
    const corrupt = await call<Opened>(page, 'liveOpen', name);
    expect(corrupt.error?.code).toBe('CORRUPT_SNAPSHOT');
    expect(corrupt.error?.message).toMatch(/journal segment \d+ of .* at byte \d+/);
    const prefix = await call<Opened>(page, 'liveOpen', name, { recovery: 'prefix' });
    expect(prefix.error).toBeUndefined();
    expect(prefix.recovery?.dropped).toBeDefined();
    expect(prefix.size).toBe(5);
    await call(page, 'liveClose');
    await page.close();
  });
});

// The origin's IndexedDB LevelDB (Chromium keeps one per origin).
function indexedDbDir(profile: string): string {
  const { protocol, hostname, port } = new URL(server.url);
  return path.join(profile, 'Default', 'IndexedDB', `${protocol.slice(0, -1)}_${hostname}_${port}.indexeddb.leveldb`);
}

// What one of Chromium's SIGKILLed LevelDB writes can leave: a record's
// 7-byte header without its payload (the two go out in separate writes).
// The next session reuses the log and writes after it; the session after
// that finds a checksum mismatch, and Chromium deletes the origin's IndexedDB.
function tearIndexedDbLog(profile: string): void {
  const dir = indexedDbDir(profile);
  const log = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1);
  if (!log) throw new Error(`no LevelDB log in ${dir}`);
  appendFileSync(path.join(dir, log), Buffer.from([0x37, 0x76, 0x16, 0xee, 52, 0, 1]));
}

const BROWSER_LOSS = /this origin's IndexedDB database was deleted/;

describe.each([{ opfs: 'killed' }, { indexedDB: 'killed' }])('the browser killed mid-write, %o', (target) => {
  // On IndexedDB the browser itself can lose everything: a kill that tears
  // a LevelDB record (see tearIndexedDbLog), two sessions later, deletes the
  // origin's IndexedDB (seen here about once in a hundred kills). tabvec cannot
  // undo that; it must report it rather than open an empty store, and the
  // round then starts the store again. OPFS has no such escape.
  const deletedAllOfIndexedDb = (opened: Opened): boolean =>
    'indexedDB' in target && opened.error?.code === 'CORRUPT_SNAPSHOT' && BROWSER_LOSS.test(opened.error.message);

  it('loses no acknowledged write, round after round (SIGKILL to the whole browser)', async () => {
    const profile = newProfile('live');
    let acked: string[] = [];
    const rounds = 8;
    let opens = 0;
    let deletedByBrowser = 0;
    for (let round = 0; round < rounds; round++) {
      const context = await launch(profile);
      const page = await openPersistPage(context, server.url);
      const listing = 'opfs' in target ? await call<string[]>(page, 'liveListing', target.opfs) : [];
      let opened = await call<Opened>(page, 'liveOpen', target, CREATE);
      // Enough to tell what the kill left behind if a round ever fails.
      console.log(`[live] round ${round}: opened ${JSON.stringify(opened)}; files ${listing.join(' ')}`);
      if (deletedAllOfIndexedDb(opened)) {
        deletedByBrowser++;
        await call(page, 'remove', target);
        opened = await call<Opened>(page, 'liveOpen', target, CREATE);
        expect(opened).toMatchObject({ size: 0 });
        acked = [];
      }
      expect(opened.error, `round ${round}: ${JSON.stringify(opened.error)}`).toBeUndefined();
      opens++;
      // Everything acknowledged in earlier rounds survived the kill.
      expect(await call<string[]>(page, 'liveHas', acked), `round ${round}: missing after kill`).toEqual([]);
      const before = acked.length;
      page.on('console', (m) => { const t = m.text(); if (t.startsWith('ack ')) acked.push(t.slice(4)); });
      await call(page, 'liveWriteForever', `r${round}-`);
      while (acked.length === before) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
      await killBrowser(profile);
      await context.close().catch(() => undefined);
    }
    const context = await launch(profile);
    const page = await openPersistPage(context, server.url);
    const opened = await call<Opened>(page, 'liveOpen', target);
    console.log(`[live] after the last kill: opened ${JSON.stringify(opened)}`);
    if (deletedAllOfIndexedDb(opened)) {
      // The browser deleted the origin's IndexedDB, acknowledged writes and
      // all, after the last kill, and tabvec said so instead of opening empty.
      console.log(`[live] ${JSON.stringify(target)}: the browser deleted IndexedDB after the last kill, reported on open`);
      await context.close();
      return;
    }
    expect(opened.error, JSON.stringify(opened.error)).toBeUndefined();
    expect(await call<string[]>(page, 'liveHas', acked)).toEqual([]);
    console.log(`[live] ${JSON.stringify(target)}: ${rounds} browser kills, ${acked.length} acknowledged adds, all there; store opened ${opens + 1} times` +
      (deletedByBrowser ? `; the browser deleted IndexedDB ${deletedByBrowser} time(s), reported on open` : ''));
    await call(page, 'liveClose');
    await context.close();
  });
});

// --- a store with full-text search, the browser killed mid-write ---------------------

interface TextEntry { vs: number; meta: unknown; text?: string }
type TextModel = Map<string, TextEntry>;
interface TextOp { i: number; op: string }
// What live-text-ops.js check() reports of a store: per id [metadata, vector's
// fingerprint] or null, per word the [id, metadata] it finds, per topic the ids it finds.
interface TextContents { size: number; texts: number; entries: ([unknown, number] | null)[]; words: [string, unknown][][]; topics: string[][] }

/** Calls the writer of live-text-ops.js that live-text-page.js started in the page or its worker. */
function textCall<T>(page: Page, op: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([o, a]) => (window as unknown as { liveText: { call(op: string, ...args: unknown[]): Promise<unknown> } }).liveText.call(o as string, ...(a as unknown[])), [op, args] as const) as Promise<T>;
}

// The first difference between a store's contents and the model, or
// undefined: its ids with their vectors and metadata, its count of documents
// with text, each word finding exactly the id whose text has it now (with its
// metadata) or nothing, each topic finding exactly the ids whose text has it.
function textDifference(got: TextContents, model: TextModel, ids: string[], words: string[], counts: { found: number; absent: number }): string | undefined {
  if (got.size !== model.size) return `size ${got.size}, expected ${model.size}`;
  for (let k = 0; k < ids.length; k++) {
    const want = model.get(ids[k]!);
    const entry = got.entries[k];
    if (!want !== !entry) return `${ids[k]} is ${entry ? 'stored but should not be' : 'missing'}`;
    if (!want || !entry) continue;
    if (JSON.stringify(entry[0]) !== JSON.stringify(want.meta)) return `${ids[k]} has metadata ${JSON.stringify(entry[0])}, expected ${JSON.stringify(want.meta)}`;
    if (entry[1] !== fingerprint(vectorOf(want.vs))) return `${ids[k]} has another vector than write ${want.vs}'s`;
  }
  const owner = new Map<string, string>();
  const byTopic = TOPICS.map(() => [] as string[]);
  let withText = 0;
  for (const [id, e] of model) {
    if (e.text === undefined) continue;
    withText++;
    const words = e.text.split(' ');
    owner.set(words[0]!, id);
    TOPICS.forEach((t: string, k: number) => { if (words.includes(t)) byTopic[k]!.push(id); });
  }
  if (got.texts !== withText) return `stats().texts is ${got.texts}, expected ${withText}`;
  let found = 0;
  let absent = 0;
  for (let k = 0; k < words.length; k++) {
    const want = owner.get(words[k]!);
    const hits = got.words[k]!;
    if (want === undefined && hits.length === 0) absent++;
    else if (want !== undefined && hits.length === 1 && hits[0]![0] === want) {
      if (JSON.stringify(hits[0]![1]) !== JSON.stringify(model.get(want)!.meta)) return `searchText('${words[k]}') gave ${want} with metadata ${JSON.stringify(hits[0]![1])}`;
      found++;
    } else return `searchText('${words[k]}') found [${hits.map((h) => h[0]).join()}], expected [${want ?? ''}]`;
  }
  if (found !== owner.size) return `${owner.size - found} texts were not searched for`;
  for (let k = 0; k < TOPICS.length; k++) {
    const want = byTopic[k]!.sort();
    if (got.topics[k]!.join() !== want.join()) return `searchText('${TOPICS[k]}') found ${got.topics[k]!.length} ids, expected ${want.length}`;
  }
  counts.found += found;
  counts.absent += absent;
  return undefined;
}

describe.each([
  { name: 'OPFS, written from a dedicated worker', target: { opfs: 'killed-text' }, where: 'worker' },
  { name: 'IndexedDB, written from the page', target: { indexedDB: 'killed-text' }, where: 'page' },
])('a store with full-text search, the browser killed mid-write ($name)', ({ target, where }) => {
  const deletedAllOfIndexedDb = (opened: Opened): boolean =>
    'indexedDB' in target && opened.error?.code === 'CORRUPT_SNAPSHOT' && BROWSER_LOSS.test(opened.error.message);

  // The writer calls a fixed sequence of writes (live-text-ops.js): adds and
  // upserts with texts, upserts that drop a text, deletes, addMany with
  // texts, metadata edits that keep a text, consolidations, writes refused on
  // purpose, a checkpoint every 20 commits. It is stopped by SIGKILL to the
  // whole browser, every other time by closing its tab (cheaper: the browser
  // stays). After each stop the store must open and hold exactly the first
  // `seq` records' worth of the successful writes, at least up to the last
  // acknowledged one.
  it('loses no acknowledged text, keeps no replaced or deleted one, and holds exactly a prefix of the writes called (SIGKILL to the whole browser, tab closed)', async () => {
    const ROUNDS = 5;
    const closesTab = (round: number) => round % 2 === 1;
    const profile = newProfile('live');
    let context: BrowserContext | undefined;
    let model: TextModel = new Map();
    let baseSeq = 0;
    const universe = new Set<string>();
    const words = new Set<string>();
    let last: { round: number; lines: string[] } | undefined; // the round before this open: its reports
    const totals = { called: 0, acked: 0, refused: 0, unackedKept: 0, checkpoints: 0, tornTails: 0, deletedByBrowser: 0, kills: 0, tabsClosed: 0 };
    const counts = { found: 0, absent: 0 };
    const started = performance.now();
    for (let round = 0; round <= ROUNDS; round++) {
      context ??= await launch(profile);
      const page = await openPersistPage(context, server.url);
      await page.addScriptTag({ type: 'module', url: '/tests/browser/live-text-page.js' });
      await page.waitForFunction(() => 'liveText' in window);
      await page.evaluate((w) => (window as unknown as { liveText: { start(w: string): boolean } }).liveText.start(w), where);
      let opened = await textCall<Opened>(page, 'open', target);
      const at = round === 0 ? 'at the start' : `after round ${round - 1} (${closesTab(round - 1) ? 'tab closed' : 'browser killed'})`;
      console.log(`[live-text] ${where}: ${at}: opened ${JSON.stringify(opened)}`);
      if (deletedAllOfIndexedDb(opened)) {
        // As in the test above: Chromium deleted the origin's IndexedDB, and tabvec said so.
        totals.deletedByBrowser++;
        await textCall(page, 'remove', target);
        opened = await textCall<Opened>(page, 'open', target);
        expect(opened).toMatchObject({ size: 0, seq: 0 });
        model = new Map();
        baseSeq = 0;
        last = undefined;
      }
      expect(opened.error, `${at}: the store does not open: ${JSON.stringify(opened.error)}`).toBeUndefined();
      if (opened.recovery?.tornTail) totals.tornTails++;

      // The last round's writes, in order, on a copy of the model: which
      // succeed, and the reports must agree with that.
      const next: TextModel = new Map(model);
      if (last) {
        const outcome = new Map<number, string>();
        let reported = -1;
        for (const l of last.lines) {
          const [kind, i, code] = l.split(' ');
          if (kind === 'checkpoint') totals.checkpoints++;
          if (kind !== 'ack' && kind !== 'refused') continue;
          outcome.set(Number(i), kind === 'ack' ? 'ack' : code!);
          reported = Math.max(reported, Number(i));
        }
        // The reports of the last writes may not have reached the test before
        // the kill (they pass through the page's console, from a worker through
        // the page first: seen lagging by over 150 writes), so the writes are
        // walked as far as the store's records go, and (for their ids and
        // words, which must not be there) 200 past the last report.
        const walk: TextModel = new Map(model);
        const successes: TextOp[] = [];
        let mustHave = 0;
        const applied = opened.seq! - baseSeq;
        for (let i = 0; i <= reported + 200 || (successes.length < applied && i < reported + 20_000); i++) {
          const op = opOf(last.round, i) as TextOp;
          for (const id of idsOf(op) as string[]) universe.add(id);
          for (const w of wordsOf(op) as string[]) words.add(w);
          const ok = applyOp(walk, op) as boolean;
          const seen = outcome.get(i);
          if (seen === 'ack') {
            expect(ok, `${at}: write ${JSON.stringify(op)} was acknowledged but should have been refused`).toBe(true);
            totals.acked++;
          } else if (seen !== undefined) {
            expect(ok, `${at}: write ${JSON.stringify(op)} was refused (${seen}) but should have succeeded`).toBe(false);
            expect(['DUPLICATE_ID', 'UNKNOWN_ID']).toContain(seen);
            totals.refused++;
          }
          if (ok) successes.push(op);
          if (ok && seen === 'ack') mustHave = successes.length;
        }
        totals.called += reported + 1;
        console.log(`[live-text] ${where}: ${at}: reports up to write ${reported}; the store holds the first ${applied} successful writes (up to write ${successes[applied - 1]?.i ?? 'none'})`);
        expect(applied, `${at}: ${applied} records after the kill, but ${mustHave} writes were acknowledged`).toBeGreaterThanOrEqual(mustHave);
        expect(applied, `${at}: more records than successful writes called`).toBeLessThanOrEqual(successes.length);
        totals.unackedKept += applied - mustHave;
        for (const op of successes.slice(0, applied)) applyOp(next, op);
      }
      const ids = [...universe];
      const ws = [...words];
      const got = await textCall<{ seq: number; live: TextContents; copy: TextContents }>(page, 'check', target, ids, ws);
      expect(got.seq).toBe(opened.seq);
      expect(textDifference(got.live, next, ids, ws, counts), `${at}: the LiveStore differs from the model`).toBeUndefined();
      expect(textDifference(got.copy, next, ids, ws, counts), `${at}: VectorStore.open differs from the model`).toBeUndefined();
      model = next;
      baseSeq = opened.seq!;
      if (round === ROUNDS) {
        await context.close();
        break;
      }

      const lines: string[] = [];
      page.on('console', (m) => lines.push(m.text()));
      last = { round, lines };
      await textCall(page, 'writeForever', round);
      while (!lines.some((l) => l.startsWith('ack '))) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      expect(lines.filter((l) => l.startsWith('writer stopped')), `round ${round}`).toEqual([]);
      if (closesTab(round)) {
        await page.close({ runBeforeUnload: false });
        totals.tabsClosed++;
      } else {
        await killBrowser(profile);
        await context.close().catch(() => undefined);
        context = undefined;
        totals.kills++;
      }
    }
    const withText = [...model.values()].filter((e) => e.text !== undefined).length;
    console.log(`[live-text] ${JSON.stringify(target)} from the ${where}: ${totals.kills} browser kills and ${totals.tabsClosed} tabs closed in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `${totals.called} writes reported, ${totals.acked} acknowledged, ${totals.refused} refused; present but not reported acknowledged ${totals.unackedKept}; ` +
      `checkpoints ${totals.checkpoints}; torn tails ${totals.tornTails}; over all opens (live and copy) ${counts.found} texts found by their word, ` +
      `${counts.absent} replaced, deleted or unwritten ones not found; final: ${model.size} ids, ${withText} with text, seq ${baseSeq}` +
      (totals.deletedByBrowser ? `; the browser deleted IndexedDB ${totals.deletedByBrowser} time(s), reported on open` : ''));
    expect(totals.acked).toBeGreaterThan(0);
    expect(counts.found).toBeGreaterThan(0);
  });
});

describe('IndexedDB deleted by the browser', () => {
  // Chromium tells of the deletion once, to the first database the origin
  // opens: tabvec's, or the app's own (then tabvec's OPFS mark tells).
  it.each([
    { first: 'tabvec', how: /deleted \(the browser reported "IndexedDB \(database was corrupt\)/ },
    { first: "the app's own database", how: /deleted \(it was missing, though tabvec had created it in this origin/ },
  ])('a store Chromium deleted with the rest of IndexedDB is CORRUPT_SNAPSHOT, not a new empty store, until remove() ($first opened first)', async ({ first, how }) => {
    const profile = newProfile('live');
    const session = async (work: (page: Page) => Promise<void>) => {
      const context = await launch(profile);
      await work(await openPersistPage(context, server.url));
      await context.close();
    };
    await session(async (page) => {
      expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'kept' }, CREATE)).toMatchObject({ size: 0 });
      for (let i = 0; i < 5; i++) await call(page, 'liveAdd', `k${i}`, i);
      await call(page, 'liveClose');
    });
    tearIndexedDbLog(profile);
    await session(async (page) => {
      // The torn record is taken for the end of the log: all there, and written after.
      expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'kept' })).toMatchObject({ size: 5 });
      await call(page, 'liveAdd', 'k5', 5);
      await call(page, 'liveClose');
      // Nothing is lost yet, and nothing says so: a new store is just created.
      expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'fresh' }, CREATE)).toMatchObject({ size: 0 });
      await call(page, 'liveClose');
    });
    await session(async (page) => {
      if (first !== 'tabvec') {
        const dataLoss = await page.evaluate(() => new Promise((resolve, reject) => {
          let loss: string | undefined;
          const r = indexedDB.open('app', 1);
          r.onupgradeneeded = (e) => { loss = (e as IDBVersionChangeEvent & { dataLoss?: string }).dataLoss; };
          r.onsuccess = () => { r.result.close(); resolve(loss); };
          r.onerror = () => reject(String(r.error));
        }));
        expect(dataLoss).toBe('total');
      }
      for (const options of [{}, CREATE]) {
        const opened = await call<Opened>(page, 'liveOpen', { indexedDB: 'kept' }, options);
        expect(opened.error?.code).toBe('CORRUPT_SNAPSHOT');
        expect(opened.error?.message).toMatch(how);
      }
      // So is VectorStore.open of what save() would have kept there.
      expect((await call<{ error?: { code: string } }>(page, 'openAndSearch', { indexedDB: 'kept' })).error?.code).toBe('CORRUPT_SNAPSHOT');
      await call(page, 'remove', { indexedDB: 'kept' });
      expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'kept' }, CREATE)).toMatchObject({ size: 0 });
      await call(page, 'liveAdd', 'again', 1);
      await call(page, 'liveClose');
    });
    await session(async (page) => {
      // The loss stays reported for every other name until it is removed too.
      expect((await call<Opened>(page, 'liveOpen', { indexedDB: 'other' }, CREATE)).error?.message).toMatch(how);
      expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'kept' })).toMatchObject({ size: 1 });
      await call(page, 'liveClose');
    });
  });
});

describe('IndexedDB deleted by other code', () => {
  it('a database deleted, or made again by a tabvec that predates the record, reads as a loss, not as empty', async () => {
    const context = await launch(newProfile('live'));
    const target = { indexedDB: 'kept' };
    const write = async () => {
      const page = await openPersistPage(context, server.url);
      expect(await call<Opened>(page, 'liveOpen', target, CREATE)).toMatchObject({ size: 0 });
      await call(page, 'liveAdd', 'k0', 0);
      await call(page, 'liveClose');
      await page.close();
    };
    // As tabvec made its database before it kept a record in it.
    const makeAsBefore = (page: Page) => page.evaluate(() => new Promise<void>((resolve, reject) => {
      const r = indexedDB.open('tabvec', 2);
      r.onupgradeneeded = () => { for (const store of ['snapshots', 'manifests', 'journal']) r.result.createObjectStore(store); };
      r.onsuccess = () => { r.result.close(); resolve(); };
      r.onerror = () => reject(String(r.error));
    }));
    // What other code does to the database, from a page where tabvec holds no connection.
    const meddle = async (remake: boolean) => {
      const page = await openPersistPage(context, server.url);
      await page.evaluate(() => new Promise<void>((resolve, reject) => {
        const gone = indexedDB.deleteDatabase('tabvec');
        gone.onsuccess = () => resolve();
        gone.onerror = () => reject(String(gone.error));
      }));
      if (remake) await makeAsBefore(page);
      const opened = await call<Opened>(page, 'liveOpen', target, CREATE);
      expect(opened.error?.code).toBe('CORRUPT_SNAPSHOT');
      expect(opened.error?.message).toMatch(remake ? /made again without the record tabvec keeps in it/ : /it was missing, though tabvec had created it/);
      await call(page, 'remove', target);
      await page.close();
    };
    // A database from before the record, in an origin tabvec has not marked yet, is no loss.
    await makeAsBefore(await openPersistPage(context, server.url));
    await write();
    await meddle(false);
    await write();
    await meddle(true);
    await write();
    await context.close();
  });
});

describe('IndexedDB records damaged on disk', () => {
  it("a checkpoint piece whose large-value file is gone is CORRUPT_SNAPSHOT with Chromium's words", async () => {
    const profile = newProfile('live');
    let context = await launch(profile);
    let page = await openPersistPage(context, server.url);
    expect((await call<{ size: number }>(page, 'saveSmall', { indexedDB: 'big' }, 5000, 1)).size).toBe(5000);
    await context.close();
    // Chromium keeps values this large in files beside its LevelDB.
    const blobs = path.join(path.dirname(indexedDbDir(profile)), path.basename(indexedDbDir(profile)).replace(/leveldb$/, 'blob'));
    const files = readdirSync(blobs, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) rmSync(file);
    context = await launch(profile);
    page = await openPersistPage(context, server.url);
    const opened = await call<{ error?: { code: string; message: string } }>(page, 'openAndSearch', { indexedDB: 'big' });
    expect(opened.error?.code).toBe('CORRUPT_SNAPSHOT');
    expect(opened.error?.message).toMatch(/Data lost due to missing file/);
    await call(page, 'remove', { indexedDB: 'big' });
    expect(await call<Opened>(page, 'liveOpen', { indexedDB: 'big' }, CREATE)).toMatchObject({ size: 0 });
    await call(page, 'liveClose');
    await context.close();
  });
});

describe('OPFS layout', () => {
  let context: BrowserContext;
  beforeAll(async () => {
    context = await launch(newProfile('live'));
  });
  afterAll(async () => {
    await context?.close();
  });
  // A store created with n single adds (`${prefix}0`...), then closed.
  async function storeOf(page: Page, target: { opfs: string }, prefix: string, n: number): Promise<void> {
    await call(page, 'liveOpen', target, CREATE);
    for (let i = 0; i < n; i++) await call(page, 'liveAdd', `${prefix}${i}`, i);
    await call(page, 'liveClose');
  }

  it("a store in tabvec 0.1's layout (a file per commit) opens, and a live store rewrites it in place-only files", async () => {
    const page = await openPersistPage(context, server.url);
    await call(page, 'writeLegacyOpfsStore', 'old');
    expect(await call<{ size?: number }>(page, 'openAndSearch', { opfs: 'old' })).toMatchObject({ size: 3 });
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'old' })).toMatchObject({ size: 3, seq: 4 });
    expect(await call<string[]>(page, 'liveIds')).toEqual(['l1', 'l2', 'l3']);
    const files = (await call<string[]>(page, 'liveListing', 'old')).map((f) => f.split(':')[0]);
    expect(files).toEqual(['old.checkpoint-0', 'old.checkpoint-1', 'old.manifest.json', 'old.superblock', 'old.wal']);
    // 0.1's manifest stays, saying the store moved: a tab still running 0.1 fails to open it rather than start a new one.
    const tombstone = JSON.parse(await call<string>(page, 'opfsText', 'old.manifest.json')) as { generation?: number; movedTo?: string; was?: { seq: number } };
    expect([tombstone.generation, tombstone.movedTo, tombstone.was?.seq]).toEqual([undefined, 'superblock', 2]);
    await call(page, 'liveAdd', 'l4', 4);
    await call(page, 'liveClose');
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'old' })).toMatchObject({ size: 4, seq: 5, recovery: { replayed: 1 } });
    expect(await call<string[]>(page, 'liveIds')).toEqual(['l1', 'l2', 'l3', 'l4']);
    await call(page, 'liveClose');
    await page.close();
  });

  it('a lost superblock with the data left is CORRUPT_SNAPSHOT, not a new empty store; a creation cut off before its superblock is not', async () => {
    const page = await openPersistPage(context, server.url);
    await storeOf(page, { opfs: 'lost' }, 'lost', 3);
    await call(page, 'opfsRemove', 'lost.superblock');
    const refused = await call<Opened>(page, 'liveOpen', { opfs: 'lost' }, CREATE);
    expect(refused.error?.code).toBe('CORRUPT_SNAPSHOT');
    expect(refused.error?.message).toMatch(/no manifest/);
    expect((await call<{ error?: { code: string } }>(page, 'openAndSearch', { opfs: 'lost' })).error?.code).toBe('CORRUPT_SNAPSHOT');
    await call(page, 'remove', { opfs: 'lost' });
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'lost' }, CREATE)).toMatchObject({ size: 0 });
    await call(page, 'liveClose');
    // Files created and a checkpoint written, the superblock (created first) still empty.
    await call(page, 'opfsWrite', 'cut.superblock', 0);
    await call(page, 'opfsWrite', 'cut.checkpoint-1', 300);
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'cut' }, CREATE)).toMatchObject({ size: 0, seq: 0 });
    await call(page, 'liveAdd', 'cut0', 0);
    await call(page, 'liveClose');
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'cut' })).toMatchObject({ size: 1 });
    await call(page, 'liveClose');
    await page.close();
  });

  it("remove() from one tab removes a store another tab holds open (its kept file handles are released), and that tab's next write is NOT_FOUND", async () => {
    const writer = await openPersistPage(context, server.url);
    const remover = await openPersistPage(context, server.url);
    await call(writer, 'liveOpen', { opfs: 'held' }, CREATE);
    for (let i = 0; i < 3; i++) await call(writer, 'liveAdd', `held${i}`, i);
    // The writer's worker now holds the journal and superblock open; a plain removal is refused.
    expect(await call<string>(remover, 'opfsRemoveOnce', 'held.wal')).toBe('NoModificationAllowedError');
    await call(remover, 'remove', { opfs: 'held' });
    expect(await call<string[]>(remover, 'liveListing', 'held')).toEqual([]);
    const write = await writer.evaluate(() => (window as unknown as { live: { add(id: string, v: Float32Array): Promise<void> } }).live
      .add('late', new Float32Array(32).fill(0.5)).then(() => 'stored', (e: { code?: string }) => e.code));
    expect(write).toBe('NOT_FOUND');
    expect(await call<string[]>(remover, 'liveListing', 'held')).toEqual([]);
    await writer.close();
    await remover.close();
  });

  it("remove() while a handle to the journal stays open (a tab that cannot answer, as a frozen one) fails with STORAGE_UNAVAILABLE after waiting; remove() again finishes", async () => {
    const page = await openPersistPage(context, server.url);
    await storeOf(page, { opfs: 'stuck' }, 'stuck', 2);
    // A worker outside tabvec holds the journal open and ignores requests to let go.
    await call(page, 'holdOpen', 'stuck.wal');
    const refused = await page.evaluate(() => (window as unknown as { tabvec: { remove(t: unknown): Promise<unknown> } }).tabvec
      .remove({ opfs: 'stuck' }).then(() => 'removed', (e: { code?: string; message?: string }) => `${e.code}: ${e.message}`));
    expect(refused).toMatch(/^STORAGE_UNAVAILABLE: .*stuck\.wal is held open by another tab or worker/);
    // Stopped partway, checkpoints gone: opening reports it rather than opening an older version.
    expect((await call<Opened>(page, 'liveOpen', { opfs: 'stuck' })).error?.code).toBe('CORRUPT_SNAPSHOT');
    await call(page, 'letGo');
    await call(page, 'remove', { opfs: 'stuck' });
    expect(await call<string[]>(page, 'liveListing', 'stuck')).toEqual([]);
    await page.close();
  });

  it("a store named like another's 0.1 files ('kb' and 'kb.2'): removing or creating one leaves the other whole", async () => {
    const page = await openPersistPage(context, server.url);
    await storeOf(page, { opfs: 'kb.2' }, 'kb', 5);
    await call(page, 'remove', { opfs: 'kb' });
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'kb' }, CREATE)).toMatchObject({ size: 0 });
    await call(page, 'liveClose');
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'kb.2' })).toMatchObject({ size: 5 });
    await call(page, 'liveClose');
    await page.close();
  });

  it('save() over a journal with a damaged record replaces all of it: no record comes back after the saved version', async () => {
    const page = await openPersistPage(context, server.url);
    await storeOf(page, { opfs: 'resave' }, 'r', 13);
    await call(page, 'opfsDamageRecord', 'resave', 4);
    expect((await call<Opened>(page, 'liveOpen', { opfs: 'resave' })).error?.code).toBe('CORRUPT_SNAPSHOT');
    await call(page, 'saveSmall', { opfs: 'resave' }, 12, 5);
    expect(await call<{ size?: number }>(page, 'openAndSearch', { opfs: 'resave' })).toMatchObject({ size: 12 });
    expect(await call<Opened>(page, 'liveOpen', { opfs: 'resave' })).toMatchObject({ size: 12, recovery: { replayed: 0 } });
    await call(page, 'liveClose');
    await page.close();
  });

  it('a page whose CSP forbids workers gets STORAGE_UNAVAILABLE for OPFS writes (they go through a worker), and can still read', async () => {
    const page = await context.newPage();
    await page.route('**/tests/browser/persist.html', async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': `${STRICT_CSP}; worker-src 'none'` } });
    });
    await page.goto(`${server.url}/tests/browser/persist.html`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    const refused = await call<Opened>(page, 'liveOpen', { opfs: 'noworker' }, CREATE);
    expect(refused.error?.code).toBe('STORAGE_UNAVAILABLE');
    expect(refused.error?.message).toMatch(/worker/);
    expect((await call<{ error?: { code: string } }>(page, 'trySaveSmall', { opfs: 'noworker' }, 10, 1)).error?.code).toBe('STORAGE_UNAVAILABLE');
    // Reading needs no worker.
    await call(page, 'writeLegacyOpfsStore', 'readable');
    expect(await call<{ size?: number }>(page, 'openAndSearch', { opfs: 'readable' })).toMatchObject({ size: 3 });
    await page.close();
  });
});

describe('without Web Locks', () => {
  it('save(), open() and LiveStore.open() refuse with STORAGE_UNAVAILABLE instead of racing', async () => {
    const context = await launch(newProfile('live'));
    const page = await openPersistPage(context, server.url, true);
    const live = await call<Opened>(page, 'liveOpen', { opfs: 'nolocks' }, CREATE);
    expect(live.error?.code).toBe('STORAGE_UNAVAILABLE');
    expect(live.error?.message).toContain('Web Locks');
    const opened = await call<{ error?: { code: string } }>(page, 'openAndSearch', { indexedDB: 'nolocks' });
    expect(opened.error?.code).toBe('STORAGE_UNAVAILABLE');
    await context.close();
  });
});
