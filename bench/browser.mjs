// Runs the tabvec and hnswlib-wasm adapters inside headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) on the same data.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, serveStatic } from '../scripts/serve.mjs';
import { root } from './datasets.mjs';

export async function runInBrowser(ds, contenders) {
  const dir = path.join(root, 'build/bench-data');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${ds.name}.base.bin`), Buffer.from(ds.base.buffer, ds.base.byteOffset, ds.base.byteLength));
  writeFileSync(path.join(dir, `${ds.name}.queries.bin`), Buffer.from(ds.queries.buffer, ds.queries.byteOffset, ds.queries.byteLength));
  writeFileSync(path.join(dir, `${ds.name}.truth.bin`), Buffer.from(ds.truth.data.buffer, ds.truth.data.byteOffset, ds.truth.data.byteLength));
  // Cross-origin isolation gives performance.now() 5 µs resolution instead of 100 µs.
  const server = await serveStatic(root, {
    allowed: ['dist', 'bench', 'build/bench-data'],
    headers: { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' },
  });
  // A profile on disk, as a user's browser has: without one Chromium keeps
  // OPFS in memory behind IPC, where a sync access handle read took ~250 us
  // instead of ~2-4 us (the storage variant reads its rows there).
  const profile = mkdtempSync(path.join(os.tmpdir(), 'tabvec-bench-profile-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--js-flags=--expose-gc'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${server.url}/bench/browser-page.html`);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', undefined, { timeout: 60_000 });
    const meta = { name: ds.name, dim: ds.dim, metric: ds.metric, nb: ds.nb, nq: ds.nq, smoke: ds.name === 'smoke' };
    const records = await page.evaluate(([m, c]) => window.runBenchmark(m, c), [meta, contenders]);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    return records.map((r) => ({ ...r, note: 'measured in headless Chromium' }));
  } finally {
    await browser.close();
    await server.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
