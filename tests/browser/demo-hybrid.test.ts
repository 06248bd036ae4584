// The demo's three search modes, its migration of stores saved before they had
// text, and two tabs migrating at once, in Chromium under the strict CSP: the
// checks live in demo-hybrid-check.mjs (runnable alone); this runs them.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { root } from '../js/data.js';

it('the demo searches in Hybrid, Vector and Text modes and migrates text-less stores without losing a note', async () => {
  const script = path.join(root, 'tests/browser/demo-hybrid-check.mjs');
  const run = await promisify(execFile)(process.execPath, [script], { cwd: root, timeout: 240_000, maxBuffer: 16 << 20 })
    .catch((e: { stdout?: string; stderr?: string; message: string }) => ({ stdout: e.stdout ?? '', stderr: `${e.stderr ?? ''}\n${e.message}` }));
  console.log(run.stdout);
  expect(run.stderr + run.stdout).toContain('check-hybrid: all passed');
}, 300_000);
