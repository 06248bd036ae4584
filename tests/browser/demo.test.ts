// The demo page end to end in Chromium: real in-page embeddings, the expected
// documents for the shared demo questions, a note that survives a reload and
// reaches another open tab (the live store), and
// search with the network off (service worker).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, serveStatic } from '../../scripts/serve.mjs';
import { haveData, readIvecs, root, sharedData } from '../js/data.js';

const demoData = path.join(sharedData, 'sap-use512');
const questionsFile = path.join(demoData, 'sap_use512_demo_queries5.txt');
const truthFile = path.join(demoData, 'sap_use512_demo_queries5_gt100_cos.ivecs');

let server: Awaited<ReturnType<typeof serveStatic>>;
let browser: Browser;
let context: BrowserContext;
let page: Page;

async function waitReady(p: Page) {
  await p.waitForFunction(() => document.body.dataset.state !== 'loading', undefined, { timeout: 150_000 });
  expect(await p.evaluate(() => document.body.dataset.state), await p.textContent('#status') ?? '').toBe('ready');
}

async function ask(p: Page, question: string): Promise<string[]> {
  await p.fill('#query', question);
  await p.waitForFunction((q) => document.body.dataset.lastQuery === q, question, { timeout: 30_000 });
  return p.$$eval('#results li', (items) => items.map((li) => (li as HTMLElement).dataset.id!));
}

beforeAll(async () => {
  server = await serveStatic(path.join(root, 'web-demo/dist'));
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  await page.goto(`${server.url}/`);
  await waitReady(page);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('web demo', () => {
  it('finds the expected document in the top 3 for every demo question', async (ctx) => {
    if (!haveData(questionsFile, truthFile)) return ctx.skip();
    const questions = readFileSync(questionsFile, 'utf8').trim().split('\n');
    const truth = readIvecs(truthFile);
    const docIds = readFileSync(path.join(root, 'web-demo/public/corpus/docs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).id as string);
    expect(questions).toHaveLength(5);
    // The ground truth is the exact vector neighbour: asked in the Vector mode
    // (the page opens in Hybrid, which tests/browser/demo-hybrid.test.ts checks).
    await page.check('input[name="mode"][value="vector"]');
    for (const [q, question] of questions.entries()) {
      const expected = docIds[truth.data[q * truth.dim]!]!;
      const top = (await ask(page, question)).slice(0, 3);
      console.log(`[demo] "${question}" -> ${top.join(', ')} (expected ${expected})`);
      expect(top).toContain(expected);
    }
    await page.check('input[name="mode"][value="hybrid"]');
    await page.screenshot({ path: path.join(root, 'build/demo-screenshot.png') });
  });

  it('filters by source', async () => {
    await page.selectOption('#source', 'note');
    const none = await ask(page, 'deploy an application to the cloud foundry environment');
    expect(none).toEqual([]);
    await page.selectOption('#source', '');
  });

  it('adds a note that is found again after a reload', async () => {
    await page.fill('#note', 'Ziggy the cat naps on the warm laptop keyboard every afternoon');
    await page.click('#add-note');
    await page.waitForFunction(() => document.getElementById('note-status')!.textContent!.startsWith('Saved'));
    await page.reload();
    await waitReady(page);
    const hits = await ask(page, 'where does my cat sleep?');
    expect(hits[0]).toMatch(/^note-/);
  });

  it('a note added in one tab shows up in another open tab, without a reload', async () => {
    const other = await context.newPage();
    await other.goto(`${server.url}/`);
    await waitReady(other);
    await other.fill('#query', 'which bird builds its nest on the balcony railing?');
    await page.fill('#note', 'A pair of blackbirds built their nest on the balcony railing in April');
    await page.click('#add-note');
    await page.waitForFunction(() => document.getElementById('note-status')!.textContent!.startsWith('Saved'));
    // The other tab re-runs its query when the note arrives.
    await other.waitForFunction(() => document.getElementById('note-status')!.textContent === 'A note arrived from another tab.', undefined, { timeout: 10_000 });
    await other.waitForFunction(() => (document.querySelector('#results li') as HTMLElement | null)?.dataset.id?.startsWith('note-'), undefined, { timeout: 10_000 });
    const top = await other.$$eval('#results li', (items) => items.map((li) => (li as HTMLElement).querySelector('.title')!.textContent));
    expect(top[0]).toContain('blackbirds');
    await other.close();
  });

  it('still searches with the network off (service worker)', async () => {
    await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return registration.active?.state;
    });
    await context.setOffline(true);
    try {
      await page.reload();
      await waitReady(page);
      const hits = await ask(page, 'where does my cat sleep?');
      expect(hits[0]).toMatch(/^note-/);
      expect(await ask(page, 'configure the mock server for OPA tests')).not.toEqual([]);
    } finally {
      await context.setOffline(false);
    }
  });
});
