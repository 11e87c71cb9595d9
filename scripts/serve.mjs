// A tiny static server for www/ on 127.0.0.1. By default it sends the COOP/COEP headers the
// threaded build needs; --no-isolation serves without them (the single-thread fallback, like a
// plain documentation host). Usage: node scripts/serve.mjs [--port N] [--no-isolation] [--root DIR]
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const value = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(value('--root', path.join(here, '..', 'www')));
const port = Number(value('--port', process.env.PORT || 8080));
const isolate = !flag('--no-isolation');

const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.json': 'application/json',
  '.parquet': 'application/octet-stream', '.arrow': 'application/octet-stream', '.svg': 'image/svg+xml', '.png': 'image/png',
};

export function createServer({ root: dir = root, isolate: iso = isolate } = {}) {
  return http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    let file = path.normalize(path.join(dir, decodeURIComponent(url.pathname)));
    if (!file.startsWith(dir)) { res.writeHead(403).end(); return; }
    if (fs.existsSync(file) && fs.statSync(file).isDirectory()) file = path.join(file, 'index.html');
    if (!fs.existsSync(file)) { res.writeHead(404).end('not found'); return; }
    const headers = { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache' };
    if (iso) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
      headers['Cross-Origin-Resource-Policy'] = 'same-origin';
    }
    res.writeHead(200, headers);
    fs.createReadStream(file).pipe(res);
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  createServer().listen(port, '127.0.0.1', () => {
    console.log(`calibra: serving ${root} at http://127.0.0.1:${port}/ (${isolate ? 'threaded: COOP/COEP on' : 'no isolation: single-thread build'})`);
  });
}
