#!/usr/bin/env node
// bench/memory.mjs: what open connections cost in memory, as the RSS of the whole Switchyard process:
//   1. 10,000 idle keep-alive clients (each sent one GET / and keeps its connection open);
//   2. 9,000 open WebSocket tunnels (two descriptors each in Switchyard; the open-file limit here is 20,000).
// Switchyard (`node bin/switchyard.js start -c …`, from SWITCHYARD_ROOT, default this repository) and a tiny
// node:http upstream that also accepts upgrades run as child processes; the clients live in this process. Prints a
// markdown table on stdout. Env: CLIENTS (10000), TUNNELS (9000), SETTLE_MS (3000), SWITCHYARD_ROOT.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const E = process.env;
const ROOT = E.SWITCHYARD_ROOT || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLIENTS = Number(E.CLIENTS ?? 10_000);
const TUNNELS = Number(E.TUNNELS ?? 9_000);
const SETTLE_MS = Number(E.SETTLE_MS ?? 3_000);
const LOOP = '127.0.0.1';
const log = (...a) => console.error(...a);
const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

const UPSTREAM = `
const http = require('node:http');
const s = http.createServer((req, res) => { res.writeHead(200, { 'content-length': 6 }); res.end('hello\\n'); });
s.keepAliveTimeout = 600000;
s.on('upgrade', (req, socket) => {
  socket.on('error', () => {});
  socket.write('HTTP/1.1 101 Switching Protocols\\r\\nupgrade: websocket\\r\\nconnection: Upgrade\\r\\n\\r\\n');
});
s.listen(0, '127.0.0.1', () => console.log(s.address().port));
`;

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, LOOP, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
}

async function startUpstream() {
  const child = spawn(process.execPath, ['-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  return { child, port };
}

async function startSwitchyard(upstreamPort) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-memory-'));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'memory.yaml');
  fs.writeFileSync(
    file,
    [
      'admin: { enabled: false }',
      'registry: { store: memory }',
      `listeners: [ { name: web, protocol: http, address: "${LOOP}:${port}", limits: { maxConnections: 50000 } } ]`,
      'overload: { maxConnections: 100000 }',
      'routes: [ { match: { path: { prefix: / } }, service: app, websocket: true } ]',
      `services: { app: { endpoints: [ { url: "http://${LOOP}:${upstreamPort}" } ], maxConnectionsPerEndpoint: 20000 } }`,
      '',
    ].join('\n'),
  );
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'switchyard.js'), 'start', '-c', file, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: ROOT,
    },
  );
  children.push(child);
  for (let i = 0; i < 300; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, LOOP, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await sleep(100);
  }
  return { child, port };
}

/** Opens `count` connections, `perConnection` at a time, each sending `request` and waiting for `until` in reply. */
async function openMany(port, count, request, until) {
  const sockets = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const socket = await new Promise((resolve, reject) => {
        const s = net.connect(port, LOOP, () => s.write(request));
        let seen = '';
        const onData = (d) => {
          seen += d.toString('latin1');
          if (seen.includes(until)) {
            s.off('data', onData);
            resolve(s);
          }
        };
        s.on('data', onData);
        s.on('error', reject);
      });
      socket.on('error', () => undefined);
      sockets.push(socket);
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  return sockets;
}

const rows = [];
async function measure(label, target, count, request, until) {
  const upstream = await startUpstream();
  const lb = await startSwitchyard(upstream.port);
  await sleep(1000);
  const baseline = rssMb(lb.child.pid);
  const started = Date.now();
  const sockets = await openMany(lb.port, count, request, until);
  await sleep(SETTLE_MS);
  const rss = rssMb(lb.child.pid);
  log(
    `${label}: ${sockets.length} open in ${Date.now() - started} ms; RSS ${baseline.toFixed(0)} -> ${rss.toFixed(0)} MB`,
  );
  rows.push([label, sockets.length, baseline, rss, target]);
  for (const s of sockets) s.destroy();
  lb.child.kill('SIGKILL');
  upstream.child.kill('SIGKILL');
  await sleep(500);
}

await measure('idle keep-alive clients', 150, CLIENTS, `GET / HTTP/1.1\r\nhost: bench\r\n\r\n`, 'hello\n');
await measure(
  'open WebSocket tunnels',
  360,
  TUNNELS,
  'GET /ws HTTP/1.1\r\nhost: bench\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n',
  '\r\n\r\n',
);
console.log('### Memory (bench/memory.mjs)');
console.log('');
console.log(
  `Switchyard from \`${ROOT}\`; RSS of the whole process (VmRSS), ${SETTLE_MS} ms after the last one opened.`,
);
console.log('');
console.log('| what | open | RSS idle (MB) | RSS with them (MB) | target (MB) | |');
console.log('|---|--:|--:|--:|--:|:-:|');
for (const [label, n, base, rss, target] of rows)
  console.log(
    `| ${label} | ${n} | ${base.toFixed(0)} | ${rss.toFixed(0)} | ≤ ${target} | ${rss <= target ? 'met' : 'not met'} |`,
  );
process.exit(0);
