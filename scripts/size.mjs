#!/usr/bin/env node
// What a page downloads for the core API (issue 11), measured the way a user
// gets it: Vite bundles a minimal page that imports VectorStore from dist/,
// creates a store, adds a vector and searches. Prints every emitted file with
// its raw and gzip -9 size, then the total of what that page loads for the
// core API:
//   - the entry chunk and every chunk it imports statically,
//   - the SIMD glue chunk that create() imports dynamically (and its static imports),
//   - the SIMD .wasm.
// Not counted: the baseline glue/wasm (loaded only where SIMD is missing) and
// chunks reachable only through other dynamic imports (persistence, workers).
// Exits 1 if that total is over BUDGET_GZIP_BYTES.
//
//   node scripts/size.mjs [dist dir, default dist]     (npm run size)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

/** The budget for the core API page, gzip -9 bytes (issue 11). */
const BUDGET_GZIP_BYTES = 60 * 1024;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.resolve(root, process.argv[2] ?? 'dist');
const entryModule = path.join(dist, 'index.js');
const simdGlue = path.join(dist, 'wasm/tabvec-simd.mjs');
const simdWasm = path.join(dist, 'wasm/tabvec-simd.wasm');
for (const file of [entryModule, simdGlue, simdWasm]) {
  if (!existsSync(file)) {
    console.error(`size: ${file} is missing; build first (bash scripts/build.sh)`);
    process.exit(2);
  }
}

const gzipBytes = (data) => gzipSync(data, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(1);

const work = mkdtempSync(path.join(tmpdir(), 'tabvec-size-'));
try {
  writeFileSync(path.join(work, 'index.html'), '<!doctype html>\n<script type="module" src="./main.js"></script>\n');
  writeFileSync(
    path.join(work, 'main.js'),
    `import { VectorStore } from ${JSON.stringify(entryModule)};\n` +
      'const s = await VectorStore.create({ dim: 4 });\n' +
      "s.add('a', new Float32Array([1, 2, 3, 4]));\n" +
      'console.log(s.search(new Float32Array([1, 2, 3, 4])));\n',
  );
  const result = await build({
    root: work,
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: path.join(work, 'out'),
      emptyOutDir: true,
      target: 'es2022', // top-level await in the page
      assetsInlineLimit: 0, // the .wasm stays a file, as it would in an app
      modulePreload: { polyfill: false }, // Vite's polyfill is the app's cost, not tabvec's
      reportCompressedSize: false,
    },
  });
  const output = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output);

  const chunks = new Map(output.filter((o) => o.type === 'chunk').map((c) => [c.fileName, c]));
  const bytesOf = (o) => (o.type === 'chunk' ? Buffer.from(o.code) : Buffer.from(o.source));

  // The core API's chunks: the static import graph from the entry, plus the
  // SIMD glue that create() imports dynamically and its own static imports.
  const core = new Map(); // fileName -> why it is counted
  const addStatic = (fileName, why) => {
    if (core.has(fileName)) return;
    core.set(fileName, why);
    for (const dep of chunks.get(fileName)?.imports ?? []) addStatic(dep, 'static import');
  };
  for (const c of chunks.values()) if (c.isEntry) addStatic(c.fileName, 'entry');
  const glue = [...chunks.values()].find((c) => c.moduleIds.includes(simdGlue));
  if (!glue) throw new Error(`no chunk holds ${simdGlue}: did the wrapper stop importing it?`);
  const importer = [...core.keys()].find((f) => chunks.get(f)?.dynamicImports.includes(glue.fileName));
  if (!importer) throw new Error(`the SIMD glue chunk ${glue.fileName} is not a dynamic import of the entry's static graph`);
  addStatic(glue.fileName, `dynamic import by ${importer}`);

  // The .wasm: Vite emits it as an asset for new URL('./wasm/tabvec-simd.wasm',
  // import.meta.url); found by content, and its name must appear in a counted chunk.
  const wasmSource = readFileSync(simdWasm);
  const wasm = output.find((o) => o.type === 'asset' && Buffer.from(o.source).equals(wasmSource));
  if (!wasm) throw new Error('Vite did not emit tabvec-simd.wasm as an asset');
  const referrer = [...core.keys()].find((f) => chunks.get(f).code.includes(path.posix.basename(wasm.fileName)));
  if (!referrer) throw new Error(`no counted chunk refers to ${wasm.fileName}`);
  core.set(wasm.fileName, `new URL() in ${referrer}`);

  const kind = (o) => {
    if (o.type === 'asset') return o.fileName.endsWith('.wasm') ? 'wasm' : 'asset';
    return o.moduleIds.some((id) => id.startsWith(path.join(dist, 'wasm') + path.sep)) ? 'glue' : 'js';
  };
  const rows = output.map((o) => {
    const data = bytesOf(o);
    return { file: o.fileName, kind: kind(o), raw: data.length, gzip: gzipBytes(data), counted: core.get(o.fileName) };
  });
  rows.sort((a, b) => Number(!!b.counted) - Number(!!a.counted) || b.gzip - a.gzip);

  const width = Math.max(...rows.map((r) => r.file.length), 10);
  console.log(`${'file'.padEnd(width)}  kind   ${'raw'.padStart(8)}  ${'gzip -9'.padStart(8)}  core API?`);
  for (const r of rows) {
    console.log(
      `${r.file.padEnd(width)}  ${r.kind.padEnd(5)}  ${String(r.raw).padStart(8)}  ${String(r.gzip).padStart(8)}  ` +
        (r.counted ? `yes (${r.counted})` : 'no'),
    );
  }
  const counted = rows.filter((r) => r.counted);
  const sum = (list, key) => list.reduce((n, r) => n + r[key], 0);
  const byKind = (k) => counted.filter((r) => r.kind === k);
  const total = sum(counted, 'gzip');
  console.log(
    `\ncore API (create, add, search) loads ${counted.length} files: ` +
      `wasm ${kb(sum(byKind('wasm'), 'gzip'))} KB + glue ${kb(sum(byKind('glue'), 'gzip'))} KB + ` +
      `wrapper ${kb(sum(byKind('js'), 'gzip'))} KB = ${total} bytes (${kb(total)} KB) gzip -9, ` +
      `${sum(counted, 'raw')} bytes raw; budget ${BUDGET_GZIP_BYTES} bytes (${kb(BUDGET_GZIP_BYTES)} KB)`,
  );
  if (total > BUDGET_GZIP_BYTES) {
    console.error(`size: over budget by ${total - BUDGET_GZIP_BYTES} bytes`);
    process.exitCode = 1;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
