// Chromium with a profile on disk, as a user's browser keeps it, for the tests
// that kill it: launch, and SIGKILL to the whole browser.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { CHROMIUM_ARGS } from './server.js';

/** Profiles made by newProfile(), removed by removeProfiles(). */
const profiles: string[] = [];

export function newProfile(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `tabvec-${name}-profile-`));
  profiles.push(dir);
  return dir;
}

export function removeProfiles(): void {
  for (const p of profiles.splice(0)) rmSync(p, { recursive: true, force: true });
}

export function launch(profile: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

// The browser's main process for a profile: the one without --type=.
function browserPid(profile: string): number {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  const main = lines.find((l) => l.includes(`--user-data-dir=${profile}`) && !l.includes('--type='));
  if (!main) throw new Error(`no browser process for ${profile}`);
  return Number(main.trim().split(/\s+/)[0]);
}

/**
 * Kills the whole browser at once (SIGKILL to its process group: the main
 * process and its renderer and storage processes, as a crash or the OOM killer
 * takes a browser down) and waits until none of its processes is left, as a
 * user's relaunch would.
 */
export async function killBrowser(profile: string): Promise<void> {
  const pid = browserPid(profile);
  process.kill(-pid, 'SIGKILL');
  // Zombies (exited, not yet reaped: no init reaps them in some containers) do not count.
  const alive = () => execFileSync('ps', ['-eo', 'pgid=,stat='], { encoding: 'utf8' }).split('\n')
    .some((l) => { const [pgid, stat] = l.trim().split(/\s+/); return Number(pgid) === pid && !stat?.startsWith('Z'); });
  for (let i = 0; i < 200 && alive(); i++) await new Promise((r) => setTimeout(r, 25));
}
