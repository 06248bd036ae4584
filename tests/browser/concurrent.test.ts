// Reliability in real Chromium: opening a store in one tab while another tab
// saves it, and typed errors when the package's files cannot be loaded.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root } from '../js/data.js';
import { CHROMIUM_ARGS, serve } from './server.js';
import { callPage, openPersistPage } from './pages.js';

let server: Awaited<ReturnType<typeof serve>>;
let context: BrowserContext;
// A real profile on disk, as a user's browser has: OPFS and IndexedDB are files there.
const profile = mkdtempSync(path.join(tmpdir(), 'tabvec-profile-'));

interface Failure { name: string; code?: string; message: string }

function openPage(): Promise<Page> {
  return openPersistPage(context, server.url);
}

const call = callPage;

beforeAll(async () => {
  server = await serve(root, ['dist', 'tests']);
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
});

afterAll(async () => {
  await context?.close();
  await server?.close();
  rmSync(profile, { recursive: true, force: true });
});

describe.each([
  { target: { opfs: 'shared' } },
  { target: { indexedDB: 'shared' } },
])('two tabs of one origin, %o', ({ target }) => {
  it('every open succeeds while the other tab saves 60 times', async () => {
    const writer = await openPage();
    const reader = await openPage();
    await call(writer, 'saveSmall', target, 1000, 20);
    let saving = true;
    const saves = call<number[]>(writer, 'saveRepeatedly', target, 60).finally(() => { saving = false; });
    const failures: Failure[] = [];
    const sizes: number[] = [];
    while (saving) {
      const r = await call<{ sizes: number[]; failures: Failure[] }>(reader, 'openRepeatedly', target, 5);
      sizes.push(...r.sizes);
      failures.push(...r.failures);
    }
    const generations = await saves;
    console.log(`[concurrent] ${JSON.stringify(target)}: ${sizes.length + failures.length} opens during 60 saves, ${failures.length} failed`);
    expect(generations).toHaveLength(60);
    expect(failures).toEqual([]);
    expect(sizes.length).toBeGreaterThan(0);
    for (const size of sizes) expect([1000, 1500, 2500]).toContain(size);
    await writer.close();
    await reader.close();
  });
});

describe('files that cannot be loaded', () => {
  it('a worker script that does not load rejects WorkerVectorStore.create with WORKER_FAILED', async () => {
    const page = await openPage();
    const error = await call<Failure | null>(page, 'createError', { dim: 4 }, '/tests/browser/no-such-worker.js');
    expect(error).toMatchObject({ name: 'TabvecError', code: 'WORKER_FAILED' });
    await page.close();
  });

  it('a .wasm that is not served is WASM_UNAVAILABLE, in the page and in the worker', async () => {
    const page = await context.newPage();
    await page.route('**/*.wasm', (route) => route.fulfill({ status: 404, body: 'not found' }));
    await page.goto(`${server.url}/tests/browser/persist.html`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
    for (const wasm of ['simd', 'baseline']) {
      const inPage = await call<Failure | null>(page, 'createError', { dim: 4, wasm });
      expect(inPage).toMatchObject({ name: 'TabvecError', code: 'WASM_UNAVAILABLE' });
      const inWorker = await call<Failure | null>(page, 'createError', { dim: 4, wasm }, '');
      expect(inWorker).toMatchObject({ name: 'TabvecError', code: 'WASM_UNAVAILABLE' });
    }
    await page.close();
  });
});
