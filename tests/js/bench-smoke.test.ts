// The benchmark harness runs end to end in smoke mode, so it cannot rot.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { root } from './data.js';

it('npm run bench -- --smoke measures every contender and writes the report', () => {
  execFileSync('bash', ['scripts/bench.sh', '--smoke'], { cwd: root, stdio: 'pipe', timeout: 170_000 });
  const out = path.join(root, 'build/bench-smoke');
  const records = readFileSync(path.join(out, 'smoke.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const measured = records.filter((r) => !r.skipped);
  for (const name of ['tabvec', 'hnswlib-wasm', 'hnswlib-node', 'edgevec', 'voy-search']) {
    const mine = measured.filter((r) => r.contender === name && r.environment === 'node');
    expect(mine.length, name).toBeGreaterThan(0);
    for (const r of mine) {
      expect(r.recall_at_10).toBeGreaterThan(0.5);
      expect(r.qps).toBeGreaterThan(0);
      expect(r.build_vps).toBeGreaterThan(0);
    }
  }
  expect(records.find((r) => r.contender === 'client-vector-search')?.skipped).toMatch(/cosine/);
  expect(measured.filter((r) => r.environment === 'chromium').map((r) => r.contender)).toEqual(expect.arrayContaining(['tabvec', 'hnswlib-wasm']));
  const summary = readFileSync(path.join(out, 'summary.md'), 'utf8');
  expect(summary).toContain('| tabvec');
  expect(readFileSync(path.join(out, 'bench-smoke-node.svg'), 'utf8')).toContain('<polyline');
});
