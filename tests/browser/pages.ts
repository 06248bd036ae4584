// Driving the persistence test page (persist.html) from Playwright.
import type { BrowserContext, Page } from 'playwright-core';

type Tabvec = Record<string, (...args: unknown[]) => Promise<unknown>>;

/** Opens persist.html in the context and waits until its module is ready. */
export async function openPersistPage(context: BrowserContext, url: string, withoutWebLocks = false): Promise<Page> {
  const page = await context.newPage();
  // As in a browser without the Web Locks API (tabvec then refuses to write rather than race).
  if (withoutWebLocks) await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }));
  await page.goto(`${url}/tests/browser/persist.html`);
  await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready');
  return page;
}

/** Calls window.tabvec[fn](...args) in the page. */
export function callPage<T>(page: Page, fn: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(([f, a]) => (window as unknown as { tabvec: Tabvec }).tabvec[f as string]!(...(a as unknown[])), [fn, args] as const) as Promise<T>;
}
