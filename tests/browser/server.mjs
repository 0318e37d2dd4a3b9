// A tiny static file server for the browser tests: plain Node, no dependency.
//
//   const srv = await start(dir);          // ephemeral port on 127.0.0.1
//   const srv = await start(dir, {port});  // a chosen port
//   const srv = await start(dir, {cacheControl: 'max-age=3600'});  // like a host that caches
//   srv.url   -> "http://127.0.0.1:PORT"  (no trailing slash)
//   await srv.close();
//
// `/x/` serves `x/index.html`; `/x` (a directory) redirects to `/x/`; a missing file answers 404
// with the body of the site's `404.html`. It never sets a cookie.

import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.xml': 'application/xml; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.pdf': 'application/pdf',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
};

export function contentType(file) {
  const name = path.basename(file);
  if (name === 'feed.xml' || name.endsWith('.atom')) return 'application/atom+xml; charset=utf-8';
  return TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream';
}

async function isFile(p) {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

async function isDir(p) {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

export async function start(root, { port = 0, host = '127.0.0.1', cacheControl = 'no-cache' } = {}) {
  const base = path.resolve(root);

  async function notFound(req, res) {
    let body = 'Not found\n';
    let type = 'text/plain; charset=utf-8';
    try {
      body = await fs.readFile(path.join(base, '404.html'));
      type = TYPES['.html'];
    } catch {
      // no 404.html in the site: plain text
    }
    res.writeHead(404, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const server = http.createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { Allow: 'GET, HEAD' });
        res.end();
        return;
      }
      const { pathname } = new URL(req.url, 'http://localhost');
      let rel;
      try {
        rel = decodeURIComponent(pathname);
      } catch {
        return notFound(req, res);
      }
      if (rel.includes('\0')) return notFound(req, res);
      let file = path.join(base, path.normalize(rel));
      if (file !== base && !file.startsWith(base + path.sep)) return notFound(req, res);
      if (rel.endsWith('/')) {
        file = path.join(file, 'index.html');
      } else if (await isDir(file)) {
        res.writeHead(301, { Location: pathname + '/' });
        res.end();
        return;
      }
      if (!(await isFile(file))) return notFound(req, res);
      const body = await fs.readFile(file);
      res.writeHead(200, {
        'Content-Type': contentType(file),
        'Content-Length': body.length,
        'Cache-Control': cacheControl,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(String(err));
    }
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address();
  return {
    url: `http://${host}:${bound}`,
    port: bound,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
