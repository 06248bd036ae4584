// npm start: serves the built demo (web-demo/dist) on localhost and prints its URL.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from './serve.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../web-demo/dist');
const port = Number(process.env.PORT ?? 5173);
const { url } = await serveStatic(root, { port, host: process.env.HOST ?? '127.0.0.1' });
console.log(`\ntabvec demo: ${url}/\n(Ctrl+C to stop)`);
