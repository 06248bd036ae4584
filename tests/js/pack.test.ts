// The npm tarball works when installed into an empty project and imported from plain Node ESM.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root } from './data.js';

it('npm pack -> npm install -> import works', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tabvec-pack-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const info = JSON.parse(out)[0] as { filename: string; files: { path: string }[] };
    const files = info.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/wasm/tabvec-simd.wasm', 'dist/wasm/tabvec.wasm']));
    expect(files.some((f) => f.startsWith('core/') || f.startsWith('tests/'))).toBe(false);

    const app = path.join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--offline', path.join(dir, info.filename)], { cwd: app, stdio: 'ignore' });
    expect(readdirSync(path.join(app, 'node_modules'))).toContain('tabvec');
    writeFileSync(path.join(app, 'main.js'), `
      import { VectorStore } from 'tabvec';
      const store = await VectorStore.create({ dim: 3 });
      store.add('a', new Float32Array([1, 0, 0]), { n: 1 });
      store.add('b', new Float32Array([0, 1, 0]));
      const [hit] = store.search(new Float32Array([0.9, 0.2, 0]), { k: 1 });
      console.log(JSON.stringify(hit));
    `);
    const printed = execFileSync('node', ['main.js'], { cwd: app, encoding: 'utf8' });
    expect(JSON.parse(printed)).toMatchObject({ id: 'a', metadata: { n: 1 } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
