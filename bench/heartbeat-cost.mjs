#!/usr/bin/env node
// The cost of heartbeats (issue 14.4): INSTANCES registered endpoints (60 s leases, so that a slow registration
// phase on a busy machine lets none expire) each send a heartbeat every second to one
// balancer process with the file registry store; for MEASURE seconds it reports the balancer's CPU (utime + stime
// from /proc/<pid>/stat, as a share of one core), the bytes it wrote to storage (/proc/<pid>/io write_bytes) and how
// often the registry file was replaced (its inode, sampled every 50 ms), next to the heartbeats answered.
//
//   node bench/heartbeat-cost.mjs            # INSTANCES=1000 WARMUP=5 MEASURE=20 CONNS=50
//
// The balancer runs from src/ through tsx (no build needed), logging at warn. Everything it starts is stopped on exit.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';

const instances = Number(process.env.INSTANCES ?? 1000);
const warmupS = Number(process.env.WARMUP ?? 5);
const measureS = Number(process.env.MEASURE ?? 20);
const conns = Number(process.env.CONNS ?? 50);
const token = 'bench-admin-token';
const root = fileURLToPath(new URL('..', import.meta.url));
const progress = (text) => process.stderr.write(`heartbeat-cost: ${text}\n`);

const dir = await mkdtemp(join(tmpdir(), 'switchyard-heartbeat-'));
const registry = join(dir, 'registry.json');
const config = join(dir, 'switchyard.yaml');
await writeFile(
  config,
  `admin: { address: 127.0.0.1:0, tokens: { admin: ${token} } }
registry: { store: file, path: ${registry} }
listeners: [ { name: web, protocol: http, address: 127.0.0.1:0, service: app } ]
services: { app: { endpoints: [] } }
`,
);
// PROFILE=DIR: the balancer writes a V8 CPU profile there when it stops (open it in Chrome DevTools).
const profile = process.env.PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE}`] : [];
const child = spawn(
  process.execPath,
  [...profile, '--import', 'tsx', 'src/cli/main.ts', 'start', '-c', config, '--log-level', 'warn'],
  {
    cwd: root,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const exited = new Promise((resolve) => child.once('exit', resolve));
const stop = async () => {
  if (child.exitCode === null && child.signalCode === null) {
    // SIGTERM first (a --cpu-prof profile is written on a clean exit only), SIGKILL if it lingers.
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await rm(dir, { recursive: true, force: true });
};
process.on('SIGINT', () => void stop().then(() => process.exit(130)));

try {
  // The admin port is not logged at warn: read it from the process's listening sockets instead.
  await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', () => undefined);
    child.once('exit', (code) => reject(new Error(`balancer exited with ${code}`)));
    setTimeout(resolve, 100);
  });
  const port = await adminPort(child.pid);
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: conns, pipelining: 1 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async (method, path, body) => {
    const res = await pool.request({
      method,
      path,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    await res.body.text();
    return res.statusCode;
  };

  progress(`registering ${instances} instances`);
  const ids = Array.from({ length: instances }, (_, i) => `i${i}`);
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids
      .slice(i, i + 50)
      .map((id, j) =>
        call('POST', '/api/services/app/endpoints', { id, url: `http://127.0.0.1:${20000 + i + j}`, ttlSeconds: 60 }),
      );
    for (const status of await Promise.all(batch))
      if (status !== 201) throw new Error(`registration answered ${status}`);
  }
  const registryBytes = (await stat(registry)).size;

  // Each instance beats once a second, spread evenly over the second.
  let answered = 0;
  let failed = 0;
  let running = true;
  const beating = ids.map(async (id, i) => {
    await sleep((i / instances) * 1000);
    while (running) {
      const started = Date.now();
      const status = await call('PUT', `/api/services/app/endpoints/${id}/heartbeat`).catch(() => 0);
      if (status === 200) answered++;
      else failed++;
      await sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
  });

  progress(`warming up ${warmupS} s`);
  await sleep(warmupS * 1000);
  const cpu0 = await cpuTicks(child.pid);
  const io0 = await ioBytes(child.pid);
  const answered0 = answered;
  const failed0 = failed;
  let rewrites = 0;
  let inode = (await stat(registry)).ino;
  const started = Date.now();
  progress(`measuring ${measureS} s`);
  while (Date.now() - started < measureS * 1000) {
    await sleep(50);
    const now = (await stat(registry)).ino;
    if (now !== inode) rewrites++;
    inode = now;
  }
  const elapsedS = (Date.now() - started) / 1000;
  const cpu1 = await cpuTicks(child.pid);
  const io1 = await ioBytes(child.pid);
  const beats = answered - answered0;
  running = false;
  await Promise.all(beating);
  await pool.close();

  const ticksPerSecond = 100; // CLK_TCK on Linux
  const cpuShare = (cpu1 - cpu0) / ticksPerSecond / elapsedS;
  const rows = [
    ['instances', String(instances)],
    ['heartbeats answered / s', (beats / elapsedS).toFixed(0)],
    ['heartbeats failed', String(failed - failed0)],
    ['balancer CPU (share of one core)', `${(cpuShare * 100).toFixed(1)} %`],
    ['balancer CPU per heartbeat', `${((cpuShare * 1e6 * elapsedS) / Math.max(1, beats)).toFixed(0)} µs`],
    ['bytes written to storage / s (write_bytes)', ((io1.write - io0.write) / elapsedS).toFixed(0)],
    ['bytes passed to write() / s (wchar, sockets included)', ((io1.wchar - io0.wchar) / elapsedS).toFixed(0)],
    ['registry file replaced', `${rewrites} times in ${elapsedS.toFixed(1)} s`],
    ['registry file size', `${registryBytes} bytes`],
  ];
  if (failed - failed0 > 0) process.exitCode = 1;
  process.stdout.write(`| measure | value |\n| --- | --- |\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
} finally {
  await stop();
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function cpuTicks(pid) {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime
}

async function ioBytes(pid) {
  const text = await readFile(`/proc/${pid}/io`, 'utf8');
  const value = (name) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return { write: value('write_bytes'), wchar: value('wchar') };
}

/** The TCP port the balancer's admin API listens on: the listening socket of `pid` that answers /ping as admin. */
async function adminPort(pid) {
  for (let attempt = 0; attempt < 150; attempt++) {
    const ports = await listeningPorts(pid);
    for (const port of ports) {
      const ok = await globalThis
        .fetch(`http://127.0.0.1:${port}/api/overview`, { headers: { authorization: `Bearer ${token}` } })
        .then((res) => res.ok)
        .catch(() => false);
      if (ok) return port;
    }
    await sleep(100);
  }
  throw new Error('the admin API did not come up');
}

/** Ports of the listening TCP sockets the process holds (/proc/net/tcp entries whose inode is one of its fds). */
async function listeningPorts(pid) {
  const { readdir, readlink } = await import('node:fs/promises');
  const inodes = new Set();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match) inodes.add(match[1]);
  }
  const ports = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9])) continue;
      ports.push(parseInt(cols[1].split(':')[1], 16));
    }
  }
  return ports;
}
