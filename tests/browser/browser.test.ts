// The package in real Chromium, under a strict CSP, gives the same results as in Node.
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VectorStore } from '../../dist/index.js';
import { runScenario } from '../fixtures/random.js';
import { root } from '../js/data.js';
import { CHROMIUM_ARGS, serve } from './server.js';

let server: Awaited<ReturnType<typeof serve>>;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  server = await serve(root, ['dist', 'tests']);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${server.url}/tests/browser/page.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('in headless Chromium under script-src self wasm-unsafe-eval', () => {
  it('detects SIMD', async () => {
    expect(await page.evaluate(() => (window as unknown as { simdSupported: boolean }).simdSupported)).toBe(true);
  });

  for (const wasm of ['simd', 'baseline', 'auto'] as const) {
    it(`${wasm} build: same hits as Node, no CSP violations`, async () => {
      const inBrowser = await page.evaluate((flavor) => (window as unknown as { runScenario: (f: string) => Promise<unknown> }).runScenario(flavor), wasm);
      const inNode = await runScenario(VectorStore, wasm === 'auto' ? 'simd' : wasm);
      expect(inBrowser).toEqual(inNode);
      expect((inBrowser as { simd: boolean }).simd).toBe(wasm !== 'baseline');
      expect(await page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations)).toEqual([]);
      expect(pageErrors).toEqual([]);
    });
  }
});
