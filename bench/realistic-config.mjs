#!/usr/bin/env node
// bench/realistic-config.mjs: the "realistic config" of issue 11 as YAML, what a real deployment turns on.
//
// One `http` listener; 8 routes (host + path prefix, a header, a query parameter, a method, a `respond` 403 on
// /admin, and a catch-all); one round-robin service over the two backends with an HTTP health check every second;
// the access log on, JSON to a file; the admin listener on (bench/run.mjs scrapes its /metrics during the runs).
// `GET /` (what wrk sends) falls through every specific route to the catch-all, so the whole route table is walked.
//
// bench/run.mjs imports realisticConfig(); the shared harness (../shared/bench) runs this file to write the config:
//
//   LB_CMD='node /work/main/bench/realistic-config.mjs > "$TMPDIR/sy-real.yaml" &&
//           exec node /work/main/bin/switchyard.js start -c "$TMPDIR/sy-real.yaml" --log-level warn'
//
// Run as a script it reads BENCH_BACKENDS (host:port,host:port), REALISTIC_LISTEN (default 127.0.0.1:7080),
// REALISTIC_ADMIN (default 127.0.0.1:7081) and REALISTIC_ACCESS_LOG (default $TMPDIR/switchyard-bench-access.log).
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * @param {{ listen: string, admin: string, upstreams: string[], accessLog: string }} o host:port strings and the
 *   access log file.
 * @returns {string} YAML
 */
export function realisticConfig(o) {
  const q = (s) => JSON.stringify(s);
  const endpoints = o.upstreams.map((u) => `{ url: ${q(`http://${u}`)} }`).join(', ');
  return [
    '# Written by bench/realistic-config.mjs for the realistic-config benchmark.',
    `admin: { address: ${q(o.admin)}, tokens: { admin: "bench-admin-token-0123456789abcdef" } }`,
    'registry: { store: memory }',
    `accessLog: { enabled: true, path: ${q(o.accessLog)}, format: json }`,
    `listeners: [ { name: web, protocol: http, address: ${q(o.listen)} } ]`,
    'routes:',
    '  - { name: api-host, match: { host: api.example.com, path: { prefix: /v1/ } }, service: app }',
    '  - { name: beta, match: { path: { prefix: /beta }, headers: { x-beta: "1" } }, service: app }',
    '  - { name: debug, match: { path: { prefix: /debug }, query: { debug: "1" } }, service: app }',
    '  - { name: uploads, match: { path: { prefix: /upload }, methods: [POST, PUT] }, service: app }',
    '  - { name: admin, match: { path: { prefix: /admin } }, respond: { status: 403, body: "forbidden\\n" } }',
    '  - { name: static, match: { host: static.example.com, path: { prefix: /assets/ } }, service: app }',
    '  - { name: mobile, match: { path: { prefix: /m/ }, headers: { user-agent: { regex: ".*Mobile.*" } } }, service: app }',
    '  - { name: all, match: { path: { prefix: / } }, service: app }',
    'services:',
    `  app: { algorithm: round-robin, endpoints: [ ${endpoints} ], healthCheck: { http: { path: / }, intervalMs: 1000 } }`,
    '',
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const E = process.env;
  const upstreams = (E.BENCH_BACKENDS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (upstreams.length === 0) throw new Error('BENCH_BACKENDS (host:port,host:port) is required');
  process.stdout.write(
    realisticConfig({
      listen: E.REALISTIC_LISTEN || '127.0.0.1:7080',
      admin: E.REALISTIC_ADMIN || '127.0.0.1:7081',
      upstreams,
      accessLog: E.REALISTIC_ACCESS_LOG || path.join(os.tmpdir(), 'switchyard-bench-access.log'),
    }),
  );
}
