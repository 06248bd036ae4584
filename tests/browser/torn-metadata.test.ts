// Regression test for a whole-browser-crash data loss the kill test found
// (a SIGKILL of Chromium, not of the tab). Chromium keeps OPFS names in a
// LevelDB (<profile>/Default/File System/NNN/t/Paths/NNNNNN.log). A kill
// between LevelDB's two write() calls for one record leaves the record's
// 7-byte header without its payload at the end of the log. The next session
// appends after it; every session after that reads the header as a 52-byte
// record, fails its checksum, and drops the rest of the 32 KiB block: every
// OPFS file creation, rename and removal recorded there is undone, while the
// files' data stay behind orphaned. A store whose acknowledged writes depend
// on new OPFS names (a file per journal commit, createWritable's swap-file
// renames) loses them two sessions after the tear, although every session
// closed cleanly.
//
// The test appends the header such a kill leaves (as a kill would, to a closed
// profile), then runs sessions that each close cleanly, in the page and in a
// dedicated worker, and checks that every acknowledged write is there in every
// later session. A canary OPFS file created after the tear must vanish and
// Chromium's Paths/LOG must report the dropped bytes: otherwise the injection
// did nothing and the test fails rather than pass vacuously.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../js/data.js';
import { CHROMIUM_ARGS, serve } from './server.js';

let server: Awaited<ReturnType<typeof serve>>;
const profiles: string[] = [];

// The header of a record LevelDB never finished writing: a masked CRC (any:
// the payload never got written), length 52, type FULL.
const TORN_HEADER = Buffer.from([0x37, 0x76, 0x16, 0xee, 52, 0, 1]);
const TARGET = { opfs: 'torn' };
const ADDS = 20;
const SESSIONS = 3; // after the injection, before the final check
const CHECKPOINT_SESSION = 2;
const CANARY = 'torn-metadata-canary';
const DROPPED = /dropping (\d+) bytes; Corruption/;

interface Opened { size?: number; seq?: number; recovery?: unknown; error?: { name: string; code?: string; message: string } }
interface Session { session: number; opened: Opened; missing: string[]; acked: number; canary?: boolean; dropped: number[]; refused?: string }

function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

async function openPage(context: BrowserContext, mode: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/tests/browser/torn.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  await call(page, 'mode', mode);
  return page;
}

function call<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  type Torn = Record<string, (...a: unknown[]) => Promise<unknown>>;
  return page.evaluate(([f, a]) => (window as unknown as { torn: Torn }).torn[f as string]!(...(a as unknown[])), [fn, args] as const) as Promise<T>;
}

// The OPFS directory database of the profile's one origin.
function pathsDir(profile: string): string {
  const fileSystem = path.join(profile, 'Default', 'File System');
  const dirs = existsSync(fileSystem)
    ? readdirSync(fileSystem).map((d) => path.join(fileSystem, d, 't', 'Paths')).filter((d) => existsSync(d))
    : [];
  expect(dirs, `OPFS's Paths LevelDB under ${fileSystem}`).toHaveLength(1);
  return dirs[0]!;
}

// The byte counts Chromium's last open of the Paths database reports dropping.
function droppedBytes(profile: string): number[] {
  const log = path.join(pathsDir(profile), 'LOG');
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8').split('\n').map((l) => DROPPED.exec(l)).filter((m) => m !== null).map((m) => Number(m[1]));
}

const range = (ids: string[]): string => (ids.length ? `${ids.length} (${ids[0]} .. ${ids.at(-1)})` : '0');

beforeAll(async () => {
  server = await serve(root, ['dist', 'tests']);
});

afterAll(async () => {
  await server?.close();
  for (const p of profiles) rmSync(p, { recursive: true, force: true });
});

describe.each(['page', 'worker'])('a torn record in Chromium\'s OPFS metadata log, store in the %s', (mode) => {
  it('loses no acknowledged write over the sessions after it, each closed cleanly', async () => {
    const started = performance.now();
    const profile = mkdtempSync(path.join(tmpdir(), 'tabvec-torn-profile-'));
    profiles.push(profile);
    const acked: string[] = [];
    const sessions: Session[] = [];
    // Resolves with the error of the first add (or checkpoint) that failed, if any.
    const addOneByOne = async (page: Page, session: number, checkpoint = false): Promise<string | undefined> => {
      try {
        for (let i = 0; i < ADDS; i++) {
          const id = `s${session}-${i}`;
          await call(page, 'add', id, session * 1000 + i);
          acked.push(id); // the add resolved: acknowledged
        }
        if (checkpoint) await call(page, 'checkpoint');
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    };

    // Session 0: create the store and add ids one at a time; close cleanly.
    {
      const context = await launch(profile);
      const page = await openPage(context, mode);
      const opened = await call<Opened>(page, 'open', TARGET, true);
      expect(opened.error, 'session 0: creating the store').toBeUndefined();
      expect(await addOneByOne(page, 0), 'session 0: adds').toBeUndefined();
      await call(page, 'close');
      await context.close();
      sessions.push({ session: 0, opened, missing: [], acked: acked.length, dropped: [] });
    }

    // What a SIGKILL mid-record leaves: the header without its payload at the end of the newest log.
    const paths = pathsDir(profile);
    const logs = readdirSync(paths).filter((f) => /^\d+\.log$/.test(f)).sort();
    expect(logs.length, `a LevelDB log in ${paths}`).toBeGreaterThan(0);
    const log = path.join(paths, logs.at(-1)!);
    const tornAt = statSync(log).size;
    appendFileSync(log, TORN_HEADER);

    // Sessions 1..SESSIONS, then a final check: each opens the store, checks
    // every id acknowledged so far, adds more (one session also checkpoints)
    // and closes the store and the browser cleanly.
    for (let s = 1; s <= SESSIONS + 1; s++) {
      const final = s === SESSIONS + 1;
      const context = await launch(profile);
      try {
        const page = await openPage(context, mode);
        const opened = await call<Opened>(page, 'open', TARGET, false);
        const missing = opened.error ? [...acked] : await call<string[]>(page, 'missing', acked);
        const record: Session = { session: s, opened, missing, acked: acked.length, dropped: droppedBytes(profile) };
        sessions.push(record);
        // Checked here as each session goes (softly, so the later sessions
        // still run and report); the final session's check is the hard one below.
        if (!final) {
          expect.soft(opened.error?.code, `session ${s}: opening the store fails`).toBeUndefined();
          expect.soft(range(missing), `session ${s}: acknowledged ids missing, of ${acked.length}`).toBe('0');
        }
        if (s === 1) await call(page, 'plantCanary', CANARY); // a name created after the tear
        else record.canary = await call<boolean>(page, 'hasCanary', CANARY);
        if (!opened.error && !final) {
          record.refused = await addOneByOne(page, s, s === CHECKPOINT_SESSION);
          expect.soft(record.refused, `session ${s}: adds${s === CHECKPOINT_SESSION ? ' and checkpoint' : ''}`).toBeUndefined();
        }
        await call(page, 'close');
      } finally {
        await context.close();
      }
    }

    const seconds = (performance.now() - started) / 1000;
    const lost = sessions.map((r) => r.missing.length);
    const firstDrop = sessions.find((r) => r.dropped.length > 0);
    console.log(`[torn-metadata] ${mode}: tear at byte ${tornAt} of Paths/${path.basename(log)}; Chromium dropped ${firstDrop ? `${firstDrop.dropped.join('+')} bytes from session ${firstDrop.session} on` : 'NOTHING'}, canary ${sessions[2]?.canary === false ? 'gone' : 'still there'}; ${acked.length} acknowledged adds over ${SESSIONS + 1} sessions (checkpoint in session ${CHECKPOINT_SESSION}); missing per session ${JSON.stringify(lost)}${sessions.some((r) => r.opened.error) ? `; open errors: ${sessions.filter((r) => r.opened.error).map((r) => `session ${r.session}: ${r.opened.error!.code}`).join(', ')}` : ''}; ${seconds.toFixed(1)} s`);
    for (const r of sessions) if (r.missing.length || r.opened.error || r.refused) console.log(`[torn-metadata] ${mode}: session ${r.session}: ${r.opened.error ? `open failed: ${r.opened.error.code}: ${r.opened.error.message}` : `opened size ${r.opened.size}, seq ${r.opened.seq}`}; missing ${range(r.missing)} of ${r.acked}${r.refused ? `; then a write failed: ${r.refused}` : ''}`);

    // The injection took effect: the session after the one that wrote past the
    // tear has Chromium drop bytes, and the name created after the tear is gone.
    // If not, Chromium no longer reacts to it and this test proves nothing.
    expect(sessions[2]!.dropped.length, 'Chromium\'s Paths/LOG reports no dropped bytes in session 2: the injected torn record had no effect, so this test would pass vacuously').toBeGreaterThan(0);
    expect(sessions[2]!.canary, 'the canary OPFS file created after the tear survived: the injected torn record had no effect, so this test would pass vacuously').toBe(false);
    // And the store kept every acknowledged write (also reported per session above).
    const last = sessions.at(-1)!;
    expect(last.opened.error?.message, 'the final session opens the store').toBeUndefined();
    expect(range(last.missing), `acknowledged ids missing in the final session, of ${acked.length}`).toBe('0');
  });
});
