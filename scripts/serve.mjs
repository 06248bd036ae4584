// A small static file server for the demo (npm start) and the browser tests.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';

/** What a page needs to load tabvec: no 'unsafe-eval', only WebAssembly compilation. */
export const STRICT_CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'";

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/**
 * Serves files under `root`, only inside the `allowed` subdirectories ('' for all).
 * Resolves to { url, close }.
 */
export async function serveStatic(root, { allowed = [''], port = 0, host = '127.0.0.1', csp, headers: extraHeaders = {} } = {}) {
  const server = createServer((req, res) => {
    let pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    if (pathname === '/favicon.ico') return res.writeHead(204).end();
    if (pathname.endsWith('/')) pathname += 'index.html';
    const file = path.join(root, pathname);
    const inside = allowed.some((dir) => file.startsWith(path.join(root, dir) + (dir ? path.sep : '')));
    if (!inside || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end('not found');
    const headers = { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache', ...extraHeaders };
    if (csp) headers['Content-Security-Policy'] = csp;
    res.writeHead(200, headers);
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${server.address().port}`,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}

/** Flags for Debian's Chromium in this environment (root, no GPU, closed network). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
