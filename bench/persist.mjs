// Save and open times of a 100,000 x 384 int8 store to OPFS and IndexedDB in
// headless Chromium. Run: node bench/persist.mjs [n] [dim]
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, serveStatic } from '../scripts/serve.mjs';
import { root } from './datasets.mjs';

const n = Number(process.argv[2] ?? 100000);
const dim = Number(process.argv[3] ?? 384);
const server = await serveStatic(root, { allowed: ['dist', 'bench', 'tests/fixtures'] });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage();
  await page.goto(`${server.url}/bench/persist-page.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  const r = await page.evaluate(([count, d]) => window.measurePersistence(count, d), [n, dim]);
  console.log(`store: ${r.n} x ${r.dim} int8 cosine, built in ${r.buildSeconds.toFixed(1)} s, snapshot ${(r.bytes / 1048576).toFixed(1)} MiB (${r.stats.toFixed(0)} B/vector reserved)`);
  for (const kind of ['opfs', 'indexedDB']) {
    console.log(`${kind.padEnd(9)} save ${r[kind].saveMs.toFixed(0)} ms, open ${r[kind].openMs.toFixed(0)} ms (${r[kind].size} vectors back)`);
  }
} finally {
  await browser.close();
  await server.close();
}
