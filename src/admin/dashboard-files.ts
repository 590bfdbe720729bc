import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The dashboard's files, in `src/admin/dashboard/` (plain HTML, CSS and one script: no build step). They are found
 * from the package root, which is two levels up both from `src/admin/` (tsx) and from `dist/admin/` (the build), so
 * the same files serve in both cases (package.json `files` ships the folder).
 */
const folder = fileURLToPath(new URL('../../src/admin/dashboard/', import.meta.url));

/** What `/dashboard/<name>` may serve: a fixed list, so no request path ever reaches the file system. */
const assets: Readonly<Record<string, { readonly file: string; readonly type: string }>> = {
  '': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  'dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
  'dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
};

/** Everything the page may load comes from the admin listener itself; nothing inline, no framing. */
const securityHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

const cache = new Map<string, Buffer>();

/**
 * Answers `GET /dashboard` (a redirect to `/dashboard/`) and `GET /dashboard/…`. The page needs no token to load; it
 * shows nothing until the token typed into it opens a session (the data comes from the API, which checks it).
 */
export function serveDashboard(req: IncomingMessage, res: ServerResponse, path: string): void {
  if (path === '/dashboard') {
    res.writeHead(301, { location: '/dashboard/', 'content-length': 0 });
    res.end();
    return;
  }
  const asset = assets[path.slice('/dashboard/'.length)];
  if (asset === undefined) {
    const text = 'not found\n';
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': text.length, ...securityHeaders });
    res.end(text);
    return;
  }
  let body = cache.get(asset.file);
  if (body === undefined) {
    body = readFileSync(`${folder}${asset.file}`);
    cache.set(asset.file, body);
  }
  res.writeHead(200, { 'content-type': asset.type, 'content-length': body.length, ...securityHeaders });
  res.end(req.method === 'HEAD' ? undefined : body);
}
